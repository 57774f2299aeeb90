# Where the esp32 shim's NVS keeps its values: the flash's nvs partition, so that they survive a
# simulated reboot (a new process) and a power cut tears them as it would on the chip. Host only;
# one source for CPython and the MicroPython unix port.
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
