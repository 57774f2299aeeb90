"""The stock-firmware API check: every module, function and attribute lib/esp_https_ota uses must
exist on a stock ESP32 firmware. mypy (mypy.ini) checks the package against the stubs generated
from a real ESP32_GENERIC v1.29 board, and nothing else; the probes below show that it fails on
what such a board lacks and that host-only modules are out of its reach.

    .venv/bin/python host_tests/test_types.py [mypy arguments]   # the same check by hand

The stub packages install their files loose into site-packages, beside every host package, so
mypy never searches site-packages: typeshed() copies the packages' own files (their RECORDs) into
a typeshed layout, passed to mypy.ini as $ESP_HTTPS_OTA_TYPESHED. Offline: nothing is fetched.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "mypy.ini"
PACKAGE = ROOT / "lib" / "esp_https_ota"
TYPINGS = ROOT / "typings"
# requirements.txt pins both; the board's package requires the stdlib one.
STUB_DISTS = ("micropython-esp32-esp32-generic-stubs", "micropython-stdlib-stubs")


def lay_out_typeshed(dest):
    """A typeshed at `dest` made of the stub packages' files only: the stdlib package's stdlib/
    as stdlib/, and every other .pyi of both (the board's modules, _mpy_shed) beside them, where
    mypy silences errors inside stubs as it does for any typeshed. Plus the mypy_extensions stub
    that mypy itself requires of a typeshed (a type-checker helper, from mypy's own)."""
    stdlib = dest / "stdlib"
    for name in STUB_DISTS:
        dist = metadata.distribution(name)
        for f in dist.files:
            if f.suffix != ".pyi" and f.as_posix() != "stdlib/VERSIONS":
                continue
            rel = Path(*f.parts[1:]) if f.parts[0] == "stdlib" else Path(*f.parts)
            target = stdlib / rel
            assert not target.exists(), "%s: two stub files for %s" % (name, rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(dist.locate_file(f), target)
    shutil.copytree(metadata.distribution("mypy").locate_file("mypy/typeshed/stubs/mypy-extensions"),
                    dest / "stubs" / "mypy-extensions")
    return dest


def run_mypy(typeshed, targets, cwd, capture=True):
    """`python -m mypy --config-file mypy.ini targets` from `cwd`, a folder outside the repo."""
    env = dict(os.environ, ESP_HTTPS_OTA_TYPESHED=str(typeshed))
    env.pop("MYPYPATH", None)  # the config's mypy_path (typings/) only
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(CONFIG), *map(str, targets)],
                          cwd=str(cwd), env=env, capture_output=capture, text=True, timeout=300)


@pytest.fixture(scope="module")
def typeshed(tmp_path_factory):
    return lay_out_typeshed(tmp_path_factory.mktemp("board-typeshed"))


@pytest.mark.case("mypy (mypy.ini) on lib/esp_https_ota against the ESP32_GENERIC v1.29 stubs only",
                  "exit 0, Success: no issues found")
def test_lib_uses_only_what_a_stock_esp32_has(typeshed, tmp_path):
    proc = run_mypy(typeshed, [PACKAGE], tmp_path)
    assert proc.returncode == 0 and "Success" in proc.stdout, proc.stdout + proc.stderr


# (source of a module checked with the same config, what mypy must say about it)
PROBES = [
    pytest.param("import socket\n\nsocket.socketpair()\n", 'Module has no attribute "socketpair"', id="socketpair",
                 marks=pytest.mark.case("a module calling socket.socketpair() (CPython only)",
                                        "mypy fails: [attr-defined]")),
    pytest.param("def f():\n    import machine\n\n    return machine.USBDevice()\n", 'Module has no attribute "USBDevice"',
                 id="untyped-def",
                 marks=pytest.mark.case("machine.USBDevice() (other ports) inside an unannotated function, as"
                                        " lib's code is", "mypy fails: [attr-defined]")),
    pytest.param("import tls\n\ntls.SSLContext(tls.PROTOCOL_TLS_CLIENT).load_default_certs()\n",
                 '"SSLContext" has no attribute "load_default_certs"', id="tls-method",
                 marks=pytest.mark.case("SSLContext.load_default_certs() (CPython only), typings/tls.pyi in force",
                                        "mypy fails: [attr-defined]")),
    pytest.param("import subprocess\n", 'module named "subprocess"', id="cpython-stdlib",
                 marks=pytest.mark.case("import subprocess (CPython's stdlib, not on the board)",
                                        "mypy fails: module not found")),
    pytest.param("import aiohttp\n", 'module named "aiohttp"', id="venv-package",
                 marks=pytest.mark.case("import aiohttp (installed in .venv for the host tests)",
                                        "mypy fails: module not found")),
    pytest.param("import flashsim\nimport shims.esp32\n", 'module named "flashsim"', id="shims",
                 marks=pytest.mark.case("import flashsim / shims.esp32 (the host's chip stand-ins)",
                                        "mypy fails: module not found")),
]


@pytest.mark.parametrize("source, expected", PROBES)
def test_the_check_fails_on_what_a_stock_esp32_lacks(typeshed, tmp_path, source, expected):
    probe = tmp_path / "probe.py"
    probe.write_text(source)
    for cwd in (tmp_path, ROOT):  # from the repo root too: its folders are no packages (mypy.ini)
        proc = run_mypy(typeshed, [probe], cwd)
        assert proc.returncode == 1 and "probe.py:" in proc.stdout and expected in proc.stdout, (
            proc.stdout + proc.stderr)


@pytest.mark.case("every file in typings/", "a local fix of a module of the pinned stub packages, saying why")
def test_typings_only_fix_modules_of_the_stub_packages():
    stub_files = {Path(*f.parts[1:]) if f.parts[0] == "stdlib" else Path(*f.parts)
                  for name in STUB_DISTS for f in metadata.distribution(name).files if f.suffix == ".pyi"}
    overrides = sorted(p.relative_to(TYPINGS) for p in TYPINGS.rglob("*") if p.is_file())
    assert overrides, "typings/ is empty: drop it and mypy_path from mypy.ini"
    for rel in overrides:
        assert rel in stub_files, "typings/%s overrides no module of %s" % (rel, ", ".join(STUB_DISTS))
        assert "Evidence" in (TYPINGS / rel).read_text(), "typings/%s does not say why it differs" % rel


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        args = [str(Path(a).resolve()) if Path(a).exists() else a for a in sys.argv[1:]] or [PACKAGE]
        sys.exit(run_mypy(lay_out_typeshed(Path(tmp) / "typeshed"), args, tmp, capture=False).returncode)
