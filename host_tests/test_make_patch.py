"""tools/make_patch.py, the host side of delta updates (issue 16): a detools sequential patch
(heatshrink, as esp_delta_ota decodes) behind esp_delta_ota's 64-byte header. Oracles: detools'
own apply_patch rebuilds the new image, and esptool image-info gives the base's SHA-256."""

import io
import re
import subprocess
import sys
import zlib

import detools
import pytest

from conftest import IMAGES, ROOT

sys.path.insert(0, str(ROOT / "tools"))
from make_patch import HEADER_LEN, MAGIC, make_patch  # noqa: E402

TEMPLATE_ELF = IMAGES / "esp32-app-template.elf"


def esptool(*args):
    proc = subprocess.run([sys.executable, "-m", "esptool", *map(str, args)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def validation_hash(path):
    m = re.search(r"Validation hash: ([0-9a-f]{64}) \(valid\)", esptool("image-info", path), re.I)
    assert m, "esptool found no valid appended SHA-256 in %s" % path
    return bytes.fromhex(m.group(1))


def rebuilt(old, patch):
    out = io.BytesIO()
    detools.apply_patch(io.BytesIO(old), io.BytesIO(patch), out)
    return out.getvalue()


@pytest.fixture(scope="module")
def rebuild(tmp_path_factory):
    """The app template built twice with a one-line change: PROJECT_VER 1cd5752 -> 1cd5753 in the
    ELF (same length), each turned into an image by esptool elf2image."""
    d = tmp_path_factory.mktemp("patch")
    elf = TEMPLATE_ELF.read_bytes()
    assert elf.count(b"1cd5752") == 1
    (d / "new.elf").write_bytes(elf.replace(b"1cd5752", b"1cd5753"))
    for name, src in (("old.bin", TEMPLATE_ELF), ("new.bin", d / "new.elf")):
        esptool("--chip", "esp32", "elf2image", "-o", d / name, src)
    return d


@pytest.mark.case("make_patch of the app template rebuilt with a one-line change (elf2image x2)",
                  "esp_delta_ota header (magic, esptool's validation hash of the base, zeros); detools rebuilds the image")
def test_patch_has_esp_delta_ota_header_and_rebuilds_the_image(rebuild):
    old, new = (rebuild / "old.bin").read_bytes(), (rebuild / "new.bin").read_bytes()
    assert old != new
    patch, body = make_patch(old, new)
    assert patch[:4] == MAGIC.to_bytes(4, "little") == bytes.fromhex("10decdfc")
    assert patch[4:36] == validation_hash(rebuild / "old.bin")
    assert patch[36:HEADER_LEN] == bytes(28)
    assert len(patch) == HEADER_LEN + body
    assert rebuilt(old, patch[HEADER_LEN:]) == new
    print("one-line change: %d-byte image, patch %d bytes (%.2f%%)" % (len(new), len(patch), 100.0 * len(patch) / len(new)))
    assert len(patch) < len(new) // 10


@pytest.mark.case("make_patch --bare, and --compression none", "a plain detools patch; detools rebuilds the image")
@pytest.mark.parametrize("compression", ["heatshrink", "none"])
def test_bare_patches_rebuild_the_image(rebuild, compression):
    old, new = (rebuild / "old.bin").read_bytes(), (rebuild / "new.bin").read_bytes()
    patch, body = make_patch(old, new, compression, bare=True)
    assert len(patch) == body and patch[:4] != MAGIC.to_bytes(4, "little")
    assert rebuilt(old, patch) == new


@pytest.mark.case("make_patch between two different real images (helloworld-esp32 -> app template)",
                  "detools rebuilds the image; the size is reported")
def test_patch_between_two_shared_images():
    old, new = (IMAGES / "helloworld-esp32.bin").read_bytes(), (IMAGES / "esp32-app-template.bin").read_bytes()
    patch, _ = make_patch(old, new)
    assert patch[4:36] == validation_hash(IMAGES / "helloworld-esp32.bin")
    assert rebuilt(old, patch[HEADER_LEN:]) == new
    print("helloworld-esp32 -> app template: patch %d bytes of %d (%.1f%%)" % (len(patch), len(new), 100.0 * len(patch) / len(new)))


@pytest.mark.case("make_patch from a base image without an appended SHA-256 (bootloader_esp32.bin)",
                  "refused: esp_delta_ota could not check the base")
def test_base_without_digest_is_refused():
    with pytest.raises(SystemExit, match="no SHA-256"):
        make_patch((IMAGES / "bootloader_esp32.bin").read_bytes(), (IMAGES / "esp32-app-template.bin").read_bytes())


@pytest.mark.case("make patch FROM=... TO=... (the command line)", "writes the patch and prints its size and the ratio")
def test_command_line_writes_the_patch_and_prints_the_ratio(rebuild, tmp_path):
    out = tmp_path / "app.patch"
    proc = subprocess.run(["make", "-s", "patch", "FROM=%s" % (rebuild / "old.bin"), "TO=%s" % (rebuild / "new.bin"),
                           "OUT=%s" % out], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out.exists() and re.search(r"%d bytes, a patch from old.bin .* of the new image" % out.stat().st_size, proc.stdout)


@pytest.mark.case("make_patch --zlib 10", "a none patch, zlib-compressed with a 1 KiB window; inflated, detools"
                  " rebuilds the image; smaller than the heatshrink patch")
def test_zlib_wrapped_none_patch(rebuild, tmp_path):
    out = tmp_path / "app.patch.z"
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "make_patch.py"), rebuild / "old.bin", rebuild / "new.bin",
                           "-o", out, "--zlib", "10"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = out.read_bytes()
    assert data[0] == 0x28  # zlib, CINFO 2: a 2^10-byte window
    patch = zlib.decompress(data)
    old, new = (rebuild / "old.bin").read_bytes(), (rebuild / "new.bin").read_bytes()
    assert patch[:4] == MAGIC.to_bytes(4, "little") and rebuilt(old, patch[HEADER_LEN:]) == new
    assert len(data) < len(make_patch(old, new)[0])
