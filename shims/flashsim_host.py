# The host-only part of flashsim (flashsim.create_flash and friends load it on first use): the
# default partition table, its binary form as gen_esp32part.py writes it, and new flash files.
# CPython only: the tests and tools make flash files on the host, before a device job runs (and
# there flashsim's private const()s are plain globals, so the formats are defined once, in flashsim).
import hashlib
import struct

from flashsim import (  # type: ignore[attr-defined]
    _BLOCK64, _ENTRY_FMT, _MAGIC, _MD5_MAGIC,
    PartitionEntry, Flash, boot, find_first, FLASH_SIZE, PARTITION_TABLE_OFFSET, PARTITION_TABLE_MAX_LEN,
    TYPE_APP, TYPE_DATA, SUBTYPE_APP_OTA_0, SUBTYPE_DATA_NVS, SUBTYPE_DATA_OTA, SUBTYPE_DATA_PHY, SUBTYPE_DATA_FAT,
)

DEFAULT_TABLE = (
    PartitionEntry(TYPE_DATA, SUBTYPE_DATA_NVS, 0x9000, 0x4000, "nvs", 0),
    PartitionEntry(TYPE_DATA, SUBTYPE_DATA_OTA, 0xD000, 0x2000, "otadata", 0),
    PartitionEntry(TYPE_DATA, SUBTYPE_DATA_PHY, 0xF000, 0x1000, "phy_init", 0),
    PartitionEntry(TYPE_APP, SUBTYPE_APP_OTA_0, 0x10000, 0x300000, "ota_0", 0),
    PartitionEntry(TYPE_APP, SUBTYPE_APP_OTA_0 + 1, 0x310000, 0x300000, "ota_1", 0),
    PartitionEntry(TYPE_DATA, SUBTYPE_DATA_FAT, 0x610000, 0x1F0000, "vfs", 0),
)


def _pack_entry(e):
    label = e[4].encode() if isinstance(e[4], str) else bytes(e[4])
    if len(label) > 16:
        raise ValueError("partition label longer than 16 bytes: %r" % (label,))
    label = label + b"\0" * (16 - len(label))
    return struct.pack(_ENTRY_FMT, _MAGIC, e[0], e[1], e[2], e[3], label, e[5])


def partition_table_bytes(partitions=DEFAULT_TABLE):
    """The binary table as gen_esp32part.py writes it (with MD5), padded with 0xFF to 0xC00."""
    body = b"".join([_pack_entry(e) for e in partitions])
    body += _MD5_MAGIC + b"\xff" * 14 + hashlib.md5(body).digest()
    if len(body) >= PARTITION_TABLE_MAX_LEN:
        raise ValueError("partition table too long")
    return body + b"\xff" * (PARTITION_TABLE_MAX_LEN - len(body))


def create_flash(path, size=FLASH_SIZE, partitions=DEFAULT_TABLE, app_image=None, first_boot=True):
    """Write a flash file: all 0xFF, the partition table at 0x8000, erased otadata, and
    `app_image` (bytes) in ota_0 (else the factory app) as the firmware the chip runs.

    With an app and first_boot=True the chip is then powered on once (boot()): ESP-IDF's
    bootloader, finding otadata erased and no factory app, records ota_0 in otadata[0]
    (seq 1, VALID). The file is then a board that runs ota_0, and later boots leave otadata
    alone until something calls set_boot(). first_boot=False keeps otadata erased."""
    ff = b"\xff" * _BLOCK64
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = _BLOCK64 if left >= _BLOCK64 else left
            f.write(ff if n == _BLOCK64 else ff[:n])
            left -= n
        f.seek(PARTITION_TABLE_OFFSET)
        f.write(partition_table_bytes(partitions))
        if app_image is not None:
            table = [PartitionEntry(*e) for e in partitions]
            part = find_first(table, TYPE_APP, SUBTYPE_APP_OTA_0) or find_first(table, TYPE_APP)
            if part is None:
                raise ValueError("the partition table has no app partition for app_image")
            if len(app_image) > part.size:
                raise ValueError("app_image (%d bytes) does not fit in %s" % (len(app_image), part.label))
            f.seek(part.addr)
            f.write(app_image)
    if app_image is not None and first_boot:
        fl = Flash(path)
        try:
            boot(fl)
        finally:
            fl.close()
