# Stand-in for MicroPython's `esp32` module (ports/esp32/esp32_partition.c, esp32_nvs.c) on a
# simulated NOR flash (flashsim). Host only; one source for CPython and the MicroPython unix port.
#
# The flash file is $ESP32_FLASH (make it with flashsim.create_flash()). Importing this module
# is the chip booting: the bootloader logic in flashsim.boot() picks the RUNNING partition and
# updates otadata (rollback states), so every new process is a reset. ESP32_FLASH_STRICT=0
# lets writes over unerased bytes AND into the flash, as the chip does, instead of raising.
#
# Errors are raised as the port raises them: check_esp_err() turns an esp_err_t into
# OSError(-code, "ESP_ERR_..."), e.g. OSError(-5379, 'ESP_ERR_OTA_VALIDATE_FAILED') from set_boot().
import os

import flashsim

_path = os.getenv("ESP32_FLASH")
if not _path:
    raise RuntimeError("esp32 shim: set ESP32_FLASH to a simulated flash file "
                       "(make one with flashsim.create_flash(path, app_image=...))")
try:
    os.stat(_path)
except OSError:
    raise RuntimeError("esp32 shim: ESP32_FLASH=%s does not exist; create it with "
                       "flashsim.create_flash(path, app_image=...)" % _path)

# The simulated chip's flash; tests read flash.stats (erase/write/read counters).
flash = flashsim.Flash(_path, strict=os.getenv("ESP32_FLASH_STRICT") != "0")
# Power-loss testing: ESP32_FLASH_CUT=k tears the k-th erase/write call since this import (the
# boot's own otadata writes count) and kills the process (SIGKILL, "POWERCUT" on stderr);
# ESP32_FLASH_CUT_SEED picks how much of it lands; ESP32_FLASH_CUT_AFTER=1 lets op k complete and
# cuts right after it. See flashsim.Flash.power_cut().
if os.getenv("ESP32_FLASH_CUT"):
    flash.power_cut(int(os.getenv("ESP32_FLASH_CUT")), int(os.getenv("ESP32_FLASH_CUT_SEED") or 0),
                    os.getenv("ESP32_FLASH_CUT_AFTER") == "1")
# ESP32_SETBOOT_TRUST=1: Partition.set_boot() does not re-verify the image (the board's does),
# so a caller that sets the boot partition before its own verdict shows up in otadata.
_trust_set_boot = os.getenv("ESP32_SETBOOT_TRUST") == "1"
_table = flashsim.read_partition_table(flash)
_running_label = flashsim.boot(flash)  # power-on: the bootloader chooses the app

_NATIVE_BLOCK = 4096
_EINVAL = 22
_ENOENT = 2


def _raise(code):
    raise flashsim.esp_error(code)


class Partition:
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    def __init__(self, id, block_size=_NATIVE_BLOCK):
        if isinstance(id, tuple):  # a flashsim.PartitionEntry (used by find/get_next_update)
            entry = id
        elif isinstance(id, int):
            if id == Partition.BOOT:
                entry = flashsim.get_boot_partition(flash, _table)
            elif id == Partition.RUNNING:
                entry = flashsim.find_first(_table, flashsim.TYPE_APP, flashsim.SUBTYPE_ANY, _running_label)
            else:
                raise ValueError
        else:
            entry = flashsim.find_first(_table, flashsim.TYPE_APP, flashsim.SUBTYPE_ANY, id)
            if entry is None:
                entry = flashsim.find_first(_table, flashsim.TYPE_DATA, flashsim.SUBTYPE_ANY, id)
        if entry is None:
            raise OSError(_ENOENT, "ENOENT")
        self._entry = entry
        self._addr = entry.addr
        self._size = entry.size
        self._readonly = entry.flags & flashsim.FLAG_READONLY
        self._bs = block_size
        # like the port: a sector cache only for block sizes below the erase sector
        self._cache = bytearray(_NATIVE_BLOCK) if block_size < _NATIVE_BLOCK else None

    @staticmethod
    def find(type=TYPE_APP, subtype=0xFF, label=None, block_size=_NATIVE_BLOCK):
        return [Partition(e, block_size) for e in flashsim.find_partitions(_table, type, subtype, label)]

    def info(self):
        e = self._entry
        return (e.type, e.subtype, e.addr, e.size, e.label, bool(e.flags & flashsim.FLAG_ENCRYPTED))

    def __repr__(self):
        e = self._entry
        return "<Partition type=%u, subtype=%u, address=%u, size=%u, label=%s, encrypted=%u>" % (
            e.type, e.subtype, e.addr, e.size, e.label, e.flags & flashsim.FLAG_ENCRYPTED)

    # No __eq__, as the board's esp32.Partition: two objects for one partition are not ==;
    # compare info()[2] (the address).

    # esp_partition_read / _write / _erase_range: the same argument checks and esp_err codes.
    def _check_range(self, offset, n, writing):
        if writing and self._readonly:
            _raise(flashsim.ESP_ERR_NOT_ALLOWED)
        if offset > self._size:
            _raise(flashsim.ESP_ERR_INVALID_ARG)
        if n > self._size - offset:
            _raise(flashsim.ESP_ERR_INVALID_SIZE)

    def _read(self, offset, buf):
        self._check_range(offset, len(buf), False)
        flash.read(self._addr + offset, buf)

    def _write(self, offset, buf):
        self._check_range(offset, len(buf), True)
        flash.write(self._addr + offset, buf)

    def _erase(self, offset, n):
        self._check_range(offset, n, True)
        if n % _NATIVE_BLOCK:
            _raise(flashsim.ESP_ERR_INVALID_SIZE)
        if offset % _NATIVE_BLOCK:
            _raise(flashsim.ESP_ERR_INVALID_ARG)
        if n:
            flash.erase(self._addr + offset, n)

    def readblocks(self, block_num, buf, offset=0):
        self._read(block_num * self._bs + offset, buf)

    def writeblocks(self, block_num, buf, offset=None):
        """2 arguments: erase the range, then write. 3 arguments: write only (erase first yourself)."""
        off = block_num * self._bs
        if offset is None:
            if self._bs >= _NATIVE_BLOCK:
                self._erase(off, len(buf))
            else:
                self._erase_small(off, len(buf))
        else:
            off += offset
        self._write(off, buf)

    def _erase_small(self, offset, n):
        # block_size < 4096: erase whole sectors, keeping the bytes outside [offset, offset+n)
        cache = self._cache
        addr = (offset // _NATIVE_BLOCK) * _NATIVE_BLOCK
        o = offset % _NATIVE_BLOCK
        top = offset + n
        while addr < top:
            if o > 0 or top < addr + _NATIVE_BLOCK:
                self._read(addr, cache)
            self._erase(addr, _NATIVE_BLOCK)
            if o > 0:
                self._write(addr, memoryview(cache)[:o])
            if top < addr + _NATIVE_BLOCK:
                self._write(top, memoryview(cache)[top - addr:])
            o = 0
            addr += _NATIVE_BLOCK

    def ioctl(self, cmd, arg):
        if cmd == 1 or cmd == 2 or cmd == 3:  # INIT, DEINIT, SYNC
            return 0
        if cmd == 4:  # BLOCK_COUNT
            return self._size // self._bs
        if cmd == 5:  # BLOCK_SIZE
            return self._bs
        if cmd == 6:  # BLOCK_ERASE
            if self._bs != _NATIVE_BLOCK:
                return -_EINVAL
            self._erase(arg * _NATIVE_BLOCK, _NATIVE_BLOCK)
            return 0
        return None

    def set_boot(self):
        """esp_ota_set_boot_partition(): raises OSError(-5379) if the image does not verify
        (unless ESP32_SETBOOT_TRUST=1)."""
        flashsim.set_boot(flash, self._entry, not _trust_set_boot)

    def get_next_update(self):
        nxt = flashsim.get_next_update_partition(_table, self._entry)
        if nxt is None:
            raise OSError(_ENOENT, "ENOENT")
        return Partition(nxt)

    @classmethod
    def mark_app_valid_cancel_rollback(cls):
        flashsim.mark_app_valid(flash)


Partition.flash = flash


def __getattr__(name):
    # esp32.NVS loads on first use (nvsflash.py): on a board it is C and takes no GC heap, so a
    # job that never uses it should not carry its code and names either.
    if name == "NVS":
        from nvsflash import NVS

        return NVS
    raise AttributeError(name)
