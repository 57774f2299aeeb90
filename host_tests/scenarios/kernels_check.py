# The native kernels against the plain fallback on random data, at every alignment and
# length around word boundaries. Prints RESULT with the number of cases and mismatches.
import json
import os

from esp_https_ota import _kernels, _plain

copy_xor_p, xor_p, copy_p, fill_p = (_plain.copy_xor, _plain.xor_bytes, _plain.copy_bytes, _plain.fill_bytes)
src = bytearray(os.urandom(600))
cases = 0
bad = []
for soff in range(0, 9):
    for doff in range(0, 9):
        for n in (0, 1, 2, 3, 4, 5, 7, 8, 13, 64, 255, 511):
            d1 = bytearray(600)
            d2 = bytearray(600)
            a1 = _kernels.copy_xor(d1, doff, src, soff, n, 0xEF)
            a2 = copy_xor_p(d2, doff, src, soff, n, 0xEF)
            x1 = _kernels.xor_bytes(src, soff, n, 0x5A)
            x2 = xor_p(src, soff, n, 0x5A)
            _kernels.copy_bytes(d1, doff + 20, src, soff, n)
            copy_p(d2, doff + 20, src, soff, n)
            _kernels.fill_bytes(d1, doff + 40, n, 0xFF)
            fill_p(d2, doff + 40, n, 0xFF)
            cases += 1
            if a1 != a2 or x1 != x2 or d1 != d2:
                bad.append([soff, doff, n])
print("RESULT", json.dumps({"native": _kernels.NATIVE, "cases": cases, "bad": bad[:5]}))
