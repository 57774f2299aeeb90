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


@pytest.mark.parametrize("opts", [[], ["write_buffer_size=65536"], ["bulk_flash_erase=true"]],
                         ids=["default", "64k-buffer", "bulk-erase"])
def test_steady_state_perform_allocates_nothing(server, pki, tmp_path, opts):
    flash = tmp_path / "flash.bin"
    flashsim.create_flash(str(flash), app_image=TEMPLATE)
    # A 64 KB write buffer is for boards with PSRAM: give that case a PSRAM-sized heap.
    heap = "1m" if opts == ["write_buffer_size=65536"] else None
    res = run_scenario("micropython", "perform_heap_lock.py", server.url("app.bin"), pki["ca"], *opts,
                       env={"ESP32_FLASH": str(flash)}, heap=heap)
    assert res["failed_at"] is None, res.result
    assert res["finished"] is True
    block = 65536 if opts == ["write_buffer_size=65536"] else 4096
    assert res["locked_calls"] >= len(NEW_APP) // block - 5
    assert flashsim.boot(flashsim.Flash(str(flash))) == "ota_1"
