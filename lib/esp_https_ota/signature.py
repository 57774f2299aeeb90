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

def check(partition, written, keys):
    """Raise ESP_ERR_OTA_VALIDATE_FAILED unless the image in `partition` (`written` bytes long,
    signature sector included) carries a block that
    verifies with one of `keys` (parsed in begin() by pubkey.parse_pem) or, with no keys given, with a key that
    verifies the running app. Returns without a check when there are no keys and the running
    app is unsigned: unsigned images update as before."""
    import esp32

    buf = bytearray(_SECTOR)
    if keys:
        trusted = keys
    else:
        trusted = _running_keys(esp32.Partition(esp32.Partition.RUNNING), buf)
        if not trusted:
            return
    why = _verify(partition, written, buf, trusted)
    if why:
        raise OTAError(ESP_ERR_OTA_VALIDATE_FAILED, "signature check failed: " + why)


def _running_keys(running, buf):
    """The keys of the running app's blocks that verify the running app (the trust anchors)."""
    blocks = _blocks(running, running.ioctl(4, 0) * _SECTOR, buf)
    if blocks is None:
        return []
    digest, sector = blocks
    keys = []
    for i in range(_BLOCKS):
        parsed = _parse(sector, i * _BLOCK, digest)
        if parsed is not None and not isinstance(parsed, str) and _signed(parsed):
            keys.append(parsed[0])
    return keys


def _verify(partition, written, buf, trusted):
    """'' when a block of the image in `partition` verifies with a trusted key, else why not."""
    blocks = _blocks(partition, written, buf)
    if blocks is None:
        return "the image has no signature sector (unsigned, or cut before it)"
    digest, sector = blocks
    why = []
    for i in range(_BLOCKS):
        parsed = _parse(sector, i * _BLOCK, digest)
        if parsed is None:
            continue
        if isinstance(parsed, str):
            why.append("block %d %s" % (i, parsed))
        elif parsed[0] not in trusted:
            why.append("block %d is signed by another key" % i)
        elif not _signed(parsed):
            why.append("block %d: the signature does not verify" % i)
        else:
            return ""
    return "; ".join(why) or "the signature sector holds no block"


def _blocks(partition, written, buf):
    """(SHA-256 of the image up to its signature sector, the sector), or None when the first
    `written` bytes of the partition hold no signature sector."""
    end = image_end(partition, buf)
    if end < 0:
        return None
    sig_off = (end + _SECTOR - 1) // _SECTOR * _SECTOR
    if sig_off + _SECTOR > written:
        return None
    sector = bytearray(_SECTOR)
    partition.readblocks(sig_off // _SECTOR, sector)
    if sector[0] != _MAGIC:
        return None
    sha = hashlib.sha256()
    for b in range(sig_off // _SECTOR):
        partition.readblocks(b, buf)
        sha.update(buf)
    return sha.digest(), sector


def _parse(sector, off, digest):
    """None for an unused slot; a str saying what is wrong; else (key, digest, signature)."""
    blk = memoryview(sector)[off:off + _BLOCK]
    if blk[0] != _MAGIC:
        return None
    if binascii.crc32(blk[:_CRC_OFF]) & 0xFFFFFFFF != struct.unpack_from("<I", blk, _CRC_OFF)[0]:
        return "fails its CRC-32 (corrupted)"
    if bytes(blk[4:36]) != digest:
        return "signs other content (its digest is not this image's)"
    if blk[1] == _RSA:
        n = _le(blk, 36, 384)
        e = struct.unpack_from("<I", blk, 420)[0]
        return ("rsa", n, e), digest, bytes(blk[812:1196])
    if blk[1] == _ECDSA and blk[2] == 0 and blk[36] == _P256:
        key = ("ecdsa", _le(blk, 37, 32), _le(blk, 69, 32))
        return key, digest, (_le(blk, 101, 32), _le(blk, 133, 32))
    return "has an unsupported version %d (RSA-3072 and ECDSA P-256 are)" % blk[1]


def _signed(parsed):
    key, digest, sig = parsed
    if key[0] == "rsa":
        from .rsa import verify_pss

        return verify_pss(key[1], key[2], digest, bytes(reversed(sig)))
    from .ecdsa import verify_p256

    return verify_p256(key[1], key[2], digest, sig[0], sig[1])


def _le(blk, off, n):
    return int.from_bytes(bytes(blk[off:off + n]), "little")


def image_end(partition, buf):
    """Bytes the app image in `partition` spans (header, segments, checksum, appended SHA-256),
    read from flash; -1 when it holds no image."""
    partition.readblocks(0, buf)
    if buf[0] != _IMAGE_MAGIC:
        return -1
    count, hashed = buf[1], buf[23] == 1
    size = partition.ioctl(4, 0) * _SECTOR
    off = 24
    head = bytearray(8)
    for _ in range(count):
        if off + 8 > size:
            return -1
        _read(partition, off, head, buf)
        off += 8 + struct.unpack_from("<I", head, 4)[0]
    off = (off | 15) + 1  # the checksum is the last byte of the padding to 16
    return off + 32 if hashed else off


def _read(partition, off, out, buf):
    """out[:] = the partition's bytes at `off` (they may span two sectors)."""
    for i in range(len(out)):
        if i == 0 or (off + i) % _SECTOR == 0:
            partition.readblocks((off + i) // _SECTOR, buf)
        out[i] = buf[(off + i) % _SECTOR]
