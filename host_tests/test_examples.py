"""examples/: the ports of ESP-IDF's simple and advanced OTA examples, end to end on both
interpreters against the local server, then a simulated reboot."""

import subprocess

import pytest

import flashsim_path  # noqa: F401
import flashsim
import imagetools
from https_server import OTAServer
from interpreters import IMAGES, ROOT, interpreter_command

TEMPLATE = (IMAGES / "esp32-app-template.bin").read_bytes()


def run_example(interp, script, *args, flash):
    argv, env = interpreter_command(interp, ROOT / "examples" / script, args)
    env["ESP32_FLASH"] = str(flash)
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def setup(tmp_path, pki):
    fw = tmp_path / "fw"
    fw.mkdir()
    (fw / "new.bin").write_bytes(imagetools.with_version(TEMPLATE, "6.0.0-example"))
    (fw / "same.bin").write_bytes(TEMPLATE)
    flash = tmp_path / "flash.bin"
    flashsim.create_flash(str(flash), app_image=TEMPLATE)
    with OTAServer(fw, pki) as srv:
        yield srv, flash


@pytest.mark.case("examples/simple_ota.py with a new image",
                  "ESP_OK; ESP-IDF's log lines, machine.reset(), boots the new image")
def test_simple_ota_example(interp, setup, pki):
    srv, flash = setup
    proc = run_example(interp, "simple_ota.py", srv.url("new.bin"), pki["ca"], flash=flash)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for line in ("OTA started", "Connected to server", "Verifying chip id of new image: 0",
                 "Boot partition updated. Next Partition: 17", "OTA finish", "OTA Succeed, Rebooting...",
                 "machine.reset()"):
        assert line in proc.stdout
    assert flashsim.boot(flashsim.Flash(str(flash))) == "ota_1"


@pytest.mark.case("examples/advanced_ota.py with a newer version, then the reboot",
                  "ESP_OK; custom header, 16 KB ranges on one connection; new image runs, rollback cancelled")
def test_advanced_ota_example_updates_then_marks_valid(interp, setup, pki):
    srv, flash = setup
    proc = run_example(interp, "advanced_ota.py", srv.url("new.bin"), pki["ca"], flash=flash)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "New firmware version: '6.0.0-example'" in proc.stdout
    assert "Image bytes read:" in proc.stdout
    assert "upgrade successful" in proc.stdout
    assert all(r["headers"].get("custom-header") == "Value" for r in srv.requests)
    assert len(srv.requests) == -(-len(TEMPLATE) // 16384) and srv.handshakes == 1
    boot = run_example(interp, "advanced_ota.py", flash=flash)
    assert boot.returncode == 0, boot.stdout + boot.stderr
    assert "Running partition: ota_1" in boot.stdout
    assert "rollback cancelled" in boot.stdout


@pytest.mark.case("advanced_ota.py with the running version", "exit 1 without updating; boot partition unchanged")
def test_advanced_ota_example_skips_the_running_version(interp, setup, pki):
    srv, flash = setup
    proc = run_example(interp, "advanced_ota.py", srv.url("same.bin"), pki["ca"], flash=flash)
    assert proc.returncode == 1
    assert "We will not continue the update" in proc.stdout
    assert flashsim.boot(flashsim.Flash(str(flash))) == "ota_0"


@pytest.mark.case("advanced_ota.py, versions empty, same app_elf_sha256",
                  "exit 1 without updating; boot partition unchanged")
def test_advanced_ota_example_compares_elf_sha_when_versions_are_empty(interp, setup, pki, tmp_path):
    """Stock MicroPython leaves version empty: the same build is recognised by app_elf_sha256."""
    srv, flash = setup
    blank = imagetools.with_version(TEMPLATE, "")
    flashsim.create_flash(str(flash), app_image=blank)
    (tmp_path / "fw" / "blank.bin").write_bytes(blank)
    proc = run_example(interp, "advanced_ota.py", srv.url("blank.bin"), pki["ca"], flash=flash)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "We will not continue the update" in proc.stdout
    assert flashsim.boot(flashsim.Flash(str(flash))) == "ota_0"


@pytest.mark.case("advanced_ota.py, versions empty, another app_elf_sha256", "ESP_OK; boots the new image")
def test_advanced_ota_example_updates_when_versions_are_empty_and_elf_sha_differs(interp, setup, pki, tmp_path):
    """The other half of the ELF SHA-256 rule: empty versions, another build -> the update runs."""
    srv, flash = setup
    flashsim.create_flash(str(flash), app_image=imagetools.with_version(TEMPLATE, ""))
    other = imagetools.with_elf_sha256(imagetools.with_version(TEMPLATE, ""), bytes(range(32)))
    (tmp_path / "fw" / "other.bin").write_bytes(other)
    proc = run_example(interp, "advanced_ota.py", srv.url("other.bin"), pki["ca"], flash=flash)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "upgrade successful" in proc.stdout
    assert flashsim.boot(flashsim.Flash(str(flash))) == "ota_1"


def run_scenario_script(interp, name, *args, flash):
    argv, env = interpreter_command(interp, ROOT / "host_tests" / "scenarios" / name, args)
    env["ESP32_FLASH"] = str(flash)
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    import json

    return [json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]


@pytest.mark.case("rollback helpers with ota_1 empty, then after an OTA",
                  "ESP_ERR_NOT_FOUND and ESP_ERR_OTA_ROLLBACK_FAILED; after the OTA the rollback boots ota_0")
def test_rollback_helpers(interp, setup, pki):
    srv, flash = setup
    # Nothing in ota_1 yet: no rollback possible.
    first = run_scenario_script(interp, "rollback.py", "rollback", flash=flash)[-1]
    assert first["possible"] is False and first["other_error"] == 0x105  # ESP_ERR_NOT_FOUND
    assert first["rollback_error"] == 0x1505  # ESP_ERR_OTA_ROLLBACK_FAILED
    assert run_example(interp, "simple_ota.py", srv.url("new.bin"), pki["ca"], flash=flash).returncode == 0
    after = run_scenario_script(interp, "rollback.py", "rollback", flash=flash)[0]
    assert after == {"running": "ota_1", "possible": True, "running_version": "6.0.0-example",
                     "other_version": "1cd5752"}
    back = run_scenario_script(interp, "rollback.py", "show", flash=flash)[-1]
    assert back["running"] == "ota_0" and back["running_version"] == "1cd5752"
