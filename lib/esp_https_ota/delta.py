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
import struct
from micropython import const

from . import _kernels
from .errors import OTAError, ESP_ERR_NOT_SUPPORTED, ESP_ERR_OTA_VALIDATE_FAILED

HEADER_LEN = const(64)
_PATCH = const(1024)  # decompressed patch bytes read ahead
_BASE = const(1024)  # base bytes cached: bsdiff reads the base mostly forward
_MAX_WINDOW = const(10)  # heatshrink window_sz2: the window is allocated, and saved to resume
_HEATSHRINK = const(4)
# save()'s state (progress.py reads its first 16 bytes): magic, image bytes output, patch bytes
# taken, image size, base address, from, bytes left in the run, phase, compression, heatshrink
# header byte, has a digest; the digest at 32; the heatshrink decoder's state at 64.
STATE_MAGIC = const(b"EHD1")
_STATE_FMT = const("<4sIIIIiIBBBB")
_DIGEST_AT = const(32)
_STATE = const(64)
# Phases: the run being output (_START: none yet, or an adjustment was just applied).
_START = const(0)
_DIFF = const(1)
_EXTRA = const(2)
_DONE = const(3)  # the image is whole and the patch's end was checked

try:
    from ._delta_viper import add_bytes as _add
except (ImportError, SyntaxError, ValueError, NameError):  # no native emitter: see _kernels.py
    from ._delta_plain import add_bytes as _add


def _fail(msg, code=ESP_ERR_OTA_VALIDATE_FAILED):
    raise OTAError(code, "delta patch " + msg)


def hex_of(b):
    return "".join(["%02x" % x for x in b])


class DeltaStage:
    # `size`: the new image's; `digest`: the base's SHA-256 the header names (None: bare patch).

    def __init__(self, src, base, b0=0, b1=0, bare=False, state=None):
        # A new patch whose first 2 bytes were peeked (b0, b1), or one resumed from save()'s state.
        self._src = src
        self._base = base
        self._bs = base.ioctl(5, 0)  # BLOCK_SIZE: readblocks() counts in these
        info = base.info()
        self._addr, self._limit = info[2], info[3]
        self._p = bytearray(_PATCH)
        self._b = bytearray(_BASE)
        self._ppos = self._pend = 0
        self._at = -_BASE  # base offset of self._b[0]: nothing cached yet
        self._from = self._to = self._left = 0
        self._phase = _START
        self._peek = (b0, b1)
        self.body = 0  # patch bytes taken from the source by the header, then by the stream
        self.digest = None
        self._in = src
        self.compression = self.window = 0  # window: the heatshrink header byte
        if state is not None:
            self._restore(state)
        else:
            self._header(bare)

    def _header(self, bare):
        from .delta_base import check_header, check_kind

        if not bare:
            hdr = bytearray(HEADER_LEN)
            for i in range(HEADER_LEN):
                hdr[i] = self._raw()
            self.digest = check_header(hdr, self._base, self._b)
        b = self._raw()
        self.compression = check_kind(b, self.body - 1)
        self.size = self._varint(True)
        if self.compression == _HEATSHRINK:
            self._heatshrink(self._raw())
        self._head = self.body  # the stream starts here
        if self._varint(False):
            _fail("uses a detools data format (--data-format): not supported", ESP_ERR_NOT_SUPPORTED)

    def _heatshrink(self, b):
        w = (b >> 4) + 4
        if w > _MAX_WINDOW:
            _fail("needs a heatshrink window of 2^%d bytes, more than 2^%d: make it with"
                  " --heatshrink-window-sz2 8 (as esp_delta_ota)" % (w, _MAX_WINDOW), ESP_ERR_NOT_SUPPORTED)
        from .heatshrink import HeatshrinkDecoder

        self._in = HeatshrinkDecoder(self._src, w, (b & 15) + 3)
        self.window = b

    def _raw(self):
        # The next byte of the patch's own header (the 2 peeked bytes first).
        if self.body < 2:
            v = self._peek[self.body]
        elif self._src.readinto(self._p, 1):
            v = self._p[0]
        else:
            _fail("truncated in its header, at byte %d" % self.body)
        self.body += 1
        return v

    def _byte(self):
        # The next byte of the (decompressed) patch stream.
        if self._ppos == self._pend and not self._fill(1):
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

    def _fill(self, want):
        # Read exactly what the current run (or size byte) still needs, at most _PATCH: so that
        # nothing read ahead is left over when readinto() returns, and save() needs no copy of it.
        got = self._in.readinto(self._p, want if want < _PATCH else _PATCH)
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
            m = n - k
            if m > left:
                m = left
            if self._ppos == self._pend and not self._fill(m):
                self._truncated()
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
                if self._ppos < self._pend or self._fill(1):
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

    def state_size(self):
        if self.compression != _HEATSHRINK:
            return _STATE
        from .heatshrink import STATE_LEN

        return _STATE + STATE_LEN + (1 << ((self.window >> 4) + 4))

    def save(self, blob):
        # The state after the bytes output so far, all flushed by the writer (see progress.py), into
        # blob[0:state_size()]; nothing of the patch is read ahead (see _fill). Allocates nothing.
        struct.pack_into(_STATE_FMT, blob, 0, STATE_MAGIC, self._to, self.taken(), self.size, self._addr, self._from,
                         self._left, self._phase, self.compression, self.window, 0 if self.digest is None else 1)
        if self.digest is not None:
            _kernels.copy_bytes(blob, _DIGEST_AT, self.digest, 0, len(self.digest))
        if self.compression == _HEATSHRINK:
            self._in.save(blob, _STATE)

    def _restore(self, state):
        (magic, self._to, body, self.size, addr, self._from, self._left, self._phase, self.compression, self.window,
         headed) = struct.unpack_from(_STATE_FMT, state, 0)
        if magic != STATE_MAGIC or addr != self._addr:
            _fail("resume state is garbled or for another base partition than %s" % self._base.info()[4])
        if headed:  # the base is checked again: it may have changed since
            from .delta_base import check_base

            self.digest = bytes(state[_DIGEST_AT:_STATE])
            check_base(self._base, self.digest, self._b)
        self.body = self._head = body
        if self.compression == _HEATSHRINK:
            self._heatshrink(self.window)
            self._in.restore(state, _STATE)

    def _truncated(self):
        _fail("truncated: it ends at patch byte %d, at new-image byte %d of %d" % (self.taken(), self._to, self.size))

    def _corrupt(self, what):
        _fail("corrupt: %s (patch byte %d, new-image byte %d)" % (what, self.taken(), self._to))
