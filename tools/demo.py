"""`make demo`: a whole OTA of a real ESP-IDF app image on the MicroPython unix port.

A local HTTPS server (test CA made now) serves a new version of the real ESP32 app template;
the simulated flash starts out running the old version from ota_0. device_tests/ota_main.py
does the OTA exactly as main.py on a board would, and after a simulated reboot
device_tests/after_reboot.py shows the new firmware running from ota_1.
"""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "host_tests"), str(ROOT / "shims")]

import flashsim  # noqa: E402
import imagetools  # noqa: E402
from https_server import OTAServer, make_pki  # noqa: E402
from interpreters import IMAGES, interpreter_command  # noqa: E402

WORK = ROOT / ".demo"


def run_on_device(script, *args, flash):
    """Run a device script on the MicroPython unix port: one process is one boot of the chip."""
    argv, env = interpreter_command("micropython", ROOT / "device_tests" / script, args)
    env["ESP32_FLASH"] = str(flash)
    proc = subprocess.run(argv, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for line in proc.stdout.splitlines():
        print("  | " + line)
    if proc.returncode != 0:
        sys.exit("demo failed: %s exited with %d" % (script, proc.returncode))


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "fw").mkdir(parents=True)
    pki = make_pki(WORK / "pki")
    old = (IMAGES / "esp32-app-template.bin").read_bytes()
    new = imagetools.with_version(old, "2.0.0-demo")
    (WORK / "fw" / "app.bin").write_bytes(new)
    flash = WORK / "flash.bin"
    flashsim.create_flash(str(flash), app_image=old)
    print("simulated ESP32: 8 MB flash, ota_0 runs app-template 1cd5752 (the real ESP-IDF app image)")

    with OTAServer(WORK / "fw", pki) as server:
        url = server.url("app.bin")
        print("HTTPS server on %s, certificate from a test CA made just now\n" % url)
        print("[boot 1] device_tests/ota_main.py on the MicroPython unix port")
        run_on_device("ota_main.py", url, pki["ca"], flash=flash)
        print("  server saw %d TLS handshake(s), %d request(s)\n" % (server.handshakes, len(server.requests)))

    print("[boot 2] simulated reboot: the bootloader reads otadata")
    run_on_device("after_reboot.py", flash=flash)
    print("[boot 3] and again: the new firmware stays (marked valid, no rollback)")
    run_on_device("after_reboot.py", flash=flash)
    booted = flashsim.boot(flashsim.Flash(str(flash)))
    if booted != "ota_1":
        sys.exit("demo failed: the bootloader picks %s, not ota_1" % booted)
    print("\ndemo OK: new partition ota_1 booted")


if __name__ == "__main__":
    main()
