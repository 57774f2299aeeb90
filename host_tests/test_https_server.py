"""Tests of the HTTPS test server itself (host_tests/https_server.py), with CPython's ssl and
http.client as the client. CPython only: the server is host tooling, not part of the package."""

import base64
import hashlib
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509

from https_server import OTAServer, make_pki

HERE = Path(__file__).resolve().parent
DATA = os.urandom(100_000) + bytes(range(256)) * 17  # 104352 bytes, not a multiple of anything
SMALL = b"hello, ota\n" * 300  # 3300 bytes, for byte-at-a-time chunking


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def root(tmp_path):
    d = tmp_path / "www"
    (d / "sub").mkdir(parents=True)
    (d / "data.bin").write_bytes(DATA)
    (d / "small.txt").write_bytes(SMALL)
    (d / "sub" / "empty.bin").write_bytes(b"")
    return d


@pytest.fixture
def srv(root, pki):
    with OTAServer(root, pki) as s:
        yield s


def client_ctx(pki, ca="ca", client_cert=False):
    ctx = ssl.create_default_context(cafile=pki[ca])
    if client_cert:
        ctx.load_cert_chain(pki["client"], pki["client_key"])
    return ctx


def connect(srv, pki, host="localhost", **kw):
    if not srv.tls:
        return http.client.HTTPConnection(host, srv.port, timeout=5)
    return http.client.HTTPSConnection(host, srv.port, context=client_ctx(pki, **kw), timeout=5)


def get(srv, pki, path, headers=None, method="GET"):
    """One request on a new connection: (status, headers dict with lower-cased names, body)."""
    conn = connect(srv, pki)
    try:
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def raw_exchange(srv, pki, path, extra=b"", timeout=5):
    """Send one request with Connection: close on a raw TLS socket and return every byte the
    server sent until it closed the connection."""
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    sock = client_ctx(pki).wrap_socket(sock, server_hostname="localhost")
    try:
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%s\r\n"
                     % (path.encode(), extra))
        out = b""
        while True:
            try:
                d = sock.recv(65536)
            except (ssl.SSLEOFError, ConnectionResetError):
                break
            if not d:
                break
            out += d
        return out
    finally:
        sock.close()


def split_response(raw):
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return lines[0], headers, rest


def decode_chunked(rest):
    """(body, chunk sizes, chunk-extension strings, trailer lines, complete)."""
    body, sizes, exts = b"", [], []
    while True:
        line, sep, rest = rest.partition(b"\r\n")
        if not sep:
            return body, sizes, exts, [], False
        size_s, _, ext = line.partition(b";")
        size = int(size_s, 16)
        exts.append(ext.decode())
        if size == 0:
            trailer_block, sep, _ = rest.partition(b"\r\n\r\n") if not rest.startswith(b"\r\n") \
                else (b"", b"\r\n", b"")
            trailers = [t.decode() for t in trailer_block.split(b"\r\n") if t]
            return body, sizes, exts, trailers, bool(sep)
        if len(rest) < size + 2:
            return body + rest[:size], sizes + [len(rest[:size])], exts, [], False
        assert rest[size:size + 2] == b"\r\n"
        body += rest[:size]
        sizes.append(size)
        rest = rest[size + 2:]


def wait_for(pred, timeout=2.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


# --- PKI ---------------------------------------------------------------------------------------

def test_pki_files_certificates_and_reuse(pki):
    for key in ("ca", "ca_der", "server", "server_key", "other_ca", "other_server", "wrong_host",
                "expired", "client_ca", "client", "client_key", "client_der", "client_key_der"):
        assert Path(pki[key]).is_file(), key
    ca = x509.load_pem_x509_certificate(Path(pki["ca"]).read_bytes())
    assert ca == x509.load_der_x509_certificate(Path(pki["ca_der"]).read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    server = x509.load_pem_x509_certificate(Path(pki["server"]).read_bytes())
    server.verify_directly_issued_by(ca)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(i) for i in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    expired = x509.load_pem_x509_certificate(Path(pki["expired"]).read_bytes())
    assert expired.not_valid_after_utc.timestamp() < time.time()
    before = {k: Path(v).read_bytes() for k, v in pki.items() if k != "dir"}
    again = make_pki(pki["dir"])
    assert again == pki
    assert {k: Path(v).read_bytes() for k, v in again.items() if k != "dir"} == before


def test_chain_verifies_with_ca_and_fails_with_other_ca(srv, pki):
    status, _, body = get(srv, pki, "/small.txt")
    assert (status, body) == (200, SMALL)
    conn = connect(srv, pki, ca="other_ca")
    with pytest.raises(ssl.SSLCertVerificationError):
        conn.request("GET", "/small.txt")
    conn.close()
    assert wait_for(lambda: srv.conn_info[-1]["error"] is not None)
    assert srv.connections == 2 and srv.handshakes == 1
    assert srv.conn_info[0]["sni"] == "localhost"


def test_ip_san_verifies(srv, pki):
    conn = connect(srv, pki, host="127.0.0.1")
    conn.request("GET", "/small.txt")
    assert conn.getresponse().read() == SMALL
    conn.close()


@pytest.mark.parametrize("cert, ca, error", [
    ("wrong_host", "ca", "match"),
    ("expired", "ca", "expired"),
    ("other_server", "ca", "unable to get local issuer"),
    ("other_server", "other_ca", None),
])
def test_other_server_certificates(root, pki, cert, ca, error):
    with OTAServer(root, pki, cert=cert) as s:
        conn = connect(s, pki, ca=ca)
        if error is None:
            conn.request("GET", "/small.txt")
            assert conn.getresponse().read() == SMALL
        else:
            with pytest.raises(ssl.SSLCertVerificationError, match=error):
                conn.request("GET", "/small.txt")
        conn.close()


# --- files ---------------------------------------------------------------------------------------

def test_full_get_and_head(srv, pki):
    status, h, body = get(srv, pki, "/data.bin")
    assert status == 200 and body == DATA
    assert h["content-length"] == str(len(DATA))
    assert h["etag"] == '"%s"' % hashlib.sha256(DATA).hexdigest()[:16]
    assert h["accept-ranges"] == "bytes" and "last-modified" in h
    status, h2, body = get(srv, pki, "/data.bin", method="HEAD")
    assert status == 200 and body == b"" and h2["content-length"] == str(len(DATA))
    reqs = srv.requests
    assert [r["method"] for r in reqs] == ["GET", "HEAD"]
    assert reqs[0]["path"] == "/data.bin" and reqs[0]["headers"]["host"].startswith("localhost:")
    assert reqs[0]["status"] == 200


@pytest.mark.parametrize("rng, start, end", [
    ("bytes=0-0", 0, 0),
    ("bytes=1000-4999", 1000, 4999),
    ("bytes=100000-", 100000, len(DATA) - 1),
    ("bytes=-352", len(DATA) - 352, len(DATA) - 1),
    ("bytes=104000-999999999", 104000, len(DATA) - 1),
    ("bytes=-999999", 0, len(DATA) - 1),
])
def test_range(srv, pki, rng, start, end):
    status, h, body = get(srv, pki, "/data.bin", {"Range": rng})
    assert status == 206
    assert h["content-range"] == "bytes %d-%d/%d" % (start, end, len(DATA))
    assert h["content-length"] == str(end - start + 1)
    assert body == DATA[start:end + 1]


@pytest.mark.parametrize("rng", ["bytes=%d-" % len(DATA), "bytes=999999-1000000", "bytes=-0"])
def test_unsatisfiable_range_is_416(srv, pki, rng):
    status, h, _ = get(srv, pki, "/data.bin", {"Range": rng})
    assert status == 416 and h["content-range"] == "bytes */%d" % len(DATA)


def test_invalid_or_multi_range_is_ignored(srv, pki):
    for rng in ("bytes=5-3", "bytes=0-1,5-6", "items=0-1"):
        status, _, body = get(srv, pki, "/data.bin", {"Range": rng})
        assert (status, body == DATA) == (200, True), rng
    status, h, _ = get(srv, pki, "/sub/empty.bin", {"Range": "bytes=0-"})
    assert status == 416 and h["content-range"] == "bytes */0"


def test_missing_file_is_404(srv, pki):
    for path in ("/nope.bin", "/sub", "/../data.bin", "/sub/../../x"):
        status, _, body = get(srv, pki, path)
        assert status == 404 and body.startswith(b"404"), path


def test_if_none_match_is_304(srv, pki):
    _, h, _ = get(srv, pki, "/data.bin")
    for inm in (h["etag"], "W/" + h["etag"], '"other", ' + h["etag"], "*"):
        status, h2, body = get(srv, pki, "/data.bin", {"If-None-Match": inm})
        assert (status, body) == (304, b""), inm
        assert h2["etag"] == h["etag"] and "content-length" not in h2
    status, _, body = get(srv, pki, "/data.bin", {"If-None-Match": '"0000000000000000"'})
    assert status == 200 and body == DATA


# --- framing ---------------------------------------------------------------------------------

def test_chunked(srv, pki):
    status, h, body = get(srv, pki, "/data.bin?chunked=4096")
    assert status == 200 and body == DATA
    assert h["transfer-encoding"] == "chunked" and "content-length" not in h
    raw = raw_exchange(srv, pki, "/data.bin?chunked=4096")
    _, _, rest = split_response(raw)
    body, sizes, exts, trailers, complete = decode_chunked(rest)
    assert body == DATA and complete and trailers == []
    assert sizes == [4096] * (len(DATA) // 4096) + [len(DATA) % 4096]
    assert set(exts) == {""}


def test_chunked_odd_sizes_extensions_and_trailer(srv, pki):
    raw = raw_exchange(srv, pki, "/small.txt?chunk_sizes=7,1,300&chunk_ext=1&trailer=1")
    status, h, rest = split_response(raw)
    assert status == "HTTP/1.1 200 OK" and h["trailer"] == "X-OTA-Trailer"
    body, sizes, exts, trailers, complete = decode_chunked(rest)
    assert body == SMALL and complete
    assert sizes[:6] == [7, 1, 300, 7, 1, 300]
    assert set(exts) == {"foo=bar;baz"}
    assert trailers == ["X-OTA-Trailer: done"]
    # http.client understands all of it too
    status, _, body = get(srv, pki, "/small.txt?chunked=1&chunk_ext=1&trailer=1")
    assert status == 200 and body == SMALL


def test_chunked_range(srv, pki):
    status, h, body = get(srv, pki, "/data.bin?chunked=1000", {"Range": "bytes=10-2009"})
    assert status == 206 and body == DATA[10:2010]
    assert h["content-range"] == "bytes 10-2009/%d" % len(DATA)


def test_http10_close_delimited(srv, pki):
    raw = raw_exchange(srv, pki, "/data.bin?http10=1")
    status, h, body = split_response(raw)
    assert status == "HTTP/1.0 200 OK"
    assert "content-length" not in h and "transfer-encoding" not in h
    assert h["connection"] == "close"
    assert body == DATA
    status, _, body = get(srv, pki, "/data.bin?http10=1&chunked=100")  # chunked is dropped
    assert status == 200 and body == DATA


def test_ignore_range(srv, pki):
    status, h, body = get(srv, pki, "/data.bin?ignore_range=1", {"Range": "bytes=10-20"})
    assert status == 200 and body == DATA and "content-range" not in h
    assert "accept-ranges" not in h


# --- connections -------------------------------------------------------------------------------

def test_keep_alive(srv, pki):
    conn = connect(srv, pki)
    for rng in ("bytes=0-999", "bytes=1000-1999"):
        conn.request("GET", "/data.bin", headers={"Range": rng})
        r = conn.getresponse()
        assert r.status == 206 and len(r.read()) == 1000
    conn.close()
    assert srv.handshakes == 1 and srv.connections == 1
    reqs = srv.requests
    assert len(reqs) == 2 and reqs[0]["conn"] == reqs[1]["conn"]
    srv.reset_counters()
    assert (srv.handshakes, srv.connections, srv.requests, srv.conn_info) == (0, 0, [], [])


def test_close_forces_a_new_connection(srv, pki):
    conn = connect(srv, pki)
    for rng in ("bytes=0-999", "bytes=1000-1999"):
        conn.request("GET", "/data.bin?close=1", headers={"Range": rng})
        r = conn.getresponse()
        assert r.getheader("Connection") == "close"
        assert r.status == 206 and len(r.read()) == 1000
    conn.close()
    assert srv.handshakes == 2
    reqs = srv.requests
    assert len(reqs) == 2 and reqs[0]["conn"] != reqs[1]["conn"]


def test_plain_http_server_and_several_instances(root, pki, srv):
    with OTAServer(root, pki, tls=False) as plain:
        assert plain.url("data.bin") == "http://localhost:%d/data.bin" % plain.port
        assert plain.port != srv.port
        status, _, body = get(plain, pki, "/data.bin")
        assert status == 200 and body == DATA
        assert plain.handshakes == 1 and srv.handshakes == 0
    assert srv.url("a.bin") == "https://localhost:%d/a.bin" % srv.port
    assert srv.url("/a.bin", host="127.0.0.1") == "https://127.0.0.1:%d/a.bin" % srv.port


# --- redirects -----------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_redirect(srv, pki, code):
    status, h, body = get(srv, pki, "/redirect?to=/data.bin&code=%d" % code)
    assert status == code and h["location"] == "/data.bin" and body


def test_redirect_across_servers(root, pki, srv):
    with OTAServer(root, pki, cert="other_server") as other:
        url = srv.url("redirect", to=other.url("data.bin", chunked=5), code=307)
        assert "?" in url and url.count("&") == 1  # the target's own query is quoted
        status, h, _ = get(srv, pki, url[url.index("/redirect"):])
        assert status == 307 and h["location"] == other.url("data.bin") + "?chunked=5"


def test_redirect_chain(srv, pki):
    path, hops = "/redirect-chain?n=3&final=/data.bin&code=308", 0
    conn = connect(srv, pki)
    while True:
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        if r.status != 308:
            break
        hops += 1
        path = r.getheader("Location")
    conn.close()
    assert (r.status, hops) == (200, 3)
    assert srv.handshakes == 1  # redirect bodies have a Content-Length: keep-alive survives
    status, _, _ = get(srv, pki, "/redirect-chain?n=0&final=/data.bin")
    assert status == 400


def test_redirect_loop(srv, pki):
    status, h, _ = get(srv, pki, "/redirect-loop?code=301")
    assert status == 301 and h["location"] == "/redirect-loop?code=301"
    status, h, _ = get(srv, pki, h["location"])
    assert status == 301 and h["location"] == "/redirect-loop?code=301"


# --- gates: auth, headers, status, delay ---------------------------------------------------------

def test_basic_auth(srv, pki):
    status, h, _ = get(srv, pki, "/data.bin?auth=user:pa55")
    assert status == 401 and h["www-authenticate"] == 'Basic realm="ota"'
    bad = {"Authorization": "Basic " + base64.b64encode(b"user:wrong").decode()}
    assert get(srv, pki, "/data.bin?auth=user:pa55", bad)[0] == 401
    good = {"Authorization": "Basic " + base64.b64encode(b"user:pa55").decode()}
    status, _, body = get(srv, pki, "/data.bin?auth=user:pa55", good)
    assert status == 200 and body == DATA


def test_require_header(srv, pki):
    assert get(srv, pki, "/small.txt?require_header=X-Device:esp32")[0] == 403
    assert get(srv, pki, "/small.txt?require_header=X-Device:esp32", {"X-Device": "esp8266"})[0] == 403
    status, _, body = get(srv, pki, "/small.txt?require_header=X-Device:esp32", {"x-device": "esp32"})
    assert status == 200 and body == SMALL


@pytest.mark.parametrize("code", [403, 500, 503])
def test_status(srv, pki, code):
    status, h, body = get(srv, pki, "/data.bin?status=%d" % code)
    assert status == code and body.startswith(b"%d " % code)
    assert h["content-length"] == str(len(body))


def test_delay_and_bad_parameter(srv, pki):
    t = time.monotonic()
    assert get(srv, pki, "/small.txt?delay_ms=300")[0] == 200
    assert time.monotonic() - t >= 0.3
    assert get(srv, pki, "/small.txt?cut_after=x")[0] == 400


# --- faults -----------------------------------------------------------------------------------

def test_stall_after_returns_promptly_on_stop(root, pki):
    base = threading.active_count()
    srv = OTAServer(root, pki).start()
    conn = connect(srv, pki)
    conn.request("GET", "/data.bin?stall_after=5000")
    r = conn.getresponse()
    assert r.status == 200 and r.read(5000) == DATA[:5000]
    t = time.monotonic()
    srv.stop()
    assert time.monotonic() - t < 1.0
    with pytest.raises(http.client.IncompleteRead):
        r.read()
    assert time.monotonic() - t < 2.0
    conn.close()
    assert wait_for(lambda: threading.active_count() <= base)


def test_stall_s_ends_the_stall(srv, pki):
    t = time.monotonic()
    raw = raw_exchange(srv, pki, "/data.bin?stall_after=1234&stall_s=0.3")
    assert 0.3 <= time.monotonic() - t < 2
    _, h, body = split_response(raw)
    assert h["content-length"] == str(len(DATA)) and body == DATA[:1234]


def test_cut_after(srv, pki):
    conn = connect(srv, pki)
    conn.request("GET", "/data.bin?cut_after=50001")
    r = conn.getresponse()
    with pytest.raises(http.client.IncompleteRead) as e:
        r.read()
    assert e.value.partial == DATA[:50001]
    conn.close()
    # chunked: the cut lands inside a chunk
    _, _, rest = split_response(raw_exchange(srv, pki, "/data.bin?chunked=1000&cut_after=2500"))
    body, sizes, _, _, complete = decode_chunked(rest)
    assert (body, sizes, complete) == (DATA[:2500], [1000, 1000, 500], False)
    # chunked, every byte sent but no last-chunk
    _, _, rest = split_response(raw_exchange(srv, pki, "/small.txt?chunked=1000&cut_after=999999"))
    body, _, _, _, complete = decode_chunked(rest)
    assert body == SMALL and not complete
    # and the server lives on
    assert get(srv, pki, "/small.txt")[2] == SMALL


def test_client_disconnects_do_not_hurt_the_server(srv, pki):
    for path in ("/data.bin", "/data.bin?chunked=3", "/data.bin?delay_ms=50"):
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        sock = client_ctx(pki).wrap_socket(sock, server_hostname="localhost")
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % path.encode())
        sock.recv(100)
        sock.close()
    for _ in range(3):  # a TCP connection that never starts TLS
        socket.create_connection(("127.0.0.1", srv.port), timeout=5).close()
    status, _, body = get(srv, pki, "/data.bin")
    assert status == 200 and body == DATA


# --- mutual TLS ---------------------------------------------------------------------------------

def test_mtls(root, pki):
    with OTAServer(root, pki, require_client_cert=True) as s:
        conn = connect(s, pki, client_cert=True)
        conn.request("GET", "/small.txt")
        assert conn.getresponse().read() == SMALL
        conn.close()
        assert s.conn_info[0]["client_cert"] == "OTA Test Client"
        conn = connect(s, pki)
        with pytest.raises((ssl.SSLError, ConnectionError)):
            conn.request("GET", "/small.txt")  # TLS 1.3: the alert comes with the first read
            conn.getresponse().read()
        conn.close()
        assert wait_for(lambda: s.conn_info[-1]["error"] is not None)
        assert s.handshakes == 1 and s.connections == 2


# --- command line ---------------------------------------------------------------------------------

def test_cli(root, tmp_path):
    proc = subprocess.Popen([sys.executable, str(HERE / "https_server.py"), "--dir", str(root),
                             "--pki", str(tmp_path / "clipki")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        assert info["url"] == "https://localhost:%d/" % info["port"]
        ctx = ssl.create_default_context(cafile=info["ca_pem"])
        conn = http.client.HTTPSConnection("localhost", info["port"], context=ctx, timeout=5)
        conn.request("GET", "/small.txt")
        assert conn.getresponse().read() == SMALL
        conn.close()
    finally:
        proc.terminate()
        assert proc.wait(5) == 0, proc.stderr.read()
