# ESP-IDF Secure Boot V2 signature blocks (espsecure sign-data --version 2), checked in finish()
# before the boot partition changes, as ESP-IDF's "signed apps without secure boot" mode does.
#
# A signed app is padded with 0xFF to a 4 KiB boundary and followed by one 4 KiB signature sector
# of up to 3 blocks of 1216 bytes: magic 0xE7, version (2: RSA-3072 PSS, 3: ECDSA), the SHA-256
# of everything before the sector, the public key and the signature (all numbers little-endian),
# and a CRC-32 of the block's first 1196 bytes. The image is read back from flash 4 KiB at a time.
import binascii
import hashlib
import struct
from micropython import const

from .errors import OTAError, ESP_ERR_OTA_VALIDATE_FAILED

_SECTOR = const(4096)
_BLOCK = const(1216)
_CRC_OFF = const(1196)
_BLOCKS = const(3)
_MAGIC = const(0xE7)
_RSA = const(2)
_ECDSA = const(3)
_P256 = const(2)  # espsecure's CURVE_ID_P256
_IMAGE_MAGIC = const(0xE9)
_CHUNK = const(2048)  # read back in pieces: nothing the size of the image in RAM

def check(partition, written, keys):
    # Raise ESP_ERR_OTA_VALIDATE_FAILED unless the image in `partition` (`written` bytes long,
    # signature sector included) carries a block that verifies with one of `keys` (parsed in
    # begin() by pubkey.parse_pem) or, with no keys given, with a key that verifies the running
    # app. Returns without a check when there are no keys and the running app is unsigned:
    # unsigned images update as before.
    import esp32

    if keys:
        trusted = keys
    else:
        trusted = _running_keys(esp32.Partition(esp32.Partition.RUNNING))
        if not trusted:
            return
    why = _verify(partition, written, trusted)
    if why:
        raise OTAError(ESP_ERR_OTA_VALIDATE_FAILED, "signature check failed: " + why)


def _running_keys(partition):
    # The keys of the running app's blocks that verify the running app (the trust anchors).
    keys = []
    for parsed in _blocks(partition, partition.ioctl(4, 0) * _SECTOR):
        if parsed is not None and not isinstance(parsed, str) and _signed(parsed):
            keys.append(parsed[0])
    return keys


def _verify(partition, written, keys):
    # '' when a block of the image in `partition` verifies with a trusted key, else why not.
    why = []
    found = False
    for i, parsed in enumerate(_blocks(partition, written)):
        found = True
        if parsed is None:
            continue
        if isinstance(parsed, str):
            why.append("block %d %s" % (i, parsed))
        elif parsed[0] not in keys:
            why.append("block %d is signed by another key" % i)
        elif not _signed(parsed):
            why.append("block %d: the signature does not verify" % i)
        else:
            return ""
    if not found:
        return "the image has no signature sector (unsigned, or cut before it)"
    return "; ".join(why) or "the signature sector holds no block"


def _blocks(partition, limit):
    # The parsed blocks (see _parse) of the image's signature sector; none when the first
    # `limit` bytes of the partition hold no signature sector. Read in small pieces.
    end = image_end(partition)
    if end < 0:
        return []
    sig_off = (end + _SECTOR - 1) // _SECTOR * _SECTOR
    blk = bytearray(_BLOCK)
    if sig_off + _SECTOR > limit:
        return []
    partition.readblocks(0, blk, sig_off)
    if blk[0] != _MAGIC:
        return []
    sha = hashlib.sha256()
    buf = bytearray(_CHUNK)
    for off in range(0, sig_off, _CHUNK):
        partition.readblocks(0, buf, off)
        sha.update(buf)
    digest = sha.digest()
    out = []
    for i in range(_BLOCKS):
        partition.readblocks(0, blk, sig_off + i * _BLOCK)
        out.append(_parse(blk, digest))
    return out


def _parse(data, digest):
    # None for an unused slot; a str saying what is wrong; else (key, digest, signature).
    if data[0] != _MAGIC:
        return None
    if binascii.crc32(memoryview(data)[:_CRC_OFF]) & 0xFFFFFFFF != struct.unpack_from("<I", data, _CRC_OFF)[0]:
        return "fails its CRC-32 (corrupted)"
    if data[4:36] != digest:
        return "signs other content (its digest is not this image's)"
    if data[1] == _RSA:
        return ("rsa", _le(data, 36, 384), struct.unpack_from("<I", data, 420)[0]), digest, _le(data, 812, 384)
    if data[1] == _ECDSA and data[2] == 0 and data[36] == _P256:
        key = ("ecdsa", _le(data, 37, 32), _le(data, 69, 32))
        return key, digest, (_le(data, 101, 32), _le(data, 133, 32))
    return "has an unsupported version %d (RSA-3072 and ECDSA P-256 are)" % data[1]


def _signed(data):
    key, digest, sig = data
    if key[0] == "rsa":
        from .rsa import verify_pss

        return verify_pss(key[1], key[2], digest, sig)  # sig: an int, read little-endian
    from .ecdsa import verify_p256

    return verify_p256(key[1], key[2], digest, sig[0], sig[1])


def _le(data, off, n):
    return int.from_bytes(data[off:off + n], "little")


def image_end(partition):
    # Bytes the app image in `partition` spans (header, segments, checksum, appended SHA-256),
    # read from flash; -1 when it holds no image.
    head = bytearray(24)
    partition.readblocks(0, head)
    if head[0] != _IMAGE_MAGIC:
        return -1
    count, hashed = head[1], head[23] == 1
    size = partition.ioctl(4, 0) * _SECTOR
    seg = bytearray(8)
    off = 24
    for _ in range(count):
        if off + 8 > size:
            return -1
        partition.readblocks(0, seg, off)
        off += 8 + struct.unpack_from("<I", seg, 4)[0]
    off = (off | 15) + 1  # the checksum is the last byte of the padding to 16
    return off + 32 if hashed else off
