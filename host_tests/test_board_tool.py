"""tools/board.py (`make deploy`, `make device-test`) against a stand-in board: mpremote replaced by
host_tests/fake_mpremote.py, whose board is the unix port with the shims, so the real
device_tests/ scripts answer. No board, a busy port, a firmware without OTA slots, a deploy and an
OTA from what was deployed."""

import subprocess
import sys

import pytest

import flashsim_path  # noqa: F401  (puts shims/ on sys.path)
import flashsim
import imagetools
from https_server import OTAServer
from interpreters import IMAGES, ROOT

FAKE = "%s %s" % (sys.executable, ROOT / "host_tests" / "fake_mpremote.py")
OLD = (IMAGES / "esp32-app-template.bin").read_bytes()


def board_tool(*args, fs=None, flash=None, cwd=None):
    env = {"MPREMOTE": FAKE, "PATH": "/usr/bin:/bin"}
    if fs:
        env.update(FAKE_BOARD_FS=str(fs), FAKE_BOARD_FLASH=str(flash))
    return subprocess.run([sys.executable, str(ROOT / "tools" / "board.py")] + list(args), env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def make_board(tmp_path, partitions=flashsim.DEFAULT_TABLE):
    fs, flash = tmp_path / "board", tmp_path / "flash.bin"
    fs.mkdir()
    flashsim.create_flash(str(flash), partitions=partitions, app_image=OLD)
    return fs, flash


def commands(tmp_path):
    return (tmp_path / "mpremote.log").read_text().splitlines()


@pytest.mark.parametrize("command", ["deploy", "device-test --server https://127.0.0.1:1"])
@pytest.mark.case("make deploy / device-test with no PORT and no board attached",
                  "says no board was found and shows the command with PORT=")
def test_no_board_says_so_and_shows_port(command):
    proc = board_tool(*command.split())
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "No board found" in proc.stderr and "PORT=/dev/ttyUSB0" in proc.stderr
    assert "make %s PORT=" % command.split()[0] in proc.stderr


@pytest.mark.case("make deploy PORT= of a port another program holds", "says the port is in use and what to close")
def test_busy_port_is_named():
    proc = board_tool("deploy", "--port", "/dev/ttyUSB7")
    assert proc.returncode == 2
    assert "/dev/ttyUSB7 is in use by another program" in proc.stderr


@pytest.mark.case("make deploy to a firmware without OTA partitions (factory app only)",
                  "refused before copying: flash the ESP32_GENERIC-OTA firmware")
def test_firmware_without_ota_slots_is_refused(tmp_path):
    table = [e for e in flashsim.DEFAULT_TABLE if e.label not in ("otadata", "ota_0", "ota_1")]
    table.insert(0, flashsim.PartitionEntry(flashsim.TYPE_APP, flashsim.SUBTYPE_APP_FACTORY, 0x10000, 0x300000,
                                            "factory", 0))
    fs, flash = make_board(tmp_path, table)
    proc = board_tool("deploy", fs=fs, flash=flash)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "runs from 'factory'" in proc.stderr and "ESP32_GENERIC-OTA" in proc.stderr
    assert not any(" cp " in c for c in commands(tmp_path))
    assert not (fs / "lib").exists()


@pytest.mark.case("make deploy to a board whose native arch has no compiled tree (the unix port's x64)",
                  "refused: names ARCH= and the .py package")
def test_unknown_arch_needs_arch(tmp_path):
    fs, flash = make_board(tmp_path)
    proc = board_tool("deploy", fs=fs, flash=flash)
    assert proc.returncode == 2
    assert "index 2" in proc.stderr and "--arch (ARCH=)" in proc.stderr


@pytest.mark.case("make deploy ARCH=xtensawin over a stale .py install, then make device-test SERVER=",
                  "the .mpy tree replaces the .py files; ESP_OK; after the reset ota_1 runs, marked valid")
def test_deploy_then_device_test(tmp_path, pki):
    fs, flash = make_board(tmp_path)
    (fs / "lib" / "esp_https_ota").mkdir(parents=True)
    (fs / "lib" / "esp_https_ota" / "handle.py").write_text("raise ImportError('stale .py install')\n")
    proc = board_tool("deploy", "--arch", "xtensawin", fs=fs, flash=flash)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "board runs ota_0 (update slot ota_1)" in proc.stdout
    tree = ROOT / "mpy" / "xtensawin" / "esp_https_ota"
    installed = fs / "lib" / "esp_https_ota"
    assert sorted(p.name for p in installed.iterdir()) == sorted(p.name for p in tree.iterdir())
    assert all((installed / p.name).read_bytes() == p.read_bytes() for p in tree.iterdir())

    fw = tmp_path / "fw"
    fw.mkdir()
    (fw / "firmware.bin").write_bytes(imagetools.with_version(OLD, "9.9.9-board"))
    with OTAServer(fw, pki) as server:
        proc = board_tool("device-test", "--server", server.url(""), "--ca", pki["ca"], fs=fs, flash=flash)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "version '9.9.9-board'" in proc.stdout and "OTA OK" in proc.stdout
    assert "booted ota_1" in proc.stdout and "marked valid" in proc.stdout
    assert (fs / "ota_config.json").is_file() and (fs / "ca.pem").read_text() == open(pki["ca"]).read()
    assert flashsim.boot(flashsim.Flash(str(flash))) == "ota_1"


@pytest.mark.case("make device-test without SERVER=", "says which address to give")
def test_device_test_needs_a_server(tmp_path):
    fs, flash = make_board(tmp_path)
    proc = board_tool("device-test", fs=fs, flash=flash)
    assert proc.returncode == 2 and "SERVER=https://PC-IP:PORT" in proc.stderr
