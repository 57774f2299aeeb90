# A file-backed NOR flash with ESP-IDF's partition table, otadata and bootloader logic.
#
# Host-only stand-in for the chip (never goes onto a board). One source for CPython and the
# MicroPython unix port, so it sticks to the common subset: struct, binascii, hashlib, os.
#
# What is modelled, and where it comes from (ESP-IDF, read in source):
# - partition table at 0x8000, 32-byte esp_partition_info_t records, an MD5 record
#   (EB EB + 14 x FF + md5 of the records before it), end marker 0xFF...
#   (components/partition_table/gen_esp32part.py, bootloader_support/src/flash_partitions.c)
# - otadata: two 4096-byte sectors, each starting with esp_ota_select_entry_t
#   {u32 ota_seq; u8 seq_label[20]; u32 ota_state; u32 crc}, crc = esp_rom_crc32_le(UINT32_MAX,
#   &ota_seq, 4) (bootloader_common_loader.c), which is binascii.crc32(seq_le, 0xFFFFFFFF)
# - esp_ota_set_boot_partition / esp_rewrite_ota_data / mark_app_valid (app_update/esp_ota_ops.c)
# - the 2nd-stage bootloader's choice of app, with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE
#   (bootloader_support/src/bootloader_utility.c)
# - esp_image_verify (bootloader_support/src/esp_image_format.c)
import binascii
import hashlib
import os
import struct

try:  # private constants as const(): compiled for a job, they take no qstr and no global
    from micropython import const
except ImportError:  # CPython
    def const(value):
        return value

try:
    from collections import namedtuple
except ImportError:  # a MicroPython build without collections
    from ucollections import namedtuple

SECTOR_SIZE = 4096
_BLOCK64 = const(65536)
FLASH_SIZE = 8 * 1024 * 1024

PARTITION_TABLE_OFFSET = 0x8000
PARTITION_TABLE_MAX_LEN = 0xC00  # 96 records of 32 bytes
_ENTRY_FMT = const("<2sBBII16sI")
_MAGIC = const(b"\xaa\x50")
_MD5_MAGIC = const(b"\xeb\xeb")

TYPE_APP = 0x00
TYPE_DATA = 0x01
TYPE_ANY = 0xFF
SUBTYPE_ANY = 0xFF
SUBTYPE_APP_FACTORY = 0x00
SUBTYPE_APP_OTA_0 = 0x10
SUBTYPE_APP_OTA_MAX = 0x20  # exclusive: ota_0 .. ota_15
SUBTYPE_APP_TEST = 0x20
SUBTYPE_DATA_OTA = 0x00
SUBTYPE_DATA_PHY = 0x01
SUBTYPE_DATA_NVS = 0x02
SUBTYPE_DATA_FAT = 0x81
FLAG_ENCRYPTED = 1
FLAG_READONLY = 2

# esp_ota_img_states_t
OTA_IMG_NEW = 0x0
OTA_IMG_PENDING_VERIFY = 0x1
OTA_IMG_VALID = 0x2
OTA_IMG_INVALID = 0x3
OTA_IMG_ABORTED = 0x4
OTA_IMG_UNDEFINED = 0xFFFFFFFF
_SEQ_NONE = const(0xFFFFFFFF)
_SELECT_FMT = const("<I20sII")  # esp_ota_select_entry_t, 32 bytes
_SELECT_LEN = const(32)

# esp_err_t values used here (esp_err.h, esp_ota_ops.h, nvs.h)
ESP_OK = 0
ESP_FAIL = -1
ESP_ERR_NO_MEM = 0x101
ESP_ERR_INVALID_ARG = 0x102
ESP_ERR_INVALID_STATE = 0x103
ESP_ERR_INVALID_SIZE = 0x104
ESP_ERR_NOT_FOUND = 0x105
ESP_ERR_NOT_SUPPORTED = 0x106
ESP_ERR_TIMEOUT = 0x107
ESP_ERR_NOT_ALLOWED = 0x10D
ESP_ERR_OTA_VALIDATE_FAILED = 0x1503
ESP_ERR_OTA_ROLLBACK_FAILED = 0x1505
ESP_ERR_NVS_NOT_FOUND = 0x1102
ESP_ERR_NVS_TYPE_MISMATCH = 0x1103
ESP_ERR_NVS_NOT_ENOUGH_SPACE = 0x1105
ESP_ERR_NVS_INVALID_LENGTH = 0x110C
_ERR_NAMES = {
    ESP_FAIL: "ESP_FAIL",
    ESP_ERR_NO_MEM: "ESP_ERR_NO_MEM",
    ESP_ERR_INVALID_ARG: "ESP_ERR_INVALID_ARG",
    ESP_ERR_INVALID_STATE: "ESP_ERR_INVALID_STATE",
    ESP_ERR_INVALID_SIZE: "ESP_ERR_INVALID_SIZE",
    ESP_ERR_NOT_FOUND: "ESP_ERR_NOT_FOUND",
    ESP_ERR_NOT_SUPPORTED: "ESP_ERR_NOT_SUPPORTED",
    ESP_ERR_TIMEOUT: "ESP_ERR_TIMEOUT",
    ESP_ERR_NOT_ALLOWED: "ESP_ERR_NOT_ALLOWED",
    ESP_ERR_OTA_VALIDATE_FAILED: "ESP_ERR_OTA_VALIDATE_FAILED",
    ESP_ERR_OTA_ROLLBACK_FAILED: "ESP_ERR_OTA_ROLLBACK_FAILED",
    ESP_ERR_NVS_NOT_FOUND: "ESP_ERR_NVS_NOT_FOUND",
    ESP_ERR_NVS_TYPE_MISMATCH: "ESP_ERR_NVS_TYPE_MISMATCH",
    ESP_ERR_NVS_NOT_ENOUGH_SPACE: "ESP_ERR_NVS_NOT_ENOUGH_SPACE",
    ESP_ERR_NVS_INVALID_LENGTH: "ESP_ERR_NVS_INVALID_LENGTH",
}
# check_esp_err() in MicroPython's ports/esp32/mphalport.c maps these three to POSIX errnos;
# every other esp_err_t becomes OSError(-code, "ESP_ERR_...").
_POSIX = {ESP_ERR_NO_MEM: 12, ESP_ERR_TIMEOUT: 110, ESP_ERR_NOT_SUPPORTED: 95}

# The simulated chip: an ESP32 (chip id 0), silicon revision v3.0.
CHIP_ID = 0
CHIP_REVISION = int(os.getenv("ESP32_CHIP_REVISION") or 300)  # v3.0, as machine.mem32 reports
# ESP32 cache-mapped address ranges (components/soc/esp32/include/soc/soc.h) and MMU page.
_DROM_LOW = const(0x3F400000)
_DROM_HIGH = const(0x3F800000)
_IROM_LOW = const(0x400D0000)
_IROM_HIGH = const(0x40400000)
_MMU_PAGE = const(0x10000)
_IMAGE_HEADER_LEN = const(24)
_IMAGE_MAX_SEGMENTS = const(16)
_APP_DESC_LEN = const(256)
_MAX_FLASH_ADDR = const(0x1000000)

PartitionEntry = namedtuple("PartitionEntry", ("type", "subtype", "addr", "size", "label", "flags"))

def __getattr__(name):
    # What only the host uses (making flash files) is in flashsim_host.py, loaded on first use:
    # a device job never needs it, and compiled it would take heap and qstrs that a board's C
    # esp32 module does not.
    if name in ("create_flash", "partition_table_bytes", "DEFAULT_TABLE"):
        import flashsim_host

        return getattr(flashsim_host, name)
    raise AttributeError(name)


# Why the last esp_image_verify() failed (None after a success): for test messages.
last_verify_error = None


class FlashWriteError(RuntimeError):
    """A write over bytes that are not erased (0xFF): a bug in the code under test."""


def esp_error(code, detail=None):
    """The OSError MicroPython's esp32 module raises for esp_err_t `code` (check_esp_err)."""
    name = _ERR_NAMES.get(code, "ESP_ERR_0x%x" % code)
    if detail:
        name = name + ": " + detail
    return OSError(_POSIX.get(code, -code), name)


def check_esp_err(code, detail=None):
    if code != ESP_OK:
        raise esp_error(code, detail)


class Flash:
    """NOR flash in a file: erase sets 4096-byte sectors to 0xFF, a write can only clear bits.

    With strict=True a write over any byte that is not 0xFF raises FlashWriteError; with
    strict=False the flash keeps old AND new, as the chip does. erase()/write()/read() of
    4096-byte multiples allocate nothing (checked under micropython.heap_lock())."""

    def __init__(self, path, strict=True):
        self.path = path
        self.strict = strict
        self.size = os.stat(path)[6]
        # Unbuffered, so every call goes straight to the file and allocates nothing.
        try:
            self._f = open(path, "r+b", buffering=0)
        except TypeError:
            self._f = open(path, "r+b")
        self._scratch = bytearray(SECTOR_SIZE)
        self._ff = b"\xff" * SECTOR_SIZE
        self.stats = {
            "erase_calls": 0,
            "erased_bytes": 0,
            "erase_sizes": {SECTOR_SIZE: 0, _BLOCK64: 0},
            "write_calls": 0,
            "written_bytes": 0,
            "read_calls": 0,
        }
        self.ops = 0  # erase() + write() calls since this Flash was opened; never reset
        self._cut = 0  # power_cut(): the op at which the power fails (0: never)
        self._cut_seed = 0
        self._cut_after = False

    def power_cut(self, op, seed=0, after=False):
        """Power-loss mode (shims/powercut.py): the op-th erase()/write() call, counting both
        from when this Flash was opened, is torn and the process dies at once (SIGKILL)."""
        self._cut, self._cut_seed, self._cut_after = op, seed, after

    def reset_stats(self):
        st = self.stats
        st["erase_calls"] = 0
        st["erased_bytes"] = 0
        st["write_calls"] = 0
        st["written_bytes"] = 0
        st["read_calls"] = 0
        sizes = st["erase_sizes"]
        for k in list(sizes):
            if k != SECTOR_SIZE and k != _BLOCK64:
                del sizes[k]
        sizes[SECTOR_SIZE] = 0
        sizes[_BLOCK64] = 0

    def close(self):
        if self._f is not None:
            self._f.close()
            self._f = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _check(self, addr, length):
        if addr < 0 or length < 0 or addr + length > self.size:
            raise esp_error(ESP_ERR_INVALID_ARG, "flash range 0x%x+0x%x is outside the %d-byte flash" % (
                addr, length, self.size))

    def read(self, addr, buf):
        """Fill `buf` from flash address `addr`."""
        self._check(addr, len(buf))
        self.stats["read_calls"] += 1
        f = self._f
        f.seek(addr)
        f.readinto(buf)

    def erase(self, addr, length):
        """Set [addr, addr+length) to 0xFF; both must be multiples of 4096 (ValueError)."""
        if addr % SECTOR_SIZE or length % SECTOR_SIZE:
            raise ValueError("erase 0x%x+0x%x is not 4096-aligned" % (addr, length))
        self._check(addr, length)
        self.ops += 1
        if self.ops == self._cut and not self._cut_after:
            import powercut

            powercut.torn_erase(self, addr, length)
        st = self.stats
        st["erase_calls"] += 1
        st["erased_bytes"] += length
        sizes = st["erase_sizes"]
        sizes[length] = sizes.get(length, 0) + 1
        f = self._f
        ff = self._ff
        end = addr + length
        while addr < end:
            f.seek(addr)
            f.write(ff)
            addr += SECTOR_SIZE
        if self.ops == self._cut:
            import powercut

            powercut.die(self, "after erase 0x%x+0x%x" % (end - length, length))

    def write(self, addr, data):
        """Program `data` at `addr`. Strict: every target byte must be 0xFF (else FlashWriteError)."""
        n = len(data)
        self._check(addr, n)
        self.ops += 1
        if self.ops == self._cut and not self._cut_after:
            import powercut

            powercut.torn_write(self, addr, data)
        self._program(addr, data, n)
        if self.ops == self._cut:
            import powercut

            powercut.die(self, "after write 0x%x+%d" % (addr, n))

    def _program(self, addr, data, n):
        st = self.stats
        st["write_calls"] += 1
        st["written_bytes"] += n
        if n % SECTOR_SIZE:
            self._write_any(addr, data, n)
            return
        # Allocation-free path: look at the target one 4096-byte piece at a time.
        f = self._f
        scratch = self._scratch
        ff = self._ff
        a = addr
        end = addr + n
        while a < end:
            f.seek(a)
            f.readinto(scratch)
            if scratch != ff:
                break
            a += SECTOR_SIZE
        if a >= end:
            f.seek(addr)
            f.write(data)
            return
        if self.strict:
            self._refuse(addr, data)
        # NOR programming: bits can only go from 1 to 0, so the flash keeps old AND new.
        off = 0
        a = addr
        while off < n:
            f.seek(a)
            f.readinto(scratch)
            for i in range(SECTOR_SIZE):
                scratch[i] &= data[off + i]
            f.seek(a)
            f.write(scratch)
            a += SECTOR_SIZE
            off += SECTOR_SIZE

    def _write_any(self, addr, data, n):
        old = bytearray(n)
        f = self._f
        f.seek(addr)
        f.readinto(old)
        if old != b"\xff" * n:
            if self.strict:
                self._refuse(addr, data)
            for i in range(n):
                old[i] &= data[i]
            data = old
        f.seek(addr)
        f.write(data)

    def _refuse(self, addr, data):
        n = len(data)
        old = bytearray(n)
        self._f.seek(addr)
        self._f.readinto(old)
        for i in range(n):
            if old[i] != 0xFF:
                raise FlashWriteError(
                    "flash write without erase at 0x%x (byte there is 0x%02x, writing 0x%02x; "
                    "write of %d bytes at 0x%x)" % (addr + i, old[i], data[i], n, addr))


# ---------------------------------------------------------------- partition table

def parse_partition_table(data, flash_size=None):
    """Records of a binary table, checked as esp_partition_table_verify() does (ValueError)."""
    entries = []
    md5_found = False
    for o in range(0, PARTITION_TABLE_MAX_LEN, 32):
        rec = data[o:o + 32]
        magic = rec[0:2]
        if magic == _MAGIC:
            _, ptype, sub, addr, size, label, flags = struct.unpack(_ENTRY_FMT, rec)
            if flash_size is not None and (addr > flash_size or size > flash_size - addr):
                raise ValueError("partition %d exceeds the flash size" % (o // 32))
            label = label.split(b"\0")[0].decode()
            entries.append(PartitionEntry(ptype, sub, addr, size, label, flags))
        elif magic == _MD5_MAGIC:
            if md5_found:
                raise ValueError("only one MD5 checksum is allowed")
            # Builds without MD5 (the 32-bit heap-measurement interpreter) read the table unchecked.
            if hasattr(hashlib, "md5") and rec[16:32] != hashlib.md5(data[0:o]).digest():
                raise ValueError("partition table MD5 mismatch")
            md5_found = True
        elif o != 0 and magic == b"\xff\xff" and rec[2] == 0xFF and rec[3] == 0xFF:
            return entries
        else:
            raise ValueError("partition %d has invalid magic 0x%02x%02x" % (o // 32, rec[1], rec[0]))
    raise ValueError("partition table has no end marker")


def read_partition_table(flash):
    """The table at 0x8000 as a list of PartitionEntry(type, subtype, addr, size, label, flags).

    Read once per Flash and kept: a chip's table does not change while it runs, and re-reading
    it late in a long OTA would need a 3 KB block from a fragmented small heap."""
    cached = getattr(flash, "_table_cache", None)
    if cached is not None:
        return cached
    buf = bytearray(PARTITION_TABLE_MAX_LEN)
    flash.read(PARTITION_TABLE_OFFSET, buf)
    table = parse_partition_table(bytes(buf), flash.size)
    try:
        flash._table_cache = table
    except AttributeError:
        pass  # not a Flash object (a test double): read every time
    return table


def find_partitions(table, ptype=TYPE_APP, subtype=SUBTYPE_ANY, label=None):
    """esp_partition_find(): table order, TYPE_ANY/SUBTYPE_ANY match everything."""
    return [e for e in table
            if (ptype == TYPE_ANY or e.type == ptype)
            and (subtype == SUBTYPE_ANY or e.subtype == subtype)
            and (label is None or e.label == label)]


def find_first(table, ptype, subtype=SUBTYPE_ANY, label=None):
    found = find_partitions(table, ptype, subtype, label)
    return found[0] if found else None


def ota_app_count(table):
    """esp_ota_get_app_partition_count(): ota_0, ota_1, ... up to the first missing one."""
    n = 0
    while n < 16 and find_first(table, TYPE_APP, SUBTYPE_APP_OTA_0 + n) is not None:
        n += 1
    return n


def get_next_update_partition(table, start_from):
    """esp_ota_get_next_update_partition(): the OTA app after `start_from`, wrapping; None if none."""
    default = None
    next_is_result = False
    for t in range(SUBTYPE_APP_OTA_0, SUBTYPE_APP_OTA_MAX):
        p = find_first(table, TYPE_APP, t)
        if p is None:
            continue
        if default is None:
            default = p
        if p.addr == start_from.addr:
            next_is_result = True
        elif next_is_result:
            return p
    return default


# ---------------------------------------------------------------- images

def _flash_bytes(flash, addr, n):
    buf = bytearray(n)
    flash.read(addr, buf)
    return buf


def verify_image(flash, part):
    """esp_image_verify(ESP_IMAGE_VERIFY) of the app in `part`: None if valid, else why not.

    Checks, as esp_image_format.c does for an app: magic 0xE9; chip id and minimum/maximum
    chip revision; at most 16 segments; each segment length a multiple of 4, segment 0 long
    enough for esp_app_desc_t, cache-mapped segments aligned to the 64 KB MMU page; the XOR
    checksum (seed 0xEF) in the last byte of the 16-byte-padded block after the segments; the
    appended SHA-256 of everything before it when header byte 23 (hash_appended) is 1; and
    that the whole image fits in the partition."""
    global last_verify_error
    last_verify_error = _verify(flash, part)
    return last_verify_error


_FOLD = const(256)  # bytes per integer in the checksum fold

def _verify(flash, part):
    base = part.addr
    psize = part.size
    if psize < _IMAGE_HEADER_LEN:
        return "partition too small for an image header"
    hdr = _flash_bytes(flash, base, _IMAGE_HEADER_LEN)
    if hdr[0] != 0xE9:
        return "invalid magic byte 0x%02x at 0x%x (nothing flashed here?)" % (hdr[0], base)
    chip_id = hdr[12] | (hdr[13] << 8)
    if chip_id != CHIP_ID:
        return "mismatch chip ID, expected %d, found %d" % (CHIP_ID, chip_id)
    min_rev = hdr[15] | (hdr[16] << 8)
    max_rev = hdr[17] | (hdr[18] << 8)
    # bootloader_common_check_chip_validity(): !ESP_CHIP_REV_ABOVE(rev, min_rev), with no value
    # meaning "none" (0xFFFF is v655.35, met by no chip); a max of 0 or 0xFFFF is unset
    # (IS_MAX_REV_SET).
    if min_rev > CHIP_REVISION:
        return "chip revision check failed: image requires >= v%d.%d" % (min_rev // 100, min_rev % 100)
    if max_rev not in (0, 0xFFFF) and CHIP_REVISION > max_rev:
        return "chip revision check failed: image requires <= v%d.%d" % (max_rev // 100, max_rev % 100)
    count = hdr[1]
    if count > _IMAGE_MAX_SEGMENTS:
        return "segment count %d exceeds max %d" % (count, _IMAGE_MAX_SEGMENTS)
    hash_appended = hdr[23] != 0  # esp_image_format.c: any non-zero byte
    sha = hashlib.sha256(hdr) if hash_appended else None
    acc = 0  # XOR of all segment data, bytewise in a big int; folded to one byte at the end
    # One buffer per Flash, made at the first verify (the boot, when the heap is still whole).
    chunk = getattr(flash, "_verify_chunk", None)
    if chunk is None:
        chunk = bytearray(SECTOR_SIZE)
        try:
            flash._verify_chunk = chunk
        except AttributeError:
            pass
    mv = memoryview(chunk)
    pos = _IMAGE_HEADER_LEN
    for i in range(count):
        if pos + 8 > psize:
            return "segment %d header at offset %d is beyond the partition" % (i, pos)
        sh = _flash_bytes(flash, base + pos, 8)
        if sha is not None:
            sha.update(sh)
        load_addr, data_len = struct.unpack("<II", sh)
        pos += 8
        if data_len & 3 or data_len >= _MAX_FLASH_ADDR:
            return "invalid segment %d length 0x%x" % (i, data_len)
        if i == 0 and data_len < _APP_DESC_LEN:
            return "segment 0 length 0x%x is too short for the app description" % data_len
        mapped = _DROM_LOW <= load_addr < _DROM_HIGH or _IROM_LOW <= load_addr < _IROM_HIGH
        if mapped and (base + pos) % _MMU_PAGE != load_addr % _MMU_PAGE:
            return "segment %d load address 0x%08x doesn't match data 0x%08x" % (i, load_addr, base + pos)
        if pos + data_len > psize:
            return "segment %d (offset %d, %d bytes) does not fit in the %d-byte partition" % (
                i, pos, data_len, psize)
        left = data_len
        while left:
            n = SECTOR_SIZE if left >= SECTOR_SIZE else left
            view = chunk if n == SECTOR_SIZE else mv[:n]
            flash.read(base + pos, view)
            # XOR-fold in 256-byte integers: small allocations fit a fragmented 256 KB heap.
            for k in range(0, n, _FOLD):
                acc ^= int.from_bytes(view[k:k + _FOLD], "little")
            if sha is not None:
                sha.update(view)
            pos += n
            left -= n
    checksum = 0xEF
    for b in acc.to_bytes(_FOLD, "little"):  # every piece was at most _FOLD bytes
        checksum ^= b
    pad_end = (pos + 1 + 15) & ~15
    if pad_end > psize:
        return "image length %d doesn't fit in partition length %d" % (pad_end, psize)
    tail = _flash_bytes(flash, base + pos, pad_end - pos)
    if tail[-1] != checksum:
        return "checksum failed: calculated 0x%02x, read 0x%02x at offset %d" % (checksum, tail[-1], pad_end - 1)
    end = pad_end
    if hash_appended:
        if end + 32 > psize:
            return "image length %d doesn't fit in partition length %d" % (end + 32, psize)
        sha.update(tail)
        if _flash_bytes(flash, base + end, 32) != sha.digest():
            return "image hash failed (SHA-256 at offset %d) - image is corrupt" % end
        end += 32
    return None


# ---------------------------------------------------------------- otadata

def ota_select_crc(seq):
    """bootloader_common_ota_select_crc(): esp_rom_crc32_le(UINT32_MAX, &ota_seq, 4)."""
    return binascii.crc32(struct.pack("<I", seq), 0xFFFFFFFF) & 0xFFFFFFFF


def _otadata_partition(table):
    return find_first(table, TYPE_DATA, SUBTYPE_DATA_OTA)


def read_otadata(flash, table=None):
    """The two esp_ota_select_entry_t as lists [ota_seq, seq_label, ota_state, crc]."""
    if table is None:
        table = read_partition_table(flash)
    part = _otadata_partition(table)
    if part is None:
        return None
    return [list(struct.unpack(_SELECT_FMT, _flash_bytes(flash, part.addr + i * SECTOR_SIZE, _SELECT_LEN)))
            for i in (0, 1)]


def _write_select(flash, part, sec_id, e):
    # rewrite_ota_seq() / the bootloader's write_otadata(): erase the sector, write 32 bytes.
    flash.erase(part.addr + sec_id * SECTOR_SIZE, SECTOR_SIZE)
    flash.write(part.addr + sec_id * SECTOR_SIZE, struct.pack(_SELECT_FMT, e[0], e[1], e[2], e[3]))


def _select_invalid(e):
    return e[0] == _SEQ_NONE or e[2] == OTA_IMG_INVALID or e[2] == OTA_IMG_ABORTED


def _select_valid(e):
    return not _select_invalid(e) and e[3] == ota_select_crc(e[0])


def _select_otadata(two, valid, use_max=True):
    # bootloader_common_select_otadata()
    if valid[0] and valid[1]:
        pick = max(two[0][0], two[1][0]) if use_max else min(two[0][0], two[1][0])
        return 0 if pick == two[0][0] else 1
    for i in (0, 1):
        if valid[i]:
            return i
    return -1


def get_active_otadata(two):
    """bootloader_common_get_active_otadata(): index of the valid entry with the higher seq, or -1."""
    return _select_otadata(two, [_select_valid(two[0]), _select_valid(two[1])])


def _compute_seq_for_slot(current_seq, slot, count):
    # compute_ota_seq_for_target_slot(): smallest (slot+1)%count + i*count that is >= current_seq
    base = (slot + 1) % count
    i = 0
    while current_seq > base + i * count:
        i += 1
    return base + i * count


def _rewrite_ota_data(flash, table, subtype):
    # esp_rewrite_ota_data()
    part = _otadata_partition(table)
    if part is None:
        return ESP_ERR_NOT_FOUND
    two = read_otadata(flash, table)
    count = ota_app_count(table)
    slot = subtype & 0x0F
    if slot >= count:
        return ESP_ERR_INVALID_ARG
    active = get_active_otadata(two)
    if active != -1:
        if (two[active][0] - 1) % count == slot:
            nxt = active  # already selected: only the state is rewritten
            seq = two[active][0]
        else:
            nxt = active ^ 1
            seq = _compute_seq_for_slot(two[active][0], slot, count)
    else:
        nxt = 0
        seq = slot + 1
    e = two[nxt]
    e[2] = OTA_IMG_NEW  # set_new_state_otadata() with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE
    e[0] = seq
    e[3] = ota_select_crc(seq)
    _write_select(flash, part, nxt, e)
    return ESP_OK


def set_boot(flash, part, verify=True):
    """esp_ota_set_boot_partition(): verify the image, then point otadata at `part`.

    Raises OSError(-0x1503, 'ESP_ERR_OTA_VALIDATE_FAILED') on an invalid image (otadata is not
    touched), OSError(-0x102) for a partition that is not an app or an OTA slot out of range.
    verify=False (the shim's ESP32_SETBOOT_TRUST=1) skips the image check and only rewrites
    otadata, so a caller that sets the boot partition before its own verdict is caught."""
    if verify and verify_image(flash, part) is not None:
        raise esp_error(ESP_ERR_OTA_VALIDATE_FAILED)
    table = read_partition_table(flash)
    if part.type != TYPE_APP:
        raise esp_error(ESP_ERR_INVALID_ARG)
    if part.subtype == SUBTYPE_APP_FACTORY:
        od = _otadata_partition(table)
        if od is None:
            raise esp_error(ESP_ERR_NOT_FOUND)
        flash.erase(od.addr, od.size)
        return
    check_esp_err(_rewrite_ota_data(flash, table, part.subtype))


def _default_boot_partition(table):
    # find_default_boot_partition(): factory, else the first OTA slot, else test
    p = find_first(table, TYPE_APP, SUBTYPE_APP_FACTORY)
    if p is not None:
        return p
    for s in range(SUBTYPE_APP_OTA_0, SUBTYPE_APP_OTA_MAX):
        p = find_first(table, TYPE_APP, s)
        if p is not None:
            return p
    return find_first(table, TYPE_APP, SUBTYPE_APP_TEST)


def get_boot_partition(flash, table=None):
    """esp_ota_get_boot_partition(): what otadata selects now (no state changes)."""
    if table is None:
        table = read_partition_table(flash)
    two = read_otadata(flash, table)
    if two is None:
        return None
    count = ota_app_count(table)
    if (_select_invalid(two[0]) and _select_invalid(two[1])) or count == 0:
        return _default_boot_partition(table)
    active = get_active_otadata(two)
    if active == -1:
        return _default_boot_partition(table)
    return find_first(table, TYPE_APP, SUBTYPE_APP_OTA_0 + (two[active][0] - 1) % count)


def _current_ota_is_workable(flash, valid):
    # esp_ota_current_ota_is_workable(): acts on the ACTIVE otadata entry (the newest valid one)
    table = read_partition_table(flash)
    part = _otadata_partition(table)
    if part is None:
        return ESP_ERR_NOT_FOUND
    two = read_otadata(flash, table)
    active = get_active_otadata(two)
    if active == -1 or ota_app_count(table) == 0:
        return ESP_FAIL  # "Running firmware is factory"
    if valid:
        if two[active][2] != OTA_IMG_VALID:
            two[active][2] = OTA_IMG_VALID
            _write_select(flash, part, active, two[active])
        return ESP_OK
    if not _rollback_is_possible(flash, table, two):
        return ESP_ERR_OTA_ROLLBACK_FAILED
    two[active][2] = OTA_IMG_INVALID
    _write_select(flash, part, active, two[active])
    return ESP_OK


def _rollback_is_possible(flash, table, two):
    # esp_ota_check_rollback_is_possible()
    count = ota_app_count(table)
    if count == 0:
        return False
    valid = [_select_valid(two[0]), _select_valid(two[1])]
    active = _select_otadata(two, valid)
    if active == -1:
        return False
    last = active ^ 1
    if not valid[last]:
        factory = find_first(table, TYPE_APP, SUBTYPE_APP_FACTORY)
        if factory is not None and verify_image(flash, factory) is None:
            return True
        return False
    p = find_first(table, TYPE_APP, SUBTYPE_APP_OTA_0 + (two[last][0] - 1) % count)
    return p is not None and verify_image(flash, p) is None


def mark_app_valid(flash):
    """esp_ota_mark_app_valid_cancel_rollback(): the active entry becomes VALID.
    Raises OSError(1, 'ESP_FAIL') when no OTA entry is active (factory app running)."""
    check_esp_err(_current_ota_is_workable(flash, True))


def mark_app_invalid_rollback(flash):
    """esp_ota_mark_app_invalid_rollback(): the active entry becomes INVALID, so the next
    boot() picks the previous app. Raises OSError(-0x1505) if there is none to go back to."""
    check_esp_err(_current_ota_is_workable(flash, False))


def boot(flash):
    """A reset: ESP-IDF's 2nd-stage bootloader (rollback enabled) picks and verifies an app.

    Returns the label of the partition that boots. Writes otadata as the bootloader does:
    PENDING_VERIFY entries become ABORTED, the selected NEW entry becomes PENDING_VERIFY, and
    erased otadata without a factory app gets {seq 1, VALID} in sector 0 when ota_0 boots.
    Raises RuntimeError when no app partition holds a valid image."""
    table = read_partition_table(flash)
    factory = find_first(table, TYPE_APP, SUBTYPE_APP_FACTORY)
    test = find_first(table, TYPE_APP, SUBTYPE_APP_TEST)
    ota = {}
    app_count = 0
    for e in table:
        if e.type == TYPE_APP and SUBTYPE_APP_OTA_0 <= e.subtype < SUBTYPE_APP_OTA_MAX:
            ota[e.subtype & 0x0F] = e
            app_count += 1
    od = _otadata_partition(table)
    initial = False
    if od is None:
        index = -1
    else:
        two = read_otadata(flash, table)
        for i in (0, 1):
            if two[i][2] == OTA_IMG_PENDING_VERIFY:
                # the app booted last time never confirmed itself: roll back
                two[i][2] = OTA_IMG_ABORTED
                _write_select(flash, od, i, two[i])
        if (_select_invalid(two[0]) and _select_invalid(two[1])) or app_count == 0:
            if factory is not None:
                index = -1
            else:
                index = 0
                bad = [two[i][0] == _SEQ_NONE or two[i][3] != ota_select_crc(two[i][0]) for i in (0, 1)]
                initial = bad[0] and bad[1]
        else:
            active = get_active_otadata(two)
            if active != -1:
                index = (two[active][0] - 1) % app_count
                if two[active][2] == OTA_IMG_NEW:
                    two[active][2] = OTA_IMG_PENDING_VERIFY
                    _write_select(flash, od, active, two[active])
            else:
                index = -1

    def part_at(i):
        return factory if i == -1 else ota.get(i)

    # bootloader_utility_load_boot_image(): back from `index` to the factory app, then forward
    order = list(range(index, -2, -1)) + list(range(index + 1, app_count))
    for i in order:
        p = part_at(i)
        if p is None or p.size == 0:
            continue
        if verify_image(flash, p) is None:
            if i > -1 and initial:
                # set_actual_ota_seq()
                seq = i + 1
                _write_select(flash, od, 0, [seq, b"\xff" * 20, OTA_IMG_VALID, ota_select_crc(seq)])
            return p.label
    if test is not None and verify_image(flash, test) is None:
        return test.label
    raise RuntimeError("No bootable app partitions in the partition table")
