# A heatshrink decoder (the compression esp_delta_ota's patches use; detools' default window
# 2^8 and lookahead 2^7): a source whose readinto(buf, n) gives the decompressed bytes of the
# compressed source before it. Bits are read MSB first: a 1 is followed by a literal byte, a 0
# by a back-reference, the offset less 1 in window_sz2 bits and the count less 1 in
# lookahead_sz2 bits, into the last 2^window_sz2 bytes output (zeros at first). The loop is
# a viper kernel (_delta_viper.py), with _delta_plain.py as its fallback. Loaded only for delta
# patches.
import array
from micropython import const

from . import _kernels
from .errors import OTAError, ESP_ERR_OTA_VALIDATE_FAILED

_IN = const(256)  # compressed bytes read ahead from the source
STATE_LEN = const(28)  # bytes of save() before the window: 7 u32 of the kernel's state

try:
    from ._delta_viper import hs_decode as _decode
except (ImportError, SyntaxError, ValueError, NameError):  # no native emitter: see _kernels.py
    from ._delta_plain import hs_decode as _decode


class HeatshrinkDecoder:
    def __init__(self, src, window_sz2=8, lookahead_sz2=7):
        if not 4 <= window_sz2 <= 15 or not 3 <= lookahead_sz2 < window_sz2:
            raise OTAError(ESP_ERR_OTA_VALIDATE_FAILED, "heatshrink window 2^%d / lookahead 2^%d is not a valid pair" % (
                window_sz2, lookahead_sz2))
        self._src = src
        self._in = bytearray(_IN)
        self._end = 0
        self._st = array.array("i", (0, 0, 0, 0, 0, 0, 0, window_sz2 | lookahead_sz2 << 8))
        self._win = bytearray(1 << window_sz2)
        self._read = 0  # compressed bytes read from the source

    def taken(self):
        # Compressed bytes consumed (the rest of what was read ahead is not).
        return self._read - self._end + self._st[0]

    def readinto(self, buf, n):
        st = self._st
        k = _decode(st, self._in, self._end, self._win, buf, 0, n)
        while k < n:  # the kernel ran out of input
            got = self._src.readinto(self._in, _IN)
            if got == 0:
                break  # the end (unused bits at the end are the encoder's zero padding)
            self._read += got
            self._end = got
            st[0] = 0
            k += _decode(st, self._in, got, self._win, buf, k, n - k)
        return k

    def save(self, blob, off):
        # The state at taken(), into blob[off:off + STATE_LEN + window]: what restore() takes.
        st = self._st
        for i in range(1, 8):
            v = st[i]
            for j in range(4):
                blob[off + 4 * i - 4 + j] = (v >> (8 * j)) & 0xFF
        _kernels.copy_bytes(blob, off + STATE_LEN, self._win, 0, len(self._win))

    def restore(self, blob, off):
        # The state save() wrote; the source now continues at the byte taken() said then.
        st = self._st
        for i in range(1, 8):
            o = off + 4 * i - 4
            st[i] = blob[o] | blob[o + 1] << 8 | blob[o + 2] << 16 | blob[o + 3] << 24
        st[0] = self._end = 0
        _kernels.copy_bytes(self._win, 0, blob, off + STATE_LEN, len(self._win))
