"""API parity with ESP-IDF's esp_https_ota: the state machine, config checks, events, the
decrypt callback. Every case runs under CPython and the MicroPython unix port."""

import pytest

from conftest import IMAGES, INTERPRETERS, run_scenario
import flashsim_path  # noqa: F401
import flashsim
import imagetools
from https_server import OTAServer

TEMPLATE = (IMAGES / "esp32-app-template.bin").read_bytes()
NEW_APP = imagetools.with_version(TEMPLATE, "5.0.0-api")
XOR = 0x5A
ENC_HEADER = b"TOY-ENCRYPTED-V1"  # 16 bytes before the encrypted image

ESP_FAIL = -1
ESP_ERR_INVALID_ARG = 0x102
ESP_ERR_INVALID_STATE = 0x103
ESP_ERR_NOT_SUPPORTED = 0x106
ESP_ERR_OTA_PARTITION_CONFLICT = 0x1501
ESP_ERR_OTA_VALIDATE_FAILED = 0x1503
ESP_ERR_HTTP_CONNECTION_CLOSED = 0x7008
ESP_ERR_HTTP_INCOMPLETE_DATA = 0x700C
(START, CONNECTED, GET_IMG_DESC, VERIFY_CHIP_ID, VERIFY_CHIP_REVISION, DECRYPT_CB, WRITE_FLASH,
 UPDATE_BOOT_PARTITION, FINISH, ABORT) = range(10)


@pytest.fixture(scope="module")
def server(pki, tmp_path_factory):
    d = tmp_path_factory.mktemp("apifw")
    (d / "app.bin").write_bytes(NEW_APP)
    (d / "corrupt.bin").write_bytes(imagetools.flip_byte(NEW_APP, 1000))
    (d / "app.enc").write_bytes(ENC_HEADER + bytes(b ^ XOR for b in NEW_APP))
    with OTAServer(d, pki) as srv:
        yield srv


def new_flash(tmp_path):
    path = tmp_path / "flash.bin"
    flashsim.create_flash(str(path), app_image=TEMPLATE)
    return path


@pytest.fixture(scope="module")
def api_results(server, pki, tmp_path_factory):
    """ota_api.py's verdicts, one run per interpreter."""
    out = {}
    for interp in INTERPRETERS:
        flash = new_flash(tmp_path_factory.mktemp("api-" + interp))
        out[interp] = run_scenario(interp, "ota_api.py", server.url("app.bin"), pki["ca"],
                                   env={"ESP32_FLASH": str(flash)}).result
    return out


STATE_MATRIX = {
    "perform_after_finish": ESP_ERR_INVALID_STATE,
    "finish_after_abort": ESP_ERR_INVALID_STATE,
    "abort_after_finish": ESP_ERR_INVALID_STATE,
    "perform_after_abort": ESP_ERR_INVALID_STATE,
    "get_img_desc_after_write": ESP_ERR_INVALID_STATE,
    "second_begin_while_open": ESP_ERR_INVALID_STATE,
    "begin_after_failed_oneshot": 0,
    "perform_not_a_handle": ESP_ERR_INVALID_ARG,
}
CONFIG_MATRIX = {
    "unknown_field": (ESP_ERR_INVALID_ARG, "no_such_field"),
    "http_config_missing": (ESP_ERR_INVALID_ARG, "http_config"),
    "http_config_not_dict": (ESP_ERR_INVALID_ARG, "http_config"),
    "config_not_dict": (ESP_ERR_INVALID_ARG, "config"),
    "bulk_flash_erase_not_bool": (ESP_ERR_INVALID_ARG, "bulk_flash_erase"),
    "max_http_request_size_negative": (ESP_ERR_INVALID_ARG, "max_http_request_size"),
    "http_client_init_cb_not_callable": (ESP_ERR_INVALID_ARG, "http_client_init_cb"),
    "decrypt_cb_not_callable": (ESP_ERR_INVALID_ARG, "decrypt_cb"),
    "enc_img_header_size_str": (ESP_ERR_INVALID_ARG, "enc_img_header_size"),
    "write_buffer_size_odd": (ESP_ERR_INVALID_ARG, "write_buffer_size"),
    "write_buffer_size_huge": (ESP_ERR_INVALID_ARG, "write_buffer_size of 1099511627776 bytes is larger"),
    "partition_str": (ESP_ERR_INVALID_ARG, "partition"),
    "partition_running": (ESP_ERR_OTA_PARTITION_CONFLICT, "running partition"),
    "partition_data": (ESP_ERR_INVALID_ARG, "not an app partition"),
    "partition_final_copy": (ESP_ERR_NOT_SUPPORTED, "partition"),
    "ota_resumption_from_zero": (0, ""),
    "url_missing": (ESP_ERR_INVALID_ARG, "url"),
    "http_config_unknown_field": (ESP_ERR_INVALID_ARG, "colour"),
    "key_not_str": (ESP_ERR_INVALID_ARG, "http_config.7 is unknown"),
    "user_agent_bytes": (ESP_ERR_INVALID_ARG, "user_agent has the wrong type"),
    "username_bytes": (ESP_ERR_INVALID_ARG, "username has the wrong type"),
    "accepted_fields": (0, ""),
}


CODE_NAMES = {0: "ESP_OK", ESP_FAIL: "ESP_FAIL", ESP_ERR_INVALID_ARG: "ESP_ERR_INVALID_ARG",
              ESP_ERR_INVALID_STATE: "ESP_ERR_INVALID_STATE", ESP_ERR_NOT_SUPPORTED: "ESP_ERR_NOT_SUPPORTED",
              ESP_ERR_OTA_PARTITION_CONFLICT: "ESP_ERR_OTA_PARTITION_CONFLICT"}
STATE_WHAT = {  # the case markers: what each STATE_MATRIX case does (scenarios/ota_api.py)
    "perform_after_finish": "perform() on a finished handle",
    "finish_after_abort": "finish() on an aborted handle",
    "abort_after_finish": "abort() on a finished handle",
    "perform_after_abort": "perform() on an aborted handle",
    "get_img_desc_after_write": "get_img_desc() after image data was written",
    "second_begin_while_open": "a second begin() while an OTA is open",
    "begin_after_failed_oneshot": "begin() after a failed one-shot esp_https_ota() (404)",
    "perform_not_a_handle": "perform() on an object that is not a handle",
}
CONFIG_WHAT = {  # the case markers: what each CONFIG_MATRIX case passes to begin()
    "unknown_field": "unknown config field",
    "http_config_missing": "config without http_config",
    "http_config_not_dict": "http_config given as a URL string",
    "config_not_dict": "config that is a list",
    "bulk_flash_erase_not_bool": "bulk_flash_erase given as a string",
    "max_http_request_size_negative": "max_http_request_size -1",
    "http_client_init_cb_not_callable": "http_client_init_cb that is not callable (an int)",
    "decrypt_cb_not_callable": "decrypt_cb that is not callable (a string)",
    "enc_img_header_size_str": "enc_img_header_size given as a string",
    "write_buffer_size_odd": "write_buffer_size 1000 (not a multiple of 4096)",
    "write_buffer_size_huge": "write_buffer_size 1 TiB (a multiple of 4096, larger than the partition)",
    "partition_str": "partition given as a label string",
    "partition_running": "partition set to the running partition",
    "partition_data": "partition set to a data partition (nvs)",
    "partition_final_copy": "partition with finalize_with_copy",
    "ota_resumption_from_zero": "ota_resumption with 0 bytes written, then abort()",
    "url_missing": "http_config without url",
    "http_config_unknown_field": "unknown http_config field",
    "key_not_str": "http_config key that is not a str (7)",
    "user_agent_bytes": "http_config.user_agent given as bytes",
    "username_bytes": "http_config.username given as bytes",
    "accepted_fields": "config with buffer_caps, partition as a staging struct, ota_image_bytes_written 0",
}


@pytest.mark.parametrize("case", [pytest.param(c, id=c, marks=pytest.mark.case(
    STATE_WHAT[c], CODE_NAMES[STATE_MATRIX[c]])) for c in sorted(STATE_MATRIX)])
def test_state_machine(interp, api_results, case):
    assert api_results[interp][case][0] == STATE_MATRIX[case], api_results[interp][case]


@pytest.mark.parametrize("case", [pytest.param(c, id=c, marks=pytest.mark.case(
    CONFIG_WHAT[c], "ESP_OK; no exception" if CONFIG_MATRIX[c][0] == 0 else "%s (%s)" % (
        CODE_NAMES[CONFIG_MATRIX[c][0]], CONFIG_MATRIX[c][1]))) for c in sorted(CONFIG_MATRIX)])
def test_config_errors_name_the_field(interp, api_results, case):
    code, word = CONFIG_MATRIX[case]
    got_code, msg = api_results[interp][case]
    assert got_code == code, (got_code, msg)
    if code == 0:
        assert msg == ""  # accepted: no exception at all
    else:
        assert word and word in msg, (word, msg)  # an error names what was wrong


@pytest.mark.case("get_image_len_read, get_image_size and get_status_code on a finished handle", "-1 each")
def test_counters_on_a_spent_handle_are_minus_one(interp, api_results):
    assert api_results[interp]["counters_after_finish"] == [-1, -1, -1]


def ota(interp, flash, mode, url, ca, *opts):
    return run_scenario(interp, "ota_run.py", mode, url, ca, *opts, env={"ESP32_FLASH": str(flash)})


@pytest.mark.case("step-by-step OTA of a good image", "ESP_OK; events START to FINISH in ESP-IDF's order")
def test_event_sequence_of_a_good_ota(interp, server, pki, tmp_path):
    res = ota(interp, new_flash(tmp_path), "steps", server.url("app.bin"), pki["ca"])
    assert res["ok"] is True, res.result
    ev = res["events"]
    assert ev[:5] == [[START, None], [CONNECTED, None], [GET_IMG_DESC, None], [VERIFY_CHIP_ID, 0],
                      [VERIFY_CHIP_REVISION, 0]]
    writes = [d for e, d in ev[5:-2]]
    assert all(e == WRITE_FLASH for e, d in ev[5:-2])
    assert writes == list(range(4096, len(NEW_APP), 4096)) + [-(-len(NEW_APP) // 4096) * 4096]
    assert ev[-2:] == [[UPDATE_BOOT_PARTITION, 0x11], [FINISH, None]]


@pytest.mark.case("one-shot OTA of a good image, gc.threshold(12345) set by the application",
                  "ESP_OK; begin()'s code (start.py) and finish()'s end (verdict.py) loaded, status.py not;"
                  " gc.threshold() as the application set it")
def test_a_plain_ota_loads_no_status_code_and_keeps_the_gc_threshold(interp, server, pki, tmp_path):
    res = ota(interp, new_flash(tmp_path), "oneshot", server.url("app.bin"), pki["ca"], "gc_threshold=12345")
    assert res["ok"] is True, res.result
    assert {"start", "writer", "config", "http", "verdict"} <= set(res["imported"]), res["imported"]
    assert "status" not in res["imported"]  # a 200: no redirect, 401 or error status to map
    assert res["gc_threshold"] == res["gc_threshold_before"] > 12000


@pytest.mark.case("redirect, then a failed begin() (404), gc.threshold(12345) set by the application",
                  "status.py loaded for each; ESP_OK, then ESP_FAIL naming 404; gc.threshold() as set, after both")
def test_other_statuses_load_status_code_and_keep_the_gc_threshold(interp, server, pki, tmp_path):
    res = ota(interp, new_flash(tmp_path), "oneshot", server.url("redirect", to="app.bin"), pki["ca"],
              "gc_threshold=12345")
    assert res["ok"] is True, res.result
    assert "status" in res["imported"] and res["gc_threshold"] == res["gc_threshold_before"] > 12000
    res = ota(interp, new_flash(tmp_path), "oneshot", server.url("missing.bin"), pki["ca"], "gc_threshold=12345")
    assert res["code"] == ESP_FAIL and "404" in res["msg"], res.result
    assert "status" in res["imported"] and "verdict" not in res["imported"]
    assert res["gc_threshold"] == res["gc_threshold_before"] > 12000  # restored on the failure path too


@pytest.mark.case("one-shot OTA of a corrupt image", "ESP_ERR_OTA_VALIDATE_FAILED; events end in ABORT, no FINISH")
def test_event_sequence_of_a_failing_oneshot(interp, server, pki, tmp_path):
    res = ota(interp, new_flash(tmp_path), "oneshot", server.url("corrupt.bin"), pki["ca"])
    assert res["code"] == ESP_ERR_OTA_VALIDATE_FAILED
    ids = [e for e, d in res["events"]]
    assert ids[:4] == [START, CONNECTED, VERIFY_CHIP_ID, VERIFY_CHIP_REVISION]
    assert ids[-1] == ABORT and UPDATE_BOOT_PARTITION not in ids and FINISH not in ids


@pytest.mark.case("abort() after 3 perform() calls", "events START to WRITE_FLASH twice, then ABORT")
def test_event_sequence_of_an_aborted_ota(interp, server, pki, tmp_path):
    res = ota(interp, new_flash(tmp_path), "abort", server.url("app.bin"), pki["ca"], "perform_calls=3")
    assert [e for e, d in res["events"]] == [START, CONNECTED, GET_IMG_DESC, VERIFY_CHIP_ID, VERIFY_CHIP_REVISION,
                                             WRITE_FLASH, WRITE_FLASH, ABORT]


@pytest.mark.case("perform() called again after it raised (body cut at 50,000 bytes)",
                  "again ESP_ERR_HTTP_CONNECTION_CLOSED, not a crash; abort() works; boot partition unchanged")
def test_perform_after_a_failed_perform_raises_connection_closed(interp, server, pki, tmp_path):
    res = run_scenario(interp, "perform_after_error.py", server.url("app.bin", cut_after=50000), pki["ca"],
                       env={"ESP32_FLASH": str(new_flash(tmp_path))})
    assert res["first"][0] in (ESP_ERR_HTTP_INCOMPLETE_DATA, ESP_ERR_HTTP_CONNECTION_CLOSED), res.result
    assert res["again"][0] == ESP_ERR_HTTP_CONNECTION_CLOSED, res.result
    assert "closed by an earlier error" in res["again"][1]
    assert res["abort"] == [0, ""] and res["boot"] == "ota_0"


@pytest.mark.case("an event handler that raises", "ESP_OK; error printed, boots the new image")
def test_failing_event_handler_does_not_break_the_ota(interp, server, pki, tmp_path):
    flash = new_flash(tmp_path)
    res = run_scenario(interp, "ota_run.py", "oneshot", server.url("app.bin"), pki["ca"], "bad_handler=true",
                       env={"ESP32_FLASH": str(flash)})
    assert res["ok"] is True, res.result
    assert "event handler failed" in res.stdout
    assert flashsim.boot(flashsim.Flash(str(flash))) == "ota_1"


@pytest.mark.case("XOR-encrypted image behind a 16-byte header, decrypt_cb and enc_img_header_size",
                  "ESP_OK; size less the header, decrypted image written, boots it")
def test_decrypt_cb_undoes_the_transform_and_changes_the_length(interp, server, pki, tmp_path):
    flash = new_flash(tmp_path)
    res = ota(interp, flash, "steps", server.url("app.enc"), pki["ca"], "decrypt_xor=%d" % XOR,
              "enc_img_header_size=%d" % len(ENC_HEADER))
    assert res["ok"] is True, res.result
    assert res["size"] == len(NEW_APP)  # Content-Length less enc_img_header_size
    assert res["desc"]["version"] == "5.0.0-api"
    assert res["len_read"] == len(NEW_APP)
    ids = [e for e, d in res["events"]]
    assert DECRYPT_CB in ids and ids.index(DECRYPT_CB) < ids.index(VERIFY_CHIP_ID)
    data = flash.read_bytes()
    assert data[0x310000:0x310000 + len(NEW_APP)] == NEW_APP
    assert flashsim.boot(flashsim.Flash(str(flash))) == "ota_1"


@pytest.mark.case("decrypt_cb returns ESP_FAIL on its 5th call", "ESP_FAIL; ABORT event, boot partition unchanged")
def test_decrypt_cb_error_aborts_and_leaves_boot_untouched(interp, server, pki, tmp_path):
    flash = new_flash(tmp_path)
    res = ota(interp, flash, "oneshot", server.url("app.enc"), pki["ca"], "decrypt_xor=%d" % XOR,
              "enc_img_header_size=16", "decrypt_fail_at=5")
    assert res["ok"] is False and res["code"] == ESP_FAIL
    assert "decrypt_cb returned ESP_FAIL" in res["msg"]
    assert res["events"][-1][0] == ABORT
    assert flashsim.boot(flashsim.Flash(str(flash))) == "ota_0"


@pytest.mark.case("encrypted image without decrypt_cb", "ESP_FAIL; nothing written")
def test_without_decrypt_cb_the_encrypted_image_is_refused_before_writing(interp, server, pki, tmp_path):
    flash = new_flash(tmp_path)
    res = ota(interp, flash, "oneshot", server.url("app.enc"), pki["ca"])
    assert res["ok"] is False and res["code"] == ESP_FAIL
    assert set(flash.read_bytes()[0x310000:0x320000]) == {0xFF}


@pytest.mark.parametrize("erase", [
    pytest.param("bulk", marks=pytest.mark.case("bulk_flash_erase true", "ESP_OK; the whole update partition erased")),
    pytest.param("sector", marks=pytest.mark.case("sector erase (the default)",
                                                  "ESP_OK; only the image's sectors erased")),
])
def test_flash_erase_modes(interp, server, pki, tmp_path, erase):
    flash = new_flash(tmp_path)
    opts = ["bulk_flash_erase=true"] if erase == "bulk" else []
    res = ota(interp, flash, "oneshot", server.url("app.bin"), pki["ca"], *opts)
    assert res["ok"] is True, res.result
    assert flash.read_bytes()[0x310000:0x310000 + len(NEW_APP)] == NEW_APP
    # Bulk: the whole update partition up front; else only the image's sectors.
    # (otadata's two sectors are erased by set_boot in both modes.)
    part = [e for e in flashsim.DEFAULT_TABLE if e.label == "ota_1"][0]
    image_sectors = -(-len(NEW_APP) // 4096) * 4096
    otadata = res["flash"]["erased_bytes"] - (part.size if erase == "bulk" else image_sectors)
    assert 0 <= otadata <= 2 * 4096, res["flash"]


@pytest.mark.case("abort part-way, then ota_resumption with the bytes written (+100)",
                  "ESP_OK; only the rest fetched, boots the new image")
def test_ota_resumption_continues_after_the_bytes_already_written(interp, server, pki, tmp_path):
    """Abort part-way (as a reset would), then resume with the last WRITE_FLASH count: only the
    rest is downloaded, the earlier bytes are re-checked from flash, and the image boots."""
    flash = new_flash(tmp_path)
    first = ota(interp, flash, "abort", server.url("app.bin"), pki["ca"], "perform_calls=40")
    written = [d for e, d in first["events"] if e == WRITE_FLASH][-1]
    assert 100000 < written < len(NEW_APP)
    server.reset_counters()
    second = ota(interp, flash, "oneshot", server.url("app.bin"), pki["ca"], "ota_resumption=true",
                 "ota_image_bytes_written=%d" % (written + 100))  # a torn sector is fetched again
    assert second["ok"] is True, second.result
    assert [r["headers"].get("range") for r in server.requests] == ["bytes=%d-" % written]
    ids = [e for e, d in second["events"]]
    assert VERIFY_CHIP_ID in ids  # the header, read back from flash, is checked again
    assert [d for e, d in second["events"] if e == WRITE_FLASH][0] == written + 4096
    assert flash.read_bytes()[0x310000:0x310000 + len(NEW_APP)] == NEW_APP
    assert flashsim.boot(flashsim.Flash(str(flash))) == "ota_1"


@pytest.mark.case("resume from a server that ignores Range (200, whole body): the prefix is skipped", "ESP_OK")
@pytest.mark.parametrize("partial", [False, True], ids=["one-request", "partial"])
def test_ota_resumption_from_a_server_that_ignores_range(interp, server, pki, tmp_path, partial):
    flash = new_flash(tmp_path)
    first = ota(interp, flash, "abort", server.url("app.bin"), pki["ca"], "perform_calls=40")
    written = [d for e, d in first["events"] if e == WRITE_FLASH][-1]
    server.reset_counters()
    opts = ["partial_http_download=true", "max_http_request_size=65536"] if partial else []
    second = ota(interp, flash, "oneshot", server.url("app.bin", ignore_range=1), pki["ca"], "ota_resumption=true",
                 "ota_image_bytes_written=%d" % written, *opts)
    assert second["ok"] is True, second.result
    assert server.requests[0]["headers"].get("range", "").startswith("bytes=%d-" % written)
    assert [r["status"] for r in server.requests] == [200]  # one whole body, its prefix skipped
    assert [d for e, d in second["events"] if e == WRITE_FLASH][0] == written + 4096
    assert flash.read_bytes()[0x310000:0x310000 + len(NEW_APP)] == NEW_APP
    assert flashsim.boot(flashsim.Flash(str(flash))) == "ota_1"


@pytest.mark.case("ota_resumption with partial_http_download over another image's written bytes",
                  "ESP_ERR_OTA_VALIDATE_FAILED; boot partition unchanged")
def test_ota_resumption_with_partial_download_and_a_wrong_offset(interp, server, pki, tmp_path):
    """Resuming over bytes that are not this image's: the SHA-256 catches it, boot untouched."""
    flash = new_flash(tmp_path)
    first = ota(interp, flash, "abort", server.url("corrupt.bin"), pki["ca"], "perform_calls=40")
    written = [d for e, d in first["events"] if e == WRITE_FLASH][-1]
    second = ota(interp, flash, "oneshot", server.url("app.bin"), pki["ca"], "ota_resumption=true",
                 "ota_image_bytes_written=%d" % written, "partial_http_download=true")
    assert second["ok"] is False and second["code"] == ESP_ERR_OTA_VALIDATE_FAILED
    assert flashsim.boot(flashsim.Flash(str(flash))) == "ota_0"
