"""Heap figures of `make bench`, by the method of shared/tools/README.md.

A figure is the smallest `-X heapsize=NNk` for which a job succeeds, found by bisection in 1 KiB
steps. From .py, compiling fragments the heap and success is not monotonic, so the .py targets are
checked against the smallest heap above which no scanned heap fails (reliable()). Success: exit 0, and afterwards (checked here, with flashsim) the update partition holds
the image byte for byte and the simulated bootloader boots it. Every job runs bench/heap_job.py
compiled to .mpy, in its own empty working directory, on its own copy of a pristine flash; the
chip shims are .mpy and imported first, then gc.collect() (see heap_job.py).
"""

import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import flashsim

WORKERS = 2
LO_K, HI_K = 8, 512
SCAN_FINE_K = 48  # every 1 KiB from figure+1 to figure+48
SCAN_COARSE = (64, 96, 128, 160, 192, 256, 320, 384, 448, 512)  # and these, where above the figure
SHIMS = ("esp32", "flashsim", "machine")


class Interp:
    """One interpreter with its mpy-cross and compiled shims + job, e.g. the 32-bit i386 build."""

    def __init__(self, name, binary, mpy_cross, march, work, root, lib):
        self.name, self.binary = name, str(binary)
        self.mpy_cross, self.march = str(mpy_cross), march
        self.shims = work / ("shims-" + name)  # shims + heap_job, compiled
        self.mpy_lib = work / ("lib-" + name)  # the package, compiled
        self.py_lib = lib
        self.shims.mkdir()
        for n in SHIMS:
            self.compile(root / "shims" / (n + ".py"), self.shims / (n + ".mpy"))
        self.compile(root / "bench" / "heap_job.py", self.shims / "heap_job.mpy")
        (self.mpy_lib / "esp_https_ota").mkdir(parents=True)
        self.errors = []  # a package file that does not compile (mid-refactor): its .mpy jobs fail
        for f in sorted((lib / "esp_https_ota").glob("*.py")):
            try:  # with the source name the shipped trees embed (tools/mpy_trees.py)
                self.compile(f, self.mpy_lib / "esp_https_ota" / (f.stem + ".mpy"), "esp_https_ota/" + f.name)
            except subprocess.CalledProcessError as e:
                self.errors.append("%s: %s" % (f.name, e.stderr.strip()[-200:]))

    def compile(self, src, dst, name=None):
        subprocess.run([self.mpy_cross, "-march=" + self.march, "-o", str(dst)] + (["-s", name] if name else []) +
                       [str(src)], check=True, capture_output=True, text=True)

    def lib(self, kind):
        return {"mpy": self.mpy_lib, "py": self.py_lib, None: None}[kind]


def available(binary):
    try:
        return subprocess.run([str(binary), "-c", "pass"], capture_output=True, timeout=30).returncode == 0
    except OSError:
        return False


class Jobs:
    def __init__(self, work, image, pristine):
        self.work, self.image, self.pristine = work, image, pristine
        probe = work / "probe.bin"  # boot() may write otadata: never on the pristine file
        shutil.copyfile(pristine, probe)
        with flashsim.Flash(str(probe)) as fl:
            table = flashsim.read_partition_table(fl)
            running = flashsim.find_first(table, flashsim.TYPE_APP, label=flashsim.boot(fl))
        self.target = flashsim.get_next_update_partition(table, running)
        self.cache = {}
        self.pool = ThreadPoolExecutor(WORKERS)

    def run(self, interp, mode, kind, url, ca, heap_k):
        """(ok, why, stdout) of one job at -X heapsize=<heap_k>k; ok as the method defines it."""
        key = (interp.name, mode, kind, url, heap_k)
        if key in self.cache:
            return self.cache[key]
        d = Path(tempfile.mkdtemp(dir=self.work, prefix="job-"))
        cwd, flash = d / "cwd", d / "flash.bin"
        cwd.mkdir()
        shutil.copyfile(self.pristine, flash)
        # Module paths as short as a board's (/lib/esp_https_ota/...): __file__ and, from .py, the
        # source names are qstrs, which a deep temporary directory would make longer than on a board.
        (cwd / "s").symlink_to(interp.shims)
        if kind:
            (cwd / "lib").symlink_to(interp.lib(kind))
        path = [".frozen", "s"] + (["lib"] if kind else [])
        env = dict(os.environ, MICROPYPATH=os.pathsep.join(path), ESP32_FLASH=str(flash))
        argv = [interp.binary, "-X", "heapsize=%dk" % heap_k, "-m", "heap_job", mode, url] + ([str(ca)] if ca else [])
        try:
            proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
            rc, out, err = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired:
            rc, out, err = None, "", "timeout"
        why = self.check(flash) if rc == 0 else ("exit %s: %s" % (rc, (err.strip().splitlines() or ["?"])[-1]))
        shutil.rmtree(d, ignore_errors=True)
        self.cache[key] = res = (why is None, why, out)
        return res

    def check(self, flash):
        """None if the update partition holds the image byte for byte and boots, else why not."""
        with flashsim.Flash(str(flash)) as fl:
            buf = bytearray(len(self.image))
            fl.read(self.target.addr, buf)
            if buf != self.image:
                return "exit 0 but %s does not hold the image" % self.target.label
            booted = flashsim.boot(fl)
        return None if booted == self.target.label else "exit 0 but %s boots, not %s" % (booted, self.target.label)

    def smallest(self, interp, mode, kind, url, ca=None):
        """(figure in KiB or None, why the largest heap failed)."""
        ok, why, _ = self.run(interp, mode, kind, url, ca, HI_K)
        if not ok:
            return None, why
        lo, hi = LO_K, HI_K
        while lo < hi:
            mid = (lo + hi) // 2
            if self.run(interp, mode, kind, url, ca, mid)[0]:
                hi = mid
            else:
                lo = mid + 1
        return lo, None

    def smallest_all(self, jobs):
        """jobs: {name: (interp, mode, kind, url, ca)} -> {name: (figure, why)}, 2 at a time."""
        futs = {name: self.pool.submit(self.smallest, *args) for name, args in jobs.items()}
        return {name: f.result() for name, f in futs.items()}

    def scan(self, interp, mode, kind, url, ca, figure):
        """Every heap above `figure` must succeed: ([(heap_k, why)] failing above it, the sizes
        scanned above it, [heap_k] of the 8 just below it that succeed all the same)."""
        above = list(range(figure + 1, min(figure + SCAN_FINE_K, HI_K) + 1))
        above += [k for k in SCAN_COARSE if k > figure + SCAN_FINE_K]
        below = list(range(max(LO_K, figure - 8), figure))
        futs = [(k, self.pool.submit(self.run, interp, mode, kind, url, ca, k)) for k in above + below]
        res = {k: f.result() for k, f in futs}
        return ([(k, res[k][1]) for k in above if not res[k][0]], above, [k for k in below if res[k][0]])

    def resident(self, interp, kind, url):
        """(bytes live with nothing imported, after `import esp_https_ota`, after an OTA, why it
        failed), the last two minus the first; and (runtime qstrs before the import, after the OTA)."""
        ok, why, out = self.run(interp, "resident", kind, url, None, HI_K)
        qstrs = [int(line.split("n_qstr=")[1].split(",")[0]) for line in out.splitlines() if "n_qstr=" in line]
        for line in out.splitlines():
            if ok and line.startswith("RESULT ") and len(qstrs) == 2:
                m0, m1, m2 = (int(v) for v in line.split()[1:4])
                return m0, m1 - m0, m2 - m0, None, tuple(qstrs)
        return None, None, None, why, None


def describe_failures(failing):
    """'105-111, 160 KiB (exit 1: MemoryError ...)': the failing heap sizes, runs joined."""
    if not failing:
        return "none"
    ks = [k for k, _ in failing]
    spans, start, prev = [], ks[0], ks[0]
    for k in ks[1:] + [None]:
        if k is not None and k == prev + 1:
            prev = k
            continue
        spans.append(str(start) if start == prev else "%d-%d" % (start, prev))
        start = prev = k
    return "%s KiB (e.g. %s)" % (", ".join(spans), failing[0][1][:70])


def reliable(jobs, interp, kind, url, ca, figure):
    """(the smallest heap from which every heap scanned above succeeds, failing heaps above the
    bisection's figure, heaps scanned, heaps just below that succeed). Compiling from .py fragments
    the heap, so success is not monotonic in the heap size and bisection may land on a heap that
    succeeds below ones that fail: the figure a user can rely on is the first with no failure above."""
    if figure is None:
        return None, None, [], []
    fail, above, below = jobs.scan(interp, "ota" if kind else "bare", kind, url, ca, figure)
    return (fail[-1][0] + 1 if fail else figure), fail, above, below


def print_scan(report, bits, kind, figure, steady, fail, above, below):
    report.figure("%s: failing heaps above the %s figure" % (bits, kind and "." + kind or "no-package"),
                  None if fail is None else describe_failures(fail))
    if above:
        fine = [k for k in above if k <= above[0] + SCAN_FINE_K - 1]
        print("      scanned %d heaps: every 1 KiB %d-%d, then %s KiB%s" % (
            len(above), fine[0], fine[-1], ",".join(str(k) for k in above[len(fine):]) or "none",
            "; below the figure %s KiB succeed%s too" % (",".join(map(str, below)), "s" * (len(below) == 1))
            if below else ""))


def measure(report, jobs, i32, i64, plain_url, https_url, ca):
    """Sections 5 and 6: every heap figure, its target checked in `report`."""
    todo = {}
    if i32:
        for kind in (None, "mpy", "py"):
            todo[("32", kind)] = (i32, "ota" if kind else "bare", kind, plain_url, None)
    for kind in (None, "mpy", "py"):
        todo[("64", kind)] = (i64, "ota" if kind else "bare", kind, https_url, ca)
    figs = jobs.smallest_all(todo)
    label = {None: "baseline, no package", "mpy": "package from .mpy", "py": "package from .py"}

    print("\n5. Smallest heap for a whole OTA, 32-bit interpreter (4-byte pointers, as on an ESP32), plain http"
          "\n   (on a board mbedTLS buffers are IDF heap, not GC heap), %d-byte image, bisection in 1 KiB steps"
          % len(jobs.image))
    if not i32:
        print("   32-bit interpreter unavailable (apt-get install libc6-i386)")
        for name in ("32-bit: package adds, from .mpy", "32-bit: package adds, from .py",
                     "32-bit: failing heaps above the .py figure"):
            report.figure(name, None, "(32-bit run)")
    else:
        base = figs[("32", None)][0]
        scans = {kind: reliable(jobs, i32, kind, plain_url, None, figs[("32", kind)][0]) for kind in ("py", "mpy", None)}
        for kind, limit in ((None, None), ("mpy", 32), ("py", 56)):
            fig, why = figs[("32", kind)]
            report.figure("32-bit smallest heap: " + label[kind], None if fig is None else "%d KiB" % fig)
            if fig is None:
                print("      fails even at %d KiB: %s" % (HI_K, why))
            steady = scans[kind][0]
            if steady != fig:  # the bisection landed on a heap that succeeds below ones that fail
                report.figure("32-bit heap every larger one succeeds with, " + (kind and "." + kind or "no package"),
                              "%d KiB" % steady)
            if limit:
                adds = None if steady is None or base is None else steady - base
                report.figure("32-bit: package adds, from ." + kind, None if adds is None else "%d KiB" % adds,
                              "<= %d KiB" % limit, adds is not None and adds <= limit)
                if kind == "mpy":
                    report.figure("32-bit: .mpy meets the 24 KiB aim", None if adds is None else
                                  ("yes" if adds <= 24 else "no (%d KiB)" % adds), "", None)
        for kind in ("py", "mpy", None):
            print_scan(report, "32-bit", kind, figs[("32", kind)][0], *scans[kind])
        print("   Resident after an OTA (gc.collect(); gc.mem_alloc(), minus the same with nothing imported)")
        for kind in ("mpy", "py"):
            nothing, imp, after, why, qstrs = jobs.resident(i32, kind, plain_url)
            if kind == "mpy":
                report.figure("32-bit live heap before the import (shims, job)", None if nothing is None else "%d bytes" % nothing)
            report.figure("32-bit resident after import alone, ." + kind, None if imp is None else "%d bytes" % imp)
            report.figure("32-bit resident after an OTA, ." + kind, None if after is None else "%d bytes" % after)
            # Runtime qstrs are never freed; here the sixth pool (640 entries, about 4.5 KB) comes
            # with the 621st, allocated mid-import if that is when the count gets there.
            report.figure("32-bit runtime qstrs the OTA interns, ." + kind, None if qstrs is None else
                          "%d (%d in all)" % (qstrs[1] - qstrs[0], qstrs[1]))
            if why:
                print("      failed: " + why)

    print("\n6. Smallest heap for a whole OTA, 64-bit unix port, https (mbedTLS buffers in the GC heap here)")
    base = figs[("64", None)][0]
    py = reliable(jobs, i64, "py", https_url, ca, figs[("64", "py")][0])
    for kind in (None, "mpy", "py"):
        fig, why = figs[("64", kind)]
        report.figure("64-bit https smallest heap: " + label[kind], None if fig is None else "%d KiB" % fig)
        if fig is None:
            print("      fails even at %d KiB: %s" % (HI_K, why))
        elif kind and base is not None:
            print("      the package adds %d KiB to the no-package baseline" % (fig - base))
    report.figure("64-bit https heap every larger one succeeds with, .py", None if py[0] is None else "%d KiB" % py[0],
                  "<= 128 KiB", py[0] is not None and py[0] <= 128)
    print_scan(report, "64-bit", "py", figs[("64", "py")][0], *py)
