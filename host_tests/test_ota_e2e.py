"""A whole OTA against the local HTTPS server, under CPython and the MicroPython unix port.

Each test runs scenarios/ota_run.py with the `interp` fixture, then inspects the simulated
flash from the host: the new image byte for byte, otadata, and the running partition.
"""

import hashlib
import shutil

import pytest

from conftest import IMAGES, run_scenario
import flashsim_path  # noqa: F401  (puts shims/ on sys.path)
import flashsim
import imagetools
from https_server import OTAServer

TEMPLATE = (IMAGES / "esp32-app-template.bin").read_bytes()
NEW_APP = imagetools.with_version(TEMPLATE, "2.0.0-test")
# Byte 1000 lies inside the first segment's data, past the app description.
CORRUPT_APP = imagetools.flip_byte(NEW_APP, 1000)

# ESP-IDF error codes, as the scenario reports them.
ESP_FAIL = -1
ESP_ERR_INVALID_ARG = 0x102
ESP_ERR_INVALID_VERSION = 0x10A
ESP_ERR_OTA_VALIDATE_FAILED = 0x1503
ESP_ERR_NO_MEM = 0x101
ESP_ERR_HTTP_CONNECT = 0x7002
ESP_ERR_HTTP_INCOMPLETE_DATA = 0x700C

EV_START, EV_CONNECTED, EV_GET_IMG_DESC, EV_VERIFY_CHIP_ID, EV_VERIFY_CHIP_REVISION = 0, 1, 2, 3, 4
EV_WRITE_FLASH, EV_UPDATE_BOOT_PARTITION, EV_FINISH, EV_ABORT = 6, 7, 8, 9


@pytest.fixture(scope="session")
def fw_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("fw")
    (d / "app.bin").write_bytes(NEW_APP)
    (d / "corrupt.bin").write_bytes(CORRUPT_APP)
    (d / "truncated.bin").write_bytes(NEW_APP[:64000])
    shutil.copy(IMAGES / "esp_idf_blink_esp32s2.bin", d / "s2.bin")
    shutil.copy(IMAGES / "bootloader_esp32.bin", d / "bootloader.bin")
    return d


@pytest.fixture(scope="session")
def server(pki, fw_dir):
    with OTAServer(fw_dir, pki) as srv:
        yield srv


@pytest.fixture(scope="session")
def wrong_host_server(pki, fw_dir):
    with OTAServer(fw_dir, pki, cert="wrong_host") as srv:
        yield srv


def region(flash_path, label):
    """The bytes of one partition of the simulated flash."""
    data = flash_path.read_bytes()
    for entry in flashsim.read_partition_table(flashsim.Flash(str(flash_path))):
        if entry.label == label:
            return data[entry.addr:entry.addr + entry.size]
    raise KeyError(label)


def snapshot(flash_path):
    return {label: hashlib.sha256(region(flash_path, label)).hexdigest() for label in ("otadata", "ota_0", "ota_1")}


def boots(flash_path, tmp_path):
    """The partition a reboot would start (on a copy: booting changes otadata's state)."""
    copy = tmp_path / "reboot.bin"
    shutil.copy(flash_path, copy)
    return flashsim.boot(flashsim.Flash(str(copy)))


def ota(interp, flash_path, mode, url, ca, *opts):
    return run_scenario(interp, "ota_run.py", mode, url, ca, *opts, env={"ESP32_FLASH": str(flash_path)})


def assert_failed_safely(res, before, flash_path, tmp_path, code):
    """The OTA failed with `code` and the device still boots the untouched running firmware."""
    assert res["ok"] is False, res.result
    assert res["code"] == code, res.result
    after = snapshot(flash_path)
    assert after["otadata"] == before["otadata"]
    assert after["ota_0"] == before["ota_0"]
    assert boots(flash_path, tmp_path) == "ota_0"


@pytest.mark.case("good image, one-shot esp_https_ota()",
                  "ESP_OK; written byte for byte, events in order, boots the new image")
def test_good_image_lands_byte_for_byte_and_boots(interp, flash, server, pki, tmp_path):
    before = snapshot(flash)
    res = ota(interp, flash, "oneshot", server.url("app.bin"), pki["ca"])
    assert res["ok"] is True, res.result
    assert (res["running"], res["next"]) == ("ota_0", "ota_1")
    assert region(flash, "ota_1")[:len(NEW_APP)] == NEW_APP
    assert set(region(flash, "ota_1")[len(NEW_APP):]) == {0xFF}  # the rest stays erased
    assert snapshot(flash)["ota_0"] == before["ota_0"]  # the running partition is never written
    assert boots(flash, tmp_path) == "ota_1"
    ids = [e[0] for e in res["events"]]
    assert ids[:5] == [EV_START, EV_CONNECTED, EV_VERIFY_CHIP_ID, EV_VERIFY_CHIP_REVISION, EV_WRITE_FLASH]
    assert res["events"][2][1] == 0  # the image's chip id (ESP32)
    assert res["events"][3][1] == 0  # its min_chip_rev_full
    assert ids[-2:] == [EV_UPDATE_BOOT_PARTITION, EV_FINISH]
    assert res["events"][-2][1] == 0x11  # ota_1's subtype
    written = [e[1] for e in res["events"] if e[0] == EV_WRITE_FLASH]
    assert written == sorted(written) and written[-1] >= len(NEW_APP)


@pytest.mark.case("good image, step by step (begin, get_img_desc, perform, finish)",
                  "ESP_OK; app description and progress reported, boots the new image")
def test_step_by_step_api_reports_description_and_progress(interp, flash, server, pki, tmp_path):
    res = ota(interp, flash, "steps", server.url("app.bin"), pki["ca"])
    assert res["ok"] is True, res.result
    assert res["status"] == 200
    assert res["size"] == len(NEW_APP)
    assert res["desc"]["project_name"] == "app-template"
    assert res["desc"]["version"] == "2.0.0-test"
    assert res["desc"]["idf_ver"].startswith("v4.0-dev")
    assert res["len_read"] == len(NEW_APP)
    assert res["complete"] is True
    assert res["perform_calls"] >= len(NEW_APP) // 4096
    assert [e[0] for e in res["events"]][:3] == [EV_START, EV_CONNECTED, EV_GET_IMG_DESC]
    assert boots(flash, tmp_path) == "ota_1"


@pytest.mark.parametrize("where, words", [
    pytest.param("head", ("ran out of heap checking the image head", "nothing written"), id="head", marks=pytest.mark.case(
        "out of heap in the image head check (first perform())",
        "ESP_ERR_NO_MEM naming the head check; nothing written, boot partition unchanged")),
    pytest.param("finish", ("finish() ran out of heap", "boot partition unchanged"), id="finish", marks=pytest.mark.case(
        "out of heap in finish()'s signature check", "ESP_ERR_NO_MEM; boot partition unchanged")),
])
def test_out_of_heap_is_no_mem_and_leaves_boot_untouched(interp, flash, server, pki, tmp_path, where, words):
    before = snapshot(flash)
    res = ota(interp, flash, "steps", server.url("app.bin"), pki["ca"], "oom=" + where)
    assert_failed_safely(res, before, flash, tmp_path, ESP_ERR_NO_MEM)
    assert all(w in res["msg"] for w in words), res.result
    if where == "head":
        assert res["flash"]["write_calls"] == 0, res.result


@pytest.mark.case("CA file of another CA than the server's",
                  "ESP_ERR_HTTP_CONNECT; nothing written, boot partition unchanged")
def test_wrong_ca_fails_and_leaves_boot_untouched(interp, flash, server, pki, tmp_path):
    before = snapshot(flash)
    res = ota(interp, flash, "oneshot", server.url("app.bin"), pki["other_ca"])
    assert_failed_safely(res, before, flash, tmp_path, ESP_ERR_HTTP_CONNECT)
    assert "TLS" in res["msg"]
    assert snapshot(flash)["ota_1"] == before["ota_1"]  # nothing was written at all


@pytest.mark.case("server certificate for another host name", "ESP_ERR_HTTP_CONNECT; boot partition unchanged")
def test_wrong_hostname_fails(interp, flash, wrong_host_server, pki, tmp_path):
    before = snapshot(flash)
    res = ota(interp, flash, "oneshot", wrong_host_server.url("app.bin"), pki["ca"])
    assert_failed_safely(res, before, flash, tmp_path, ESP_ERR_HTTP_CONNECT)


@pytest.mark.case("image URL that answers 404", "ESP_FAIL naming 404; boot partition unchanged")
def test_404_fails_with_the_status_code(interp, flash, server, pki, tmp_path):
    before = snapshot(flash)
    res = ota(interp, flash, "oneshot", server.url("missing.bin"), pki["ca"])
    assert_failed_safely(res, before, flash, tmp_path, ESP_FAIL)
    assert "404" in res["msg"]


@pytest.mark.case("abort() after 20 perform() calls", "ESP_OK; ABORT event, boot partition unchanged")
def test_abort_leaves_boot_untouched(interp, flash, server, pki, tmp_path):
    before = snapshot(flash)
    res = ota(interp, flash, "abort", server.url("app.bin"), pki["ca"], "perform_calls=20")
    assert res["ok"] is True, res.result
    assert res["len_read_at_abort"] > 4096
    assert res["events"][-1][0] == EV_ABORT
    after = snapshot(flash)
    assert after["otadata"] == before["otadata"] and after["ota_0"] == before["ota_0"]
    assert boots(flash, tmp_path) == "ota_0"


@pytest.mark.case("image with one flipped byte in its first segment",
                  "ESP_ERR_OTA_VALIDATE_FAILED; boot partition unchanged")
def test_corrupt_image_is_refused_at_finish(interp, flash, server, pki, tmp_path):
    before = snapshot(flash)
    res = ota(interp, flash, "oneshot", server.url("corrupt.bin"), pki["ca"])
    assert_failed_safely(res, before, flash, tmp_path, ESP_ERR_OTA_VALIDATE_FAILED)
    assert "checksum" in res["msg"] or "SHA-256" in res["msg"]


@pytest.mark.case("image truncated to its first 64000 bytes",
                  "ESP_ERR_OTA_VALIDATE_FAILED naming 64000; boot partition unchanged")
def test_truncated_image_is_refused(interp, flash, server, pki, tmp_path):
    before = snapshot(flash)
    res = ota(interp, flash, "oneshot", server.url("truncated.bin"), pki["ca"])
    assert_failed_safely(res, before, flash, tmp_path, ESP_ERR_OTA_VALIDATE_FAILED)
    assert "64000" in res["msg"]


@pytest.mark.case("connection cut after 100000 bytes", "ESP_ERR_HTTP_INCOMPLETE_DATA; boot partition unchanged")
def test_cut_connection_is_an_error_not_a_short_image(interp, flash, server, pki, tmp_path):
    before = snapshot(flash)
    res = ota(interp, flash, "oneshot", server.url("app.bin?cut_after=100000"), pki["ca"])
    assert_failed_safely(res, before, flash, tmp_path, ESP_ERR_HTTP_INCOMPLETE_DATA)


@pytest.mark.case("image built for the ESP32-S2 (chip id 2)",
                  "ESP_ERR_INVALID_VERSION; nothing written, boot partition unchanged")
def test_image_for_another_chip_is_refused_before_writing(interp, flash, server, pki, tmp_path):
    before = snapshot(flash)
    res = ota(interp, flash, "oneshot", server.url("s2.bin"), pki["ca"])
    assert_failed_safely(res, before, flash, tmp_path, ESP_ERR_INVALID_VERSION)
    assert "chip id 2" in res["msg"]
    assert snapshot(flash)["ota_1"] == before["ota_1"]


@pytest.mark.case("bootloader image (no app description)", "ESP_FAIL; nothing written, boot partition unchanged")
def test_bootloader_image_is_refused_before_writing(interp, flash, server, pki, tmp_path):
    before = snapshot(flash)
    res = ota(interp, flash, "oneshot", server.url("bootloader.bin"), pki["ca"])
    assert_failed_safely(res, before, flash, tmp_path, ESP_FAIL)
    assert "app description" in res["msg"]
    assert snapshot(flash)["ota_1"] == before["ota_1"]


@pytest.mark.case("http:// URL without allow_http_insecure_transport", "ESP_ERR_INVALID_ARG; boot partition unchanged")
def test_plain_http_is_refused_by_default(interp, flash, tmp_path):
    before = snapshot(flash)
    res = ota(interp, flash, "oneshot", "http://localhost:1/app.bin", "-")
    assert_failed_safely(res, before, flash, tmp_path, ESP_ERR_INVALID_ARG)
    assert "http://" in res["msg"]


@pytest.mark.case("image sent as a chunked body", "ESP_OK; written byte for byte, boots the new image")
def test_chunked_body_lands_and_boots(interp, flash, server, pki, tmp_path):
    res = ota(interp, flash, "oneshot", server.url("app.bin?chunked=5000"), pki["ca"])
    assert res["ok"] is True, res.result
    assert region(flash, "ota_1")[:len(NEW_APP)] == NEW_APP
    assert boots(flash, tmp_path) == "ota_1"


@pytest.mark.case("partial_http_download with max_http_request_size 4096",
                  "ESP_OK; one TLS connection, boots the new image")
def test_partial_download_uses_one_tls_connection(interp, flash, server, pki, tmp_path):
    server.reset_counters()
    res = ota(interp, flash, "steps", server.url("app.bin"), pki["ca"],
              "partial_http_download=true", "max_http_request_size=4096")
    assert res["ok"] is True, res.result
    assert res["status"] == 206 and res["size"] == len(NEW_APP)
    assert server.handshakes == 1
    assert len(server.requests) == -(-len(NEW_APP) // 4096)
    assert region(flash, "ota_1")[:len(NEW_APP)] == NEW_APP
    assert boots(flash, tmp_path) == "ota_1"


@pytest.mark.case("partial_http_download with the default max_http_request_size", "ESP_OK; 64 KB ranges")
def test_partial_download_default_request_size_is_64k(interp, flash, server, pki):
    server.reset_counters()
    res = ota(interp, flash, "oneshot", server.url("app.bin"), pki["ca"], "partial_http_download=true")
    assert res["ok"] is True, res.result
    assert [r["headers"]["range"] for r in server.requests][:2] == ["bytes=0-65535", "bytes=65536-131071"]


@pytest.mark.case("server requires a header that http_client_init_cb sets", "ESP_OK; boots the new image")
def test_init_cb_header_reaches_the_server(interp, flash, server, pki, tmp_path):
    url = server.url("app.bin", require_header="Authorization:Bearer t0ken")
    res = ota(interp, flash, "oneshot", url, pki["ca"], "init_header=Authorization:Bearer t0ken")
    assert res["ok"] is True, res.result
    assert boots(flash, tmp_path) == "ota_1"


@pytest.mark.case("http_client_init_cb returns ESP_FAIL", "ESP_FAIL; no connection, boot partition unchanged")
def test_init_cb_error_aborts_begin_with_that_error(interp, flash, server, pki, tmp_path):
    before = snapshot(flash)
    server.reset_counters()
    res = ota(interp, flash, "oneshot", server.url("app.bin"), pki["ca"], "init_ret=%d" % ESP_FAIL)
    assert_failed_safely(res, before, flash, tmp_path, ESP_FAIL)
    assert "http_client_init_cb" in res["msg"]
    assert server.connections == 0  # before the first request


@pytest.mark.case("If-None-Match with the image's ETag (304)", "ESP_ERR_HTTP_NOT_MODIFIED; boot partition unchanged")
def test_unchanged_image_is_skipped_with_not_modified(interp, flash, server, pki, tmp_path):
    before = snapshot(flash)
    etag = '"%s"' % hashlib.sha256(NEW_APP).hexdigest()[:16]
    res = ota(interp, flash, "oneshot", server.url("app.bin"), pki["ca"], "init_header=If-None-Match:" + etag)
    assert_failed_safely(res, before, flash, tmp_path, 0x7009)  # ESP_ERR_HTTP_NOT_MODIFIED


@pytest.mark.case("Content-Length above a 1 MB update partition",
                  "ESP_ERR_INVALID_SIZE; nothing written, boot partition unchanged")
def test_image_too_large_for_the_partition_is_refused_in_begin(interp, tmp_path, server, pki):
    """A 1 MB update partition and a Content-Length above it: refused before anything is written."""
    path = tmp_path / "small.bin"
    table = [e._replace(size=0x100000) if e.label in ("ota_0", "ota_1") else e for e in flashsim.DEFAULT_TABLE]
    table = [e._replace(addr=0x110000) if e.label == "ota_1" else e for e in table]
    big = tmp_path / "fw"
    big.mkdir()
    (big / "big.bin").write_bytes(NEW_APP + bytes(0x100000))
    flashsim.create_flash(str(path), partitions=[e for e in table if e.label != "vfs"], app_image=TEMPLATE)
    before = snapshot(path)
    with OTAServer(big, pki) as srv:
        res = ota(interp, path, "oneshot", srv.url("big.bin"), pki["ca"])
    assert_failed_safely(res, before, path, tmp_path, 0x104)  # ESP_ERR_INVALID_SIZE
    assert "does not fit" in res["msg"]
    assert snapshot(path)["ota_1"] == before["ota_1"]


@pytest.mark.parametrize("revision,image_min,image_max,ok", [
    pytest.param(300, 0, 0, True,  # no constraints (max 0: no maximum)
                 marks=pytest.mark.case("chip v3.0, image min v0.0 and max 0 (no maximum)", "ESP_OK")),
    pytest.param(300, 0, 0xFFFF, True,  # max 0xFFFF: no maximum
                 marks=pytest.mark.case("chip v3.0, image max 0xFFFF (no maximum)", "ESP_OK")),
    pytest.param(100, 300, 0xFFFF, False,  # chip v1.0 below the image's minimum v3.0
                 marks=pytest.mark.case("chip v1.0 below the image's minimum v3.0",
                                        "ESP_ERR_INVALID_VERSION; nothing written, boot partition unchanged")),
    pytest.param(301, 0, 300, False,  # chip v3.1 above the image's maximum v3.0
                 marks=pytest.mark.case("chip v3.1 above the image's maximum v3.0",
                                        "ESP_ERR_INVALID_VERSION; nothing written, boot partition unchanged")),
    pytest.param(300, 300, 399, True,
                 marks=pytest.mark.case("chip v3.0 inside the image's window v3.0 to v3.99", "ESP_OK")),
])
def test_chip_revision_window(interp, flash, server, pki, tmp_path, fw_dir, revision, image_min, image_max, ok):
    name = "rev-%d-%d.bin" % (image_min, image_max)
    (fw_dir / name).write_bytes(imagetools.with_chip_revisions(NEW_APP, image_min, image_max))
    before = snapshot(flash)
    res = run_scenario(interp, "ota_run.py", "oneshot", server.url(name), pki["ca"],
                       env={"ESP32_FLASH": str(flash), "ESP32_CHIP_REVISION": str(revision)})
    if ok:
        assert res["ok"] is True, res.result
    else:
        assert_failed_safely(res, before, flash, tmp_path, ESP_ERR_INVALID_VERSION)
        assert "chip revision" in res["msg"]
        assert snapshot(flash)["ota_1"] == before["ota_1"]
