"""The board's HTTP client (lib/esp_https_ota/http.py) against the local HTTPS server, under
CPython and the MicroPython unix port: bodies, redirects, ranges on one connection, statuses,
auth, timeouts, TLS verification and mutual TLS."""

import hashlib
import json
import socket
import threading

import pytest

from conftest import IMAGES, run_scenario
import imagetools
from https_server import OTAServer

PAYLOAD = imagetools.with_version((IMAGES / "esp32-app-template.bin").read_bytes(), "4.0.0-http")
SHA = hashlib.sha256(PAYLOAD).hexdigest()
ETAG = '"%s"' % SHA[:16]

ESP_FAIL = -1
ESP_ERR_INVALID_ARG = 0x102
ESP_ERR_NOT_SUPPORTED = 0x106
ESP_ERR_HTTP_MAX_REDIRECT = 0x7001
ESP_ERR_HTTP_CONNECT = 0x7002
ESP_ERR_HTTP_FETCH_HEADER = 0x7004
ESP_ERR_HTTP_NOT_MODIFIED = 0x7009
ESP_ERR_HTTP_RANGE_NOT_SATISFIABLE = 0x700A
ESP_ERR_HTTP_READ_TIMEOUT = 0x700B
ESP_ERR_HTTP_INCOMPLETE_DATA = 0x700C
ESP_ERR_HTTP_REDIRECT_DOWNGRADE = 0x700D


@pytest.fixture(scope="session")
def fw(tmp_path_factory):
    d = tmp_path_factory.mktemp("httpfw")
    (d / "app.bin").write_bytes(PAYLOAD)
    return d


def _server(fw, pki, **kw):
    srv = OTAServer(fw, pki, **kw)
    srv.start()
    return srv


@pytest.fixture(scope="session")
def servers(fw, pki):
    """name -> running OTAServer; all share the file root."""
    made = {
        "main": _server(fw, pki),
        "second": _server(fw, pki),  # another port, same CA
        "other_ca": _server(fw, pki, cert="other_server"),
        "wrong_host": _server(fw, pki, cert="wrong_host"),
        "expired": _server(fw, pki, cert="expired"),
        "mtls": _server(fw, pki, require_client_cert=True),
        "plain": _server(fw, pki, tls=False),
    }
    yield made
    for srv in made.values():
        srv.stop()


@pytest.fixture
def srv(servers):
    for s in servers.values():
        s.reset_counters()
    return servers["main"]


def fetch(interp, url, ca="ca", pki=None, **spec):
    spec.setdefault("http_config", {})["url"] = url
    if ca:
        spec["ca_file"] = pki.get(ca, ca) if pki else ca
    return run_scenario(interp, "http_fetch.py", json.dumps(spec))


def assert_ok(res, size=len(PAYLOAD)):
    assert res["ok"] is True, json.dumps(res.result)
    assert res["nbytes"] == len(PAYLOAD)
    assert res["sha256"] == SHA
    assert res["size"] == size
    assert res["complete"] is True


def assert_err(res, code, *words):
    assert res["ok"] is False, json.dumps(res.result)
    assert res["code"] == code, json.dumps(res.result)
    for w in words:
        assert w in res["msg"], res["msg"]


# -- bodies

@pytest.mark.case("200 with a Content-Length body", "ESP_OK; every byte, SHA-256 matches")
def test_content_length_body(interp, srv, pki):
    res = fetch(interp, srv.url("app.bin"), pki=pki)
    assert_ok(res)
    assert res["status"] == 200


@pytest.mark.case("chunked body with odd chunk sizes, chunk extensions and a trailer", "ESP_OK; every byte, size -1")
def test_chunked_body_with_odd_sizes_extensions_and_trailer(interp, srv, pki):
    res = fetch(interp, srv.url("app.bin", chunk_sizes="7,4096,1,333,65536", chunk_ext=1, trailer=1), pki=pki)
    assert_ok(res, size=-1)


@pytest.mark.case("HTTP/1.0 body delimited by the connection close", "ESP_OK; every byte, size -1")
def test_close_delimited_http10_body(interp, srv, pki):
    res = fetch(interp, srv.url("app.bin", http10=1), pki=pki)
    assert_ok(res, size=-1)


# -- redirects

@pytest.mark.case("relative redirect to app.bin", "ESP_OK; followed on the same TLS connection")
def test_relative_redirect(interp, srv, pki):
    res = fetch(interp, srv.url("redirect", to="app.bin"), pki=pki)
    assert_ok(res)
    assert res["url"].endswith("/app.bin")
    assert srv.handshakes == 1  # the redirect's small body was drained: one connection


@pytest.mark.parametrize("code", [
    pytest.param(301, marks=pytest.mark.case("absolute 301 redirect to a server on another port", "ESP_OK; followed")),
    pytest.param(302, marks=pytest.mark.case("absolute 302 redirect to a server on another port", "ESP_OK; followed")),
    pytest.param(303, marks=pytest.mark.case("absolute 303 redirect to a server on another port", "ESP_OK; followed")),
    pytest.param(307, marks=pytest.mark.case("absolute 307 redirect to a server on another port", "ESP_OK; followed")),
    pytest.param(308, marks=pytest.mark.case("absolute 308 redirect to a server on another port", "ESP_OK; followed")),
])
def test_absolute_redirect_across_ports(interp, srv, servers, pki, code):
    target = servers["second"].url("app.bin")
    res = fetch(interp, srv.url("redirect", to=target, code=code), pki=pki)
    assert_ok(res)
    assert res["url"] == target


@pytest.mark.case("redirect chain of 3 with max_redirection_count 3", "ESP_OK")
def test_redirect_chain_within_the_limit(interp, srv, pki):
    res = fetch(interp, srv.url("redirect-chain", n=3, final="/app.bin"), pki=pki,
                http_config={"max_redirection_count": 3})
    assert_ok(res)


@pytest.mark.case("redirect chain of 4 with max_redirection_count 3", "ESP_ERR_HTTP_MAX_REDIRECT")
def test_redirect_chain_over_the_limit(interp, srv, pki):
    res = fetch(interp, srv.url("redirect-chain", n=4, final="/app.bin"), pki=pki,
                http_config={"max_redirection_count": 3})
    assert_err(res, ESP_ERR_HTTP_MAX_REDIRECT, "more than 3 redirects")


@pytest.mark.case("endless redirect loop with the default limit of 10", "ESP_ERR_HTTP_MAX_REDIRECT after 11 requests")
def test_redirect_loop_ends_at_the_default_limit_of_10(interp, srv, pki):
    res = fetch(interp, srv.url("redirect-loop"), pki=pki)
    assert_err(res, ESP_ERR_HTTP_MAX_REDIRECT)
    assert res["requests"] == 11


@pytest.mark.case("redirect from https to an http:// URL",
                  "ESP_ERR_HTTP_REDIRECT_DOWNGRADE; the http server never contacted")
def test_https_to_http_redirect_is_refused(interp, srv, servers, pki):
    res = fetch(interp, srv.url("redirect", to=servers["plain"].url("app.bin")), pki=pki)
    assert_err(res, ESP_ERR_HTTP_REDIRECT_DOWNGRADE, "http://")
    assert servers["plain"].connections == 0


@pytest.mark.case("redirect to a host signed by another CA: first CA only, then a bundle of both",
                  "ESP_ERR_HTTP_CONNECT; ESP_OK with the bundle")
def test_redirect_to_a_host_signed_by_another_ca_needs_both_in_the_bundle(interp, srv, servers, pki, tmp_path):
    url = srv.url("redirect", to=servers["other_ca"].url("app.bin"))
    assert_err(fetch(interp, url, pki=pki), ESP_ERR_HTTP_CONNECT, "TLS")
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(open(pki["ca"]).read() + open(pki["other_ca"]).read())
    assert_ok(fetch(interp, url, ca=str(bundle), pki=pki))


@pytest.mark.case("Authorization header set by the caller, then a redirect to another host",
                  "ESP_OK; header not sent to the new host")
def test_redirect_to_another_host_drops_authorization(interp, srv, servers, pki):
    target = servers["second"].url("app.bin", host="127.0.0.1")
    res = fetch(interp, srv.url("redirect", to=target), pki=pki, headers={"Authorization": "Bearer s3cret"})
    assert_ok(res)
    assert srv.requests[0]["headers"].get("authorization") == "Bearer s3cret"
    assert "authorization" not in servers["second"].requests[0]["headers"]


@pytest.mark.case("302 with disable_auto_redirect", "ESP_FAIL naming status 302")
def test_disable_auto_redirect_reports_the_status(interp, srv, pki):
    res = fetch(interp, srv.url("redirect", to="app.bin"), pki=pki, http_config={"disable_auto_redirect": True})
    assert_err(res, ESP_FAIL, "302")


# -- partial download: Range requests on one kept-alive connection

@pytest.mark.parametrize("range_size", [
    pytest.param(4096, marks=pytest.mark.case("Range requests of 4096 bytes", "ESP_OK; 206s on one TLS connection")),
    pytest.param(65536, marks=pytest.mark.case("Range requests of 65536 bytes", "ESP_OK; 206s on one TLS connection")),
])
def test_ranges_share_one_tls_connection(interp, srv, pki, range_size):
    res = fetch(interp, srv.url("app.bin"), pki=pki, range_size=range_size)
    assert_ok(res)
    assert res["status"] == 206
    expected = -(-len(PAYLOAD) // range_size)
    assert res["requests"] == expected
    assert srv.handshakes == 1
    ranges = [r["headers"]["range"] for r in srv.requests]
    assert ranges[0] == "bytes=0-%d" % (range_size - 1)
    assert ranges[-1] == "bytes=%d-%d" % ((expected - 1) * range_size, len(PAYLOAD) - 1)
    assert all(r["method"] == "GET" for r in srv.requests)  # no HEAD: presigned URLs reject it


@pytest.mark.case("64 KB Range requests to a server that closes after each response",
                  "ESP_OK; one new connection per range")
def test_ranges_reconnect_when_the_server_closes(interp, srv, pki):
    res = fetch(interp, srv.url("app.bin", close=1), pki=pki, range_size=65536)
    assert_ok(res)
    assert srv.handshakes == len(srv.requests) == -(-len(PAYLOAD) // 65536)


@pytest.mark.case("Range request to a server that ignores Range (200, whole body)", "ESP_OK; one request")
def test_server_that_ignores_range_sends_the_whole_image(interp, srv, pki):
    res = fetch(interp, srv.url("app.bin", ignore_range=1), pki=pki, range_size=4096)
    assert_ok(res)
    assert res["status"] == 200
    assert res["requests"] == 1


# -- statuses

@pytest.mark.case("If-None-Match with the image's ETag (304)", "ESP_ERR_HTTP_NOT_MODIFIED")
def test_304_not_modified_with_if_none_match(interp, srv, pki):
    res = fetch(interp, srv.url("app.bin"), pki=pki, headers={"If-None-Match": ETAG})
    assert_err(res, ESP_ERR_HTTP_NOT_MODIFIED)
    assert res["last_status"] == 304


@pytest.mark.case("status 416", "ESP_ERR_HTTP_RANGE_NOT_SATISFIABLE")
def test_416_range_not_satisfiable(interp, srv, pki):
    assert_err(fetch(interp, srv.url("app.bin", status=416), pki=pki), ESP_ERR_HTTP_RANGE_NOT_SATISFIABLE)


@pytest.mark.parametrize("status", [
    pytest.param(403, marks=pytest.mark.case("status 403", "ESP_FAIL naming the status")),
    pytest.param(404, marks=pytest.mark.case("status 404", "ESP_FAIL naming the status")),
    pytest.param(500, marks=pytest.mark.case("status 500", "ESP_FAIL naming the status")),
    pytest.param(503, marks=pytest.mark.case("status 503", "ESP_FAIL naming the status")),
])
def test_error_statuses_name_the_status(interp, srv, pki, status):
    res = fetch(interp, srv.url("app.bin", status=status), pki=pki)
    assert_err(res, ESP_FAIL, "HTTP status %d" % status)
    assert res["last_status"] == status


@pytest.mark.case("401 with no credentials configured", "ESP_FAIL naming 401")
def test_401_without_credentials_fails(interp, srv, pki):
    assert_err(fetch(interp, srv.url("app.bin", auth="ota:pw"), pki=pki), ESP_FAIL, "401")


@pytest.mark.case("401, right username and password in http_config", "ESP_OK; retried once with them")
def test_401_is_retried_once_with_config_credentials(interp, srv, pki):
    res = fetch(interp, srv.url("app.bin", auth="ota:pw"), pki=pki, http_config={"username": "ota", "password": "pw"})
    assert_ok(res)
    assert res["requests"] == 2
    assert "authorization" not in srv.requests[0]["headers"]


@pytest.mark.case("401, right credentials in the URL's userinfo", "ESP_OK")
def test_credentials_from_the_url(interp, srv, pki):
    url = srv.url("app.bin", auth="ota:pw").replace("https://", "https://ota:pw@")
    assert_ok(fetch(interp, url, pki=pki))


@pytest.mark.case("404 with a password in the URL's userinfo",
                  "ESP_FAIL naming 404; password in neither message nor URL")
def test_credentials_from_the_url_stay_out_of_error_messages(interp, srv, pki):
    url = srv.url("app.bin", status=404).replace("https://", "https://ota:s3cret@")
    res = fetch(interp, url, pki=pki)
    assert_err(res, ESP_FAIL, "404")
    assert "s3cret" not in res["msg"] and "s3cret" not in res["url"]
    assert srv.requests[0]["path"].startswith("/app.bin")


@pytest.mark.case("401, wrong password in http_config", "ESP_FAIL naming 401 after one retry")
def test_wrong_credentials_fail_after_one_retry(interp, srv, pki):
    res = fetch(interp, srv.url("app.bin", auth="ota:pw"), pki=pki, http_config={"username": "ota", "password": "no"})
    assert_err(res, ESP_FAIL, "401")
    assert res["requests"] == 2


@pytest.mark.case("server that requires a header: without it, then with it set by the caller",
                  "ESP_FAIL naming 403; then ESP_OK")
def test_headers_set_by_the_caller_are_sent(interp, srv, pki):
    url = srv.url("app.bin", require_header="X-Device:abc")
    assert_err(fetch(interp, url, pki=pki), ESP_FAIL, "403")
    assert_ok(fetch(interp, url, pki=pki, headers={"X-Device": "abc"}))


# -- stalls and cuts

@pytest.mark.case("server stalls 20 s after 10000 bytes, timeout_ms 1000", "ESP_ERR_HTTP_READ_TIMEOUT within 4 s")
def test_stalled_server_times_out_within_timeout_ms(interp, srv, pki):
    res = fetch(interp, srv.url("app.bin", stall_after=10000, stall_s=20), pki=pki, http_config={"timeout_ms": 1000})
    assert_err(res, ESP_ERR_HTTP_READ_TIMEOUT, "timeout_ms=1000")
    assert res["elapsed_ms"] < 4000


@pytest.mark.case("connection cut after 100000 bytes of a Content-Length body", "ESP_ERR_HTTP_INCOMPLETE_DATA")
def test_cut_mid_body_is_incomplete_data(interp, srv, pki):
    assert_err(fetch(interp, srv.url("app.bin", cut_after=100000), pki=pki), ESP_ERR_HTTP_INCOMPLETE_DATA)


@pytest.mark.case("connection cut after 100000 bytes of a chunked body", "ESP_ERR_HTTP_INCOMPLETE_DATA")
def test_cut_inside_a_chunked_body_is_incomplete_data(interp, srv, pki):
    res = fetch(interp, srv.url("app.bin", chunked=5000, cut_after=100000), pki=pki)
    assert_err(res, ESP_ERR_HTTP_INCOMPLETE_DATA)


@pytest.mark.case("chunked body cut after all its data, before the last chunk", "ESP_ERR_HTTP_INCOMPLETE_DATA")
def test_chunked_body_without_its_last_chunk_is_incomplete(interp, srv, pki):
    res = fetch(interp, srv.url("app.bin", chunked=5000, cut_after=len(PAYLOAD)), pki=pki)
    assert_err(res, ESP_ERR_HTTP_INCOMPLETE_DATA)


@pytest.mark.case("connection cut after 30000 bytes of a 64 KB Range response", "ESP_ERR_HTTP_INCOMPLETE_DATA")
def test_cut_during_a_range_is_incomplete_data(interp, srv, pki):
    res = fetch(interp, srv.url("app.bin", cut_after=30000), pki=pki, range_size=65536)
    assert_err(res, ESP_ERR_HTTP_INCOMPLETE_DATA)


# -- TLS

@pytest.mark.case("server certificate signed by another CA", "ESP_ERR_HTTP_CONNECT (not correctly signed)")
def test_wrong_ca_is_refused(interp, servers, pki):
    res = fetch(interp, servers["other_ca"].url("app.bin"), pki=pki)
    assert_err(res, ESP_ERR_HTTP_CONNECT, "not correctly signed")


@pytest.mark.case("server certificate for another host name", "ESP_ERR_HTTP_CONNECT naming the CN")
def test_wrong_hostname_is_refused(interp, servers, pki):
    res = fetch(interp, servers["wrong_host"].url("app.bin"), pki=pki)
    assert_err(res, ESP_ERR_HTTP_CONNECT, "CN")


@pytest.mark.case("skip_cert_common_name_check set", "ESP_ERR_NOT_SUPPORTED pointing at common_name; no connection")
def test_skip_cert_common_name_check_is_refused_with_a_pointer_to_common_name(interp, srv, servers, pki):
    """MicroPython's tls cannot verify a chain without a host name, so skipping the name check
    would mean skipping verification: refused, naming the field that does work."""
    res = fetch(interp, servers["wrong_host"].url("app.bin"), pki=pki,
                http_config={"skip_cert_common_name_check": True})
    assert_err(res, ESP_ERR_NOT_SUPPORTED, "skip_cert_common_name_check", "common_name")
    assert servers["wrong_host"].connections == 0


@pytest.mark.case("common_name set to the certificate's other host name", "ESP_OK")
def test_common_name_overrides_the_name_checked(interp, servers, pki):
    res = fetch(interp, servers["wrong_host"].url("app.bin"), pki=pki, http_config={"common_name": "wrong.example"})
    assert_ok(res)


@pytest.mark.case("expired server certificate", "ESP_ERR_HTTP_CONNECT (expired)")
def test_expired_certificate_is_refused(interp, servers, pki):
    assert_err(fetch(interp, servers["expired"].url("app.bin"), pki=pki), ESP_ERR_HTTP_CONNECT, "expired")


@pytest.mark.case("server that requires a client certificate: without one, then with client_cert/client_key",
                  "fails without; ESP_OK with it")
def test_mutual_tls(interp, servers, pki):
    url = servers["mtls"].url("app.bin")
    assert fetch(interp, url, pki=pki)["ok"] is False
    assert_ok(fetch(interp, url, pki=pki, client_cert_file=pki["client"], client_key_file=pki["client_key"]))
    assert servers["mtls"].conn_info[-1]["client_cert"]


# -- plain http and config checks

@pytest.mark.case("http:// URL without, then with allow_http_insecure_transport", "ESP_ERR_INVALID_ARG; then ESP_OK")
def test_plain_http_needs_the_explicit_option(interp, servers, pki):
    url = servers["plain"].url("app.bin")
    assert_err(fetch(interp, url, ca=None), ESP_ERR_INVALID_ARG, "allow_http_insecure_transport")
    assert_ok(fetch(interp, url, ca=None, allow_http=True))


@pytest.mark.case("https URL with no cert_pem", "ESP_ERR_INVALID_ARG naming cert_pem")
def test_https_without_cert_pem_is_refused(interp, srv):
    assert_err(fetch(interp, srv.url("app.bin"), ca=None), ESP_ERR_INVALID_ARG, "cert_pem")


@pytest.mark.parametrize("field,value,code,words", [
    pytest.param("no_such_field", 1, ESP_ERR_INVALID_ARG, ("no_such_field",),
                 marks=pytest.mark.case("unknown http_config field", "ESP_ERR_INVALID_ARG naming it")),
    pytest.param("timeout_ms", "5s", ESP_ERR_INVALID_ARG, ("timeout_ms",),
                 marks=pytest.mark.case("http_config.timeout_ms given as a string", "ESP_ERR_INVALID_ARG naming it")),
    pytest.param("is_async", True, ESP_ERR_INVALID_ARG, ("is_async",),
                 marks=pytest.mark.case("http_config.is_async True", "ESP_ERR_INVALID_ARG naming it")),
    pytest.param("crt_bundle_attach", True, ESP_ERR_NOT_SUPPORTED, ("crt_bundle_attach",),
                 marks=pytest.mark.case("http_config.crt_bundle_attach set", "ESP_ERR_NOT_SUPPORTED naming it")),
    pytest.param("client_cert_pem", "x", ESP_ERR_INVALID_ARG, ("client_key_pem",),
                 marks=pytest.mark.case("client_cert_pem without client_key_pem",
                                        "ESP_ERR_INVALID_ARG naming client_key_pem")),
])
def test_http_config_errors_name_the_field(interp, srv, pki, field, value, code, words):
    assert_err(fetch(interp, srv.url("app.bin"), pki=pki, http_config={field: value}), code, *words)


@pytest.mark.case("a 5000-byte header line, buffer_size 512", "ESP_ERR_HTTP_FETCH_HEADER (longer than 1024)")
def test_header_line_longer_than_the_buffer_is_an_error(interp):
    """A raw plain-HTTP server that sends one 5000-byte header line."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve():
        conn, _ = listener.accept()
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 5000 + b"\r\nContent-Length: 0\r\n\r\n")
        conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    url = "http://127.0.0.1:%d/app.bin" % listener.getsockname()[1]
    res = fetch(interp, url, ca=None, allow_http=True, http_config={"buffer_size": 512})
    t.join(5)
    listener.close()
    assert_err(res, ESP_ERR_HTTP_FETCH_HEADER, "longer than 1024")


@pytest.mark.parametrize("query", [
    pytest.param({}, id="content-length", marks=pytest.mark.case(
        "Content-Length body read under heap_lock (MicroPython)", "no allocation after the first read")),
    pytest.param({"chunk_sizes": "3000,7,4096"}, id="chunked", marks=pytest.mark.case(
        "chunked body read under heap_lock (MicroPython)", "no allocation after the first read")),
])
def test_body_reads_allocate_nothing(srv, pki, query):
    """MicroPython only (CPython has no heap lock): every read after the first runs under heap_lock."""
    res = run_scenario("micropython", "http_heap_lock.py", srv.url("app.bin", **query), pki["ca"])
    assert res["failed_at"] is None, res.result
    assert res["total"] == len(PAYLOAD)
    assert res["locked_reads"] >= len(PAYLOAD) // 4096


@pytest.mark.case("server certificate not yet valid (as with an unset clock)",
                  "ESP_ERR_HTTP_CONNECT pointing at ntptime.settime()")
def test_certificate_not_yet_valid_points_at_the_clock(interp, fw, pki, tmp_path):
    """An unset RTC makes every certificate 'not yet valid': the error says to set the clock."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    ca_cert = x509.load_pem_x509_certificate(open(pki["ca"], "rb").read())
    ca_key = serialization.load_pem_private_key(open(pki["ca_key"], "rb").read(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=10)).not_valid_after(now + datetime.timedelta(days=40))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (tmp_path / "future.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "future.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    pki_future = dict(pki, future=str(tmp_path / "future.pem"), future_key=str(tmp_path / "future.key"))
    with OTAServer(fw, pki_future, cert="future") as future:
        res = fetch(interp, future.url("app.bin"), pki=pki)
    assert_err(res, ESP_ERR_HTTP_CONNECT, "future", "ntptime.settime()")


@pytest.mark.case("CR LF in a header value set by the caller", "ESP_ERR_INVALID_ARG; no connection")
def test_header_injection_through_set_header_is_refused(interp, srv, pki):
    """A CR or LF in a header set by http_client_init_cb would smuggle in another header."""
    res = fetch(interp, srv.url("app.bin"), pki=pki, headers={"X-Device": "abc\r\nHost: evil.example"})
    assert_err(res, ESP_ERR_INVALID_ARG, "inject")
    assert srv.connections == 0
