"""Security properties of the package, one test each, through the public API (scenarios/ota_run.py)
under CPython and the MicroPython unix port, against the local test servers.

Each test checks both sides: the error the application sees, and what the servers received
(connections, requests, headers), so "refused" also means "never sent"."""

import hashlib

import pytest

from conftest import IMAGES, run_scenario
import flashsim_path  # noqa: F401  (puts shims/ on sys.path)
import flashsim
import imagetools
from https_server import OTAServer

TEMPLATE = (IMAGES / "esp32-app-template.bin").read_bytes()
NEW_APP = imagetools.with_version(TEMPLATE, "7.0.0-security")
OTA_1_SIZE = next(e.size for e in flashsim.DEFAULT_TABLE if e.label == "ota_1")

ESP_FAIL = -1
ESP_ERR_INVALID_ARG = 0x102
ESP_ERR_INVALID_SIZE = 0x104
ESP_ERR_HTTP_CONNECT = 0x7002
ESP_ERR_HTTP_FETCH_HEADER = 0x7004
ESP_ERR_HTTP_REDIRECT_DOWNGRADE = 0x700D

SECRETS = ("s3cr3t-pw", "Bearer t0ken-xyz", "urlpass-99")


@pytest.fixture(scope="module")
def fw(tmp_path_factory):
    d = tmp_path_factory.mktemp("secfw")
    (d / "app.bin").write_bytes(NEW_APP)
    # A real image head followed by padding: one sector more than the target partition holds.
    (d / "oversize.bin").write_bytes(NEW_APP + b"\xff" * (OTA_1_SIZE + 4096 - len(NEW_APP)))
    return d


@pytest.fixture(scope="module")
def servers(fw, pki):
    made = {
        "main": OTAServer(fw, pki),
        "second": OTAServer(fw, pki),  # the same host name and CA, another port
        "other_ca": OTAServer(fw, pki, cert="other_server"),
        "wrong_host": OTAServer(fw, pki, cert="wrong_host"),
        "plain": OTAServer(fw, pki, tls=False),
    }
    for srv in made.values():
        srv.start()
    yield made
    for srv in made.values():
        srv.stop()


@pytest.fixture
def srv(servers):
    for s in servers.values():
        s.reset_counters()
    return servers["main"]


def ota(interp, flash, url, ca, *opts):
    res = run_scenario(interp, "ota_run.py", "oneshot", url, ca, *opts, env={"ESP32_FLASH": str(flash)})
    return res


def digest(flash):
    return hashlib.sha256(flash.read_bytes()).hexdigest()


def assert_refused(res, code, *words):
    assert res["ok"] is False, res.result
    assert res["code"] == code, res.result
    for word in words:
        assert word in res["msg"], res.result


def sent_headers(*servers):
    return [r["headers"] for s in servers for r in s.requests]


@pytest.mark.case("https with no CA configured; a server whose CA is not the configured one",
                  "ESP_ERR_INVALID_ARG / ESP_ERR_HTTP_CONNECT, flash untouched")
def test_tls_verification_is_on_by_default(interp, flash, srv, servers, pki):
    before = digest(flash)
    no_ca = ota(interp, flash, srv.url("app.bin"), "-")
    assert_refused(no_ca, ESP_ERR_INVALID_ARG, "cert_pem")
    assert srv.connections == 0  # refused before connecting, not connected unverified
    other = servers["other_ca"]
    wrong_ca = ota(interp, flash, other.url("app.bin"), pki["ca"])
    assert_refused(wrong_ca, ESP_ERR_HTTP_CONNECT, "TLS")
    assert other.requests == []  # the handshake failed: no request went out
    assert digest(flash) == before


@pytest.mark.case("http:// URL without allow_http_insecure_transport", "ESP_ERR_INVALID_ARG, no connection")
def test_plain_http_is_refused_by_default(interp, flash, srv, servers, pki):
    plain = servers["plain"]
    res = ota(interp, flash, plain.url("app.bin").replace("https://", "http://"), pki["ca"])
    assert_refused(res, ESP_ERR_INVALID_ARG, "http_config.url", "allow_http_insecure_transport")
    assert plain.connections == 0


@pytest.mark.case("certificate valid under the CA but for another host name", "ESP_ERR_HTTP_CONNECT")
def test_host_name_is_checked(interp, flash, srv, servers, pki):
    wrong = servers["wrong_host"]
    res = ota(interp, flash, wrong.url("app.bin"), pki["ca"])
    assert_refused(res, ESP_ERR_HTTP_CONNECT, "TLS")
    assert wrong.requests == []


@pytest.mark.case("image one sector larger than the target partition (Content-Length known)",
                  "ESP_ERR_INVALID_SIZE before any erase")
def test_oversize_image_is_refused_before_anything_is_erased(interp, flash, srv, pki):
    before = digest(flash)
    res = ota(interp, flash, srv.url("oversize.bin"), pki["ca"])
    assert_refused(res, ESP_ERR_INVALID_SIZE, str(OTA_1_SIZE + 4096))
    assert res["flash"]["erase_calls"] == 0 and res["flash"]["write_calls"] == 0, res["flash"]
    assert digest(flash) == before


@pytest.mark.case("Basic credentials, then a redirect to the same host on another port",
                  "credentials not sent to the new origin")
def test_basic_credentials_stay_with_their_origin(interp, flash, srv, servers, pki):
    second = servers["second"]
    # The first server wants the credentials, then redirects; the second wants them too.
    target = second.url("app.bin", auth="ota:s3cr3t-pw")
    url = srv.url("redirect", to=target, auth="ota:s3cr3t-pw")
    res = ota(interp, flash, url, pki["ca"], "http.username=ota", "http.password=s3cr3t-pw")
    assert_refused(res, ESP_FAIL, "401")
    assert any("authorization" in h for h in sent_headers(srv))  # the origin got them after its 401
    assert second.requests and all("authorization" not in h for h in sent_headers(second))


@pytest.mark.case("Basic credentials configured, a redirect before any 401, then a 401 from the new origin",
                  "ESP_FAIL (401); credentials never sent to the new origin")
def test_basic_credentials_are_not_offered_to_a_new_origin_that_asks(interp, flash, srv, servers, pki):
    second = servers["second"]
    # The origin never asked (no 401 retry used up); the new origin asks: it must not get them.
    url = srv.url("redirect", to=second.url("app.bin", auth="ota:s3cr3t-pw"))
    res = ota(interp, flash, url, pki["ca"], "http.username=ota", "http.password=s3cr3t-pw")
    assert_refused(res, ESP_FAIL, "401")
    assert all("authorization" not in h for h in sent_headers(srv))
    assert second.requests and all("authorization" not in h for h in sent_headers(second))


@pytest.mark.case("Authorization header set in http_client_init_cb, then a redirect to another origin",
                  "header not sent to the new origin")
def test_init_cb_authorization_stays_with_its_origin(interp, flash, srv, servers, pki):
    second = servers["second"]
    url = srv.url("redirect", to=second.url("app.bin"))
    res = ota(interp, flash, url, pki["ca"], "init_header=Authorization:Bearer t0ken-xyz")
    assert res["ok"] is True, res.result
    assert sent_headers(srv)[0].get("authorization") == "Bearer t0ken-xyz"
    assert second.requests and all("authorization" not in h for h in sent_headers(second))


@pytest.mark.case("credentials or an Authorization header with plain http (allowed), or after a "
                  "redirect to http", "ESP_ERR_INVALID_ARG / ESP_ERR_HTTP_REDIRECT_DOWNGRADE, never sent")
def test_credentials_are_never_sent_over_http(interp, flash, srv, servers, pki):
    plain = servers["plain"]
    http_url = plain.url("app.bin").replace("https://", "http://")
    allow = "allow_http_insecure_transport=true"
    basic = ota(interp, flash, http_url, "-", allow, "http.username=ota", "http.password=s3cr3t-pw")
    assert_refused(basic, ESP_ERR_INVALID_ARG, "plain http")
    header = ota(interp, flash, http_url, "-", allow, "init_header=Authorization:Bearer t0ken-xyz")
    assert_refused(header, ESP_ERR_INVALID_ARG, "Authorization", "plain http")
    down = ota(interp, flash, srv.url("redirect", to=http_url), pki["ca"], allow,
               "init_header=Authorization:Bearer t0ken-xyz")
    assert_refused(down, ESP_ERR_HTTP_REDIRECT_DOWNGRADE)
    assert plain.requests == []  # nothing at all went out in clear text


@pytest.mark.parametrize("where, opt, field", [
    pytest.param("header name", "init_header=X-Evil\r\nInjected:1", "inject",
                 marks=pytest.mark.case("CR/LF in a header name set in http_client_init_cb", "ESP_ERR_INVALID_ARG")),
    pytest.param("header value", "init_header=X-Token:ok\r\nInjected: 1", "inject",
                 marks=pytest.mark.case("CR/LF in a header value set in http_client_init_cb", "ESP_ERR_INVALID_ARG")),
    pytest.param("user agent", "http.user_agent=ua\r\nInjected: 1", "user_agent",
                 marks=pytest.mark.case("CR/LF in http_config.user_agent", "ESP_ERR_INVALID_ARG")),
])
def test_crlf_in_headers_is_refused_never_sent(interp, flash, srv, pki, where, opt, field):
    res = ota(interp, flash, srv.url("app.bin"), pki["ca"], opt)
    assert_refused(res, ESP_ERR_INVALID_ARG, field)
    assert all("injected" not in h for h in sent_headers(srv))
    assert srv.requests == []


@pytest.mark.parametrize("location", [
    pytest.param("/app.bin\rInjected: 1", marks=pytest.mark.case("a bare CR inside a redirect's Location", "ESP_ERR_INVALID_ARG")),
    pytest.param("/app.bin Injected: 1", marks=pytest.mark.case("a space inside a redirect's Location", "ESP_ERR_INVALID_ARG")),
    pytest.param("/app.bin\x00x", marks=pytest.mark.case("a NUL inside a redirect's Location", "ESP_ERR_INVALID_ARG")),
])
def test_control_characters_in_a_redirect_url_are_refused_never_sent(interp, flash, srv, pki, location):
    res = ota(interp, flash, srv.url("redirect", to=location), pki["ca"])
    assert_refused(res, ESP_ERR_INVALID_ARG, "space or control character")
    assert len(srv.requests) == 1  # only the request that got the redirect
    assert all("injected" not in h for h in sent_headers(srv))


@pytest.mark.case("percent-encoded CR LF in a redirect's Location", "followed, sent still encoded")
def test_percent_encoded_crlf_in_a_redirect_stays_encoded(interp, flash, srv, pki):
    res = ota(interp, flash, srv.url("redirect", to="/app.bin?x=%0D%0AInjected:%201"), pki["ca"])
    assert res["ok"] is True, res.result
    assert srv.requests[1]["path"] == "/app.bin?x=%0D%0AInjected:%201"
    assert all("injected" not in h for h in sent_headers(srv))


@pytest.mark.case("a Location longer than http_config.buffer_size", "ESP_ERR_HTTP_FETCH_HEADER")
def test_location_longer_than_buffer_size_is_refused_cleanly(interp, flash, srv, pki):
    before = digest(flash)
    res = ota(interp, flash, srv.url("redirect", to="/app.bin", pad=1500), pki["ca"], "buffer_size=1024")
    assert_refused(res, ESP_ERR_HTTP_FETCH_HEADER, "Location", "1024", "buffer_size")
    assert len(srv.requests) == 1
    assert digest(flash) == before


@pytest.mark.case("failures (401, 404, wrong CA, redirect loop, downgrade) with Basic credentials, "
                  "URL userinfo and an Authorization header", "no secret in any message or output")
def test_no_credentials_or_userinfo_in_any_message(interp, flash, srv, servers, pki):
    creds = ("http.username=ota", "http.password=s3cr3t-pw", "init_header=Authorization:Bearer t0ken-xyz")
    http_url = servers["plain"].url("app.bin").replace("https://", "http://")
    attempts = [
        (srv.url("app.bin", auth="ota:other").replace("https://", "https://ota:urlpass-99@"), creds[2:]),
        (srv.url("app.bin", auth="ota:other"), creds),
        (srv.url("missing.bin").replace("https://", "https://ota:urlpass-99@"), creds),
        (servers["other_ca"].url("app.bin").replace("https://", "https://ota:urlpass-99@"), creds),
        (srv.url("redirect-loop").replace("https://", "https://ota:urlpass-99@"), creds),
        (srv.url("redirect", to=http_url.replace("http://", "http://ota:urlpass-99@")), creds[2:]),
        (http_url.replace("http://", "http://ota:urlpass-99@"), ()),
        (srv.url("redirect", to=srv.url("missing.bin").replace("https://", "https://ota:urlpass-99@")), creds[2:]),
    ]
    codes = set()
    for url, opts in attempts:
        res = ota(interp, flash, url, pki["ca"], *opts)
        assert res["ok"] is False, res.result
        codes.add(res["code"])
        # The request URL's own query may carry the secret (quoted, as the redirect target).
        shown = (res["msg"] + res.stdout + res.stderr).replace(url, "<url>")
        for secret in SECRETS:
            assert secret not in shown, (secret, res["msg"])
    assert len(codes) >= 4, codes  # the attempts really failed in different places
