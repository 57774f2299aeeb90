"""esp_https_ota.url: RFC 3986 §5.2 reference resolution (every example of §5.4), redirect
targets, and split() of request URLs with its errors. All cases run in one scenario per
interpreter; each case is then its own test, under CPython and the MicroPython unix port."""

import json

import pytest

from conftest import INTERPRETERS, run_scenario

ESP_ERR_INVALID_ARG = 0x102
ESP_ERR_HTTP_INVALID_TRANSPORT = 0x7005
SECRET = "s3cret"

RFC_BASE = "http://a/b/c/d;p?q"
RFC_NORMAL = [  # RFC 3986 §5.4.1
    ("g:h", "g:h"), ("g", "http://a/b/c/g"), ("./g", "http://a/b/c/g"), ("g/", "http://a/b/c/g/"),
    ("/g", "http://a/g"), ("//g", "http://g"), ("?y", "http://a/b/c/d;p?y"),
    ("g?y", "http://a/b/c/g?y"), ("#s", "http://a/b/c/d;p?q#s"), ("g#s", "http://a/b/c/g#s"),
    ("g?y#s", "http://a/b/c/g?y#s"), (";x", "http://a/b/c/;x"), ("g;x", "http://a/b/c/g;x"),
    ("g;x?y#s", "http://a/b/c/g;x?y#s"), ("", "http://a/b/c/d;p?q"), (".", "http://a/b/c/"),
    ("./", "http://a/b/c/"), ("..", "http://a/b/"), ("../", "http://a/b/"),
    ("../g", "http://a/b/g"), ("../..", "http://a/"), ("../../", "http://a/"),
    ("../../g", "http://a/g"),
]
RFC_ABNORMAL = [  # RFC 3986 §5.4.2 (strict parser)
    ("../../../g", "http://a/g"), ("../../../../g", "http://a/g"), ("/./g", "http://a/g"),
    ("/../g", "http://a/g"), ("g.", "http://a/b/c/g."), (".g", "http://a/b/c/.g"),
    ("g..", "http://a/b/c/g.."), ("..g", "http://a/b/c/..g"), ("./../g", "http://a/b/g"),
    ("./g/.", "http://a/b/c/g/"), ("g/./h", "http://a/b/c/g/h"), ("g/../h", "http://a/b/c/h"),
    ("g;x=1/./y", "http://a/b/c/g;x=1/y"), ("g;x=1/../y", "http://a/b/c/y"),
    ("g?y/./x", "http://a/b/c/g?y/./x"), ("g?y/../x", "http://a/b/c/g?y/../x"),
    ("g#s/./x", "http://a/b/c/g#s/./x"), ("g#s/../x", "http://a/b/c/g#s/../x"),
    ("http:g", "http:g"),
]
FW = "https://h:8443/fw/app.bin"
REDIRECTS = [
    (FW, "/other.bin", "https://h:8443/other.bin"),
    (FW, "other.bin", "https://h:8443/fw/other.bin"),
    (FW, "../x/y.bin", "https://h:8443/x/y.bin"),
    (FW, "//cdn.example/a.bin", "https://cdn.example/a.bin"),
    (FW, "?v=2", "https://h:8443/fw/app.bin?v=2"),
    (FW, "https://elsewhere/x", "https://elsewhere/x"),
    (FW, "http://elsewhere/x", "http://elsewhere/x"),  # the downgrade check is the caller's
    (FW, "https://elsewhere/a/../b/./c.bin", "https://elsewhere/b/c.bin"),
    (FW + "#frag", "other.bin", "https://h:8443/fw/other.bin"),
    ("https://h", "a.bin", "https://h/a.bin"),  # §5.2.3: authority and empty base path
    ("https://h?q", "", "https://h?q"),
]
RESOLVE = [(RFC_BASE, r, e) for r, e in RFC_NORMAL + RFC_ABNORMAL] + REDIRECTS

SPLIT_OK = [
    ("https://fw.example.com/app.bin", ["https", "fw.example.com", 443, "/app.bin", ""]),
    ("http://fw.example.com/app.bin", ["http", "fw.example.com", 80, "/app.bin", ""]),
    ("https://h:8443/x", ["https", "h", 8443, "/x", ""]),
    ("https://h", ["https", "h", 443, "/", ""]),
    ("https://h:/x", ["https", "h", 443, "/x", ""]),  # RFC 3986 §3.2.3: empty port
    ("https://h?x=1", ["https", "h", 443, "/?x=1", ""]),
    ("https://h/p?q=1&r=2", ["https", "h", 443, "/p?q=1&r=2", ""]),
    ("https://h/p#frag", ["https", "h", 443, "/p", ""]),
    ("https://h/p?q#frag", ["https", "h", 443, "/p?q", ""]),
    ("https://h#frag", ["https", "h", 443, "/", ""]),
    ("https://user:pw@h/p", ["https", "h", 443, "/p", "user:pw"]),
    ("https://user@h:8443/p", ["https", "h", 8443, "/p", "user"]),
    ("HTTPS://Fw.Example/p", ["https", "Fw.Example", 443, "/p", ""]),
    ("https://[::1]:8443/fw.bin", ["https", "::1", 8443, "/fw.bin", ""]),
    ("https://[fe80::1]/x", ["https", "fe80::1", 443, "/x", ""]),
    ("http://u:p@[::1]", ["http", "::1", 80, "/", "u:p"]),
]
SPLIT_ERR = [
    ("ftp://h/x", ESP_ERR_HTTP_INVALID_TRANSPORT, "must start with https://"),
    ("fw.example.com/app.bin", ESP_ERR_HTTP_INVALID_TRANSPORT, "must start with https://"),
    ("https:/h/x", ESP_ERR_HTTP_INVALID_TRANSPORT, "must start with https://"),
    ("", ESP_ERR_HTTP_INVALID_TRANSPORT, "must start with https://"),
    ("ftp://user:s3cret@h/x", ESP_ERR_HTTP_INVALID_TRANSPORT, "must start with https://"),
    ("user:s3cret@h/x", ESP_ERR_HTTP_INVALID_TRANSPORT, "must start with https://"),
    ("https:///x", ESP_ERR_INVALID_ARG, "has no host"),
    ("https://:8443/x", ESP_ERR_INVALID_ARG, "has no host"),
    ("https://user:s3cret@/x", ESP_ERR_INVALID_ARG, "has no host"),
    ("https://[]/x", ESP_ERR_INVALID_ARG, "has no host"),
    ("https://h:abc/x", ESP_ERR_INVALID_ARG, "bad port"),
    ("https://h:99999/x", ESP_ERR_INVALID_ARG, "bad port"),
    ("https://h:0/x", ESP_ERR_INVALID_ARG, "bad port"),
    ("https://h:+1/x", ESP_ERR_INVALID_ARG, "bad port"),
    ("https://h:1:2/x", ESP_ERR_INVALID_ARG, "bad port"),
    ("https://user:s3cret@h:12x/x", ESP_ERR_INVALID_ARG, "bad port"),
    ("https://[::1]x/", ESP_ERR_INVALID_ARG, "bad port"),
    ("https://[::1/", ESP_ERR_INVALID_ARG, "bad host"),
]
REDACT = [
    ("https://u:s3cret@h/p@q", "https://h/p@q"), ("https://h/p", "https://h/p"),
    ("u:s3cret@h/x", "h/x"), ("https://a@b@h", "https://h"),
]


@pytest.fixture(scope="module")
def url_results(tmp_path_factory):
    """url_check.py's answers, one run per interpreter."""
    cases = json.dumps({"resolve": [[b, r] for b, r, _ in RESOLVE], "split": [u for u, _ in SPLIT_OK]
                        + [u for u, _, _ in SPLIT_ERR],
                        "redact": [u for u, _ in REDACT]})
    path = tmp_path_factory.mktemp("url") / "cases.json"
    path.write_text(cases)
    return {interp: run_scenario(interp, "url_check.py", path).result for interp in INTERPRETERS}


ERR_NAMES = {ESP_ERR_INVALID_ARG: "ESP_ERR_INVALID_ARG",
             ESP_ERR_HTTP_INVALID_TRANSPORT: "ESP_ERR_HTTP_INVALID_TRANSPORT"}


@pytest.mark.parametrize("i", [pytest.param(i, id="%s + %r" % (b, r), marks=pytest.mark.case(
    "resolve %r against %s" % (r, b), "ESP_OK; %r" % e)) for i, (b, r, e) in enumerate(RESOLVE)])
def test_resolve(interp, url_results, i):
    assert url_results[interp]["resolve"][i] == ["ok", RESOLVE[i][2]]


@pytest.mark.parametrize("i", [pytest.param(i, id=u, marks=pytest.mark.case(
    "split %r" % u, "ESP_OK; %r" % (tuple(parts),))) for i, (u, parts) in enumerate(SPLIT_OK)])
def test_split(interp, url_results, i):
    assert url_results[interp]["split"][i] == ["ok", SPLIT_OK[i][1]]


@pytest.mark.parametrize("i", [pytest.param(i, id=repr(u), marks=pytest.mark.case(
    "split %r" % u, "%s (%s); no password in the message" % (ERR_NAMES[code], words)))
    for i, (u, code, words) in enumerate(SPLIT_ERR)])
def test_split_errors(interp, url_results, i):
    url, code, words = SPLIT_ERR[i]
    got = url_results[interp]["split"][len(SPLIT_OK) + i]
    assert got[:2] == ["err", code], got
    assert words in got[2] and "http_config.url" in got[2], got
    assert SECRET not in got[2], got


@pytest.mark.case("resolve against a base that is not absolute ('/fw/app.bin', '//u:s3cret@h/')",
                  "ESP_ERR_INVALID_ARG (not absolute); no password in the message")
def test_resolve_needs_an_absolute_base(interp, tmp_path):
    cases = json.dumps({"resolve": [["/fw/app.bin", "x"], ["//u:s3cret@h/", "x"]], "split": [],
                        "redact": []})
    (tmp_path / "cases.json").write_text(cases)
    got = run_scenario(interp, "url_check.py", tmp_path / "cases.json")["resolve"]
    assert [g[:2] for g in got] == [["err", ESP_ERR_INVALID_ARG]] * 2, got
    assert all("not absolute" in g[2] and SECRET not in g[2] for g in got), got


@pytest.mark.parametrize("i", [pytest.param(i, id=u, marks=pytest.mark.case(
    "redact %r" % u, "ESP_OK; %r" % want)) for i, (u, want) in enumerate(REDACT)])
def test_redact(interp, url_results, i):
    assert url_results[interp]["redact"][i] == ["ok", REDACT[i][1]]
