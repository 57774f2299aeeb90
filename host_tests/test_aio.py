"""The asyncio API (esp_https_ota.aio): an OTA beside a task that ticks every 10 ms, under the
MicroPython unix port (aio.py uses MicroPython's asyncio streams: Stream.readinto, wait_for_ms).

The server paces the body (pace_ms between 16 KiB pieces) like a slow link. A step that waited
for the network would show as a gap between ticks of at least the pace; the read-ahead also
counts every read it could not serve without waiting (`blocked`), which must stay 0."""

import random

import pytest

from conftest import IMAGES, OTA_1, boots, run_scenario
import flashsim_path  # noqa: F401  (puts shims/ on sys.path)
import flashsim
import imagetools
from https_server import OTAServer

MP = "micropython"
TEMPLATE = (IMAGES / "esp32-app-template.bin").read_bytes()
NEW_APP = imagetools.with_version(TEMPLATE, "4.0.0-aio")
PACE_MS = 100

ESP_ERR_NOT_SUPPORTED = 0x106
ESP_ERR_HTTP_CONNECT = 0x7002


@pytest.fixture(scope="module")
def server(pki, tmp_path_factory):
    import sys
    from conftest import ROOT

    sys.path.insert(0, str(ROOT / "tools"))
    from compress_image import compress
    from make_patch import make_patch

    d = tmp_path_factory.mktemp("aiofw")
    (d / "app.bin").write_bytes(NEW_APP)
    (d / "app.gz").write_bytes(compress(NEW_APP, use_gzip=True))
    (d / "app.patch").write_bytes(make_patch(TEMPLATE, NEW_APP)[0])
    with OTAServer(d, pki) as srv:
        yield srv


def aio_ota(flash_path, mode, url, ca, *opts, heap=None):
    return run_scenario(MP, "aio_run.py", mode, url, ca, *opts, env={"ESP32_FLASH": str(flash_path)}, heap=heap)


def untouched(flash_path):
    """otadata and the running app (ota_0), which an aborted OTA must leave as they were."""
    data = flash_path.read_bytes()
    table = flashsim.read_partition_table(flashsim.Flash(str(flash_path)))
    return [data[e.addr:e.addr + e.size] for e in table if e.label in ("otadata", "ota_0")]


def assert_new_image_boots(res, flash_path, tmp_path):
    assert res["ok"] is True, res.result
    assert flash_path.read_bytes()[OTA_1:OTA_1 + len(NEW_APP)] == NEW_APP
    assert boots(flash_path, tmp_path) == "ota_1"
    assert res["again"] is True, res.result


@pytest.mark.parametrize("mode, query", [
    pytest.param("oneshot", "app.bin?pace_ms=%d" % PACE_MS, id="oneshot-content-length", marks=pytest.mark.case(
        "await async_https_ota() beside a 10 ms ticker, body paced 100 ms per 16 KiB",
        "ESP_OK; boots the new image; longest tick gap below the pace, no blocking read")),
    pytest.param("steps", "app.bin?chunk_sizes=7,4096,1&pace_ms=%d" % (PACE_MS // 20), id="steps-chunked",
                 marks=pytest.mark.case("aio.begin / perform / finish, chunked body (7, 4096, 1-byte chunks)",
                                        "ESP_OK; boots the new image; no blocking read")),
    pytest.param("steps", "app.gz?pace_ms=%d" % PACE_MS, id="steps-gzip", marks=pytest.mark.case(
        "aio steps, gzip-compressed image, paced", "ESP_OK; inflated, boots the new image; no blocking read")),
    pytest.param("steps", "app.patch?pace_ms=%d" % PACE_MS, id="steps-delta", marks=pytest.mark.case(
        "aio steps, heatshrink delta patch (esp_delta_ota header), paced",
        "ESP_OK; patched against the running app, boots the new image; no blocking read")),
])
def test_async_ota_never_waits_for_the_network_inside_a_step(flash, server, pki, tmp_path, mode, query):
    # A gzip body's 32 KiB window must be one block. After an asyncio OTA in the same process, the
    # second begin() (from .py: it compiles its modules again) finds one in a 256 KiB heap or not
    # depending on where the compiles land: measured, 240 and 264-320 KiB pass, 248 and 256 fail.
    # This case is about the pacing and the second begin(), not the smallest heap (bench/heap.py).
    res = aio_ota(flash, mode, server.url(query), pki["ca"], heap="320k" if ".gz" in query else None)
    assert_new_image_boots(res, flash, tmp_path)
    if mode == "steps":
        assert res["blocked"] == 0, res.result
    # A step that waited for the next paced piece would take about PACE_MS (a functional check of
    # where the waits happen, with the pace as the yardstick, not a speed target).
    if "pace_ms=%d" % PACE_MS in query:
        assert res["gap_ms"]["download"] < PACE_MS, res.result
    print("longest tick gaps (ms):", res["gap_ms"], "longest step (ms):", res["step_ms"], "ticks:", res["ticks"])


# Cancellation points: the first step (the head), then three seeded ones in the 147-step download.
CANCEL_AT = [1] + [random.Random(seed).randint(2, 140) for seed in (15, 16, 17)]


@pytest.mark.parametrize("cancel_after", CANCEL_AT, ids=lambda n: "after-%d-steps" % n)
@pytest.mark.case("task.cancel() of an aio OTA with ota_resumption, after the first and 3 seeded perform() steps",
                  "cancelled, socket closed; boot untouched; the next begin() resumes what was saved (64 KiB steps)")
def test_cancel_is_abort_and_keeps_resumable_progress(flash, server, pki, tmp_path, cancel_after):
    before = untouched(flash)
    res = aio_ota(flash, "steps", server.url("app.bin"), pki["ca"], "cancel_after=%d" % cancel_after,
                  "ota_resumption=true")
    assert res.result.get("cancelled") is True and res["socket_closed"] is True, res.result
    assert untouched(flash) == before
    assert boots(flash, tmp_path) == "ota_0"
    assert res["again"] is True, res.result
    saved = (cancel_after - 1) * 4096 // 65536 * 65536  # the first step checks the head, each next one flushes 4 KiB
    # get_image_len_read() after begin(): the bytes resumed, -1 when nothing was
    assert res["again_resumes"] == (saved or -1), res.result


@pytest.mark.case("aio OTA cancelled after 40 steps, then async_https_ota() again, both with ota_resumption",
                  "ESP_OK; the second one resumes (If-Range) and the image boots")
def test_cancelled_async_ota_resumes_through_the_async_api(flash, server, pki, tmp_path):
    first = aio_ota(flash, "steps", server.url("app.bin"), pki["ca"], "cancel_after=40", "ota_resumption=true")
    assert first.result.get("cancelled") is True and first["again_resumes"] == 131072, first.result
    res = aio_ota(flash, "oneshot", server.url("app.bin"), pki["ca"], "ota_resumption=true")
    assert_new_image_boots(res, flash, tmp_path)
    ranges = [{k.lower(): v for k, v in r["headers"].items()}.get("range") for r in server.requests]
    assert "bytes=131072-" in ranges, ranges


@pytest.mark.case("task.cancel() during aio.begin() (at once, then after 20 ms)", "cancelled; nothing written, boot untouched")
@pytest.mark.parametrize("ms", [0, 20])
def test_cancel_during_begin_leaves_nothing_open(flash, server, pki, tmp_path, ms):
    before = untouched(flash)
    res = aio_ota(flash, "oneshot", server.url("app.bin?delay_ms=200"), pki["ca"], "cancel_ms=%d" % ms)
    assert res.result.get("cancelled") is True, res.result
    assert untouched(flash) == before and boots(flash, tmp_path) == "ota_0"
    assert res["again"] is True, res.result


@pytest.mark.case("aio with a CA that did not sign the server's certificate", "ESP_ERR_HTTP_CONNECT; boot untouched")
def test_wrong_ca_is_http_connect(flash, server, pki, tmp_path):
    res = aio_ota(flash, "oneshot", server.url("app.bin"), pki["other_ca"])
    assert res["ok"] is False and res["code"] == ESP_ERR_HTTP_CONNECT, res.result
    assert boots(flash, tmp_path) == "ota_0"


@pytest.mark.case("aio with partial_http_download", "ESP_ERR_NOT_SUPPORTED (not in the asyncio API yet)")
def test_partial_download_is_not_supported_yet(flash, server, pki):
    res = aio_ota(flash, "oneshot", server.url("app.bin"), pki["ca"], "partial_http_download=true")
    assert res["ok"] is False and res["code"] == ESP_ERR_NOT_SUPPORTED, res.result


@pytest.mark.case("aio through a 302 redirect", "ESP_OK; the redirect followed with awaits, boots the new image")
def test_redirect_is_followed(flash, server, pki, tmp_path):
    res = aio_ota(flash, "oneshot", server.url("redirect?to=/app.bin"), pki["ca"])
    assert_new_image_boots(res, flash, tmp_path)
