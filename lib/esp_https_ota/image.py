# The ESP-IDF app image (esp_image_format.h, esp_app_desc.h): header and app description
# parsing, and a validator that checks structure, XOR checksum and appended SHA-256 while the
# bytes stream past, so nothing is read back from flash.
import hashlib
import struct
from micropython import const

from . import _kernels
from .errors import OTAError, ESP_FAIL, ESP_ERR_OTA_VALIDATE_FAILED

_IMAGE_MAGIC = const(0xE9)
_HEADER_LEN = const(24)  # esp_image_header_t
_SEGMENT_HEADER_LEN = const(8)  # esp_image_segment_header_t
_APP_DESC_LEN = const(256)  # esp_app_desc_t
HEAD_LEN = const(288)  # header + first segment header + app description: read before any write
_DESC_OFF = const(32)  # the app description opens the first segment's data
_MAX_SEGMENTS = const(16)
_CHECKSUM_SEED = const(0xEF)
_HASH_LEN = const(32)
_APP_DESC_MAGIC = const(b"\x32\x54\xcd\xab")  # 0xABCD5432, compared as bytes (a 32-bit board has 31-bit small ints)
_HEADER_FMT = const("<BB10xHxHH4xB")  # bytes 0, 1, 12-13, 15-16, 17-18, 23
_APP_DESC_FMT = const("<II8s32s32s16s16s32s32sHHB")

# Streaming states, in image order.
_ST_HEADER = const(0)
_ST_SEG_HEADER = const(1)
_ST_SEG_DATA = const(2)
_ST_PAD = const(3)
_ST_CHECKSUM = const(4)
_ST_HASH = const(5)
_ST_DONE = const(6)


def _cstr(b):
    # A fixed-size C char array as str: up to the first NUL.
    end = b.find(b"\x00")
    if end >= 0:
        b = b[:end]
    try:
        return b.decode()
    except UnicodeError:
        return "".join([chr(c) for c in b])  # not UTF-8: keep every byte visible


class ImageHeader:
    # The esp_image_header_t fields the checks use, by their ESP-IDF names (the SPI flash
    # settings, entry address and legacy min_chip_rev are skipped: each name would be a qstr).

    def __init__(self, buf):
        (self.magic, self.segment_count, self.chip_id, self.min_chip_rev_full, self.max_chip_rev_full,
         self.hash_appended) = struct.unpack_from(_HEADER_FMT, buf, 0)


class AppDesc:
    """esp_app_desc_t: what esp_https_ota_get_img_desc() fills in."""

    def __init__(self, buf, off=0):
        (self.magic_word, self.secure_version, _, version, project_name, time_, date, idf_ver,
         self.app_elf_sha256, self.min_efuse_blk_rev_full, self.max_efuse_blk_rev_full,
         self.mmu_page_size) = struct.unpack_from(_APP_DESC_FMT, buf, off)
        self.version = _cstr(version)
        self.project_name = _cstr(project_name)
        self.time = _cstr(time_)
        self.date = _cstr(date)
        self.idf_ver = _cstr(idf_ver)

    def __repr__(self):
        return "<AppDesc project_name=%r version=%r idf_ver=%r secure_version=%d>" % (
            self.project_name, self.version, self.idf_ver, self.secure_version)


def app_desc(buf):
    # The AppDesc of an image whose first HEAD_LEN bytes are in buf; ESP_FAIL says why not.
    if buf[0] != _IMAGE_MAGIC:
        raise OTAError(ESP_FAIL, "not an ESP image: byte 0 is 0x%02x, not 0x%02x" % (buf[0], _IMAGE_MAGIC))
    if bytes(buf[_DESC_OFF:_DESC_OFF + 4]) != _APP_DESC_MAGIC:
        raise OTAError(ESP_FAIL, "no app description (magic 0xABCD5432) at byte %d: not an OTA app image" % _DESC_OFF)
    return AppDesc(buf, _DESC_OFF)


class ImageValidator:
    # Walks an image as it streams: header, segments, checksum, optional SHA-256.
    #
    # feed(buf, off, n) takes the next n bytes (in place: they are already where the writer
    # keeps them); hash_block(buf, base, n) takes each flushed block for the SHA-256;
    # verdict() raises ESP_ERR_OTA_VALIDATE_FAILED unless the whole image arrived and matched.

    header: ImageHeader  # set once the first _HEADER_LEN bytes are in (no attribute before)

    def __init__(self, limit, image_size=-1):
        self._size = limit  # the partition size: segments may not run past it
        self._end = image_size  # the body's length when known: segments may not run past it
        self._buf = bytearray(_HASH_LEN)  # header, segment header or hash being collected
        self._pos = 0
        self._state = _ST_HEADER
        self._left = _HEADER_LEN
        self.pos = 0  # image bytes fed so far
        self._segs_left = 0
        self._acc = _CHECKSUM_SEED
        self.checksum = -1
        self.hash_appended = False
        self.image_len = -1  # known once the last segment header has been read
        self._sha = hashlib.sha256()
        self._hashed = 0
        self._piece = bytearray(16)  # the hashed region ends on a 16-byte boundary: see hash_block

    def feed(self, buf, off, n, dest=None, start=0):
        # Take the next n image bytes, buf[off:off+n]. With dest, also copy them to dest[start:]
        # in the same pass (the fused copy-and-checksum kernel over segment data).
        if dest is None and self._state == _ST_SEG_DATA and n < self._left:
            # The common case, a block inside a segment's data: one kernel call.
            self._acc = _kernels.xor_bytes(buf, off, n, self._acc)
            self._left -= n
            self.pos += n
            return
        end = off + n
        while off < end:
            k = end - off
            st = self._state
            if st == _ST_SEG_DATA or st == _ST_PAD:
                if k > self._left:
                    k = self._left
                if st == _ST_SEG_DATA:
                    if dest is None:
                        self._acc = _kernels.xor_bytes(buf, off, k, self._acc)
                    else:
                        self._acc = _kernels.copy_xor(dest, start, buf, off, k, self._acc)
                elif dest is not None:
                    _kernels.copy_bytes(dest, start, buf, off, k)
                self._left -= k
            else:
                if st == _ST_DONE:
                    k = end - off  # bytes after the image's end are ignored, as ESP-IDF does
                elif st == _ST_CHECKSUM:
                    k = 1
                    self.checksum = buf[off]
                    self._left = 0
                else:
                    if k > self._left:
                        k = self._left
                    _kernels.copy_bytes(self._buf, self._pos, buf, off, k)
                    self._pos += k
                    self._left -= k
                if dest is not None:
                    _kernels.copy_bytes(dest, start, buf, off, k)
            off += k
            start += k
            self.pos += k
            if self._left == 0:
                self._advance()

    def expect(self, image_size):
        # The body's length, once known: segments may not run past it.
        self._end = image_size

    def _advance(self):
        st = self._state
        if st == _ST_HEADER:
            hdr = self.header = ImageHeader(self._buf)
            if hdr.magic != _IMAGE_MAGIC:
                self._fail("byte 0 is 0x%02x, not the image magic 0x%02x" % (hdr.magic, _IMAGE_MAGIC))
            if hdr.segment_count == 0 or hdr.segment_count > _MAX_SEGMENTS:
                self._fail("segment count %d at byte 1 is outside 1..%d" % (hdr.segment_count, _MAX_SEGMENTS))
            self._segs_left = hdr.segment_count
            self.hash_appended = hdr.hash_appended != 0  # ESP-IDF: any non-zero byte 23
            self._next_segment()
        elif st == _ST_SEG_HEADER:
            s = self._buf
            length = s[4] | (s[5] << 8) | (s[6] << 16) | (s[7] << 24)
            if length & 3:
                self._fail("segment at byte %d has length %d, not a multiple of 4" % (self.pos - _SEGMENT_HEADER_LEN, length))
            if self.pos + length > self._size:
                self._fail("segment at byte %d claims %d bytes, past the end of the partition" % (
                    self.pos - _SEGMENT_HEADER_LEN, length))
            if 0 <= self._end < self.pos + length:
                self._fail("segment at byte %d claims %d bytes, past the end of the %d-byte image" % (
                    self.pos - _SEGMENT_HEADER_LEN, length, self._end))
            self._segs_left -= 1
            self._state = _ST_SEG_DATA
            self._left = length
            if length == 0:
                self._advance()
        elif st == _ST_SEG_DATA:
            self._next_segment()
        elif st == _ST_PAD:
            self._state = _ST_CHECKSUM
            self._left = 1
        elif st == _ST_CHECKSUM:
            if self.hash_appended:
                self._state = _ST_HASH
                self._left = _HASH_LEN
                self._pos = 0
            else:
                self._state = _ST_DONE
        elif st == _ST_HASH:
            self._state = _ST_DONE

    def _next_segment(self):
        self._pos = 0
        if self._segs_left:
            self._state = _ST_SEG_HEADER
            self._left = _SEGMENT_HEADER_LEN
        else:
            # Zero padding so that the checksum byte ends a 16-byte block.
            self._state = _ST_PAD
            self._left = 15 - (self.pos % 16)
            self.image_len = self.pos + self._left + 1 + (_HASH_LEN if self.hash_appended else 0)
            if self.image_len > self._size:
                self._fail("image of %d bytes does not fit the %d-byte partition" % (self.image_len, self._size))

    def hash_block(self, buf, base, n):
        # Add buf[0:n], the image bytes at [base, base+n), to the SHA-256 where it covers them.
        if self.image_len >= 0:
            if not self.hash_appended:
                return
            stop = self.image_len - _HASH_LEN
            if base >= stop:
                return
            if base + n > stop:
                n = stop - base
        elif n < len(buf):
            return  # the stream ended inside the segments: verdict() fails it, no hash needed
        if n == len(buf):
            self._sha.update(buf)  # the steady state: a whole block, no slice
        else:
            # The hashed region ends 16-aligned (checksum padding), so the tail goes in 16-byte
            # pieces through one buffer instead of a slice, which would allocate.
            piece = self._piece
            full = n - n % 16
            for off in range(0, full, 16):
                _kernels.copy_bytes(piece, 0, buf, off, 16)
                self._sha.update(piece)
            if full < n:  # only for blocks that start off a 16-byte boundary (never the writer's)
                self._sha.update(memoryview(buf)[full:n])
        self._hashed = base + n

    def verdict(self):
        # Raise ESP_ERR_OTA_VALIDATE_FAILED unless a whole, intact image was fed.
        if self._state != _ST_DONE:
            if self.image_len >= 0:
                self._fail("image truncated: %d of %d bytes received" % (self.pos, self.image_len))
            self._fail("image truncated after %d bytes, inside its segments" % self.pos)
        if self.checksum != self._acc:
            self._fail("checksum byte at offset %d is 0x%02x, computed 0x%02x" % (
                self.image_len - 1 - (_HASH_LEN if self.hash_appended else 0), self.checksum, self._acc))
        if self.hash_appended:
            if self._hashed != self.image_len - _HASH_LEN:
                self._fail("SHA-256 covered %d of %d bytes" % (self._hashed, self.image_len - _HASH_LEN))
            if self._sha.digest() != bytes(self._buf):
                self._fail("appended SHA-256 at offset %d does not match the image" % (self.image_len - _HASH_LEN))

    def digest(self):  # the appended SHA-256 (once verdict() has passed: the image's own)
        return bytes(self._buf)

    def _fail(self, msg):
        raise OTAError(ESP_ERR_OTA_VALIDATE_FAILED, msg)
