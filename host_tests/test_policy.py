"""Anti-rollback (anti_rollback: a lower secure_version is refused before anything is erased)
and the version policy helper for main.py (should_update), under both interpreters."""

import pytest

from conftest import IMAGES, run_scenario
import flashsim_path  # noqa: F401  (puts shims/ on sys.path)
import flashsim
import imagetools
from https_server import OTAServer

TEMPLATE = (IMAGES / "esp32-app-template.bin").read_bytes()
ESP_ERR_OTA_SMALL_SEC_VER = 0x1504
RUNNING_SV = 2


@pytest.fixture(scope="module")
def server(pki, tmp_path_factory):
    d = tmp_path_factory.mktemp("policyfw")
    for sv in (1, 2, 3):
        (d / ("sv%d.bin" % sv)).write_bytes(imagetools.with_secure_version(imagetools.with_version(TEMPLATE, "9.%d" % sv), sv))
    with OTAServer(d, pki) as srv:
        yield srv


def board(tmp_path, image):
    path = tmp_path / "flash.bin"
    flashsim.create_flash(str(path), app_image=image)
    return path


@pytest.mark.parametrize("sv, opts, ok", [
    pytest.param(1, ["anti_rollback=true"], False, marks=pytest.mark.case(
        "anti_rollback, image secure_version 1 below the running app's 2", "ESP_ERR_OTA_SMALL_SEC_VER; nothing erased")),
    pytest.param(1, ["anti_rollback=true", "bulk_flash_erase=true"], False, marks=pytest.mark.case(
        "anti_rollback with bulk_flash_erase, secure_version 1 below 2",
        "ESP_ERR_OTA_SMALL_SEC_VER; the bulk erase never starts")),
    pytest.param(2, ["anti_rollback=true"], True, marks=pytest.mark.case(
        "anti_rollback, secure_version equal to the running app's", "ESP_OK; boots it")),
    pytest.param(3, ["anti_rollback=true", "bulk_flash_erase=true"], True, marks=pytest.mark.case(
        "anti_rollback with bulk_flash_erase, secure_version 3 above 2", "ESP_OK; the partition erased, boots it")),
    pytest.param(1, [], True, marks=pytest.mark.case(
        "anti_rollback off, secure_version 1 below 2", "ESP_OK: ESP-IDF's default, no check")),
], ids=["lower", "lower-bulk", "equal", "higher-bulk", "off"])
def test_anti_rollback(interp, server, pki, tmp_path, sv, opts, ok):
    flash = board(tmp_path, imagetools.with_secure_version(TEMPLATE, RUNNING_SV))
    before = flash.read_bytes()
    res = run_scenario(interp, "ota_run.py", "oneshot", server.url("sv%d.bin" % sv), pki["ca"], *opts,
                       env={"ESP32_FLASH": str(flash)})
    if ok:
        assert res["ok"] is True, res.result
        assert flashsim.boot(flashsim.Flash(str(flash))) == "ota_1"
        return
    assert res["code"] == ESP_ERR_OTA_SMALL_SEC_VER, res.result
    assert "secure_version 1 is lower than the running app's 2" in res["msg"]
    assert res["flash"]["erase_calls"] == 0 and res["flash"]["write_calls"] == 0, res["flash"]
    assert flash.read_bytes()[0x310000:] == before[0x310000:]  # ota_1 untouched


@pytest.mark.case(
    "should_update() against a running 1.9.0: 1.10.0, v1.9.1, 1.9.0, 1.8.7, v1.2, 1.9.0-rc1, nightly; force=True",
    "True, True, False, False, False, True, True; force: always True")
def test_should_update(interp, tmp_path):
    running = imagetools.with_version(TEMPLATE, "1.9.0")
    flash = board(tmp_path, running)
    cases = {"1.10.0": True, "v1.9.1": True, "1.9.0": False, "1.8.7": False, "v1.2": False,
             "1.9.0-rc1": True, "nightly": True}
    paths = []
    for i, version in enumerate(cases):
        p = tmp_path / ("v%d.bin" % i)
        p.write_bytes(imagetools.with_version(TEMPLATE, version))
        paths.append(p)
    res = run_scenario(interp, "policy_check.py", *paths, env={"ESP32_FLASH": str(flash)})
    assert [v[0] for v in res["verdicts"]] == list(cases.values())
    assert all(v[1] for v in res["verdicts"])  # force=True always updates


@pytest.mark.case("should_update() with empty versions (stock MicroPython): the running build, another build",
                  "False for the same app_elf_sha256, True for another")
def test_should_update_by_elf_sha256_when_versions_are_empty(interp, tmp_path):
    running = imagetools.with_version(TEMPLATE, "")
    flash = board(tmp_path, running)
    same, other = tmp_path / "same.bin", tmp_path / "other.bin"
    same.write_bytes(running)
    other.write_bytes(imagetools.with_elf_sha256(running, bytes(range(32))))
    res = run_scenario(interp, "policy_check.py", same, other, env={"ESP32_FLASH": str(flash)})
    assert [v[0] for v in res["verdicts"]] == [False, True]
