"""Delta OTA (issue 16): a detools sequential patch (none or heatshrink, behind esp_delta_ota's
header or bare with delta_patch) applied against the running app (ota_0, the real app template)
while it streams, into the same writer and image checks. detools (PyPI) makes every patch and is
the oracle of the rebuilt image; tools/make_patch.py writes esp_delta_ota's header. Under CPython
and the MicroPython unix port."""

import gzip
import hashlib
import io
import random
import sys
import tempfile
import zlib
from pathlib import Path

import detools
import pytest

from conftest import IMAGES, OTA_1, ROOT, boots, nvs_namespace, run_scenario, store_nvs_namespace
import flashsim_path  # noqa: F401  (puts shims/ on sys.path)
import imagetools
from https_server import OTAServer

sys.path.insert(0, str(ROOT / "tools"))
from make_patch import HEADER_LEN, MAGIC, base_digest, make_patch  # noqa: E402

BASE = (IMAGES / "esp32-app-template.bin").read_bytes()  # what ota_0 runs (conftest's flash)
NEW_APP = imagetools.with_version(BASE, "3.1.0-delta")  # a one-field change, still a valid image
OTHER_BASE = imagetools.with_version(BASE, "0.9.0-other")

ESP_FAIL = -1
ESP_ERR_NOT_SUPPORTED = 0x106
ESP_ERR_OTA_PARTITION_CONFLICT = 0x1501
ESP_ERR_OTA_VALIDATE_FAILED = 0x1503


def detools_patch(old, new, **options):
    # Through files: the hdiffpatch algorithm wants real ones (fileno()).
    with tempfile.TemporaryDirectory() as d:
        paths = [Path(d) / n for n in ("old", "new", "patch")]
        paths[0].write_bytes(old)
        paths[1].write_bytes(new)
        with open(paths[0], "rb") as fo, open(paths[1], "rb") as fn, open(paths[2], "wb") as fp:
            detools.create_patch(fo, fn, fp, **options)
        return paths[2].read_bytes()


def with_header(old, body):
    return MAGIC.to_bytes(4, "little") + base_digest(old) + bytes(HEADER_LEN - 36) + body


PATCHES = {
    "heatshrink.patch": make_patch(BASE, NEW_APP, "heatshrink")[0],
    "none.patch": make_patch(BASE, NEW_APP, "none")[0],
    "bare-heatshrink.patch": make_patch(BASE, NEW_APP, "heatshrink", bare=True)[0],
    "bare-none.patch": make_patch(BASE, NEW_APP, "none", bare=True)[0],
    "other-base.patch": make_patch(OTHER_BASE, NEW_APP, "heatshrink")[0],
    "bare-other-base.patch": make_patch(OTHER_BASE, NEW_APP, "none", bare=True)[0],
}
PATCHES["none.patch.gz"] = gzip.compress(PATCHES["bare-none.patch"], mtime=0)
PATCHES["none.patch.z"] = zlib.compress(PATCHES["none.patch"])
hs = PATCHES["heatshrink.patch"]
PATCHES["truncated.patch"] = hs[:HEADER_LEN + (len(hs) - HEADER_LEN) * 2 // 3]
PATCHES["trailing.patch"] = PATCHES["none.patch"] + b"\x00"
corrupt = bytearray(PATCHES["none.patch"])
corrupt[HEADER_LEN + 3] = 0x3F  # the first diff run's size: 63 bytes, then garbage as sizes
PATCHES["corrupt-size.patch"] = bytes(corrupt)
corrupt = bytearray(PATCHES["none.patch"])
corrupt[len(corrupt) // 2] ^= 0x5A  # inside a run's bytes: the image's own checks catch it
PATCHES["corrupt-data.patch"] = bytes(corrupt)
UNSUPPORTED = {  # detools options the board does not apply, each behind esp_delta_ota's header
    "lzma.patch": ("compressed with lzma", {"compression": "lzma"}),
    "bz2.patch": ("compressed with bz2", {"compression": "bz2"}),
    "crle.patch": ("compressed with crle", {"compression": "crle"}),
    "in-place.patch": ("in-place", {"patch_type": "in-place", "compression": "none", "memory_size": 3 << 20,
                                    "segment_size": 65536}),
    "hdiffpatch.patch": ("hdiffpatch", {"patch_type": "hdiffpatch", "algorithm": "hdiffpatch", "compression": "none"}),
    "data-format.patch": ("data format", {"compression": "none", "data_format": "xtensa-lx106",
                                          "from_data_offset_begin": 0, "from_data_offset_end": 0,
                                          "to_data_offset_begin": 0, "to_data_offset_end": 0}),
    "big-window.patch": ("window of 2^14", {"compression": "heatshrink", "heatshrink_window_sz2": 14,
                                            "heatshrink_lookahead_sz2": 4}),
}


@pytest.fixture(scope="module")
def server(pki, tmp_path_factory):
    d = tmp_path_factory.mktemp("delta")
    for name, data in PATCHES.items():
        (d / name).write_bytes(data)
    for name, (_, options) in UNSUPPORTED.items():
        (d / name).write_bytes(with_header(BASE, detools_patch(BASE, NEW_APP, **options)))
    with OTAServer(d, pki) as srv:
        yield srv


def ota(interp, flash_path, url, ca, *opts, mode="steps"):
    return run_scenario(interp, "ota_run.py", mode, url, ca, *opts, env={"ESP32_FLASH": str(flash_path)})


def assert_booted_new_image(res, flash_path, tmp_path, body_size):
    assert res["ok"] is True, res.result
    assert res["size"] == body_size  # get_image_size(): the body's (the patch's) size
    assert res["len_read"] == res["written"] == len(NEW_APP)  # get_image_written(): image bytes
    assert flash_path.read_bytes()[OTA_1:OTA_1 + len(NEW_APP)] == NEW_APP  # byte for byte
    assert res["desc"]["version"] == "3.1.0-delta"
    assert boots(flash_path, tmp_path) == "ota_1"


def assert_failed_safely(res, flash_path, tmp_path, code, before, *words):
    assert res["ok"] is False, res.result
    assert res["code"] == code, res.result
    for w in words:
        assert w in res["msg"], res["msg"]
    assert hashlib.sha256(flash_path.read_bytes()[:OTA_1]).hexdigest() == before  # otadata, ota_0 untouched
    assert boots(flash_path, tmp_path) == "ota_0"


def fingerprint(flash_path):
    return hashlib.sha256(flash_path.read_bytes()[:OTA_1]).hexdigest()


def test_the_patches_are_what_detools_applies():
    # The oracle: detools rebuilds NEW_APP from each patch body the board gets.
    for name in ("heatshrink.patch", "none.patch"):
        out = io.BytesIO()
        detools.apply_patch(io.BytesIO(BASE), io.BytesIO(PATCHES[name][HEADER_LEN:]), out)
        assert out.getvalue() == NEW_APP
    assert len(PATCHES["heatshrink.patch"]) < len(NEW_APP) // 50  # 2%: what a delta is for


@pytest.mark.parametrize("name", ["heatshrink.patch", "none.patch"])
@pytest.mark.case("delta patch (esp_delta_ota header; none or heatshrink) against the running app",
                  "ESP_OK; the new image byte for byte in ota_1, boots it")
def test_delta_patch_rebuilds_the_image_and_boots(interp, flash, server, pki, tmp_path, name):
    res = ota(interp, flash, server.url(name), pki["ca"])
    assert_booted_new_image(res, flash, tmp_path, len(PATCHES[name]))


@pytest.mark.case("heatshrink delta patch with the plain (non-viper) kernels", "ESP_OK; boots the new image")
def test_delta_patch_with_the_plain_kernels(interp, flash, server, pki, tmp_path):
    res = ota(interp, flash, server.url("heatshrink.patch"), pki["ca"], "plain_delta=true")
    assert_booted_new_image(res, flash, tmp_path, len(PATCHES["heatshrink.patch"]))


@pytest.mark.parametrize("name", ["bare-heatshrink.patch", "bare-none.patch"])
@pytest.mark.case("bare detools patch (no header) with delta_patch: True", "ESP_OK; boots the new image")
def test_bare_patch_with_delta_patch(interp, flash, server, pki, tmp_path, name):
    res = ota(interp, flash, server.url(name), pki["ca"], "delta_patch=true")
    assert_booted_new_image(res, flash, tmp_path, len(PATCHES[name]))


@pytest.mark.case("bare detools patch without delta_patch", "ESP_FAIL, as for any body that is not an image; boot unchanged")
def test_bare_patch_without_delta_patch_is_not_an_image(interp, flash, server, pki, tmp_path):
    before = fingerprint(flash)
    res = ota(interp, flash, server.url("bare-heatshrink.patch"), pki["ca"])
    assert_failed_safely(res, flash, tmp_path, ESP_FAIL, before, "not an ESP image")


@pytest.mark.parametrize("name", ["none.patch.gz", "none.patch.z"])
@pytest.mark.case("none delta patch served gzip- or zlib-compressed", "ESP_OK; inflated, patched, boots the new image")
def test_compressed_patch_is_inflated_then_applied(interp, flash, server, pki, tmp_path, name):
    opts = ("delta_patch=true",) if name.endswith(".gz") else ()  # the gzip one holds a bare patch
    res = ota(interp, flash, server.url(name), pki["ca"], *opts)
    assert_booted_new_image(res, flash, tmp_path, len(PATCHES[name]))


@pytest.mark.case("delta_base: the running partition by label", "ESP_OK; boots the new image")
def test_explicit_delta_base(interp, flash, server, pki, tmp_path):
    res = ota(interp, flash, server.url("heatshrink.patch"), pki["ca"], "delta_base_label=ota_0")
    assert_booted_new_image(res, flash, tmp_path, len(PATCHES["heatshrink.patch"]))


@pytest.mark.case("delta_base: the partition being written", "ESP_ERR_OTA_PARTITION_CONFLICT; boot unchanged")
def test_delta_base_cannot_be_the_update_partition(interp, flash, server, pki, tmp_path):
    before = fingerprint(flash)
    res = ota(interp, flash, server.url("heatshrink.patch"), pki["ca"], "delta_base_label=ota_1")
    assert_failed_safely(res, flash, tmp_path, ESP_ERR_OTA_PARTITION_CONFLICT, before, "delta_base")


@pytest.mark.case("esp_delta_ota patch made for another base", "ESP_ERR_OTA_VALIDATE_FAILED in begin(), naming"
                  " both SHA-256s; nothing erased")
def test_patch_for_another_base_is_refused_before_anything_is_erased(interp, flash, server, pki, tmp_path):
    before = fingerprint(flash)
    res = ota(interp, flash, server.url("other-base.patch"), pki["ca"])
    assert_failed_safely(res, flash, tmp_path, ESP_ERR_OTA_VALIDATE_FAILED, before, "another base",
                         base_digest(OTHER_BASE).hex(), base_digest(BASE).hex())
    assert res["flash"]["erase_calls"] == 0 and res["flash"]["write_calls"] == 0


@pytest.mark.case("bare patch made for another base", "ESP_ERR_OTA_VALIDATE_FAILED (the image's SHA-256); boot unchanged")
def test_bare_patch_for_another_base_fails_the_image_checks(interp, flash, server, pki, tmp_path):
    before = fingerprint(flash)
    res = ota(interp, flash, server.url("bare-other-base.patch"), pki["ca"], "delta_patch=true")
    assert_failed_safely(res, flash, tmp_path, ESP_ERR_OTA_VALIDATE_FAILED, before)


@pytest.mark.parametrize("name,words", [
    ("truncated.patch", ("truncated", "new-image byte")),
    ("trailing.patch", ("corrupt", "after the patch's end")),
    ("corrupt-size.patch", ("corrupt",)),
    ("corrupt-data.patch", ()),  # a garbled byte in a run: the image's checksum or SHA-256
])
@pytest.mark.case("truncated, trailing-data or corrupt delta patch", "ESP_ERR_OTA_VALIDATE_FAILED; boot unchanged")
def test_truncated_or_corrupt_patch(interp, flash, server, pki, tmp_path, name, words):
    before = fingerprint(flash)
    res = ota(interp, flash, server.url(name), pki["ca"])
    assert_failed_safely(res, flash, tmp_path, ESP_ERR_OTA_VALIDATE_FAILED, before, *words)


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
@pytest.mark.case("detools patch with options the board does not apply (lzma, bz2, crle, in-place, hdiffpatch,"
                  " data format, heatshrink window 2^14)", "ESP_ERR_NOT_SUPPORTED in begin(), naming it; nothing erased")
def test_unsupported_detools_options_are_refused(interp, flash, server, pki, tmp_path, name):
    before = fingerprint(flash)
    res = ota(interp, flash, server.url(name), pki["ca"])
    assert_failed_safely(res, flash, tmp_path, ESP_ERR_NOT_SUPPORTED, before, UNSUPPORTED[name][0])
    assert res["flash"]["erase_calls"] == 0 and res["flash"]["write_calls"] == 0


@pytest.mark.case("ota_image_bytes_written with delta_patch", "ESP_ERR_NOT_SUPPORTED in begin()")
def test_explicit_resume_of_a_delta_patch_is_refused(interp, flash, server, pki):
    res = ota(interp, flash, server.url("bare-none.patch"), pki["ca"], "delta_patch=true", "ota_resumption=true",
              "ota_image_bytes_written=65536")
    assert res["ok"] is False and res["code"] == ESP_ERR_NOT_SUPPORTED, res.result
    assert "delta" in res["msg"]


# Resume (ota_resumption alone): the package's progress in NVS carries the delta stage's state.

def resume_run(interp, flash_path, url, ca, *opts, cut=None, mode="oneshot"):
    env = {"ESP32_FLASH": str(flash_path)}
    if cut is not None:
        env.update(ESP32_FLASH_CUT=str(cut[0]), ESP32_FLASH_CUT_SEED=str(cut[1]))
    return run_scenario(interp, "auto_resume.py", mode, url, ca, *opts, env=env, check=cut is None)


def saved(flash_path):
    """The package's NVS namespace on the board: {key: value} (blobs as bytes)."""
    return {k: bytes.fromhex(v[1]) if v[0] == "blob" else v[1] for k, v in nvs_namespace(flash_path).items()}


def cut_then_resume(interp, flash, server, pki, name, opts, k, seed):
    cut = resume_run(interp, flash, server.url(name), pki["ca"], *opts, cut=(k, seed))
    assert cut.returncode != 0 and "POWERCUT op=%d " % k in cut.stderr, cut.output()
    nvs = saved(flash)
    server.reset_counters()
    res = resume_run(interp, flash, server.url(name), pki["ca"], *opts)
    assert res["ok"] is True, res.result
    return nvs, res


@pytest.mark.parametrize("seed", (11, 23, 37))
@pytest.mark.parametrize("name, opts", [("heatshrink.patch", ()), ("none.patch", ()),
                                        ("bare-heatshrink.patch", ("delta_patch=true",))])
@pytest.mark.case("delta OTA with ota_resumption cut by a power loss at a seeded flash operation, then a retry",
                  "the retry asks Range: bytes=<patch byte in the saved state>- with If-Range and goes on from the"
                  " saved image byte; byte-identical image, boots")
def test_power_cut_then_the_delta_resumes_from_its_saved_state(interp, flash, server, pki, tmp_path, name, opts, seed):
    k = random.Random(seed).randrange(60, 280)  # 60 flash operations: past the first 64 KiB commit
    nvs, res = cut_then_resume(interp, flash, server, pki, name, opts, k, seed)
    state = nvs["delta"]
    done, body = int.from_bytes(state[4:8], "little"), int.from_bytes(state[8:12], "little")
    assert state[:4] == b"EHD1" and done >= nvs["done"] >= 65536 and 0 < body < len(PATCHES[name])
    req = server.requests[0]["headers"]
    assert req.get("range") == "bytes=%d-" % body and req.get("if-range")
    assert res["writes"][0] == done + 4096  # WRITE_FLASH counts on from the resumed image bytes
    assert res["nvs"] == {}  # cleared when the OTA completed
    assert flash.read_bytes()[OTA_1:OTA_1 + len(NEW_APP)] == NEW_APP
    assert boots(flash, tmp_path) == "ota_1"


@pytest.mark.case("delta OTA with ota_resumption: four power cuts in a row, each later, then a run to the end",
                  "the saved image byte never goes back; byte-identical image, boots")
def test_many_cuts_of_a_delta_ota(interp, flash, server, pki, tmp_path):
    seen = []
    for k in (40, 45, 50, 55):  # flash operations of each boot: each run gets a little further
        cut = resume_run(interp, flash, server.url("heatshrink.patch"), pki["ca"], cut=(k, k))
        assert cut.returncode != 0, cut.output()
        seen.append(saved(flash).get("done", 0))
    assert seen == sorted(seen) and seen[-1] > 65536, seen
    res = resume_run(interp, flash, server.url("heatshrink.patch"), pki["ca"])
    assert res["ok"] is True, res.result
    assert flash.read_bytes()[OTA_1:OTA_1 + len(NEW_APP)] == NEW_APP and boots(flash, tmp_path) == "ota_1"


@pytest.mark.case("delta OTA with ota_resumption: the link drops, then esp_https_ota() again in the same process",
                  "first ESP_ERR_HTTP_*; the second continues from the saved patch byte; boots")
def test_dropped_link_then_the_delta_resumes(interp, flash, server, pki, tmp_path):
    url = server.url("none.patch", cut_first=len(PATCHES["none.patch"]) * 3 // 4, tag=interp)
    res = run_scenario(interp, "auto_resume.py", "twice", url, pki["ca"], env={"ESP32_FLASH": str(flash)})
    assert res["ok"] is True, res.result
    assert res["first"][0] >> 12 == 0x7
    ranges = [r["headers"].get("range") for r in server.requests if r["path"].startswith("/none.patch")]
    assert ranges[0] is None and ranges[1].startswith("bytes=") and ranges[1] != "bytes=0-", ranges
    assert res["nvs"] == {} and flash.read_bytes()[OTA_1:OTA_1 + len(NEW_APP)] == NEW_APP
    assert boots(flash, tmp_path) == "ota_1"


def forged_state(flash_path, offset, value):
    """The NVS namespace after a power cut, the delta state's bytes at `offset` replaced."""
    ns = nvs_namespace(flash_path)
    state = bytearray.fromhex(ns["delta"][1])
    state[offset:offset + len(value)] = value
    ns["delta"] = ["blob", state.hex()]
    return ns


@pytest.mark.case("saved delta state garbled (magic) after a power cut", "not trusted: starts over at byte 0; boots")
def test_garbled_delta_state_starts_over(interp, flash, server, pki, tmp_path):
    cut = resume_run(interp, flash, server.url("heatshrink.patch"), pki["ca"], cut=(120, 3))
    assert cut.returncode != 0, cut.output()
    store_nvs_namespace(flash, forged_state(flash, 0, b"XXXX"))
    server.reset_counters()
    res = resume_run(interp, flash, server.url("heatshrink.patch"), pki["ca"])
    assert res["ok"] is True, res.result
    assert server.requests[0]["headers"].get("range") is None and res["writes"][0] == 4096
    assert flash.read_bytes()[OTA_1:OTA_1 + len(NEW_APP)] == NEW_APP and boots(flash, tmp_path) == "ota_1"


@pytest.mark.case("saved delta state naming another base partition", "that begin() fails (ESP_ERR_OTA_VALIDATE_FAILED)"
                  " and clears the progress; the next starts over and boots")
def test_delta_state_for_another_base_is_cleared(interp, flash, server, pki, tmp_path):
    cut = resume_run(interp, flash, server.url("heatshrink.patch"), pki["ca"], cut=(120, 3))
    assert cut.returncode != 0, cut.output()
    store_nvs_namespace(flash, forged_state(flash, 16, OTA_1.to_bytes(4, "little")))  # the base address field
    res = resume_run(interp, flash, server.url("heatshrink.patch"), pki["ca"])
    assert res["ok"] is False and res["code"] == ESP_ERR_OTA_VALIDATE_FAILED and "another base" in res["msg"], res.result
    assert res["nvs"] == {}
    res = resume_run(interp, flash, server.url("heatshrink.patch"), pki["ca"])
    assert res["ok"] is True and res["writes"][0] == 4096, res.result
    assert flash.read_bytes()[OTA_1:OTA_1 + len(NEW_APP)] == NEW_APP and boots(flash, tmp_path) == "ota_1"
