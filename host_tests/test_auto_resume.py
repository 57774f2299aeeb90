"""ota_resumption without ota_image_bytes_written: the package keeps the progress in NVS and the
next begin() continues with Range + If-Range, or starts over from byte 0 whenever anything
differs. Every case runs on a fresh simulated board (one process is one boot), under CPython and
the MicroPython unix port; power cuts are the shims' SIGKILL at a seeded flash operation."""

import random
import re
import shutil

import pytest

from conftest import IMAGES, nvs_namespace, run_scenario, store_nvs_namespace
import flashsim_path  # noqa: F401  (puts shims/ on sys.path)
import flashsim
import imagetools
from https_server import OTAServer

OLD = (IMAGES / "esp32-app-template.bin").read_bytes()
NEW = imagetools.with_version(OLD, "2.0.0-resume")
OTHER = imagetools.with_version(OLD, "3.0.0-changed")
BIG = imagetools.grown(imagetools.with_version(OLD, "1.5-MB"), 1536 * 1024)
XOR, ENC_HEADER = 0x5A, b"ENC-HEADER-16-B."
OTA_1 = 0x310000
STEP = 65536
SEEDS = (11, 23, 37)  # power cuts per interpreter at seeded points
ESP_ERR_HTTP = 0x7000


@pytest.fixture(scope="module")
def server(pki, tmp_path_factory):
    d = tmp_path_factory.mktemp("resumefw")
    (d / "app.bin").write_bytes(NEW)
    (d / "big.bin").write_bytes(BIG)
    (d / "app.enc").write_bytes(ENC_HEADER + bytes(b ^ XOR for b in NEW))
    with OTAServer(d, pki) as srv:
        srv.dir = d
        yield srv


@pytest.fixture
def board(tmp_path):
    path = tmp_path / "flash.bin"
    flashsim.create_flash(str(path), app_image=OLD)
    return path


def run(interp, board, url, ca, *opts, mode="oneshot", cut=None, heap=None):
    env = {"ESP32_FLASH": str(board)}
    if cut is not None:
        env.update(ESP32_FLASH_CUT=str(cut[0]), ESP32_FLASH_CUT_SEED=str(cut[1]))
    return run_scenario(interp, "auto_resume.py", mode, url, ca, *opts, env=env, check=cut is None, heap=heap)


def saved(board):
    """What NVS holds for the package on the simulated board: {} or {"done": n, "meta": ...}."""
    return {k: v[1] for k, v in nvs_namespace(board).items()}


store = store_nvs_namespace


def boots_with(board, image, tmp_path):
    copy = tmp_path / "reboot.bin"
    shutil.copy(board, copy)
    with flashsim.Flash(str(copy)) as fl:
        booted = flashsim.boot(fl)
    return booted == "ota_1" and board.read_bytes()[OTA_1:OTA_1 + len(image)] == image


def power_cut(interp, board, url, ca, opts, k, seed=1, heap=None):
    """Run the OTA and cut the power at flash operation k: (bytes flushed before the cut, saved progress)."""
    cut = run(interp, board, url, ca, *opts, cut=(k, seed), heap=heap)
    assert cut.returncode != 0 and "POWERCUT op=%d " % k in cut.stderr, cut.output()
    flushed = [int(n) for n in re.findall(r"^W (\d+)$", cut.stderr, re.M)]
    return (flushed[-1] if flushed else 0), saved(board).get("done", 0)


def first_requests(server, n=2):
    return [(r["headers"].get("range"), r["headers"].get("if-range"), r["status"]) for r in server.requests[:n]]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.case("power cut at a seeded flash operation during perform(), then a plain retry",
                  "the retry's first request is Range: bytes=<last committed block>- with If-Range; ESP_OK, boots")
def test_power_cut_then_the_retry_starts_at_the_last_committed_block(interp, server, pki, board, tmp_path, seed):
    k = random.Random(seed).randrange(40, 260)
    flushed, done = power_cut(interp, board, server.url("app.bin"), pki["ca"], [], k, seed)
    assert done % 4096 == 0 and done <= flushed
    assert flushed - done <= STEP  # fetched again: at most 64 KiB, plus the part-filled write buffer
    server.reset_counters()
    res = run(interp, board, server.url("app.bin"), pki["ca"])
    assert res["ok"] is True, res.result
    rng, if_range, status = first_requests(server, 1)[0]
    if done:
        assert (rng, status) == ("bytes=%d-" % done, 206) and if_range.startswith('"')
        assert res["writes"][0] == done + 4096  # WRITE_FLASH counts on from the resumed bytes
    else:
        assert rng is None
    assert res["nvs"] == {}  # a completed one-shot clears the progress
    assert boots_with(board, NEW, tmp_path)


@pytest.mark.case("eight power cuts in a row, each a little later, then a run to the end",
                  "the saved progress never goes backwards; ESP_OK, boots the whole image")
def test_many_cuts_in_a_row_never_lose_progress(interp, server, pki, board, tmp_path):
    rnd = random.Random(5)
    seen = []
    for _ in range(8):
        _, done = power_cut(interp, board, server.url("app.bin"), pki["ca"], [], rnd.randrange(30, 70), rnd.randrange(99))
        seen.append(done)
    assert seen == sorted(seen) and seen[-1] > STEP, seen
    res = run(interp, board, server.url("app.bin"), pki["ca"])
    assert res["ok"] is True, res.result
    assert boots_with(board, NEW, tmp_path)


@pytest.mark.case("connection dropped at 300,000 bytes, then esp_https_ota() again in the same process",
                  "first ESP_ERR_HTTP_*; the second continues at 262144 with If-Range; ESP_OK, progress cleared")
def test_dropped_connection_then_begin_again_in_the_same_process(interp, server, pki, board, tmp_path):
    server.reset_counters()
    url = server.url("app.bin", cut_first=300000, tag=interp)  # n: a URL of its own, cut once
    res = run(interp, board, url, pki["ca"], mode="twice")
    assert res["ok"] is True, res.result
    assert res["first"][0] >> 12 == ESP_ERR_HTTP >> 12
    assert first_requests(server)[1][:1] == ("bytes=262144-",) and first_requests(server)[1][2] == 206
    assert res["nvs"] == {} and boots_with(board, NEW, tmp_path)


@pytest.mark.case("image replaced on the server between a power cut and the retry",
                  "If-Range answered 200: starts over at byte 0 with that response; the new image boots whole")
def test_changed_image_starts_over_and_the_new_image_boots(interp, server, pki, board, tmp_path):
    name = "changing-%s.bin" % interp
    (server.dir / name).write_bytes(NEW)
    _, done = power_cut(interp, board, server.url(name), pki["ca"], [], 120)
    assert done >= STEP
    (server.dir / name).write_bytes(OTHER)
    server.reset_counters()
    res = run(interp, board, server.url(name), pki["ca"])
    assert res["ok"] is True, res.result
    assert first_requests(server)[0][0] == "bytes=%d-" % done and first_requests(server)[0][2] == 200
    assert len(server.requests) == 1 and res["writes"][0] == 4096
    assert boots_with(board, OTHER, tmp_path)


@pytest.mark.case("server stops honouring Range between a power cut and the retry",
                  "200 to the Range request: starts over at byte 0 with it; ESP_OK, boots")
def test_server_that_stops_honouring_range(interp, server, pki, board, tmp_path):
    _, done = power_cut(interp, board, server.url("app.bin"), pki["ca"], [], 120)
    assert done >= STEP
    server.reset_counters()
    server.defaults["ignore_range"] = "1"
    try:
        res = run(interp, board, server.url("app.bin"), pki["ca"])
    finally:
        server.defaults.clear()
    assert res["ok"] is True, res.result
    assert first_requests(server, 1) == [("bytes=%d-" % done, first_requests(server, 1)[0][1], 200)]
    assert boots_with(board, NEW, tmp_path)


@pytest.mark.parametrize("name, opts, offset, k", [
    ("app.bin", ["partial_http_download=true", "max_http_request_size=16384"], 0, 110),
    ("app.enc", ["decrypt_xor=%d" % XOR, "enc_img_header_size=%d" % len(ENC_HEADER)], len(ENC_HEADER), 110),
    ("app.bin", ["write_buffer_size=65536"], 0, 24),  # 64 KiB per erase and write: fewer flash operations
], ids=["partial", "decrypt", "64k-buffer"])
@pytest.mark.case("power cut, then resume, with partial downloads / decrypt_cb / a 64 KiB write buffer",
                  "ranges continue from the saved block (+ enc_img_header_size), each with If-Range; ESP_OK")
def test_resume_with_ranges_decrypt_and_buffer_sizes(interp, server, pki, board, tmp_path, name, opts, offset, k):
    heap = "1m" if "write_buffer_size=65536" in opts else None
    _, done = power_cut(interp, board, server.url(name), pki["ca"], opts, k, heap=heap)
    assert done >= STEP and done % (STEP if heap else 4096) == 0
    server.reset_counters()
    res = run(interp, board, server.url(name), pki["ca"], *opts, heap=heap)
    assert res["ok"] is True, res.result
    rng = first_requests(server, 1)[0][0]
    step = 16384 if "max_http_request_size=16384" in opts else 0
    want = "bytes=%d-%s" % (done + offset, done + offset + step - 1 if step else "")
    assert rng == want
    assert all(r["headers"].get("if-range") for r in server.requests)
    assert boots_with(board, NEW, tmp_path)


def forged(board, server, pki, interp, tmp_path, size=None, addr=None, url=None, done=None):
    """Real progress from a power cut, then its meta rewritten: (done, the new namespace)."""
    _, real = power_cut(interp, board, server.url("app.bin"), pki["ca"], [], 120)
    meta = bytes.fromhex(saved_raw(board)["meta"][1])
    old_size, old_addr = int.from_bytes(meta[4:8], "little"), int.from_bytes(meta[8:12], "little")
    parts = meta[12:].split(b"\n")
    if url is not None:
        parts[0] = url.encode()
    body = meta[:4] + (size or old_size).to_bytes(4, "little") + (addr if addr is not None else old_addr).to_bytes(4, "little")
    return real, {"meta": ["blob", (body + b"\n".join(parts)).hex()], "done": ["i32", real if done is None else done]}


def saved_raw(board):
    return nvs_namespace(board)


@pytest.mark.parametrize("what", ["garbage", "other-partition", "other-url", "torn-count", "size-differs"])
@pytest.mark.case("saved progress that is garbage, for another partition or URL, not on a sector, or of another size",
                  "never trusted: the download starts over at byte 0; ESP_OK, boots")
def test_progress_that_does_not_match_starts_over(interp, server, pki, board, tmp_path, what):
    if what == "garbage":
        ns = {"meta": ["blob", bytes(range(7, 200, 3)).hex()], "done": ["i32", 65536]}
    else:
        kw = {"other-partition": {"addr": 0x10000}, "other-url": {"url": server.url("other.bin")},
              "torn-count": {"done": 65536 + 100}, "size-differs": {"size": len(NEW) + 4096}}[what]
        _, ns = forged(board, server, pki, interp, tmp_path, **kw)
    store(board, ns)
    server.reset_counters()
    res = run(interp, board, server.url("app.bin"), pki["ca"])
    assert res["ok"] is True, res.result
    if what == "size-differs":  # the Range goes out; its 206 says another size: a new request from 0
        assert first_requests(server)[0][2] == 206 and first_requests(server)[1][0] is None
    else:
        assert first_requests(server, 1)[0][0] is None
    assert res["writes"][0] == 4096 and boots_with(board, NEW, tmp_path)


@pytest.mark.case("step by step after a power cut: begin(), get_img_desc(), get_image_len_read()",
                  "the description read from flash; len_read = the resumed bytes; WRITE_FLASH continues from there")
def test_resumed_begin_reports_the_resumed_bytes(interp, server, pki, board, tmp_path):
    _, done = power_cut(interp, board, server.url("app.bin"), pki["ca"], [], 120)
    res = run(interp, board, server.url("app.bin"), pki["ca"], mode="steps")
    assert res["ok"] is True, res.result
    assert res["len_after_begin"] == done and res["version"] == "2.0.0-resume"
    assert res["writes"][0] == done + 4096 and res["nvs"] == {}
    assert boots_with(board, NEW, tmp_path)


@pytest.mark.parametrize("keep", [False, True], ids=["abort", "keep-on-abort"])
@pytest.mark.case("abort() after 20 perform() calls (ota_resumption_keep_on_abort false / true)",
                  "abort clears the saved progress; with keep_on_abort it stays for a later resume")
def test_abort_clears_unless_kept(interp, server, pki, board, keep):
    opts = ["perform_calls=20"] + (["ota_resumption_keep_on_abort=true"] if keep else [])
    res = run(interp, board, server.url("app.bin"), pki["ca"], *opts, mode="abort")
    assert res["ok"] is True, res.result
    if keep:
        assert res["nvs"]["done"] == STEP and bytes.fromhex(res["nvs"]["meta"]).startswith(b"EHO1")
    else:
        assert res["nvs"] == {}


@pytest.mark.case("ota_resumption with ota_image_bytes_written=0 (ESP-IDF's form)",
                  "ESP_OK; NVS never written: the application keeps the count")
def test_esp_idf_form_leaves_nvs_alone(interp, server, pki, board):
    res = run(interp, board, server.url("app.bin"), pki["ca"], "ota_image_bytes_written=0")
    assert res["ok"] is True and res["commits"] == 0 and res["nvs"] == {}


@pytest.mark.parametrize("query, validator", [
    ({"no_etag": 1, "no_last_modified": 1}, None),
    ({"no_etag": 1}, "date"),
    ({"weak_etag": 1}, "date"),
], ids=["none", "last-modified", "weak-etag"])
@pytest.mark.case("server without a strong ETag: none at all, Last-Modified only, a weak ETag and Last-Modified",
                  "no validator: nothing saved, the retry starts over; else If-Range carries the date")
def test_validator_choice(interp, server, pki, board, tmp_path, query, validator):
    url = server.url("app.bin", tag=interp, **query)
    _, done = power_cut(interp, board, url, pki["ca"], [], 120)
    server.reset_counters()
    res = run(interp, board, url, pki["ca"])
    assert res["ok"] is True, res.result
    rng, if_range, _ = first_requests(server, 1)[0]
    if validator is None:
        assert done == 0 and rng is None and saved(board) == {}
    else:
        assert rng == "bytes=%d-" % done and re.match(r"\w{3}, \d\d \w{3} \d{4} ", if_range)
    assert boots_with(board, NEW, tmp_path)


@pytest.mark.case("a 1.5 MiB image with the package's progress", "NVS commits: 2 to start, 24 progress, 1 to clear")
def test_nvs_writes_of_a_1_5_mb_ota(interp, server, pki, board, tmp_path):
    res = run(interp, board, server.url("big.bin"), pki["ca"])
    assert res["ok"] is True, res.result
    assert res["commits"] == 2 + len(BIG) // STEP + 1
    assert boots_with(board, BIG, tmp_path)


@pytest.mark.case("the shim's NVS: set with and without commit(), then a reset; a power cut inside commit()",
                  "durable only after commit(); a torn commit leaves the previous value, never garbage")
def test_shim_nvs_is_durable_only_after_commit(interp, board, tmp_path):
    def nvs(*args, at=board, cut=None):
        env = {"ESP32_FLASH": str(at)}
        if cut:
            env["ESP32_FLASH_CUT"] = str(cut)
        return run_scenario(interp, "nvs_commit.py", *args, env=env, check=cut is None)

    assert nvs("set", "1", "commit")["value"] == 1
    assert nvs("set", "2")["value"] == 2  # seen at once in the same boot
    assert nvs("show")["value"] == 1  # not committed: gone with the reset
    seen = set()
    for k in (1, 2, 3):  # the commit's erase, its body write and its header write
        copy = tmp_path / ("cut%d.bin" % k)
        shutil.copy(board, copy)
        cut = nvs("set", "3", "commit", at=copy, cut=k)
        assert re.search(r"POWERCUT op=%d (erase|write) 0x[9a-c][0-9a-f]{3}\b" % k, cut.stderr), cut.output()  # in nvs
        seen.add(nvs("show", at=copy)["value"])
    assert seen == {1}  # each torn commit: the previous snapshot stands
    assert nvs("set", "3", "commit")["value"] == 3 and nvs("show")["value"] == 3
