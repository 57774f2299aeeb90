"""Signed images (ESP-IDF Secure Boot V2 signature blocks): images signed at test time by
espsecure (esptool, pinned) with RSA-3072 and ECDSA P-256 keys it made; the package checks them
in finish(), before the boot partition changes, under both interpreters."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import IMAGES, run_scenario
import flashsim_path  # noqa: F401  (puts shims/ on sys.path)
import flashsim
import imagetools
from https_server import OTAServer

ESPSECURE = [str(Path(sys.executable).parent / "espsecure")]
TEMPLATE = (IMAGES / "esp32-app-template.bin").read_bytes()
NEW = imagetools.with_version(TEMPLATE, "5.0.0-signed")
OTHER = imagetools.with_version(TEMPLATE, "6.0.0-other")
ESP_ERR_OTA_VALIDATE_FAILED = 0x1503
SECTOR = 4096


def espsecure(*args):
    subprocess.run(ESPSECURE + [str(a) for a in args], check=True, capture_output=True, timeout=120)


def sign(key, image, out):
    src = out.with_suffix(".unsigned")
    src.write_bytes(image)
    espsecure("sign-data", "--version", "2", "--keyfile", key, "--output", out, src)
    return out.read_bytes()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    out = {}
    for name, scheme in (("rsa", "rsa3072"), ("ecdsa", "ecdsa256"), ("other", "ecdsa256")):
        espsecure("generate-signing-key", "--version", "2", "--scheme", scheme, d / (name + ".pem"))
        espsecure("extract-public-key", "--version", "2", "--keyfile", d / (name + ".pem"), d / (name + ".pub"))
        out[name] = d / (name + ".pem")
        out[name + ".pub"] = str(d / (name + ".pub"))
    return out


@pytest.fixture(scope="module")
def server(pki, keys, tmp_path_factory):
    d = tmp_path_factory.mktemp("signedfw")
    rsa = sign(keys["rsa"], NEW, d / "rsa.bin")
    ecdsa = sign(keys["ecdsa"], NEW, d / "ecdsa.bin")
    other = sign(keys["other"], OTHER, d / "other.bin")
    sign(keys["other"], NEW, d / "wrongkey.bin")
    (d / "unsigned.bin").write_bytes(NEW)
    sig_off = len(ecdsa) - SECTOR
    (d / "moved.bin").write_bytes(ecdsa[:sig_off] + other[-SECTOR:])  # another image's block
    pad = bytearray(ecdsa)
    pad[len(NEW) + 5] ^= 0x01  # in the 0xFF padding before the sector: only the signature covers it
    (d / "flip-pad.bin").write_bytes(pad)
    img = bytearray(ecdsa)
    img[0x1000] ^= 0x01
    (d / "flip-image.bin").write_bytes(img)
    blk = bytearray(ecdsa)
    blk[sig_off + 120] ^= 0x01  # inside the signature (r)
    (d / "flip-block.bin").write_bytes(blk)
    (d / "cut-block.bin").write_bytes(ecdsa[:sig_off + 600])  # the sector ends mid-block
    (d / "rsa-two.bin").write_bytes(rsa)
    with OTAServer(d, pki) as srv:
        srv.dir = d
        yield srv


def ota(interp, flash, url, ca, *opts):
    return run_scenario(interp, "ota_run.py", "oneshot", url, ca, *opts, env={"ESP32_FLASH": str(flash)})


def fresh(tmp_path, running=TEMPLATE):
    path = tmp_path / "flash.bin"
    flashsim.create_flash(str(path), app_image=running)
    return path


def boots(flash, tmp_path):
    copy = tmp_path / "reboot.bin"
    shutil.copy(flash, copy)
    return flashsim.boot(flashsim.Flash(str(copy)))


@pytest.mark.parametrize("name, key, ok, why", [
    pytest.param("rsa.bin", "rsa", True, None, marks=pytest.mark.case(
        "RSA-3072 signed image, its public key in signature_verify_keys", "ESP_OK; boots")),
    pytest.param("ecdsa.bin", "ecdsa", True, None, marks=pytest.mark.case(
        "ECDSA P-256 signed image, its public key given", "ESP_OK; boots")),
    pytest.param("rsa-two.bin", "other,rsa", True, None, marks=pytest.mark.case(
        "two keys given, the second one signed the image", "ESP_OK; boots")),
    pytest.param("wrongkey.bin", "ecdsa", False, "signed by another key", marks=pytest.mark.case(
        "image signed by another key", "ESP_ERR_OTA_VALIDATE_FAILED; boot partition unchanged")),
    pytest.param("unsigned.bin", "ecdsa", False, "no signature sector", marks=pytest.mark.case(
        "unsigned image while keys are given", "ESP_ERR_OTA_VALIDATE_FAILED; boot partition unchanged")),
    pytest.param("moved.bin", "other", False, "signs other content", marks=pytest.mark.case(
        "a signature block moved from another image (same key)", "ESP_ERR_OTA_VALIDATE_FAILED")),
    pytest.param("flip-pad.bin", "ecdsa", False, "signs other content", marks=pytest.mark.case(
        "one flipped byte in the padding only the signature covers", "ESP_ERR_OTA_VALIDATE_FAILED")),
    pytest.param("flip-image.bin", "ecdsa", False, None, marks=pytest.mark.case(
        "one flipped byte in the image", "ESP_ERR_OTA_VALIDATE_FAILED")),
    pytest.param("flip-block.bin", "ecdsa", False, "CRC-32", marks=pytest.mark.case(
        "one flipped byte in the signature block", "ESP_ERR_OTA_VALIDATE_FAILED (its CRC-32)")),
    pytest.param("cut-block.bin", "ecdsa", False, "no signature sector", marks=pytest.mark.case(
        "image cut inside its signature block", "ESP_ERR_OTA_VALIDATE_FAILED")),
], ids=lambda v: v if isinstance(v, str) else None)
def test_signature_verify_keys(interp, server, pki, keys, tmp_path, name, key, ok, why):
    flash = fresh(tmp_path)
    paths = ",".join(keys[k + ".pub"] for k in key.split(","))
    res = ota(interp, flash, server.url(name), pki["ca"], "verify_keys=" + paths)
    if ok:
        assert res["ok"] is True, res.result
        assert boots(flash, tmp_path) == "ota_1"
        return
    assert res["code"] == ESP_ERR_OTA_VALIDATE_FAILED, res.result
    if why:
        assert why in res["msg"], res["msg"]
    assert boots(flash, tmp_path) == "ota_0"


@pytest.mark.parametrize("name, ok", [
    pytest.param("ecdsa.bin", True, marks=pytest.mark.case(
        "running app signed (ECDSA), no keys given, new image signed by the same key", "ESP_OK; boots")),
    pytest.param("wrongkey.bin", False, marks=pytest.mark.case(
        "running app signed, no keys given, new image signed by another key", "ESP_ERR_OTA_VALIDATE_FAILED")),
    pytest.param("unsigned.bin", False, marks=pytest.mark.case(
        "running app signed, no keys given, new image unsigned", "ESP_ERR_OTA_VALIDATE_FAILED")),
])
def test_signed_running_app_is_the_trust_anchor(interp, server, pki, keys, tmp_path, name, ok):
    running = sign(keys["ecdsa"], TEMPLATE, tmp_path / "running.bin")
    flash = fresh(tmp_path, running)
    res = ota(interp, flash, server.url(name), pki["ca"])
    if ok:
        assert res["ok"] is True, res.result
        assert boots(flash, tmp_path) == "ota_1"
    else:
        assert res["code"] == ESP_ERR_OTA_VALIDATE_FAILED, res.result
        assert boots(flash, tmp_path) == "ota_0"


@pytest.mark.case("unsigned running app, no keys given, unsigned and signed images", "ESP_OK for both, as before")
def test_without_keys_or_signed_running_app_nothing_changes(interp, server, pki, tmp_path):
    for name in ("unsigned.bin", "wrongkey.bin"):
        flash = fresh(tmp_path)
        res = ota(interp, flash, server.url(name), pki["ca"])
        assert res["ok"] is True, (name, res.result)


@pytest.mark.case("signature_verify_keys with a key that is not a PEM public key", "ESP_ERR_INVALID_ARG naming the field")
def test_bad_key_is_refused(interp, server, pki, tmp_path):
    bad = tmp_path / "bad.pub"
    bad.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    res = ota(interp, fresh(tmp_path), server.url("ecdsa.bin"), pki["ca"], "verify_keys=%s" % bad)
    assert res["code"] == 0x102 and "signature_verify_keys" in res["msg"], res.result
