# Kernel speed: the native (viper) byte kernels of esp_https_ota._kernels against their plain
# Python fallbacks (_plain, or _kernels.plain in older trees), measured in one run on the same
# 4096-byte block (one flash sector, the download loop's unit). Prints MB/s for each and the
# speed-up; the 20x target is checked by bench/run.py.
#
#   MICROPYPATH=lib .venv/bin/micropython bench/kernels.py [REPEAT]
#
# REPEAT: kernel calls per timed run (default: calibrated so one run of each kernel takes about
# 30 ms). Every number is the median of 5 runs. A host-side runner can run this file under any
# interpreter (see host_tests/interpreters.py) and parse the last line, `RESULT {json}`.
# Under CPython (PYTHONPATH=lib:shims/cpython, which provides the `micropython` module) the
# "native" kernels are the viper source run as plain Python: only MicroPython numbers mean
# anything there.
import gc
import json
import sys

try:
    from time import ticks_diff, ticks_us
except ImportError:  # CPython
    from time import perf_counter

    def ticks_us():
        return int(perf_counter() * 1000000)

    def ticks_diff(a, b):
        return a - b

# The one bench file that reaches into the package's internals: it times the kernels themselves.
from esp_https_ota import _kernels

try:
    from esp_https_ota import _plain

    PLAIN = (_plain.copy_xor, _plain.xor_bytes, _plain.copy_bytes, _plain.fill_bytes)
except ImportError:  # before the fallbacks moved out of _kernels
    PLAIN = _kernels.plain

BLOCK = 4096
RUNS = 5
TARGET_US = 30000


def _data():
    buf = bytearray(BLOCK)
    x = 12345
    for i in range(BLOCK):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        buf[i] = x >> 16 & 0xFF
    return buf


def _time(call, repeat):
    gc.collect()
    t0 = ticks_us()
    for _ in range(repeat):
        call()
    return ticks_diff(ticks_us(), t0)


def _calibrate(call):
    repeat = 1
    while repeat < 1000000:
        if _time(call, repeat) >= TARGET_US // 4:
            break
        repeat *= 2
    return repeat * 4


def measure(call, nbytes, repeat=None):
    """(MB/s, repeat): the median of RUNS timed runs of `repeat` calls moving nbytes each."""
    if repeat is None:
        repeat = _calibrate(call)
    times = sorted([_time(call, repeat) for _ in range(RUNS)])
    us = times[RUNS // 2]
    return (nbytes * repeat / us if us > 0 else 0.0), repeat  # bytes per microsecond = MB/s


def cases(src, dst):
    """(kernel, case, bytes, native call, plain call, check) for every measured row; `check`
    says whether both gave the same result on this data. (Loop values are bound as default
    arguments: a closure would see the last iteration's.)"""
    copy_xor_p, xor_bytes_p, copy_bytes_p, fill_bytes_p = PLAIN
    d2 = bytearray(BLOCK)
    out = []
    for name, off in (("aligned", 0), ("offset 1", 1)):
        n = BLOCK - off
        same = (_kernels.copy_xor(dst, off, src, off, n, 0xEF) == copy_xor_p(d2, off, src, off, n, 0xEF)
                and dst == d2)
        out.append(("copy_xor", name, n,
                    lambda off=off, n=n: _kernels.copy_xor(dst, off, src, off, n, 0xEF),
                    lambda off=off, n=n: copy_xor_p(dst, off, src, off, n, 0xEF), same))
        same = _kernels.xor_bytes(src, off, n, 0xEF) == xor_bytes_p(src, off, n, 0xEF)
        out.append(("xor_bytes", name, n,
                    lambda off=off, n=n: _kernels.xor_bytes(src, off, n, 0xEF),
                    lambda off=off, n=n: xor_bytes_p(src, off, n, 0xEF), same))
    # The two other kernels of the download loop (bytewise in both versions).
    out.append(("copy_bytes", "aligned", BLOCK, lambda: _kernels.copy_bytes(dst, 0, src, 0, BLOCK),
                lambda: copy_bytes_p(dst, 0, src, 0, BLOCK), True))
    out.append(("fill_bytes", "aligned", BLOCK, lambda: _kernels.fill_bytes(dst, 0, BLOCK, 0xFF),
                lambda: fill_bytes_p(dst, 0, BLOCK, 0xFF), True))
    return out


def main(repeat=None):
    src = _data()
    dst = bytearray(BLOCK)
    impl = sys.implementation
    version = ".".join([str(v) for v in impl.version[:3]])
    print("esp_https_ota kernels, %d-byte block, median of %d runs: %s %s, native kernels: %s" % (
        BLOCK, RUNS, impl.name, version, _kernels.NATIVE))
    print("%-11s %-9s %12s %12s %9s" % ("kernel", "case", "native MB/s", "plain MB/s", "speed-up"))
    rows = []
    for kernel, case, nbytes, native, plain, same in cases(src, dst):
        n_mbs, n_rep = measure(native, nbytes, repeat)
        p_mbs, p_rep = measure(plain, nbytes, repeat)
        ratio = n_mbs / p_mbs if p_mbs else 0.0
        print("%-11s %-9s %12.2f %12.2f %8.1fx%s" % (kernel, case, n_mbs, p_mbs, ratio, "" if same else "  MISMATCH"))
        rows.append({"kernel": kernel, "case": case, "bytes": nbytes, "native_mbs": n_mbs, "plain_mbs": p_mbs,
                     "speedup": ratio, "native_repeat": n_rep, "plain_repeat": p_rep, "same_result": same})
    result = {"interpreter": impl.name, "version": version, "native": _kernels.NATIVE, "block": BLOCK,
              "runs": RUNS, "rows": rows}
    print("RESULT", json.dumps(result))
    return result


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else None)
