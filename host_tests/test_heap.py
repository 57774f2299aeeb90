"""The steady-state perform() loop allocates nothing: checked with micropython.heap_lock() on the
unix port (CPython has no heap lock, so these run on MicroPython only)."""

import pytest

from conftest import IMAGES, run_scenario
import flashsim_path  # noqa: F401
import flashsim
import imagetools
from https_server import OTAServer

TEMPLATE = (IMAGES / "esp32-app-template.bin").read_bytes()
NEW_APP = imagetools.with_version(TEMPLATE, "7.0.0-heap")


@pytest.fixture(scope="module")
def server(pki, tmp_path_factory):
    d = tmp_path_factory.mktemp("heapfw")
    (d / "app.bin").write_bytes(NEW_APP)
    with OTAServer(d, pki) as srv:
        yield srv


@pytest.mark.parametrize("opts,query", [([], {}), (["write_buffer_size=65536"], {}), (["bulk_flash_erase=true"], {}),
                                        ([], {"chunk_sizes": "5000,3000,7,9000"}),
                                        (["partial_http_download=true", "max_http_request_size=65536"], {})],
                         ids=["default", "64k-buffer", "bulk-erase", "chunked", "within-ranges"])
def test_steady_state_perform_allocates_nothing(server, pki, tmp_path, opts, query):
    flash = tmp_path / "flash.bin"
    flashsim.create_flash(str(flash), app_image=TEMPLATE)
    # A 64 KB write buffer is for boards with PSRAM: give that case a PSRAM-sized heap.
    heap = "1m" if opts == ["write_buffer_size=65536"] else None
    script_opts = opts + (["lock_between_ranges=false"] if "partial_http_download=true" in opts else [])
    if query:
        script_opts.append("image_len=%d" % len(NEW_APP))  # chunked: the size is not announced
    res = run_scenario("micropython", "perform_heap_lock.py", server.url("app.bin", **query), pki["ca"], *script_opts,
                       env={"ESP32_FLASH": str(flash)}, heap=heap)
    assert res["failed_at"] is None, res.result
    assert res["finished"] is True
    block = 65536 if opts == ["write_buffer_size=65536"] else 4096
    # Range mode: a new request (which allocates its header lines) every 16 blocks runs unlocked.
    expected = len(NEW_APP) // block - 5 if "partial_http_download=true" not in opts else len(NEW_APP) // block // 2
    assert res["locked_calls"] >= expected
    assert flashsim.boot(flashsim.Flash(str(flash))) == "ota_1"
