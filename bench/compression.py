"""Compressed OTA images: what each window size saves and costs.

For every app image of 16 KiB or more in /work/shared/images/ (or the paths given), zlib level 9 with wbits 9..15
and gzip (level 9, always a 32 KiB window): the compressed size and the bytes saved. For the
first image (esp32-app-template.bin by default) also, on the MicroPython unix port, the inflate
stage alone (lib/esp_https_ota/inflate.py, the firmware's deflate module) fed from RAM:
  * MB/s of inflated image (median of 3 runs; the whole image each run),
  * heap: gc.mem_free() before minus after building the stage (window + DeflateIO's state + the
    stage's two 1 KiB buffers), which is what begin() allocates for a compressed body.

    .venv/bin/python bench/compression.py [IMAGE ...]

The unix port on a PC is much faster than an ESP32 (a Python call per compressed byte): compare
rows with each other, not with a board. Nothing here is written to bench/RESULTS.md.
"""

import gzip
import json
import os
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = Path("/work/shared/images")
MICROPYTHON = ROOT / ".venv" / "bin" / "micropython"
WINDOWS = [("zlib", w) for w in range(9, 16)] + [("gzip", 15)]

JOB = r"""
import gc, sys, time, json
from esp_https_ota.inflate import InflateStage
from esp_https_ota.pipeline import window

with open(sys.argv[1], "rb") as f:
    data = f.read()
expect = int(sys.argv[2])

class Mem:  # a source of the pipeline's contract, from RAM, past the 2 bytes begin() peeked
    def __init__(self, b):
        self.b = memoryview(b); self.p = 2
    def readinto(self, buf, n):
        k = len(self.b) - self.p
        if k > n:
            k = n
        buf[:k] = self.b[self.p:self.p + k]
        self.p += k
        return k

out = bytearray(4096)
best = None
heap = 0
for run in range(3):
    src = Mem(data)
    gc.collect()
    free = gc.mem_free()
    st = InflateStage(src, data[0], data[1], window(data))
    heap = free - gc.mem_free()
    t = time.ticks_us()
    total = 0
    while True:
        n = st.readinto(out, 4096)
        if not n:
            break
        total += n
    dt = time.ticks_diff(time.ticks_us(), t)
    assert total == expect, (total, expect)
    best = dt if best is None or dt < best else best
    st = src = None
print("RESULT", json.dumps({"us": best, "heap": heap}))
"""


def compressed(data, kind, wbits):
    if kind == "gzip":
        return gzip.compress(data, compresslevel=9, mtime=0)
    c = zlib.compressobj(9, zlib.DEFLATED, wbits, 9)
    return c.compress(data) + c.flush()


def measure(blob, size, tmp):
    path = Path(tmp) / "body.z"
    path.write_bytes(blob)
    job = Path(tmp) / "job.py"
    job.write_text(JOB)
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([".frozen", str(ROOT / "lib"), str(ROOT / "shims")]))
    proc = subprocess.run([str(MICROPYTHON), "-X", "heapsize=512k", str(job), str(path), str(size)],
                          capture_output=True, text=True, env=env, timeout=300)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(proc.stdout + proc.stderr)


def main(argv):
    paths = [Path(p) for p in argv] or sorted(
        p for p in IMAGES.glob("*.bin")  # the app images; not the header-only stubs of a few hundred bytes
        if p.read_bytes()[:1] == b"\xe9" and "bootloader" not in p.name and p.stat().st_size >= 16384)
    first = next((p for p in paths if p.name == "esp32-app-template.bin"), paths[0])
    print("%-28s %-8s %7s %9s %9s %6s %9s %8s" % ("image", "format", "window", "bytes", "saved", "ratio",
                                                  "MB/s(mp)", "heap"))
    with tempfile.TemporaryDirectory() as tmp:
        for p in [first] + [q for q in paths if q != first]:
            data = p.read_bytes()
            print("%-28s %-8s %7s %9d %9s %6s" % (p.name, "plain", "-", len(data), "-", "100%"))
            for kind, wbits in WINDOWS:
                blob = compressed(data, kind, wbits)
                speed = heap = "-"
                if p == first:
                    r = measure(blob, len(data), tmp)
                    speed = "%.2f" % (len(data) / r["us"])
                    heap = str(r["heap"])
                print("%-28s %-8s %7d %9d %9d %5.1f%% %9s %8s" % (
                    p.name, kind if kind == "gzip" else "zlib-%d" % wbits, 1 << wbits, len(blob),
                    len(data) - len(blob), 100.0 * len(blob) / len(data), speed, heap))


if __name__ == "__main__":
    main(sys.argv[1:])
