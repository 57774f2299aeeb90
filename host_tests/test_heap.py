"""No perform() call allocates once the image head is in: every call from the first write to
ESP_OK runs under micropython.heap_lock() on the unix port, for every body shape, inside Range
requests, through a decrypt_cb stage, through the inflate stage (compressed bodies) and through
the delta stage (delta patches, with and without their saved progress).
(CPython has no heap lock: MicroPython only.)"""

import gzip
import sys
import zlib

import pytest

from conftest import IMAGES, ROOT, run_scenario
import flashsim_path  # noqa: F401
import flashsim
import imagetools
from https_server import OTAServer

sys.path.insert(0, str(ROOT / "tools"))
from make_patch import make_patch  # noqa: E402

TEMPLATE = (IMAGES / "esp32-app-template.bin").read_bytes()
NEW_APP = imagetools.with_version(TEMPLATE, "7.0.0-heap")  # 601,808 bytes: not a multiple of 4096
XOR = 0xA5
ENC_HEADER = b"TOY-ENCRYPTED-V1"

CASES = {
    "content-length": ("app.bin", {}, []),
    "64k-buffer": ("app.bin", {}, ["write_buffer_size=65536"]),
    "bulk-erase": ("app.bin", {}, ["bulk_flash_erase=true"]),
    "chunked": ("app.bin", {"chunk_sizes": "5000,3000,7,9000"}, []),
    "close-delimited": ("app.bin", {"http10": 1}, []),
    "ranges-64k": ("app.bin", {}, ["partial_http_download=true", "max_http_request_size=65536"]),
    "ranges-4k": ("app.bin", {}, ["partial_http_download=true", "max_http_request_size=4096"]),
    "ranges-odd": ("app.bin", {}, ["partial_http_download=true", "max_http_request_size=5000"]),
    "decrypted": ("app.enc", {}, ["decrypt_xor=%d" % XOR, "enc_img_header_size=%d" % len(ENC_HEADER)]),
    # the package's own resume: progress committed to NVS from inside perform() every 64 KiB
    "auto-resume": ("app.bin", {}, ["ota_resumption=true"]),
    "auto-resume-ranges": ("app.bin", {}, ["ota_resumption=true", "partial_http_download=true",
                                           "max_http_request_size=16384"]),
    # compressed bodies (inflate.py): the window is allocated in begin(); DeflateIO calls the
    # stage's io.IOBase readinto() once per compressed byte with a bytearray on the C stack, and
    # that glue allocates nothing on the unix port (measured: these pass under the lock)
    "zlib-12": ("app.z12", {}, []),
    "zlib-9-ranges": ("app.z9", {}, ["partial_http_download=true", "max_http_request_size=16384"]),
    "gzip": ("app.gz", {}, []),
    "gzip-encoded": ("app.bin", {"content_encoding": "gzip"}, []),
    # delta patches (delta.py, heatshrink.py): buffers made in begin(), the base read into one
    "delta-heatshrink": ("app.hs.patch", {}, []),
    "delta-none": ("app.none.patch", {}, []),
    "delta-bare-ranges": ("app.bare.patch", {}, ["delta_patch=true", "partial_http_download=true",
                                                  "max_http_request_size=4096"]),
    "delta-zlib": ("app.none.patch.z", {}, []),
    "delta-auto-resume": ("app.hs.patch", {}, ["ota_resumption=true"]),
}


@pytest.fixture(scope="module")
def server(pki, tmp_path_factory):
    d = tmp_path_factory.mktemp("heapfw")
    (d / "app.bin").write_bytes(NEW_APP)
    (d / "app.enc").write_bytes(ENC_HEADER + bytes(b ^ XOR for b in NEW_APP))
    for wbits in (9, 12):
        c = zlib.compressobj(9, zlib.DEFLATED, wbits)
        (d / ("app.z%d" % wbits)).write_bytes(c.compress(NEW_APP) + c.flush())
    (d / "app.gz").write_bytes(gzip.compress(NEW_APP, mtime=0))
    (d / "app.hs.patch").write_bytes(make_patch(TEMPLATE, NEW_APP)[0])
    (d / "app.none.patch").write_bytes(make_patch(TEMPLATE, NEW_APP, "none")[0])
    (d / "app.bare.patch").write_bytes(make_patch(TEMPLATE, NEW_APP, bare=True)[0])
    (d / "app.none.patch.z").write_bytes(zlib.compress(make_patch(TEMPLATE, NEW_APP, "none")[0]))
    with OTAServer(d, pki) as srv:
        yield srv


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_perform_call_after_the_head_allocates_nothing(server, pki, tmp_path, case):
    name, query, opts = CASES[case]
    flash = tmp_path / "flash.bin"
    flashsim.create_flash(str(flash), app_image=TEMPLATE)
    heap = "1m" if "write_buffer_size=65536" in opts else None  # a 64 KB buffer is for PSRAM boards
    server.reset_counters()
    res = run_scenario("micropython", "perform_heap_lock.py", server.url(name, **query), pki["ca"], *opts,
                       env={"ESP32_FLASH": str(flash)}, heap=heap)
    assert res["failed_at"] is None, res.result
    assert res["finished"] is True
    block = 65536 if heap else 4096
    assert res["locked_calls"] >= len(NEW_APP) // block  # every block, and the call that returns ESP_OK
    if "ota_resumption=true" in opts:  # progress committed every 64 KiB, from locked perform() calls
        assert res["nvs_commits_in_perform"] >= len(NEW_APP) // 65536, res.result
    if "max_http_request_size=4096" in opts and "delta" not in case:
        assert len(server.requests) == -(-len(NEW_APP) // 4096) and server.handshakes == 1
    assert flash.read_bytes()[0x310000:0x310000 + len(NEW_APP)] == NEW_APP
    assert flashsim.boot(flashsim.Flash(str(flash))) == "ota_1"
