"""Delta OTA (issue 16): patch sizes for real pairs, and on the MicroPython unix port the speed,
heap and base reads of applying a patch, side by side with a plain OTA of the same new image.

    .venv/bin/python bench/delta.py

1. Sizes (tools/make_patch.py: detools sequential, heatshrink 2^8/2^7 as esp_delta_ota, or
   none, and none served gzip- and zlib-compressed (wbits 10); esp_delta_ota's 64-byte header included) for: the app template with one field changed
   (its version string), the app template ELF built twice into images with `esptool elf2image`
   with a one-line change (PROJECT_VER), and two different apps of shared/images/.
2. Speed of a whole OTA over https of the first pair's new image, as the image itself and as
   each patch (bench/ota_bench.py: begin() to the last perform(), after a warm-up; 64-bit port,
   medians of interleaved runs), and of the delta stage alone from RAM with and without the
   viper kernels (bench/delta_job.py), with its base reads per MB of output.
3. Heap: the live peak during each OTA above the heap with all code loaded (ota_bench.py heap
   mode), the bytes the stage keeps, and on the 32-bit interpreter (4-byte pointers, as on an
   ESP32) the smallest heap for the whole OTA from .mpy, by bench/heap.py's method.

Everything is measured in this run; nothing is written to bench/RESULTS.md.
"""

import gzip
import os
import statistics
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "host_tests"), str(ROOT / "shims"), str(ROOT / "tools"), str(ROOT / "bench")]

import flashsim  # noqa: E402
import heap  # noqa: E402
import imagetools  # noqa: E402
from https_server import OTAServer, make_pki  # noqa: E402
from interpreters import IMAGES, micropython_binary  # noqa: E402
from make_patch import make_patch  # noqa: E402
from run import TOOLS, device, fresh  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def elf_pair(work):
    """(old, new): the app template's ELF and the same with PROJECT_VER 1cd5752 -> 1cd5753, each
    through esptool elf2image."""
    elf = (IMAGES / "esp32-app-template.elf").read_bytes()
    (work / "new.elf").write_bytes(elf.replace(b"1cd5752", b"1cd5753"))
    out = []
    for name, src in (("old.bin", IMAGES / "esp32-app-template.elf"), ("new.bin", work / "new.elf")):
        subprocess.run([sys.executable, "-m", "esptool", "--chip", "esp32", "elf2image", "-o", str(work / name),
                        str(src)], check=True, capture_output=True, timeout=120)
        out.append((work / name).read_bytes())
    return out


def sizes(pairs):
    print("1. Patch sizes (detools sequential + esp_delta_ota header)")
    print("   %-52s %9s %11s %7s %9s %7s %10s %7s %10s %7s" % (
        "pair", "new image", "heatshrink", "ratio", "none", "ratio", "none, gzip", "ratio", "none, zlib10", "ratio"))
    for label, old, new in pairs:
        hs, none = make_patch(old, new)[0], make_patch(old, new, "none")[0]
        gz = gzip.compress(none, compresslevel=9, mtime=0)
        z = zlib.compressobj(9, zlib.DEFLATED, 10)  # a 1 KiB window: for boards without PSRAM
        z10 = z.compress(none) + z.flush()
        print("   %-52s %9d" % (label, len(new)) + "".join(" %10d %6.2f%%" % (len(b), 100.0 * len(b) / len(new))
                                                     for b in (hs, none, gz, z10)))
    print("   A MicroPython firmware pair: none found on PyPI (mpflash, the one package that fetches firmware,"
          "\n   downloads it from micropython.org, which this machine cannot reach); the pairs above are used.")


def stage_alone(mp64, lib, patch, new, pristine, work):
    """{variant: result} of delta_job.py, best of 3 runs each."""
    best = {}
    for variant in ("viper", "plain"):
        for _ in range(3):
            path = work / "job.patch"
            path.write_bytes(patch)
            r = device(mp64, [lib, ROOT / "shims"], [path, len(new)] + (["plain"] if variant == "plain" else []),
                       fresh(pristine, work), script="delta_job.py")
            if "us" not in r:
                raise SystemExit("delta_job.py failed: %s" % r["error"])
            if variant not in best or r["us"] < best[variant]["us"]:
                best[variant] = r
    return best


def main():
    work = Path(tempfile.mkdtemp(prefix="delta-bench-"))
    fw = work / "fw"
    fw.mkdir()
    template = (IMAGES / "esp32-app-template.bin").read_bytes()
    new = imagetools.with_version(template, "3.1.0-delta")
    elf_old, elf_new = elf_pair(work)
    blink = (IMAGES / "esp_idf_blink_esp32s2.bin").read_bytes()
    sizes([("app template, version string changed", template, new),
           ("app template ELF, one-line change, elf2image x2", elf_old, elf_new),
           ("esp_idf_blink_esp32s2.bin -> esp32-app-template.bin", blink, template)])
    bodies = {"plain image": new, "delta heatshrink": make_patch(template, new)[0],
              "delta none": make_patch(template, new, "none")[0]}
    names = {"plain image": "new.bin", "delta heatshrink": "new.hs.patch", "delta none": "new.none.patch"}
    for k, data in bodies.items():
        (fw / names[k]).write_bytes(data)
    pristine = work / "pristine.bin"
    flashsim.create_flash(str(pristine), app_image=template)
    pki = make_pki(work / "pki")
    mp64 = micropython_binary()
    lib = ROOT / "lib"
    py64 = [lib, ROOT / "shims"]
    with OTAServer(fw, pki) as srv, OTAServer(fw, pki, tls=False) as plain:
        print("\n2. Speed of a whole https OTA of the %d-byte new image (64-bit port, .py, median of %d"
              " interleaved runs)" % (len(new), RUNS))
        speed = {k: [] for k in bodies}
        peak = {}
        for _ in range(RUNS):
            for k in bodies:
                r = device(mp64, py64, ["ota", srv.url(names[k]), pki["ca"]], fresh(pristine, work))
                if "us" not in r:
                    raise SystemExit("%s failed: %s" % (k, r["error"]))
                assert r["bytes"] == len(new), r
                speed[k].append(r["bytes"] / r["us"])
        ref = statistics.median(speed["plain image"])
        for k in bodies:
            s = statistics.median(speed[k])
            print("   %-18s body %7d bytes  %6.2f MB/s of image  %.2fx the plain OTA's speed" % (
                k, len(bodies[k]), s, s / ref))
        stage = stage_alone(mp64, lib, bodies["delta heatshrink"], new, pristine, work)
        none = stage_alone(mp64, lib, bodies["delta none"], new, pristine, work)
        print("   The delta stage alone, patch from RAM, 4096-byte reads (best of 3):")
        for label, res in (("heatshrink", stage), ("none", none)):
            v, p = res["viper"], res["plain"]
            mb = v["bytes"] / 1048576
            print("   %-10s viper %6.2f MB/s, plain fallback %6.2f MB/s (%.1fx); base check in begin() %.1f ms"
                  " (%d reads of 1 KiB)" % (label, v["bytes"] / v["us"], p["bytes"] / p["us"], p["us"] / v["us"],
                                          v["check_us"] / 1000, v["check_reads"]))
            print("   %-10s base reads while applying: %d (%.0f per MB of output, %.0f KiB read per MB)" % (
                "", v["reads"], v["reads"] / mb, v["reads"] / mb))

        print("\n3. Heap")
        for k in bodies:
            r = device(mp64, py64, ["heap", srv.url(names[k]), pki["ca"]], fresh(pristine, work))
            peak[k] = r.get("peak_live")
            print("   64-bit https live peak above all code loaded, %-17s %s bytes" % (k + ":", peak[k]))
        print("   the delta stage keeps (buffers, built in begin()): heatshrink %d bytes, none %d bytes (64-bit)" % (
            stage["viper"]["heap"], none["viper"]["heap"]))
        mp32 = Path(os.environ.get("MICROPYTHON32") or TOOLS / "micropython32")
        if not heap.available(mp32):
            print("   32-bit interpreter unavailable (apt-get install libc6-i386): no smallest-heap figures")
        else:
            i32 = heap.Interp("32", mp32, TOOLS / "mpy-cross32", "x86", work, ROOT, lib)
            modules = ("delta", "delta_base", "heatshrink", "_delta_viper")
            mpy_sizes = [(i32.mpy_lib / "esp_https_ota" / (n + ".mpy")).stat().st_size for n in modules]
            print("   the delta modules as 32-bit .mpy: %s: %d bytes in all" % (
                ", ".join("%s %d" % (n, k) for n, k in zip(modules, mpy_sizes)), sum(mpy_sizes)))
            jobs = heap.Jobs(work, new, pristine)
            figs = jobs.smallest_all({k: (i32, "ota", "mpy", plain.url(names[k]), None) for k in bodies})
            figs["no package"] = jobs.smallest(i32, "bare", None, plain.url("new.bin"))
            print("   32-bit smallest heap for the whole OTA over http, .mpy (bench/heap.py's method):")
            for k, (fig, why) in figs.items():
                extra = "" if fig is None or k in ("plain image", "no package") or figs["plain image"][0] is None \
                    else "  (%+d KiB against the plain OTA)" % (fig - figs["plain image"][0])
                print("      %-18s %s%s" % (k, "%d KiB" % fig if fig is not None else "failed: %s" % why, extra))


if __name__ == "__main__":
    main()
