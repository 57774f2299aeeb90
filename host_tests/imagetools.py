"""Host-side tools for ESP-IDF app images in tests and the demo (CPython only).

They derive new, still-valid images from the real ones in shared/images/ (a new version string
with the checksum and SHA-256 recomputed), and damaged ones for failure tests.
"""

import hashlib
import struct

HEADER_LEN = 24
SEGMENT_HEADER_LEN = 8
APP_DESC_OFFSET = HEADER_LEN + SEGMENT_HEADER_LEN
VERSION_OFFSET = APP_DESC_OFFSET + 16  # esp_app_desc_t.version[32]
PROJECT_NAME_OFFSET = APP_DESC_OFFSET + 48
CHIP_ID_OFFSET = 12


def layout(image):
    """(segments, checksum_offset, image_len): segments as (data_offset, data_len) pairs."""
    count = image[1]
    hash_appended = image[23] == 1
    pos = HEADER_LEN
    segments = []
    for _ in range(count):
        _, length = struct.unpack_from("<II", image, pos)
        pos += SEGMENT_HEADER_LEN
        segments.append((pos, length))
        pos += length
    checksum_offset = pos + (15 - pos % 16)
    image_len = checksum_offset + 1 + (32 if hash_appended else 0)
    return segments, checksum_offset, image_len


def refresh(image):
    """Recompute the XOR checksum and appended SHA-256 of a (modified) image in place."""
    segments, checksum_offset, image_len = layout(image)
    acc = 0xEF
    for off, length in segments:
        for b in image[off:off + length]:
            acc ^= b
    image[checksum_offset] = acc
    if image[23] == 1:
        image[checksum_offset + 1:image_len] = hashlib.sha256(image[:checksum_offset + 1]).digest()
    return image


def with_version(image, version):
    """A copy of `image` whose esp_app_desc_t.version is `version`, still valid."""
    out = bytearray(image)
    field = version.encode()[:31].ljust(32, b"\0")
    out[VERSION_OFFSET:VERSION_OFFSET + 32] = field
    return bytes(refresh(out))


def with_secure_version(image, secure_version):
    """A copy whose esp_app_desc_t.secure_version (u32 at +4) is `secure_version`, still valid."""
    out = bytearray(image)
    out[APP_DESC_OFFSET + 4:APP_DESC_OFFSET + 8] = secure_version.to_bytes(4, "little")
    return bytes(refresh(out))


def with_elf_sha256(image, digest):
    """A copy whose esp_app_desc_t.app_elf_sha256 (32 bytes at +144) is `digest`, still valid."""
    out = bytearray(image)
    out[APP_DESC_OFFSET + 144:APP_DESC_OFFSET + 176] = digest
    return bytes(refresh(out))


def with_chip_id(image, chip_id):
    out = bytearray(image)
    struct.pack_into("<H", out, CHIP_ID_OFFSET, chip_id)
    return bytes(refresh(out))


def with_chip_revisions(image, min_rev_full, max_rev_full):
    """min/max_chip_rev_full (header bytes 15-16 and 17-18) set, hash recomputed: still valid."""
    out = bytearray(image)
    struct.pack_into("<HH", out, 15, min_rev_full, max_rev_full)
    return bytes(refresh(out))


def flip_byte(image, offset):
    out = bytearray(image)
    out[offset] ^= 0xFF
    return bytes(out)


def grown(image, total_size, seed=1):
    """A valid image of about total_size bytes: `image` with one more segment of random data
    (loaded to IRAM, so no MMU alignment applies), checksum and hash recomputed."""
    import random

    segments, checksum_offset, _ = layout(image)
    end = segments[-1][0] + segments[-1][1]  # where the last segment's data ends
    extra = (total_size - len(image)) // 4 * 4
    rnd = random.Random(seed)
    out = bytearray(image[:end])
    out += struct.pack("<II", 0x40080000, extra) + rnd.randbytes(extra)
    out[1] += 1
    pad = 15 - len(out) % 16
    out += bytes(pad + 1 + (32 if out[23] == 1 else 0))
    return bytes(refresh(out))
