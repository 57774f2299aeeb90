"""Mutation record: does the suite notice when the code is wrong?

Each mutation replaces one snippet of a file (exactly one occurrence) in a scratch copy of the
repository, runs the tests that should catch it, and reports KILLED (the tests failed, as they
must) or SURVIVED (a check that passes whatever the code does). The working tree is never
touched. Usage:

    .venv/bin/python tools/mutate.py            # all mutations
    .venv/bin/python tools/mutate.py chip bulk  # those whose name contains a word

Prints one line per mutation and exits 1 if any survived. Takes a few minutes: each mutation
runs its tests under both interpreters.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (name, file, old, new, tests): `tests` are pytest node ids or -k expressions after "::k:".
MUTATIONS = [
    ("206 Content-Range start not checked", "lib/esp_https_ota/http.py",
     "self.range_start != start or self.range_total < 0", "self.range_total < 0",
     ["host_tests/test_faults.py::k:Content-Range-starts"]),
    ("resume from a server that ignores Range: re-sent prefix not skipped", "lib/esp_https_ota/ranges.py",
     "        c.body.skip(start)\n", "",
     ["host_tests/test_api.py::k:ignores_range"]),
    ("bulk_flash_erase ignored", "lib/esp_https_ota/handle.py",
     "        h.writer.erase_all()", "        pass",
     ["host_tests/test_api.py::k:flash_erase_modes"]),
    ("advanced example: same-version comparison always True", "examples/advanced_ota.py",
     "same = new_app_info.version == running.version", "same = True",
     ["host_tests/test_examples.py"]),
    ("config errors do not name the field", "lib/esp_https_ota/config.py",
     'raise OTAError(code, "config field %s %s" % (field, why))', 'raise OTAError(code, "bad config")',
     ["host_tests/test_api.py::k:config_errors"]),
    ("chip map: S3/C3 minor's high bit from the wrong word", "lib/esp_https_ota/chip.py",
     "minor = (_bits(mem32, blk1 + 20, 23, 1) << 3)", "minor = (_bits(mem32, blk1 + 16, 23, 1) << 3)",
     ["host_tests/test_chip.py"]),
    ("chip map: ESP32 eco bit 2 not read", "lib/esp_https_ota/chip.py",
     "| (_bits(mem32, 0x3FF6607C, 31, 1) << 2))", ")",
     ["host_tests/test_chip.py"]),
    ("set_boot before the verdict", "lib/esp_https_ota/handle.py",
     "        h.writer.end()\n        h.writer = h.source = None", "        h.partition.set_boot()\n"
     "        h.writer.end()\n        h.writer = h.source = None",
     ["host_tests/test_power_loss.py::k:verdict_comes_before_set_boot"]),
    ("response head of any size (no 80 KiB limit)", "lib/esp_https_ota/response.py",
     "            if c.head_left < 0:\n", "            if False:\n",
     ["host_tests/test_faults.py::k:90-KB"]),
    ("chunked trailer of any size", "lib/esp_https_ota/body.py",
     "                left -= n + 1\n", "",
     ["host_tests/test_faults.py::k:trailer"]),
    ("pipeline modules kept after the OTA", "lib/esp_https_ota/handle.py",
     "    for name in _PIPELINE:\n        forget(name)\n", "",
     ["host_tests/test_faults.py::k:heap_after_all"]),
    ("socket left open after a failure in begin()", "lib/esp_https_ota/handle.py",
     "    except BaseException:\n        _release(h)\n        raise\n", "    except BaseException:\n        raise\n",
     ["host_tests/test_faults.py::k:bigger"]),
    ("non-UTF-8 Location let through", "lib/esp_https_ota/response.py",
     "c.location = raw.strip().decode()", "c.location = raw.strip().decode('latin-1')",
     ["host_tests/test_faults.py::k:UTF-8"]),
    ("bytes accepted where http_config needs text", "lib/esp_https_ota/config.py",
     'or kind == "t" and not isinstance(v, str)', 'or kind == "t" and not isinstance(v, (str, bytes))',
     ["host_tests/test_api.py::k:config_errors"]),
    ("credentials sent to the host a redirect moved to", "lib/esp_https_ota/http.py",
     "            self._credentials = None", "            pass",
     ["host_tests/test_security.py::k:not_offered"]),
    ("flashsim takes min_chip_rev_full 0xFFFF as no minimum", "shims/flashsim.py",
     "    if min_rev > CHIP_REVISION:", "    if min_rev != 0xFFFF and min_rev > CHIP_REVISION:",
     ["host_tests/test_flashsim.py::k:revision_window"]),
    ("simple example exits 0 without updating", "examples/simple_ota.py",
     "if __name__ == \"__main__\" and", "raise SystemExit(0)\nif __name__ == \"__main__\" and",
     ["host_tests/test_examples.py"]),
]


def scratch_copy(dest):
    ignore = shutil.ignore_patterns(".venv", ".git", "build", ".demo", "__pycache__", ".pytest_cache")
    shutil.copytree(ROOT, dest / "main", ignore=ignore)
    os.symlink(ROOT / ".venv", dest / "main" / ".venv")
    os.symlink(ROOT.parent / "shared", dest / "shared")  # interpreters.IMAGES is ../shared/images
    return dest / "main"


def pytest_args(tests):
    files, words = [], []
    for t in tests:
        path, _, k = t.partition("::k:")
        files.append(path)
        if k:
            words.append(k)
    args = sorted(set(files))
    if words:
        args += ["-k", " or ".join(words)]
    return args


def run(name, rel, old, new, tests):
    with tempfile.TemporaryDirectory(prefix="mutate-") as tmp:
        repo = scratch_copy(Path(tmp))
        path = repo / rel
        text = path.read_text()
        if text.count(old) != 1:
            return "STALE", "the snippet occurs %d times in %s" % (text.count(old), rel)
        path.write_text(text.replace(old, new))
        t = time.monotonic()
        proc = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "pytest", "-q", "-x",
                               "-p", "no:cacheprovider", *pytest_args(tests)],
                              cwd=repo, capture_output=True, text=True, timeout=1200)
        lines = proc.stdout.splitlines()
        tail = [line for line in lines if line.strip()][-1:] or ["(no output)"]
        why = [line[1:].strip() for line in lines if line.startswith("E  ") and len(line.strip()) > 3][:1]
        verdict = "KILLED" if proc.returncode == 1 else "SURVIVED" if proc.returncode == 0 else "ERROR"
        return verdict, "%s in %.0f s%s" % (tail[0], time.monotonic() - t, "; " + why[0][:160] if why else "")


def main(words):
    chosen = [m for m in MUTATIONS if not words or any(w in m[0] for w in words)]
    survived = 0
    for name, rel, old, new, tests in chosen:
        verdict, detail = run(name, rel, old, new, tests)
        survived += verdict != "KILLED"
        print("%-8s %s  [%s: %s]" % (verdict, name, " ".join(pytest_args(tests)), detail), flush=True)
    print("%d mutations, %d killed, %d not" % (len(chosen), len(chosen) - survived, survived))
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
