"""Shared fixtures: run one scenario script under CPython and under the MicroPython unix port.

A behaviour test takes the `interp` fixture (parametrized "cpython" / "micropython") and calls
`run_scenario(interp, "name.py", *args)`. The script lives in host_tests/scenarios/, imports the
package from lib/ and the chip stand-ins from shims/, and reports with `print("RESULT", json)`.
"""

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from interpreters import IMAGES, INTERPRETERS, LIB, ROOT, SHIMS, interpreter_command  # noqa: F401

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
OTA_1 = 0x310000  # ota_1's address in the simulated flash (shims/flashsim.py's partition table)
pytest_plugins = ["cases_plugin"]  # the case markers behind host_tests/CASES.md


class ScenarioResult:
    """Exit status, output and the parsed `RESULT {...}` line of one scenario run."""

    def __init__(self, proc):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.result = None
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT "):
                self.result = json.loads(line[7:])

    def __getitem__(self, key):
        assert self.result is not None, "scenario printed no RESULT line:\n" + self.output()
        return self.result[key]

    def output(self):
        return "--- stdout\n" + self.stdout + "\n--- stderr\n" + self.stderr


def run_scenario(interp, script, *args, env=None, heap=None, timeout=120, check=True):
    """Run host_tests/scenarios/<script> (or a path) under `interp`; return a ScenarioResult."""
    path = Path(script)
    if not path.is_absolute():
        path = SCENARIOS / script
    argv, full_env = interpreter_command(interp, path, args, heap)
    full_env.update(env or {})
    proc = subprocess.run(argv, env=full_env, capture_output=True, text=True, timeout=timeout)
    res = ScenarioResult(proc)
    if check:
        assert proc.returncode == 0, "%s %s failed (exit %d)\n%s" % (
            interp, path.name, proc.returncode, res.output())
    return res


@pytest.fixture
def flash(tmp_path):
    """A fresh simulated board running the real app template from ota_0."""
    import flashsim_path  # noqa: F401  (puts shims/ on sys.path)
    import flashsim

    path = tmp_path / "flash.bin"
    flashsim.create_flash(str(path), app_image=(IMAGES / "esp32-app-template.bin").read_bytes())
    return path


def boots(flash_path, tmp_path):
    """The partition a reboot would start (on a copy: booting changes otadata's state)."""
    import flashsim_path  # noqa: F401
    import flashsim
    import shutil

    copy = tmp_path / "reboot.bin"
    shutil.copy(flash_path, copy)
    return flashsim.boot(flashsim.Flash(str(copy)))


def nvs_namespace(flash_path, namespace="esp_https_ota"):
    """The package's NVS namespace on a simulated board, as the shim keeps it: {key: [kind, value]}
    (a blob's value in hex)."""
    import flashsim_path  # noqa: F401
    import flashsim
    import nvsflash

    with flashsim.Flash(str(flash_path)) as fl:
        values, _ = nvsflash.load(fl, flashsim.read_partition_table(fl))
    return values.get(namespace, {})


def store_nvs_namespace(flash_path, ns, namespace="esp_https_ota"):
    """Replace that namespace on the board (forged or garbled progress)."""
    import flashsim_path  # noqa: F401
    import flashsim
    import nvsflash

    with flashsim.Flash(str(flash_path)) as fl:
        table = flashsim.read_partition_table(fl)
        values, seq = nvsflash.load(fl, table)
        values[namespace] = ns
        nvsflash.store(fl, table, values, seq + 1)


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """The test PKI (CA, server, other CA, wrong-host, expired, client certificates)."""
    from https_server import make_pki

    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(params=INTERPRETERS)
def interp(request):
    return request.param


_per_interpreter = Counter()


def pytest_runtest_logreport(report):
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    callspec = getattr(report, "nodeid", "")
    for name in INTERPRETERS:
        if "[" + name in callspec or "-" + name + "]" in callspec or "-" + name + "-" in callspec:
            _per_interpreter[(name, report.outcome)] += 1


def pytest_terminal_summary(terminalreporter):
    if not _per_interpreter:
        return
    terminalreporter.section("tests per interpreter")
    for name in INTERPRETERS:
        terminalreporter.write_line(
            "%-12s %d passed, %d failed, %d skipped" % (
                name + ":",
                _per_interpreter[(name, "passed")],
                _per_interpreter[(name, "failed")],
                _per_interpreter[(name, "skipped")],
            )
        )
