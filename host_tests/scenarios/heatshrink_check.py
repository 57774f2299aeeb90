# Decode heatshrink files with esp_https_ota.heatshrink, reading in pieces of varying sizes.
# usage: [HEATSHRINK_PLAIN=1] heatshrink_check.py WINDOW_SZ2 LOOKAHEAD_SZ2 FILE...
# Prints `RESULT {json}`: per file, [length, sha256 hex] of the decoded bytes, or the error.
import hashlib
import json
import os
import sys
from binascii import hexlify

if os.getenv("HEATSHRINK_PLAIN"):  # the plain fallback (_delta_plain.py), as without viper
    sys.modules["esp_https_ota._delta_viper"] = object()
from esp_https_ota.errors import OTAError
from esp_https_ota.heatshrink import HeatshrinkDecoder


class _Source:
    # A file as a source (readinto(buf, n)), in pieces of 1, 7, 256... bytes: the decoder must
    # not care how its input is cut.
    def __init__(self, data):
        self._data, self._pos, self._i = data, 0, 0

    def readinto(self, buf, n):
        k = min(n, (1, 7, 256, 3)[self._i % 4], len(self._data) - self._pos)
        self._i += 1
        buf[0:k] = self._data[self._pos:self._pos + k]
        self._pos += k
        return k


def main():
    w, la = int(sys.argv[1]), int(sys.argv[2])
    out = []
    for path in sys.argv[3:]:
        with open(path, "rb") as f:
            data = f.read()
        try:
            d = HeatshrinkDecoder(_Source(data), w, la)
            h = hashlib.sha256()
            total, buf, i = 0, bytearray(600), 0
            while True:
                n = d.readinto(buf, (1, 600, 33)[i % 3])
                i += 1
                if not n:
                    break
                h.update(buf[:n])
                total += n
            out.append([total, hexlify(h.digest()).decode()])
        except OTAError as e:
            out.append(["err", e.code, str(e)])
    print("RESULT", json.dumps(out))


main()
