"""device_tests/ scripts, unchanged, on the unix port with the shims: the OTA as main.py on a
board does it, then the reboot that runs the new firmware and marks it valid."""

import subprocess

import flashsim_path  # noqa: F401  (puts shims/ on sys.path)
import flashsim
import imagetools
from https_server import OTAServer, make_pki
from interpreters import IMAGES, ROOT, interpreter_command


def run_device_script(interp, script, *args, flash):
    argv, env = interpreter_command(interp, ROOT / "device_tests" / script, args)
    env["ESP32_FLASH"] = str(flash)
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)


def test_main_py_style_ota_then_reboot(interp, tmp_path):
    old = (IMAGES / "esp32-app-template.bin").read_bytes()
    new = imagetools.with_version(old, "3.1.4-device")
    (tmp_path / "fw").mkdir()
    (tmp_path / "fw" / "app.bin").write_bytes(new)
    flash = tmp_path / "flash.bin"
    flashsim.create_flash(str(flash), app_image=old)
    pki = make_pki(tmp_path / "pki")
    with OTAServer(tmp_path / "fw", pki) as server:
        ota = run_device_script(interp, "ota_main.py", server.url("app.bin"), pki["ca"], flash=flash)
    assert ota.returncode == 0, ota.stdout + ota.stderr
    assert "version '3.1.4-device'" in ota.stdout
    assert "(100%)" in ota.stdout
    assert "next boot runs ota_1" in ota.stdout
    assert ota.stdout.rstrip().endswith("machine.reset()")

    reboot = run_device_script(interp, "after_reboot.py", flash=flash)
    assert reboot.returncode == 0, reboot.stdout + reboot.stderr
    assert "booted ota_1 - project 'app-template' version '3.1.4-device'" in reboot.stdout
    # Marked valid: a further reset keeps the new firmware instead of rolling back.
    again = run_device_script(interp, "after_reboot.py", flash=flash)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "booted ota_1" in again.stdout
