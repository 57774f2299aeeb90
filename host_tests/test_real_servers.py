"""Whole OTAs against real, deployed HTTP servers that nobody here wrote: aiohttp's static route
(web.static / FileResponse) and tornado's StaticFileHandler, each over TLS on 127.0.0.1
(host_tests/real_servers.py), under CPython and the MicroPython unix port.

What each server sends, and how it differs from host_tests/https_server.py, is in
host_tests/SERVERS.md; test_probe_facts checks the facts that the OTAs below depend on.
"""

import pytest

from real_servers import REDIRECT, SERVERS, STATIC, raw_exchange
from test_ota_e2e import (  # the flash fixture comes from conftest
    ESP_ERR_OTA_VALIDATE_FAILED, ESP_FAIL, NEW_APP, assert_failed_safely, boots, ota, region, snapshot,
)

ESP_ERR_HTTP_NOT_MODIFIED = 0x7009
ESP_ERR_HTTP_RANGE_NOT_SATISFIABLE = 0x700A
SECTOR = 4096
# Cut inside the image's segments, and not on a 4 KiB boundary.
TRUNCATED_LEN = 300001
CLOSE_EVERY = 3  # the keep-alive-limited servers close every 3rd request's connection

LABEL = {"aiohttp": "aiohttp static", "tornado": "tornado StaticFileHandler"}


def per_server(what, expected):
    """One pytest.param per server, each with its case marker."""
    return [pytest.param(kind, id=kind, marks=pytest.mark.case("%s: %s" % (LABEL[kind], what), expected))
            for kind in SERVERS]


def expected_ranges(size, step, start=0):
    """The Range headers a partial download sends, as the package's Range loop builds them: the
    first request is already the first range (no HEAD, no unranged probe), then one request per
    `step` bytes, the last one cut at the image's end."""
    return ["bytes=%d-%d" % (a, min(a + step, size) - 1) for a in range(start, size, step)]


@pytest.fixture(scope="module")
def real_fw(tmp_path_factory):
    d = tmp_path_factory.mktemp("real_fw")
    (d / "app.bin").write_bytes(NEW_APP)
    (d / "truncated.bin").write_bytes(NEW_APP[:TRUNCATED_LEN])
    return d


@pytest.fixture(scope="module")
def servers(pki, real_fw):
    """{(kind, close_every): running server}: each server plain and with a keep-alive limit."""
    running = {}
    try:
        for kind, cls in SERVERS.items():
            for close_every in (0, CLOSE_EVERY):
                running[kind, close_every] = cls(real_fw, pki, close_every=close_every).start()
        yield running
    finally:
        for srv in running.values():
            srv.stop()


@pytest.fixture
def srv(request, servers):
    s = servers[request.param, 0]
    s.reset_counters()
    return s


@pytest.fixture
def limited(request, servers):
    s = servers[request.param, CLOSE_EVERY]
    s.reset_counters()
    return s


def file_url(s, name="app.bin"):
    return s.url("%s/%s" % (STATIC, name))


def assert_new_image_boots(res, flash_path, tmp_path):
    assert res["ok"] is True, res.result
    assert region(flash_path, "ota_1")[:len(NEW_APP)] == NEW_APP
    assert set(region(flash_path, "ota_1")[len(NEW_APP):]) == {0xFF}
    assert boots(flash_path, tmp_path) == "ota_1"


@pytest.mark.parametrize("srv", per_server("full OTA of the static file (one GET)",
                                           "ESP_OK; one connection, one 200, boots the new image"), indirect=True)
def test_full_ota(interp, flash, srv, pki, tmp_path):
    before = snapshot(flash)
    res = ota(interp, flash, "oneshot", file_url(srv), pki["ca"])
    assert_new_image_boots(res, flash, tmp_path)
    assert snapshot(flash)["ota_0"] == before["ota_0"]
    reqs = srv.requests
    assert [(r["method"], r["path"], r["status"]) for r in reqs] == [("GET", "/fw/app.bin", 200)]
    assert "range" not in reqs[0]["headers"]
    assert srv.connections == 1


def _ranged_params():
    out = []
    for kind in SERVERS:
        for step in (4096, 65536):
            out.append(pytest.param(kind, step, id="%s-%d" % (kind, step), marks=pytest.mark.case(
                "%s: partial_http_download, %d-byte ranges on one keep-alive connection" % (LABEL[kind], step),
                "ESP_OK; 1 connection, ceil(size/%d) 206s with the expected Range headers, boots" % step)))
    return out


@pytest.mark.parametrize("srv,step", _ranged_params(), indirect=["srv"])
def test_ranged_download_on_one_connection(interp, flash, srv, step, pki, tmp_path):
    res = ota(interp, flash, "steps", file_url(srv), pki["ca"],
              "partial_http_download=true", "max_http_request_size=%d" % step)
    assert_new_image_boots(res, flash, tmp_path)
    assert res["status"] == 206 and res["size"] == len(NEW_APP)
    reqs = srv.requests
    want = expected_ranges(len(NEW_APP), step)
    # The first request is the first range: nothing before it to add to ceil(size / step).
    assert want[0] == "bytes=0-%d" % (step - 1)
    assert len(reqs) == len(want) == -(-len(NEW_APP) // step)
    assert [r["headers"].get("range") for r in reqs] == want
    assert {r["status"] for r in reqs} == {206}
    assert {r["path"] for r in reqs} == {"/fw/app.bin"}
    assert srv.connections == 1
    assert {r["conn"] for r in reqs} == {reqs[0]["conn"]}
    assert [r["nth"] for r in reqs] == list(range(1, len(reqs) + 1))  # all on one kept-alive connection


@pytest.mark.parametrize("srv", per_server("302 redirect (web.HTTPFound / RedirectHandler) to the file",
                                           "ESP_OK; 302 then 200 on one connection, boots the new image"),
                         indirect=True)
def test_redirect_then_ota(interp, flash, srv, pki, tmp_path):
    res = ota(interp, flash, "oneshot", srv.url("%s/app.bin" % REDIRECT), pki["ca"])
    assert_new_image_boots(res, flash, tmp_path)
    reqs = srv.requests
    assert [(r["path"], r["status"]) for r in reqs] == [("/redirect/app.bin", 302), ("/fw/app.bin", 200)]
    # The redirect's small body is drained and the connection reused for the file.
    assert srv.connections == 1
    assert reqs[0]["conn"] == reqs[1]["conn"]


@pytest.mark.parametrize("srv", per_server("static file that does not exist (404)",
                                           "ESP_FAIL naming 404; nothing written, otadata unchanged"), indirect=True)
def test_404(interp, flash, srv, pki, tmp_path):
    before = snapshot(flash)
    res = ota(interp, flash, "oneshot", file_url(srv, "missing.bin"), pki["ca"])
    assert_failed_safely(res, before, flash, tmp_path, ESP_FAIL)
    assert "404" in res["msg"]
    assert snapshot(flash) == before  # not one byte written, otadata included
    assert [r["status"] for r in srv.requests] == [404]


@pytest.mark.parametrize("srv", per_server("static file that is the image cut to %d bytes" % TRUNCATED_LEN,
                                           "ESP_ERR_OTA_VALIDATE_FAILED: segment past the image's end; nothing booted"),
                         indirect=True)
def test_truncated_file(interp, flash, srv, pki, tmp_path):
    before = snapshot(flash)
    res = ota(interp, flash, "oneshot", file_url(srv, "truncated.bin"), pki["ca"])
    assert_failed_safely(res, before, flash, tmp_path, ESP_ERR_OTA_VALIDATE_FAILED)
    # Content-Length gave the size: the segment that does not fit is refused as soon as its header
    # arrives, long before the end of the body.
    assert "past the end of the %d-byte image" % TRUNCATED_LEN in res["msg"], res["msg"]
    assert [r["status"] for r in srv.requests] == [200]  # the server sent the whole (short) file


@pytest.mark.parametrize("limited", per_server(
    "closes the connection after every %d requests, during 4 KiB ranges" % CLOSE_EVERY,
    "ESP_OK; reconnects: ceil(requests/%d) connections, boots the new image" % CLOSE_EVERY), indirect=True)
def test_keepalive_limit_during_ranges(interp, flash, limited, pki, tmp_path):
    res = ota(interp, flash, "oneshot", file_url(limited), pki["ca"],
              "partial_http_download=true", "max_http_request_size=4096")
    assert_new_image_boots(res, flash, tmp_path)
    reqs = limited.requests
    want = expected_ranges(len(NEW_APP), 4096)
    assert [r["headers"].get("range") for r in reqs] == want  # no range asked twice, none skipped
    assert {r["status"] for r in reqs} == {206}
    assert limited.connections > 1
    assert limited.connections == -(-len(want) // CLOSE_EVERY)
    per_conn = {}
    for r in reqs:
        per_conn.setdefault(r["conn"], []).append(r["nth"])
    assert len(per_conn) == limited.connections
    assert all(n == list(range(1, len(n) + 1)) and len(n) <= CLOSE_EVERY for n in per_conn.values())


def _etag(s):
    head = raw_exchange(s.port, [("HEAD /fw/app.bin HTTP/1.1\r\nHost: localhost\r\n\r\n").encode()],
                        s.pki["ca"])[0][0]
    for line in head.split("\r\n"):
        if line.lower().startswith("etag:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("no ETag in\n" + head)


@pytest.mark.parametrize("srv", per_server("If-None-Match with the server's own ETag (304 without a body)",
                                           "ESP_ERR_HTTP_NOT_MODIFIED; nothing written"), indirect=True)
def test_if_none_match_with_the_servers_etag(interp, flash, srv, pki, tmp_path):
    etag = _etag(srv)
    srv.reset_counters()
    before = snapshot(flash)
    res = ota(interp, flash, "oneshot", file_url(srv), pki["ca"], "init_header=If-None-Match:" + etag)
    assert_failed_safely(res, before, flash, tmp_path, ESP_ERR_HTTP_NOT_MODIFIED)
    assert snapshot(flash) == before
    reqs = srv.requests
    assert [(r["status"], r["headers"]["if-none-match"]) for r in reqs] == [(304, etag)]


@pytest.mark.parametrize("srv", per_server("ota_resumption from past the file's end (416)",
                                           "ESP_ERR_HTTP_RANGE_NOT_SATISFIABLE; otadata unchanged"), indirect=True)
def test_resume_past_the_end_is_416(interp, flash, srv, pki, tmp_path):
    start = -(-len(NEW_APP) // SECTOR) * SECTOR  # the first whole sector past the image
    before = snapshot(flash)
    res = ota(interp, flash, "oneshot", file_url(srv), pki["ca"], "partial_http_download=true",
              "max_http_request_size=4096", "ota_resumption=true", "ota_image_bytes_written=%d" % start)
    assert_failed_safely(res, before, flash, tmp_path, ESP_ERR_HTTP_RANGE_NOT_SATISFIABLE)
    assert "416" in res["msg"]
    reqs = srv.requests
    assert [(r["status"], r["headers"]["range"]) for r in reqs] == [(416, "bytes=%d-%d" % (start, start + 4095))]


@pytest.mark.parametrize("kind", per_server("raw probe: the headers SERVERS.md describes",
                                            "Accept-Ranges, quoted ETag, Content-Range on 206 and 416"))
def test_probe_facts(servers, kind):
    """The facts of SERVERS.md that the OTAs above rely on (checked with a raw TLS socket)."""
    s = servers[kind, 0]
    s.reset_counters()
    size = len(NEW_APP)

    def get(extra="", target="/fw/app.bin"):
        return ("GET %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n" % (target, extra)).encode()

    got = raw_exchange(s.port, [get(), get("Range: bytes=0-4095\r\n"), get("Range: bytes=%d-\r\n" % size),
                                get("Range: bytes=0-1,5-6\r\n"), get(target="/fw/missing.bin")], s.pki["ca"])
    heads = []
    for h, _, _ in got:
        fields = (line.partition(":") for line in h.split("\r\n")[1:] if line)
        heads.append({k.strip().lower(): v.strip() for k, _, v in fields})
    status = [int(h.split()[1]) for h, _, _ in got]
    assert status[:3] == [200, 206, 416]
    full, part, unsat, multi, missing = heads
    assert full["accept-ranges"] == "bytes" and full["content-length"] == str(size)
    assert "transfer-encoding" not in full  # static files: Content-Length, never chunked
    assert full["etag"].startswith('"') and full["etag"].endswith('"') and "last-modified" in full
    assert part["content-range"] == "bytes 0-4095/%d" % size and part["content-length"] == "4096"
    assert unsat["content-range"] == "bytes */%d" % size
    assert got[1][1] == NEW_APP[:4096]
    assert not any(closed for _, _, closed in got)  # every answer kept the connection open
    # The differences: aiohttp refuses a multi-range request (416), tornado ignores it (200).
    assert status[3] == {"aiohttp": 416, "tornado": 200}[kind]
    assert status[4] == 404
    # aiohttp's static 404 and 416 bodies are chunked (empty); tornado's have a Content-Length.
    chunked = [h.get("transfer-encoding") == "chunked" for h in (unsat, missing)]
    assert chunked == {"aiohttp": [True, True], "tornado": [False, False]}[kind]
    assert len(s.requests) == 5 and s.connections == 1
