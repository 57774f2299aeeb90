# A heatshrink decoder (the compression esp_delta_ota's patches use; detools' default window
# 2^8 and lookahead 2^7): a source whose readinto(buf, n) gives the decompressed bytes of the
# compressed source before it. Bits are read MSB first: a 1 is followed by a literal byte, a 0
# by a back-reference, the offset less 1 in window_sz2 bits and the count less 1 in
# lookahead_sz2 bits, into the last 2^window_sz2 bytes output. Loaded only for delta patches.
from micropython import const

from .errors import OTAError, ESP_ERR_OTA_VALIDATE_FAILED

_IN = const(256)  # compressed bytes read ahead from the source


class HeatshrinkDecoder:
    def __init__(self, src, window_sz2=8, lookahead_sz2=7):
        if not 4 <= window_sz2 <= 15 or not 3 <= lookahead_sz2 < window_sz2:
            raise OTAError(ESP_ERR_OTA_VALIDATE_FAILED, "heatshrink window 2^%d / lookahead 2^%d is not a valid pair" % (
                window_sz2, lookahead_sz2))
        self._src = src
        self._in = bytearray(_IN)
        self._pos = self._end = 0
        self._acc = 0  # bits not used yet, the next one at bit _nbits - 1
        self._nbits = 0
        self._win = bytearray(1 << window_sz2)
        self._mask = (1 << window_sz2) - 1
        self._head = 0  # where the next output byte goes in _win
        self._wbits = window_sz2
        self._lbits = lookahead_sz2
        self._copy = 0  # bytes of a back-reference still to copy
        self._dist = 0
        self.taken = 0  # compressed bytes consumed

    def _bits(self, n):
        # The next n bits as an int, or -1 at the end of the compressed stream.
        while self._nbits < n:
            if self._pos == self._end:
                self._end = self._src.readinto(self._in, _IN)
                self._pos = 0
                if self._end == 0:
                    return -1
            self._acc = (self._acc << 8 | self._in[self._pos]) & 0xFFFFFF
            self._pos += 1
            self._nbits += 8
            self.taken += 1
        self._nbits -= n
        return (self._acc >> self._nbits) & ((1 << n) - 1)

    def readinto(self, buf, n):
        win, mask = self._win, self._mask
        k = 0
        while k < n:
            if self._copy:
                v = win[(self._head - self._dist) & mask]
                self._copy -= 1
            else:
                tag = self._bits(1)
                if tag < 0:
                    break
                if tag:
                    v = self._bits(8)
                    if v < 0:
                        break
                else:
                    index = self._bits(self._wbits)
                    count = self._bits(self._lbits) if index >= 0 else -1
                    if count < 0:  # the encoder's zero padding at the very end
                        break
                    self._dist = index + 1
                    self._copy = count
                    v = win[(self._head - self._dist) & mask]
            buf[k] = v
            win[self._head] = v
            self._head = (self._head + 1) & mask
            k += 1
        return k
