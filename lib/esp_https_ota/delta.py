# Delta OTA as a pipeline stage: a source whose readinto(buf, n) gives the new image, rebuilt from
# a detools sequential patch (compression none or heatshrink) applied to a base app partition (the
# running one unless delta_base) while the patch streams in. Loaded only for a delta patch.
#
# A patch may open with esp_delta_ota's 64-byte header: magic 0xfccdde10 (LE), the base image's
# SHA-256, 28 reserved bytes; the base is checked against it in begin(), before anything is erased.
# detools' sequential format (detools 0.53): byte 0 = type << 4 | compression, the new image's
# size, [heatshrink: (window_sz2 - 4) << 4 | (lookahead_sz2 - 3)], then the (compressed) stream:
# a data-format size (0), then runs until the image is whole: a diff size and that many bytes, each
# added to the base byte at `from`; an extra size and that many new bytes; a signed step of `from`.
# A size: 6 bits in the first byte (0x80: more follow, 0x40: negative), then 7 bits per byte.
from micropython import const

from . import _kernels
from .errors import OTAError, ESP_ERR_INVALID_ARG, ESP_ERR_NOT_SUPPORTED, ESP_ERR_OTA_PARTITION_CONFLICT, \
    ESP_ERR_OTA_VALIDATE_FAILED

MAGIC = const(b"\x10\xde\xcd\xfc")  # esp_delta_ota's header: 0xfccdde10, little-endian
HEADER_LEN = const(64)
_PATCH = const(1024)  # decompressed patch bytes read ahead
_BASE = const(1024)  # base bytes cached: bsdiff reads the base mostly forward
_MAX_WINDOW = const(12)  # heatshrink window_sz2: the window is allocated (and saved to resume)
_HEATSHRINK = const(4)
# Phases: the run being output (_START: none yet, or an adjustment was just applied).
_START = const(0)
_DIFF = const(1)
_EXTRA = const(2)
_DONE = const(3)  # the image is whole and the patch's end was checked

try:
    from ._delta_viper import add_bytes as _add
except (ImportError, SyntaxError, ValueError, NameError):  # no native emitter: see _kernels.py
    def _add(dst, doff, a, aoff, b, boff, n):
        for i in range(n):
            dst[doff + i] = (a[aoff + i] + b[boff + i]) & 0xFF


def _fail(msg, code=ESP_ERR_OTA_VALIDATE_FAILED):
    raise OTAError(code, "delta patch " + msg)


class DeltaStage:
    # `size`: the new image's; `digest`: the base's SHA-256 the header names (None: bare patch).

    def __init__(self, src, b0, b1, base, bare):
        self._src = src
        self._base = base
        self._bs = base.ioctl(5, 0)  # BLOCK_SIZE: readblocks() counts in these
        self._limit = base.info()[3]
        self._p = bytearray(_PATCH)
        self._b = bytearray(_BASE)
        self._ppos = self._pend = 0
        self._at = -_BASE  # base offset of self._b[0]: nothing cached yet
        self._from = self._to = self._left = 0
        self._phase = _START
        self._peek = [b0, b1]
        self.body = 0  # patch bytes taken from the source by the header, then by the stream
        self.digest = None
        if not bare:
            hdr = bytearray(HEADER_LEN)
            for i in range(HEADER_LEN):
                hdr[i] = self._raw()
            if hdr[:4] != MAGIC:
                _fail("header magic is %s, not esp_delta_ota's 10decdfc" % _hex(hdr[:4]))
            self.digest = bytes(hdr[4:36])
            check_base(base, self.digest, self._b)
        b = self._raw()
        kind, self.compression = b >> 4 & 7, b & 15
        if kind or b & 0x80 or self.compression not in (0, _HEATSHRINK):
            _fail("byte %d (0x%02x) is a detools %s patch compressed with %s: only sequential patches"
                  " compressed with none or heatshrink are supported (tools/make_patch.py)" % (
                      self.body - 1, b, _name("sequential in-place hdiffpatch", kind),
                      _name("none lzma crle bz2 heatshrink zstd lz4", self.compression)), ESP_ERR_NOT_SUPPORTED)
        self.size = self._varint(True)
        self._in = src
        self.window = 0
        if self.compression == _HEATSHRINK:
            b = self._raw()
            w, look = (b >> 4) + 4, (b & 15) + 3
            if w > _MAX_WINDOW:
                _fail("needs a heatshrink window of 2^%d bytes, more than 2^%d: make it with"
                      " --heatshrink-window-sz2 8 (as esp_delta_ota)" % (w, _MAX_WINDOW), ESP_ERR_NOT_SUPPORTED)
            from .heatshrink import HeatshrinkDecoder

            self._in = HeatshrinkDecoder(src, w, look)
            self.window = b
        self._head = self.body  # the stream starts here
        if self._varint(False):
            _fail("uses a detools data format (--data-format): not supported", ESP_ERR_NOT_SUPPORTED)

    def _raw(self):
        # The next byte of the patch's own header (the 2 peeked bytes first).
        if self.body < 2 and self._peek is not None:
            v = self._peek[self.body]
            if self.body == 1:
                self._peek = None
        elif self._src.readinto(self._p, 1):
            v = self._p[0]
        else:
            _fail("truncated in its header, at byte %d" % self.body)
        self.body += 1
        return v

    def _byte(self):
        # The next byte of the (decompressed) patch stream.
        if self._ppos == self._pend and not self._fill():
            self._truncated()
        v = self._p[self._ppos]
        self._ppos += 1
        return v

    def _varint(self, raw):
        b = self._raw() if raw else self._byte()
        v = b & 0x3F
        neg = b & 0x40
        shift = 6
        while b & 0x80:
            if shift > 20:  # 4 bytes give 27 bits, past any flash size: garbage
                self._corrupt("a size with more than 4 bytes")
            b = self._raw() if raw else self._byte()
            v |= (b & 0x7F) << shift
            shift += 7
        return -v if neg else v

    def _fill(self):
        got = self._in.readinto(self._p, _PATCH)
        self._ppos = 0
        self._pend = got
        if self._in is self._src:
            self.body += got
        return got

    def readinto(self, buf, n):
        k = 0
        while k < n:
            left = self._left
            if left == 0:
                if not self._step():
                    break
                continue
            if self._ppos == self._pend and not self._fill():
                self._truncated()
            m = n - k
            if m > left:
                m = left
            if m > self._pend - self._ppos:
                m = self._pend - self._ppos
            if self._phase == _DIFF:
                f = self._from
                off = f - self._at
                if off < 0 or off >= _BASE:
                    off = self._cache(f)
                if m > _BASE - off:
                    m = _BASE - off
                _add(buf, k, self._p, self._ppos, self._b, off, m)
                self._from = f + m
            else:
                _kernels.copy_bytes(buf, k, self._p, self._ppos, m)
            self._ppos += m
            self._left = left - m
            self._to += m
            k += m
        return k

    def _step(self):
        # The current run is done: read the next one's size (False: the image is whole).
        ph = self._phase
        if ph == _DONE:
            return False
        if ph == _DIFF:
            self._phase = _EXTRA
        else:
            if ph == _EXTRA:
                self._from += self._varint(False)
            if self._to >= self.size:
                self._phase = _DONE
                if self._ppos < self._pend or self._fill():
                    self._corrupt("more bytes after the patch's end")
                return False
            self._phase = _DIFF
        left = self._varint(False)
        if left < 0 or self._to + left > self.size:
            self._corrupt("a run of %d bytes at new-image byte %d, past the %d-byte image" % (left, self._to, self.size))
        self._left = left
        return True

    def _cache(self, f):
        # Base bytes from offset f into self._b; f's index there.
        if f < 0 or f >= self._limit:
            self._corrupt("a read of base byte %d, outside the %d-byte base partition" % (f, self._limit))
        at = f if f + _BASE <= self._limit else self._limit - _BASE
        self._base.readblocks(at // self._bs, self._b, at % self._bs)
        self._at = at
        return f - at

    def taken(self):
        # Patch bytes taken from the source so far (a heatshrink stream: compressed bytes).
        if self._in is self._src:
            return self.body
        return self._head + self._in.taken()

    def _truncated(self):
        _fail("truncated: it ends at patch byte %d, at new-image byte %d of %d" % (self.taken(), self._to, self.size))

    def _corrupt(self, what):
        _fail("corrupt: %s (patch byte %d, new-image byte %d)" % (what, self.taken(), self._to))


def base_partition(given, update):
    # delta_base as an esp32.Partition (a label names one; None: the running app), checked.
    import esp32

    if given is None:
        return esp32.Partition(esp32.Partition.RUNNING)
    if isinstance(given, str):
        try:
            given = esp32.Partition(given)
        except OSError:
            given = None
    if not hasattr(given, "readblocks") or given.info()[0] != esp32.Partition.TYPE_APP:
        raise OTAError(ESP_ERR_INVALID_ARG, "config field delta_base must be an app partition or its label")
    if given.info()[2] == update.info()[2]:
        raise OTAError(ESP_ERR_OTA_PARTITION_CONFLICT, "config field delta_base is the partition being written")
    return given


def check_base(base, digest, buf):
    # The base partition must hold an intact app image whose appended SHA-256 is `digest`.
    from .image import ImageValidator

    label, limit, bs = base.info()[4], base.info()[3], base.ioctl(5, 0)
    v = ImageValidator(limit)
    off = 0
    while off + len(buf) <= limit and (v.image_len < 0 or off < v.image_len):
        base.readblocks(off // bs, buf, off % bs)
        v.feed(buf, 0, len(buf))
        v.hash_block(buf, off, len(buf))
        off += len(buf)
    try:
        v.verdict()
    except OTAError as e:
        _fail("base %s does not hold an intact app image: %s" % (label, e.msg))
    if not v.hash_appended:
        _fail("base %s has no appended SHA-256 to check the patch's against" % label)
    if v.digest() != digest:
        _fail("is for another base: made for SHA-256 %s, the base %s has %s" % (_hex(digest), label, _hex(v.digest())))


def _hex(b):
    return "".join(["%02x" % x for x in b])


def _name(names, i):
    n = names.split()
    return n[i] if i < len(n) else "unknown (%d)" % i
