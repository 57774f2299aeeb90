"""How host code runs a script under CPython or the MicroPython unix port, with the package
(lib/) and the chip stand-ins (shims/) importable. Used by the tests, the demo and the bench."""

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIB = Path(os.environ.get("ESP_HTTPS_OTA_LIB") or ROOT / "lib")  # another copy of the package: run the suite on it
SHIMS = ROOT / "shims"
IMAGES = ROOT.parent / "shared" / "images"

# An ESP32 without PSRAM has about 110 KB of free heap; test with less.
MICROPYTHON_HEAP = os.environ.get("MICROPYTHON_HEAP", "256k")
INTERPRETERS = ("cpython", "micropython")


def micropython_binary():
    """The unix port installed into .venv by the Makefile (or $MICROPYTHON)."""
    found = os.environ.get("MICROPYTHON") or shutil.which(
        "micropython", path=str(ROOT / ".venv" / "bin")) or shutil.which("micropython")
    if not found:
        raise RuntimeError("no micropython command: run `make venv` first")
    return found


def interpreter_command(interp, script, args=(), heap=None, lib=LIB):
    """argv and environment that run `script` under `interp` with lib/ and shims/ importable."""
    env = dict(os.environ)
    if interp == "cpython":
        env["PYTHONPATH"] = os.pathsep.join([str(lib), str(SHIMS), str(SHIMS / "cpython")])
        argv = [sys.executable, str(script)]
    elif interp == "micropython":
        # ".frozen" first keeps the port's frozen modules; shims/cpython is never on this path.
        env["MICROPYPATH"] = os.pathsep.join([".frozen", str(lib), str(SHIMS)])
        argv = [micropython_binary(), "-X", "heapsize=" + (heap or MICROPYTHON_HEAP), str(script)]
        # The port interns each argument as a qstr: one of 256 bytes or more ends the process
        # with "FATAL: uncaught NLR" before the script starts. Say so instead.
        for a in args:
            if len(str(a).encode()) > 255:
                raise ValueError("micropython argument of %d bytes (the limit is 255): %.60s..." % (
                    len(str(a).encode()), a))
    else:
        raise ValueError(interp)
    return argv + [str(a) for a in args], env
