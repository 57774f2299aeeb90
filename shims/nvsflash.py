# The esp32 shim's NVS class (esp32.NVS loads it on first use) and where it keeps its values: the
# flash's nvs partition, so that they survive a simulated reboot (a new process) and a power cut
# tears them as it would on the chip. Host only; one source for CPython and the MicroPython unix port.
#
# The partition holds two 8 KiB slots; commit() writes a snapshot of every namespace into the slot
# the newest one is not in, body first, then a header with a sequence number, the length and a
# CRC-32. A commit is all or nothing: torn, its slot fails the CRC and the previous snapshot stays,
# as ESP-IDF's NVS keeps each entry whole across a power failure (it is log-structured, with a
# CRC per entry). The format is this shim's own, not ESP-IDF's page layout.
import binascii
import json
import struct

import flashsim

SLOT = 0x2000
MAGIC = b"NVSS"
HEAD = 16  # magic, seq, body length, CRC-32 of the body


def partition(table):
    """The nvs data partition of the table, or None."""
    return flashsim.find_first(table, flashsim.TYPE_DATA, flashsim.SUBTYPE_DATA_NVS)


def load(flash, table):
    """(namespaces, seq): {namespace: {key: [kind, value]}} of the newest intact snapshot, and its
    sequence number; ({}, 0) for an erased or garbled partition. Blobs are hex strings."""
    part = partition(table)
    best, best_seq = {}, 0
    if part is None:
        return best, best_seq
    head = bytearray(HEAD)
    for i in range(min(2, part.size // SLOT)):
        addr = part.addr + i * SLOT
        flash.read(addr, head)
        if bytes(head[:4]) != MAGIC:
            continue
        seq, n, crc = struct.unpack("<III", bytes(head[4:]))
        if n > SLOT - HEAD or seq <= best_seq:
            continue
        body = bytearray(n)
        flash.read(addr + HEAD, body)
        if binascii.crc32(body) & 0xFFFFFFFF != crc:
            continue
        try:
            data = json.loads(bytes(body).decode())
        except ValueError:
            continue
        if isinstance(data, dict):
            best, best_seq = data, seq
    return best, best_seq


def store(flash, table, data, seq):
    """Write snapshot number `seq` of `data` (as load() returns it). Raises OSError
    ESP_ERR_NVS_NOT_ENOUGH_SPACE when it does not fit a slot."""
    part = partition(table)
    if part is None:
        raise flashsim.esp_error(flashsim.ESP_ERR_NOT_FOUND, "no nvs partition")
    body = json.dumps(data).encode()
    if len(body) > SLOT - HEAD:
        raise flashsim.esp_error(flashsim.ESP_ERR_NVS_NOT_ENOUGH_SPACE)
    addr = part.addr + (seq % 2) * SLOT
    flash.erase(addr, SLOT)
    flash.write(addr + HEAD, body)
    flash.write(addr, MAGIC + struct.pack("<III", seq, len(body), binascii.crc32(body) & 0xFFFFFFFF))


class NVS:
    """esp32.NVS on the flash's nvs partition (shims/nvsflash.py): set_*() and erase_key() change
    what get_*() sees at once, and only commit() makes it durable, across a reset or a power cut.
    Errors as the port raises them (check_esp_err): a missing key is OSError(-0x1102,
    'ESP_ERR_NVS_NOT_FOUND'). The board's NVS is C and takes nothing from the GC heap, so the
    shim's own bookkeeping runs with the heap unlocked (micropython.heap_lock() tests)."""

    _values = None  # {namespace: {key: [kind, value]}}, committed and pending
    _seq = 0
    commits = 0  # commit() calls in this process (tests count NVS wear)

    def __init__(self, namespace):
        if not isinstance(namespace, str) or not 0 < len(namespace) <= 15:
            raise ValueError("NVS namespace must be a str of 1 to 15 characters")
        if NVS._values is None:
            import esp32

            NVS._values, NVS._seq = load(esp32.flash, esp32._table)
        self._name = namespace

    def _ns(self):
        return NVS._values.setdefault(self._name, {})

    def _get(self, key, kind):
        entry = NVS._values.get(self._name, {}).get(key)
        if entry is None:
            raise flashsim.esp_error(flashsim.ESP_ERR_NVS_NOT_FOUND)
        if entry[0] != kind:
            raise flashsim.esp_error(flashsim.ESP_ERR_NVS_TYPE_MISMATCH)
        return entry[1]

    def set_i32(self, key, value):
        if not -0x80000000 <= value <= 0x7FFFFFFF:
            raise OverflowError("value does not fit in int32")
        depth = _unlock()
        self._ns()[key] = ["i32", value]
        _relock(depth)

    def get_i32(self, key):
        return self._get(key, "i32")

    def set_blob(self, key, value):
        depth = _unlock()
        self._ns()[key] = ["blob", bytes(value).hex()]
        _relock(depth)

    def get_blob(self, key, buf):
        value = bytes.fromhex(self._get(key, "blob"))
        if len(buf) < len(value):
            raise flashsim.esp_error(flashsim.ESP_ERR_NVS_INVALID_LENGTH)
        buf[0:len(value)] = value
        return len(value)

    def erase_key(self, key):
        ns = NVS._values.get(self._name, {})
        if key not in ns:
            raise flashsim.esp_error(flashsim.ESP_ERR_NVS_NOT_FOUND)
        del ns[key]

    def commit(self):
        depth = _unlock()
        try:
            NVS.commits += 1
            NVS._seq += 1
            import esp32

            store(esp32.flash, esp32._table, NVS._values, NVS._seq)
        finally:
            _relock(depth)


def _unlock():
    """Unlock the GC heap if micropython.heap_lock() holds it; the depth, for _relock()."""
    try:
        import micropython
    except ImportError:
        return 0
    micropython.heap_lock()  # heap_unlock() says the depth left; lock once more to count safely
    depth = -1
    while True:
        depth += 1
        if not micropython.heap_unlock():
            return depth


def _relock(depth):
    if depth:
        import micropython

        for _ in range(depth):
            micropython.heap_lock()
