"""Compressed images: a body that starts with a zlib or gzip header is inflated on the fly
(inflate.py, MicroPython's deflate module; shims/cpython/deflate.py under CPython) into the same
writer, its window allocated in begin() and capped by max_inflate_window; Content-Encoding: gzip
with http_config.accept_encoding. Under CPython and the MicroPython unix port."""

import gzip
import hashlib
import sys
import zlib
from pathlib import Path

import pytest

from conftest import IMAGES, OTA_1, ROOT, boots, run_scenario
import flashsim_path  # noqa: F401  (puts shims/ on sys.path)
import imagetools
from https_server import OTAServer

sys.path.insert(0, str(ROOT / "tools"))
from compress_image import compress  # noqa: E402

TEMPLATE = (IMAGES / "esp32-app-template.bin").read_bytes()
NEW_APP = imagetools.with_version(TEMPLATE, "3.0.0-zlib")

ESP_ERR_NOT_SUPPORTED = 0x106
ESP_ERR_OTA_VALIDATE_FAILED = 0x1503
EV_WRITE_FLASH = 6


def zlib_image(wbits):
    return compress(NEW_APP, wbits)


@pytest.fixture(scope="module")
def server(pki, tmp_path_factory):
    d = tmp_path_factory.mktemp("zfw")
    for w in (9, 10, 12, 15):
        (d / ("app.z%d" % w)).write_bytes(zlib_image(w))
    (d / "app.gz").write_bytes(compress(NEW_APP, use_gzip=True))
    (d / "app.bin").write_bytes(NEW_APP)
    z = bytearray(zlib_image(12))
    z[len(z) // 2] ^= 0x5A
    (d / "corrupt.z12").write_bytes(bytes(z))
    (d / "truncated.z12").write_bytes(zlib_image(12)[:len(z) * 2 // 3])
    with OTAServer(d, pki) as srv:
        yield srv


def ota(interp, flash_path, url, ca, *opts, mode="steps"):
    return run_scenario(interp, "ota_run.py", mode, url, ca, *opts, env={"ESP32_FLASH": str(flash_path)})


def assert_booted_new_image(res, flash_path, tmp_path, body_size):
    assert res["ok"] is True, res.result
    assert res["size"] == body_size  # get_image_size(): the body (compressed) size
    assert res["len_read"] == res["written"] == len(NEW_APP)  # get_image_written(): inflated bytes
    data = flash_path.read_bytes()
    assert data[OTA_1:OTA_1 + len(NEW_APP)] == NEW_APP  # the flash holds the image, inflated
    written = [e[1] for e in res["events"] if e[0] == EV_WRITE_FLASH]
    assert written[-1] >= len(NEW_APP)  # WRITE_FLASH counts inflated bytes
    assert boots(flash_path, tmp_path) == "ota_1"


def assert_failed_safely(res, flash_path, tmp_path, code, before):
    assert res["ok"] is False, res.result
    assert res["code"] == code, res.result
    data = flash_path.read_bytes()
    assert hashlib.sha256(data[:OTA_1]).hexdigest() == before  # otadata and ota_0 untouched
    assert boots(flash_path, tmp_path) == "ota_0"


@pytest.mark.parametrize("wbits", [9, 10, 12, 15])
@pytest.mark.case("zlib-compressed image (wbits 9..15), detected by its header",
                  "ESP_OK; inflated into flash byte for byte, boots the new image")
def test_zlib_image_is_inflated_and_boots(interp, flash, server, pki, tmp_path, wbits):
    res = ota(interp, flash, server.url("app.z%d" % wbits), pki["ca"])
    assert_booted_new_image(res, flash, tmp_path, len(zlib_image(wbits)))


@pytest.mark.case("gzip-compressed image (no Content-Encoding)", "ESP_OK; inflated, boots the new image")
def test_gzip_image_is_inflated_and_boots(interp, flash, server, pki, tmp_path):
    res = ota(interp, flash, server.url("app.gz"), pki["ca"])
    assert_booted_new_image(res, flash, tmp_path, len(compress(NEW_APP, use_gzip=True)))


@pytest.mark.case("plain image beside the compressed ones", "ESP_OK; unchanged path, boots the new image")
def test_plain_image_still_works(interp, flash, server, pki, tmp_path):
    res = ota(interp, flash, server.url("app.bin"), pki["ca"])
    assert_booted_new_image(res, flash, tmp_path, len(NEW_APP))
    assert "accept-encoding" not in server.requests[-1]["headers"]  # never sent without the option


@pytest.mark.parametrize("name", ["corrupt.z12", "truncated.z12"])
@pytest.mark.case("corrupt (a flipped byte) or truncated compressed stream",
                  "ESP_ERR_OTA_VALIDATE_FAILED; boot partition unchanged")
def test_corrupt_or_truncated_stream_fails_validation(interp, flash, server, pki, tmp_path, name):
    before = hashlib.sha256(flash.read_bytes()[:OTA_1]).hexdigest()
    res = ota(interp, flash, server.url(name), pki["ca"])
    assert_failed_safely(res, flash, tmp_path, ESP_ERR_OTA_VALIDATE_FAILED, before)
    # an inflate error ("compressed image is corrupt/truncated at compressed byte N") or, when
    # the flipped byte still inflates, the image's own checks on the garbled output


@pytest.mark.case("compressed image whose window exceeds max_inflate_window",
                  "ESP_ERR_NOT_SUPPORTED in begin(), naming both sizes; nothing erased")
def test_window_larger_than_the_cap_is_refused_before_any_flash_write(interp, flash, server, pki, tmp_path):
    before = hashlib.sha256(flash.read_bytes()[:OTA_1]).hexdigest()
    res = ota(interp, flash, server.url("app.z15"), pki["ca"], "max_inflate_window=4096")
    assert_failed_safely(res, flash, tmp_path, ESP_ERR_NOT_SUPPORTED, before)
    assert "32768" in res["msg"] and "4096" in res["msg"], res["msg"]
    assert res["flash"]["erase_calls"] == 0 and res["flash"]["write_calls"] == 0
    ok = ota(interp, flash, server.url("app.z12"), pki["ca"], "max_inflate_window=4096")
    assert ok["ok"] is True, ok.result  # a window of exactly the cap is taken


@pytest.mark.case("partial_http_download (16 KiB ranges) of a compressed body",
                  "ESP_OK; the Range loop below the inflater, boots the new image")
def test_partial_download_of_a_compressed_body(interp, flash, server, pki, tmp_path):
    server.reset_counters()
    body = zlib_image(12)
    res = ota(interp, flash, server.url("app.z12"), pki["ca"], "partial_http_download=true",
              "max_http_request_size=16384")
    assert_booted_new_image(res, flash, tmp_path, len(body))
    assert len(server.requests) == -(-len(body) // 16384)


@pytest.mark.case("Content-Encoding: gzip with http_config.accept_encoding",
                  "ESP_OK; Accept-Encoding: gzip sent, body inflated, boots the new image")
def test_content_encoding_gzip(interp, flash, server, pki, tmp_path):
    server.reset_counters()
    res = ota(interp, flash, server.url("app.bin", content_encoding="gzip"), pki["ca"], "http.accept_encoding=gzip")
    assert_booted_new_image(res, flash, tmp_path, len(gzip.compress(NEW_APP, compresslevel=6, mtime=0)))
    assert server.requests[0]["headers"].get("accept-encoding") == "gzip"


@pytest.mark.case("ota_resumption (auto) of a compressed body", "ESP_OK from byte 0; no progress kept")
def test_auto_resume_keeps_no_progress_for_a_compressed_body(interp, flash, server, pki, tmp_path):
    res = ota(interp, flash, server.url("app.z12"), pki["ca"], "ota_resumption=true")
    assert_booted_new_image(res, flash, tmp_path, len(zlib_image(12)))


@pytest.mark.case("ota_resumption with ota_image_bytes_written of a Content-Encoding: gzip body",
                  "ESP_ERR_NOT_SUPPORTED in begin()")
def test_explicit_resume_of_an_encoded_body_is_refused(interp, flash, server, pki, tmp_path):
    res = ota(interp, flash, server.url("app.bin", content_encoding="gzip"), pki["ca"], "ota_resumption=true",
              "ota_image_bytes_written=65536")
    assert res["ok"] is False and res["code"] == ESP_ERR_NOT_SUPPORTED, res.result
    assert "compressed" in res["msg"]


def test_accept_encoding_other_than_gzip_is_refused(interp, flash, server, pki):
    res = ota(interp, flash, server.url("app.bin"), pki["ca"], "http.accept_encoding=br")
    assert res["ok"] is False and res["code"] == 0x102 and "accept_encoding" in res["msg"], res.result


NO_HEAP = """
import gc
from esp_https_ota.errors import OTAError
from esp_https_ota.inflate import InflateStage

class Mem:  # a gzip stream, past the 2 bytes begin() peeked
    def __init__(self, data):
        self.data = data
        self.pos = 2

    def readinto(self, buf, n):
        k = min(n, len(self.data) - self.pos)
        for i in range(k):
            buf[i] = self.data[self.pos + i]
        self.pos += k
        return k

src = Mem(bytes.fromhex("HEX"))
fill = []
gc.collect()
try:  # the heap filled with 1 KiB blocks, then 8 KiB given back: room for all but the window
    while True:
        fill.append(bytearray(1024))
except MemoryError:
    pass
del fill[-8:]
gc.collect()
try:
    InflateStage(src, 0x1F, 0x8B, 32768)
    msg = "no error"
except OTAError as e:
    msg = "%d %s" % (e.code, e.msg)
fill = None
gc.collect()
print("RESULT", '{"msg": "%s"}' % msg)
"""


@pytest.mark.case("no heap for the compressed image's window", "ESP_ERR_NO_MEM naming the window and the fix")
def test_no_heap_for_the_window_is_no_mem(tmp_path):
    script = tmp_path / "no_heap.py"
    script.write_text(NO_HEAP.replace("HEX", gzip.compress(NEW_APP[:8192], mtime=0).hex()))
    res = run_scenario("micropython", script)
    msg = res["msg"]
    assert msg.startswith("%d " % 0x101) and "32768-byte window" in msg and "--wbits" in msg, msg
