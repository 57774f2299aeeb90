# The running chip's revision (major * 100 + minor, as esp_image_header_t's min/max_chip_rev_full),
# read from eFuse with machine.mem32: MicroPython has no API for it. Register words and bit
# fields per chip as esptool reads them; -1 where unknown (the revision check is then skipped).
from micropython import const

from .errors import OTAError, ESP_ERR_INVALID_VERSION

_ESP32 = const(0)
_ESP32S2 = const(2)
_ESP32C3 = const(5)
_ESP32S3 = const(9)
_ESP32C6 = const(13)


def _bits(mem32, addr, shift, mask):
    return (mem32[addr] >> shift) & mask


def revision(chip_id):
    # The running chip's revision (e.g. 301 for v3.1), or -1 if this chip is not mapped.
    try:
        from machine import mem32
    except ImportError:
        return -1
    if chip_id == _ESP32:
        efuse = 0x3FF5A000  # EFUSE_BLK0_RDATA0
        eco = (_bits(mem32, efuse + 12, 15, 1) | (_bits(mem32, efuse + 20, 20, 1) << 1)
               | (_bits(mem32, 0x3FF6607C, 31, 1) << 2))  # SYSCON_DATE bit 31
        major = {0: 0, 1: 1, 3: 2, 7: 3}.get(eco, 0)
        return major * 100 + _bits(mem32, efuse + 20, 24, 3)
    if chip_id == _ESP32S2:
        blk1 = 0x3F41A044
        minor = (_bits(mem32, blk1 + 12, 20, 1) << 3) + _bits(mem32, blk1 + 16, 4, 7)
        return _bits(mem32, blk1 + 12, 18, 3) * 100 + minor
    if chip_id == _ESP32C3 or chip_id == _ESP32S3:
        blk1 = 0x60008844 if chip_id == _ESP32C3 else 0x60007044
        minor = (_bits(mem32, blk1 + 20, 23, 1) << 3) + _bits(mem32, blk1 + 12, 18, 7)
        if chip_id == _ESP32S3 and minor & 7 == 0 and _bits(mem32, blk1 + 12, 24, 7) == 1 \
                and _bits(mem32, blk1 + 0x28, 0, 3) == 1:
            return 0  # v0.0 chips (block version v1.1) reused the major field for another purpose
        return _bits(mem32, blk1 + 20, 24, 3) * 100 + minor
    if chip_id == _ESP32C6:
        blk1 = 0x600B0844
        return _bits(mem32, blk1 + 12, 22, 3) * 100 + _bits(mem32, blk1 + 12, 18, 15)
    return -1


def running_id():
    # The chip id in the running app's image header (bytes 12-13): the chip we run on.
    import esp32

    buf = bytearray(16)
    esp32.Partition(esp32.Partition.RUNNING).readblocks(0, buf)
    return buf[12] | buf[13] << 8


def _rev(r):
    return "v%d.%d" % (r // 100, r % 100)


def check(header, chip_id, rev):
    # ESP-IDF's bootloader_common_check_chip_validity() for an app: ESP_ERR_INVALID_VERSION if
    # the image (an ImageHeader) is for another chip, or for revisions that exclude this one
    # (rev -1: unknown, not checked). A max_chip_rev_full of 0 or 0xFFFF means no maximum.
    if header.chip_id != chip_id:
        raise OTAError(ESP_ERR_INVALID_VERSION, "image is for chip id %d (header bytes 12-13), this chip is %d" % (
            header.chip_id, chip_id))
    top = header.max_chip_rev_full
    if rev < 0:
        return
    if header.min_chip_rev_full > rev:
        why = ">= %s (header bytes 15-16)" % _rev(header.min_chip_rev_full)
    elif top != 0 and top != 0xFFFF and rev > top:
        why = "<= %s (header bytes 17-18)" % _rev(top)
    else:
        return
    raise OTAError(ESP_ERR_INVALID_VERSION, "image needs chip revision %s, this chip is %s" % (why, _rev(rev)))
