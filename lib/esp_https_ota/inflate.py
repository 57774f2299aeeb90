# Compressed images as a pipeline stage: a body that starts with a zlib or gzip header instead
# of the image magic 0xE9 is inflated on the fly by the firmware's own `deflate` module
# (MicroPython >= 1.21) into the writer. Loaded only for such a body (pipeline.build()).
#
# DeflateIO pulls its input from a blocking stream: _Feed, a Python io.IOBase whose readinto(buf)
# the firmware calls (with one byte at a time, from a bytearray on the C stack: nothing is
# allocated per call), served from a buffer that reads ahead from the stage before this one.
# The window (1 << wbits bytes) is allocated by DeflateIO's first read, which __init__ makes, so
# that it happens in begin(), before anything is erased.
import deflate
import io
from micropython import const

from . import _kernels
from .errors import OTAError, ESP_ERR_NO_MEM, ESP_ERR_OTA_VALIDATE_FAILED

_FEED = const(1024)  # compressed bytes read ahead from the stage before
_OUT = const(1024)  # inflated bytes for reads shorter than the reader's buffer


class _Feed(io.IOBase):
    # The compressed stream DeflateIO reads: first the bytes peeked for detection, then the
    # stage before, through a read-ahead buffer. `taken`: compressed bytes handed over so far.

    def __init__(self, src, b0, b1):
        self._src = src
        self._buf = bytearray(_FEED)
        self._buf[0] = b0
        self._buf[1] = b1
        self._pos = 0
        self._end = 2
        self.taken = 0

    def readinto(self, buf):
        pos = self._pos
        if pos == self._end:
            self._end = self._src.readinto(self._buf, _FEED)  # our sources take (buf, n)
            pos = self._pos = 0
            if self._end == 0:
                return 0  # the body ended: DeflateIO raises EOFError if the stream had not
        n = len(buf)
        if n == 1:  # what DeflateIO asks for
            buf[0] = self._buf[pos]
        else:
            if n > self._end - pos:
                n = self._end - pos
            _kernels.copy_bytes(buf, 0, self._buf, pos, n)
        self._pos = pos + n
        self.taken += n
        return n


class InflateStage:
    # readinto(buf, n) -> count (0: end) of the inflated image. Reads of a whole buffer (the
    # writer's sector buffer or bounce buffer) inflate straight into it; shorter ones go through
    # this stage's own buffer.

    def __init__(self, src, b0, b1, size):
        gz = b0 == 0x1F
        self.window = size  # bytes: 1 << wbits (pipeline.window())
        self._pos = self._end = 0
        try:
            self._feed = _Feed(src, b0, b1)
            self._out = bytearray(_OUT)
            # ZLIB with wbits 0: the header's window; GZIP: 15 (32 KiB).
            self._d = deflate.DeflateIO(self._feed, deflate.GZIP if gz else deflate.ZLIB, 15 if gz else 0)
            self._end = self._inflate(self._out)  # allocates the window: here, in begin()
        except MemoryError:
            raise OTAError(ESP_ERR_NO_MEM, "no heap for the %d-byte window of the compressed image: recompress it"
                           " with a smaller window (tools/compress_image.py --wbits 10)" % size)

    def readinto(self, buf, n):
        if self._pos == self._end:
            if n == len(buf):
                return self._inflate(buf)
            self._pos = 0
            self._end = self._inflate(self._out)
            if self._end == 0:
                return 0
        k = self._end - self._pos
        if k > n:
            k = n
        _kernels.copy_bytes(buf, 0, self._out, self._pos, k)
        self._pos += k
        return k

    def _inflate(self, buf):
        try:
            return self._d.readinto(buf)
        except OTAError:  # the source's own error (HTTP, decrypt_cb): as it is
            raise
        except (OSError, ValueError, EOFError) as e:
            why = "truncated" if isinstance(e, EOFError) else "corrupt (%r)" % (e,)
            raise OTAError(ESP_ERR_OTA_VALIDATE_FAILED, "compressed image is %s at compressed byte %d" % (
                why, self._feed.taken))
