"""CPython stand-in for MicroPython's `deflate` module (tests only; never on a board).

The subset esp_https_ota uses: DeflateIO(stream, format=AUTO, wbits=0, close=False) for reading,
with readinto(buf), read(n=-1) and close(), on zlib.decompressobj. As MicroPython's:
  * the stream is read through its readinto(buf) (a Python object's, as the firmware calls it),
    lazily, from the first read on; unlike the firmware (one byte per call) in blocks of up to 64
    bytes, so a stream's multi-byte path is exercised too;
  * window size: ZLIB with wbits 0 uses the header's window (CINFO + 8), with wbits given a header
    declaring more is refused (OSError EINVAL); GZIP uses wbits or 15 (32 KiB); RAW wbits or 8;
  * errors: corrupt data -> OSError(22) (EINVAL), a stream that ends early -> EOFError; the zlib
    and gzip trailers (Adler-32, CRC-32) are checked.
"""

import zlib

AUTO = 0
RAW = 1
ZLIB = 2
GZIP = 3

_EINVAL = 22
_STEP = 64


class DeflateIO:
    def __init__(self, stream, format=AUTO, wbits=0, close=False):
        if format not in (AUTO, RAW, ZLIB, GZIP):
            raise ValueError("format")
        self._stream = stream
        self._format = format
        self._wbits = wbits
        self._close = close
        self._d = None
        self._pending = b""  # inflated, not yet read
        self._eof = False
        self._scratch = bytearray(_STEP)

    def _read_in(self, n):
        """Up to n bytes from the stream (b"" at its end)."""
        buf = self._scratch if n == _STEP else bytearray(n)
        got = self._stream.readinto(buf)
        return bytes(buf[:got or 0])

    def _init(self):
        fmt, wbits = self._format, self._wbits
        head = b""
        if fmt == ZLIB or fmt == AUTO:
            while len(head) < 2:
                more = self._read_in(2 - len(head))
                if not more:
                    raise EOFError()
                head += more
            if head[0] == 0x1F and head[1] == 0x8B and fmt == AUTO:
                fmt = GZIP
            else:
                if head[0] & 0x0F != 8 or (head[0] * 256 + head[1]) % 31:
                    raise OSError(_EINVAL)
                header_wbits = (head[0] >> 4) + 8
                if wbits and header_wbits > wbits:
                    raise OSError(_EINVAL)
                fmt, wbits = ZLIB, header_wbits
        if fmt == GZIP:
            zw = 16 + (wbits or 15)
        elif fmt == RAW:
            zw = -(wbits or 8)
        else:
            zw = max(wbits, 9)  # zlib itself takes no window under 512 bytes
        self._d = zlib.decompressobj(zw)
        self._pending = self._inflate(head) if head else b""

    def _inflate(self, data):
        try:
            return self._d.decompress(data)
        except zlib.error:
            raise OSError(_EINVAL)

    def readinto(self, buf):
        if self._d is None:
            self._init()
        want = len(buf)
        while len(self._pending) < want and not self._eof:
            if self._d.eof:
                self._eof = True
                break
            data = self._read_in(_STEP)
            if not data:
                raise EOFError()
            self._pending += self._inflate(data)
        n = min(want, len(self._pending))
        buf[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def read(self, n=-1):
        out = bytearray()
        chunk = bytearray(4096 if n < 0 else n)
        while n < 0 or len(out) < n:
            k = self.readinto(chunk if n < 0 else memoryview(chunk)[:n - len(out)])
            if not k:
                break
            out += chunk[:k]
        return bytes(out)

    def close(self):
        if self._close and hasattr(self._stream, "close"):
            self._stream.close()
