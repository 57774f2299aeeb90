"""`make deploy` and `make device-test`: the package onto a board, and an OTA on it, with mpremote.

    python tools/board.py deploy [--port PORT] [--arch xtensawin|rv32imc]
    python tools/board.py device-test --server https://PC-IP:PORT [--image firmware.bin] [--ca ca.pem] [--port PORT]

Without --port, mpremote's auto-connect picks the first USB serial board. Before installing, the
board is asked (device_tests/board_info.py) which partition it runs and which mpy version and
arch its firmware loads; a board that cannot take an OTA, or cannot load the compiled files,
gets told what to do instead. MPREMOTE names the mpremote command (default: this Python's).
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import mpy_trees  # noqa: E402

ARCH_OF_INDEX = {10: "xtensawin", 11: "rv32imc"}  # MP_NATIVE_ARCH_* in py/persistentcode.h
CHIPS = {"xtensawin": "ESP32, ESP32-S2, ESP32-S3", "rv32imc": "ESP32-C3, ESP32-C6, ESP32-H2"}
REBOOT_WAIT_S = 30


class BoardError(Exception):
    """What went wrong, and what to do about it: printed as is, exit status 2."""


def mpremote(port, *commands, timeout=300):
    """Run mpremote on `port` ("auto" connects to the first USB serial board): (status, output)."""
    argv = shlex.split(os.environ.get("MPREMOTE") or "%s -m mpremote" % shlex.quote(sys.executable))
    proc = subprocess.run(argv + ["connect", port] + list(commands), capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    if proc.returncode and "no device found" in out:
        raise BoardError("No board found on a USB serial port. Plug it in with a data cable, or name its port:\n"
                         "    make %s PORT=/dev/ttyUSB0      (macOS: /dev/cu.usbserial-*, Windows: COM3)\n"
                         "`mpremote connect list` shows the ports." % COMMAND)
    if proc.returncode and "failed to access" in out:
        raise BoardError("%s is in use by another program (a serial monitor, Thonny, another mpremote): "
                         "close it and retry.\n%s" % (port, out.strip()))
    return proc.returncode, out


def board_info(port):
    status, out = mpremote(port, "run", str(ROOT / "device_tests" / "board_info.py"))
    for line in out.splitlines():
        if line.startswith("BOARD "):
            return json.loads(line[6:])
    raise BoardError("the board did not answer device_tests/board_info.py (exit %d):\n%s" % (status, out.strip()))


def check_firmware(info):
    """BoardError unless the board can take an OTA and load the compiled files."""
    if info["update"] is None:
        raise BoardError(
            "The board runs from %r and its partition table has no OTA slot to update into: this firmware "
            "is not an OTA variant.\nFlash the ESP32_GENERIC-OTA firmware (README, step 1) and retry." % info["running"])
    want, _ = mpy_trees.mpy_cross_version()
    if info["mpy"] != want:
        raise BoardError(
            "The board's firmware (%s) loads mpy v%d; the compiled files are v%d (MicroPython 1.23 or later).\n"
            "Update the firmware, or install the .py package: mpremote mip install github:OWNER/REPO"
            % (info["version"], info["mpy"], want))
    if info["arch"] in ARCH_OF_INDEX and info["mpy_sub"] != mpy_trees.mpy_cross_version()[1]:
        print("note: the firmware loads native code of mpy v%d.%d, not v%d.%d: the plain byte kernels run "
              "instead of the viper ones (slower)" % (info["mpy"], info["mpy_sub"], want, mpy_trees.mpy_cross_version()[1]))


def pick_arch(info, arch):
    """The tree to install: `arch` if given, else the board's own."""
    arch = arch or ARCH_OF_INDEX.get(info["arch"])
    if arch not in mpy_trees.ARCHS:
        raise BoardError("The board's native arch (index %d) has no compiled tree; give --arch (ARCH=) "
                         "xtensawin or rv32imc, or install the .py package." % info["arch"])
    return arch


def deploy(port, arch):
    info = board_info(port)
    check_firmware(info)
    arch = pick_arch(info, arch)
    tree = ROOT / "mpy" / arch / "esp_https_ota"
    print("board runs %s (update slot %s), %s; installing mpy/%s (%s)" % (
        info["running"], info["update"], info["version"], arch, CHIPS[arch]))
    # A .py left on the board would be imported instead of the .mpy beside it: clear the directory.
    clear = ("import os\nfor d in ('lib', 'lib/esp_https_ota'):\n try: os.mkdir(d)\n except OSError: pass\n"
             "for f in os.listdir('lib/esp_https_ota'): os.remove('lib/esp_https_ota/' + f)\n")
    status, out = mpremote(port, "exec", clear, "+", "fs", "cp", "-r", str(tree), ":lib/")
    if status:
        raise BoardError("copying to the board failed (exit %d):\n%s" % (status, out.strip()))
    print("installed %d files into :lib/esp_https_ota (version %s)" % (len(list(tree.iterdir())), mpy_trees.version()))


def device_test(port, server, image, ca):
    """device_tests/ota_main.py on the board against `server`, then after its reset after_reboot.py."""
    check_firmware(board_info(port))
    url = server if server.endswith(".bin") else server.rstrip("/") + "/" + image
    if not Path(ca).is_file():
        raise BoardError("no CA certificate at %s: the developer server writes it with --ca-out %s" % (ca, ca))
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "ota_config.json"
        cfg.write_text(json.dumps({"url": url, "cert_pem_file": "ca.pem"}))
        print("OTA from %s ..." % url)
        status, out = mpremote(port, "fs", "cp", str(ca), ":ca.pem", "+", "fs", "cp", str(cfg), ":ota_config.json",
                               "+", "run", str(ROOT / "device_tests" / "ota_main.py"))
    print(out.rstrip())
    if "OTA OK" not in out:  # the script ends with machine.reset(), so mpremote's status says little
        raise BoardError("the OTA did not complete (see above)")
    deadline = time.monotonic() + REBOOT_WAIT_S
    while True:  # the board is rebooting into the new firmware
        time.sleep(2)
        status, out = mpremote(port, "run", str(ROOT / "device_tests" / "after_reboot.py"), timeout=60)
        if "marked valid" in out or time.monotonic() > deadline:
            break
    print(out.rstrip())
    if "marked valid" not in out:
        raise BoardError("after the reset the board did not run device_tests/after_reboot.py (exit %d)" % status)


def main(argv):
    global COMMAND
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=("deploy", "device-test"))
    ap.add_argument("--port", default="", help="serial port; empty: the first USB serial board")
    ap.add_argument("--arch", default="", help="compiled tree to install (default: the board's)")
    ap.add_argument("--server", default="", help="device-test: the developer server's URL")
    ap.add_argument("--image", default="firmware.bin", help="device-test: the image's name on the server")
    ap.add_argument("--ca", default="ca.pem", help="device-test: the server's CA certificate (PEM)")
    args = ap.parse_args(argv)
    COMMAND = args.command
    port = args.port or "auto"
    try:
        if args.command == "deploy":
            deploy(port, args.arch or None)
        else:
            if not args.server:
                raise BoardError("give the developer server's address: make device-test SERVER=https://PC-IP:PORT")
            device_test(port, args.server, args.image, args.ca)
    except BoardError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    return 0


COMMAND = "deploy"
if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
