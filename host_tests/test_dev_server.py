"""The developer update server (server/esp_https_ota_server: `python -m esp_https_ota_server`).

It runs as a subprocess bound to 127.0.0.1 with its state directory under tmp_path; every
request goes to 127.0.0.1 over TLS verified with the CA certificate the server printed (host
names checked, as `localhost` and as `127.0.0.1`). Whole OTAs from it run under CPython and the
MicroPython unix port, and the simulated flash then boots the new image.
"""

import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time

import pytest
from cryptography import x509

from conftest import run_scenario
import flashsim_path  # noqa: F401  (puts shims/ on sys.path)
import flashsim
import imagetools
from interpreters import IMAGES, ROOT, interpreter_command

SERVER_SRC = ROOT / "server"
sys.path.insert(0, str(SERVER_SRC))
from esp_https_ota_server import Server  # noqa: E402
from esp_https_ota_server import catalog, pki, ranges  # noqa: E402

TEMPLATE = (IMAGES / "esp32-app-template.bin").read_bytes()
NEW_APP = imagetools.with_version(TEMPLATE, "4.2.0-dev")
SIZE = len(NEW_APP)
BIG = 16 << 20  # big.bin: long enough for the "sending" progress lines and a cut mid-body
_SERVING_RE = re.compile(r"serving on https://127\.0\.0\.1:(\d+)/")
_PEM_RE = re.compile(r"-----BEGIN CERTIFICATE-----\n.*?\n-----END CERTIFICATE-----\n?", re.S)


class DevServer:
    """One `python -m esp_https_ota_server PATH --bind 127.0.0.1 --port 0 ...` subprocess:
    its stdout report (`out`), its stderr log (`err`), the port and the CA PEM it printed."""

    def __init__(self, path, state_dir, *args):
        argv = [sys.executable, "-m", "esp_https_ota_server", str(path), "--bind", "127.0.0.1",
                "--port", "0", "--state-dir", str(state_dir)] + [str(a) for a in args]
        env = dict(os.environ, PYTHONPATH=str(SERVER_SRC))
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.out_lines, self.err_lines = [], []
        self._ready = threading.Event()
        self._readers = [threading.Thread(target=self._pump, args=(s, lines), daemon=True)
                         for s, lines in ((self.proc.stdout, self.out_lines),
                                          (self.proc.stderr, self.err_lines))]
        for t in self._readers:
            t.start()
        if not self._ready.wait(30):
            self.stop()
            raise AssertionError("the server never said where it serves:\n" + self.output())
        self.port = int(_SERVING_RE.search(self.out).group(1))
        self.ca_pem = _PEM_RE.search(self.out).group(0)

    def _pump(self, stream, lines):
        for line in stream:
            lines.append(line)
            if _SERVING_RE.search(line):
                self._ready.set()
        self._ready.set()  # the process ended (or closed its output): stop waiting

    @property
    def out(self):
        return "".join(self.out_lines)

    @property
    def err(self):
        return "".join(self.err_lines)

    def output(self):
        return "--- stdout\n%s--- stderr\n%s" % (self.out, self.err)

    def url(self, name):
        return "https://localhost:%d/%s" % (self.port, name)

    def connect(self, host="localhost"):
        return connect(self.port, self.ca_pem, host)

    def get(self, path, method="GET", host="localhost", **headers):
        conn = self.connect(host)
        try:
            return ask(conn, path, method, **headers)
        finally:
            conn.close()

    def log_line(self, pattern, timeout_s=10):
        """The first log line matching `pattern` (the server logs once a response is sent)."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout_s
        while True:
            for line in list(self.err_lines):
                if rx.search(line):
                    return line
            assert time.monotonic() < end, "no log line matches %r:\n%s" % (pattern, self.err)
            time.sleep(0.02)

    def stop(self):
        """Ctrl-C; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        for t in self._readers:
            t.join(5)
        return rc


def connect(port, ca_pem, host="localhost"):
    """An HTTPSConnection to 127.0.0.1:port that verifies the certificate against `ca_pem` for
    `host` (also the Host header), never looking the name up."""
    ctx = ssl.create_default_context(cadata=ca_pem)
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=10)

    def tls_to_loopback():
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        conn.sock = ctx.wrap_socket(raw, server_hostname=host)

    conn.connect = tls_to_loopback
    return conn


def ask(conn, path, method="GET", **headers):
    """(response, body) of one request on `conn`; header names with '_' for '-'."""
    conn.request(method, path, headers={k.replace("_", "-"): v for k, v in headers.items()})
    resp = conn.getresponse()
    return resp, resp.read()


@pytest.fixture(scope="module")
def fw_dir(tmp_path_factory):
    """app.bin (the newest app image), older.bin, notes.txt, big.bin (newest, not an app);
    sub/ and .hidden are not served, and ../secret lies outside."""
    top = tmp_path_factory.mktemp("devsrv")
    d = top / "fw"
    (d / "sub").mkdir(parents=True)
    (top / "secret").write_text("outside\n")
    (d / "sub" / "inner.bin").write_bytes(TEMPLATE)
    (d / ".hidden").write_text("dot file\n")
    (d / "older.bin").write_bytes(TEMPLATE)
    (d / "notes.txt").write_text("release notes\n")
    (d / "app.bin").write_bytes(NEW_APP)
    (d / "big.bin").write_bytes(os.urandom(BIG))
    now = time.time()
    os.utime(d / "older.bin", (now - 3600, now - 3600))
    os.utime(d / "app.bin", (now - 60, now - 60))
    return d


@pytest.fixture(scope="module")
def dev(fw_dir, tmp_path_factory):
    state = tmp_path_factory.mktemp("state")
    srv = DevServer(fw_dir, state / "s", "--ca-out", state / "ca.pem")
    srv.ca_file = state / "ca.pem"
    yield srv
    rc = srv.stop()
    assert rc == 0 and srv.out.rstrip().endswith("stopped"), srv.output()
    assert "Traceback" not in srv.err, srv.output()


@pytest.mark.case("Range bytes=100-199 over TLS verified with the printed CA, as localhost and "
                  "as 127.0.0.1", "206, those 100 bytes, Content-Range bytes 100-199/size")
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_range_over_verified_tls(dev, host):
    resp, body = dev.get("/app.bin", host=host, Range="bytes=100-199")
    assert resp.status == 206
    assert body == NEW_APP[100:200]
    assert resp.getheader("Content-Range") == "bytes 100-199/%d" % SIZE
    assert resp.getheader("Content-Length") == "100"
    assert resp.getheader("Accept-Ranges") == "bytes"


@pytest.mark.case("certificate checked for a name it does not cover", "verification fails")
def test_certificate_not_valid_for_other_names(dev):
    with pytest.raises(ssl.SSLCertVerificationError):
        dev.get("/app.bin", host="wrong.example")


@pytest.mark.case("client that does not trust the CA", "handshake fails; the log says so and hints at the CA")
def test_untrusted_ca_logged(dev):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no CA loaded: the server's chain is unknown
    raw = socket.create_connection(("127.0.0.1", dev.port), timeout=10)
    with pytest.raises(ssl.SSLCertVerificationError):
        ctx.wrap_socket(raw, server_hostname="localhost")
    raw.close()
    dev.log_line(r"127\.0\.0\.1:\d+ TLS handshake failed: .*UNKNOWN_CA.*\(does the board trust this CA\? ")


@pytest.mark.case("client limited to TLS 1.2 (what mbedTLS on the board negotiates)", "200")
def test_tls_1_2_client(dev):
    conn = dev.connect()
    ctx = ssl.create_default_context(cadata=dev.ca_pem)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    raw = socket.create_connection(("127.0.0.1", dev.port), timeout=10)
    conn.sock = ctx.wrap_socket(raw, server_hostname="localhost")
    assert conn.sock.version() == "TLSv1.2"
    resp, body = ask(conn, "/app.bin")
    conn.close()
    assert resp.status == 200 and body == NEW_APP


@pytest.mark.case("Range forms: open-ended, suffix, end past the file, several ranges, last < first",
                  "206 with the right bytes; the last two ignored: 200 whole file")
@pytest.mark.parametrize("header, status, first, last", [
    ("bytes=600000-", 206, 600000, SIZE - 1),
    ("bytes=-100", 206, SIZE - 100, SIZE - 1),
    ("bytes=-%d" % (SIZE + 5), 206, 0, SIZE - 1),
    ("bytes=590000-99999999", 206, 590000, SIZE - 1),
    ("bytes=0-1,5-6", 200, 0, SIZE - 1),
    ("bytes=9-3", 200, 0, SIZE - 1),
])
def test_range_forms(dev, header, status, first, last):
    resp, body = dev.get("/app.bin", Range=header)
    assert resp.status == status
    assert body == NEW_APP[first:last + 1]
    if status == 206:
        assert resp.getheader("Content-Range") == "bytes %d-%d/%d" % (first, last, SIZE)
    else:
        assert resp.getheader("Content-Range") is None


@pytest.mark.case("Range starting at the file size, and bytes=-0", "416 with Content-Range bytes */size")
@pytest.mark.parametrize("header", ["bytes=%d-" % SIZE, "bytes=%d-%d" % (SIZE + 10, SIZE + 20), "bytes=-0"])
def test_unsatisfiable_range(dev, header):
    resp, body = dev.get("/app.bin", Range=header)
    assert resp.status == 416
    assert resp.getheader("Content-Range") == "bytes */%d" % SIZE
    assert int(resp.getheader("Content-Length")) == len(body) > 0


@pytest.mark.case("ETag and Last-Modified of a file", "strong ETag = the SHA-256 of the content; the file's mtime")
def test_validators(dev, fw_dir):
    resp, _ = dev.get("/app.bin", method="HEAD")
    assert resp.getheader("ETag") == '"%s"' % hashlib.sha256(NEW_APP).hexdigest()
    assert ranges.parse_date(resp.getheader("Last-Modified")) == int((fw_dir / "app.bin").stat().st_mtime)


@pytest.mark.case("If-Range with the ETag, the Last-Modified date, a stale ETag, a weak ETag",
                  "206 for the first two; 200 with the whole file for the others")
def test_if_range(dev):
    head, _ = dev.get("/app.bin", method="HEAD")
    etag, date = head.getheader("ETag"), head.getheader("Last-Modified")
    for validator, status in ((etag, 206), (date, 206), ('"0123abcd"', 200), ("W/" + etag, 200),
                              ("Thu, 01 Jan 2015 00:00:00 GMT", 200)):
        resp, body = dev.get("/app.bin", Range="bytes=1000-1999", If_Range=validator)
        assert resp.status == status, validator
        assert body == (NEW_APP[1000:2000] if status == 206 else NEW_APP), validator


@pytest.mark.case("If-None-Match with the ETag, W/ETag, *, another tag", "304 (no body) for the first three, 200")
def test_if_none_match(dev):
    etag = '"%s"' % hashlib.sha256(NEW_APP).hexdigest()
    for value in (etag, "W/" + etag, '"x", ' + etag, "*"):
        resp, body = dev.get("/app.bin", If_None_Match=value)
        assert resp.status == 304, value
        assert body == b"" and resp.getheader("ETag") == etag
        assert resp.getheader("Content-Length") is None
    resp, body = dev.get("/app.bin", If_None_Match='"0123abcd"')
    assert resp.status == 200 and body == NEW_APP


@pytest.mark.case("HEAD, then GET on the same kept-alive connection",
                  "HEAD: 200 headers (Content-Length = size), no body; GET answered on that connection")
def test_head_and_keep_alive(dev):
    conn = dev.connect()
    try:
        resp, body = ask(conn, "/app.bin", method="HEAD", Range="bytes=0-9")
        assert resp.status == 200  # Range is for GET only
        assert resp.getheader("Content-Length") == str(SIZE) and body == b""
        sock = conn.sock
        resp, body = ask(conn, "/notes.txt")
        assert conn.sock is sock, "the connection was not kept alive"
        assert resp.status == 200 and body == b"release notes\n"
        assert resp.getheader("Content-Type").startswith("text/plain")
    finally:
        conn.close()


@pytest.mark.case("paths outside the directory, in a subdirectory, dot files, missing",
                  "404, nothing outside served")
@pytest.mark.parametrize("path", ["/../secret", "/%2e%2e/secret", "/..%2fsecret", "/sub/inner.bin",
                                  "/sub%2finner.bin", "/.hidden", "//etc/passwd", "/missing.bin", "/",
                                  "/%00app.bin", "/fw/app.bin"])
def test_not_found(dev, path):
    resp, body = dev.get(path)
    assert resp.status == 404
    assert b"outside" not in body and not body.startswith(b"\xe9")


@pytest.mark.case("GET /latest.json of a directory", "newest app image: version from its esp_app_desc_t, "
                  "size, SHA-256, URL on the host asked")
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_latest_json(dev, host):
    resp, body = dev.get("/latest.json", host=host)
    assert resp.status == 200 and resp.getheader("Content-Type") == "application/json"
    doc = json.loads(body)
    # big.bin is newer but not an app image; older.bin is an app but older.
    assert doc == {"version": "4.2.0-dev", "size": SIZE, "sha256": hashlib.sha256(NEW_APP).hexdigest(),
                   "url": "https://%s:%d/app.bin" % (host, dev.port)}
    resp, _ = dev.get("/latest.json", host=host, If_None_Match=resp.getheader("ETag"))
    assert resp.status == 304


@pytest.mark.case("the main.py snippet the server prints", "valid Python with the URL of the newest "
                  "image and the --ca-out file's name")
def test_main_py_snippet(dev):
    snippet = dev.out.split("--- main.py", 1)[1].split("\n", 1)[1].split("\n---\n", 1)[0]
    compile(snippet, "main.py", "exec")
    assert '"url": "%s"' % dev.url("app.bin") in snippet
    assert 'CA_PEM = open("ca.pem").read()' in snippet
    assert dev.ca_file.read_text() == dev.ca_pem


@pytest.mark.case("single real image (version 1cd5752), then --version 7.7.7",
                  "latest.json names it with version 1cd5752, then 7.7.7; other names 404")
def test_single_file_latest_json(tmp_path):
    image = tmp_path / "firmware.bin"
    shutil.copy(IMAGES / "esp32-app-template.bin", image)
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    for args, version in (((), "1cd5752"), (("--version", "7.7.7"), "7.7.7")):
        srv = DevServer(image, tmp_path / "state", *args)
        try:
            doc = json.loads(srv.get("/latest.json")[1])
            assert doc == {"version": version, "size": image.stat().st_size, "sha256": digest,
                           "url": srv.url("firmware.bin")}
            assert srv.get("/firmware.bin")[1] == image.read_bytes()
            (tmp_path / "other.bin").write_bytes(b"x")
            assert srv.get("/other.bin")[0].status == 404
            assert srv.url("firmware.bin") in srv.out  # the main.py snippet
        finally:
            assert srv.stop() == 0, srv.output()


def _san(pem_path):
    cert = x509.load_pem_x509_certificate(pem_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(san.get_values_for_type(x509.DNSName)), {str(a) for a in san.get_values_for_type(x509.IPAddress)}


@pytest.mark.case("second start with the same state directory, then one with other --hosts",
                  "same CA and server certificate; then the same CA, a new server certificate; keys 0600")
def test_certificates_reused_and_cover_names(tmp_path, fw_dir):
    state = tmp_path / "state"
    first = DevServer(fw_dir / "app.bin", state, "--hosts", "ota.example,10.11.12.13")
    assert first.stop() == 0, first.output()
    server_pem = (state / "server.pem").read_bytes()
    dns, ips = _san(state / "server.pem")
    assert {"localhost", socket.gethostname().lower(), "ota.example"} <= dns
    assert {"127.0.0.1", "10.11.12.13"} <= ips
    for key in ("ca.key", "server.key"):
        assert stat.S_IMODE((state / key).stat().st_mode) == 0o600
    assert (state / "ca.pem").read_text() == first.ca_pem

    second = DevServer(fw_dir / "app.bin", state, "--hosts", "ota.example", "--hosts", "10.11.12.13")
    assert second.stop() == 0, second.output()
    assert second.ca_pem == first.ca_pem
    assert (state / "server.pem").read_bytes() == server_pem
    assert "CA: %s (reused)" % (state / "ca.pem") in second.out
    assert re.search(r"server certificate for: .* \(reused\)", second.out)

    third = DevServer(fw_dir / "app.bin", state, "--hosts", "other.example")
    try:
        assert third.ca_pem == first.ca_pem
        assert (state / "server.pem").read_bytes() != server_pem
        assert "(made now: names changed)" in third.out
        dns, ips = _san(state / "server.pem")
        assert "other.example" in dns and "ota.example" not in dns and "10.11.12.13" not in ips
        assert third.get("/app.bin", Range="bytes=0-3")[1] == NEW_APP[:4]  # new cert, old CA
    finally:
        assert third.stop() == 0, third.output()


@pytest.mark.case("server certificate near its end, then a damaged server key",
                  "re-made each time ('near expiry', 'none stored'); the CA kept")
def test_server_certificate_renewed(tmp_path, monkeypatch):
    names = ["localhost"], ["127.0.0.1"]
    monkeypatch.setattr(pki, "SERVER_DAYS", pki.RENEW_DAYS - 1)
    first = pki.ensure(tmp_path, *names)
    assert first.ca_created and first.cert_made == "none stored"
    monkeypatch.undo()
    again = pki.ensure(tmp_path, *names)
    assert not again.ca_created and again.ca_pem == first.ca_pem and again.cert_made == "near expiry"
    assert pki.ensure(tmp_path, *names).cert_made is None
    (tmp_path / "server.key").write_text("damaged")
    assert pki.ensure(tmp_path, *names).cert_made == "none stored"


@pytest.mark.case("a path that does not exist", "exit status 1 and a one-line message")
def test_missing_path(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "esp_https_ota_server", str(tmp_path / "nope.bin"),
                           "--state-dir", str(tmp_path / "state")], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(SERVER_SRC)), timeout=30)
    assert proc.returncode == 1 and "nope.bin" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "state").exists()


@pytest.mark.case("Ctrl-C (SIGINT) while serving", "exit status 0, 'stopped', no traceback")
def test_ctrl_c_stops_cleanly(tmp_path, fw_dir):
    srv = DevServer(fw_dir / "app.bin", tmp_path / "state")
    conn = srv.connect()  # a kept-alive connection stays open across the stop
    assert ask(conn, "/app.bin", Range="bytes=0-0")[0].status == 206
    rc = srv.stop()
    conn.close()
    assert rc == 0, srv.output()
    assert srv.out.rstrip().endswith("stopped") and "Traceback" not in srv.err, srv.output()


@pytest.mark.case("log of a Range request, a whole file and a client that leaves mid-body",
                  "one line each: range asked and answered, status, bytes sent/total, percent; 'cut'")
def test_log_lines(dev):
    dev.get("/app.bin", Range="bytes=0-99")
    line = dev.log_line(r"GET /app\.bin range bytes=0-99 ->")
    assert re.search(r"127\.0\.0\.1:\d+ GET /app\.bin range bytes=0-99 -> 206 bytes 0-99/%d; "
                     r"sent 100/100 B, file at 100/%d \(0\.0%%\)$" % (SIZE, SIZE), line), line
    dev.get("/notes.txt")
    line = dev.log_line(r"GET /notes\.txt ")
    assert line.rstrip().endswith("range - -> 200 whole; sent 14/14 B, file at 14/14 (100.0%)"), line

    dev.get("/big.bin")
    for pct in (25, 50, 75):
        dev.log_line(r"GET /big\.bin sending %d/%d B \(%d%%\)" % (BIG * pct // 100, BIG, pct))
    dev.log_line(r"GET /big\.bin range - -> 200 whole; sent %d/%d B, file at %d/%d \(100\.0%%\)$" % (
        BIG, BIG, BIG, BIG))

    conn = dev.connect()
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # little in flight: a cut mid-body
    raw.settimeout(10)
    raw.connect(("127.0.0.1", dev.port))
    conn.sock = ssl.create_default_context(cadata=dev.ca_pem).wrap_socket(raw, server_hostname="localhost")
    conn.request("GET", "/big.bin", headers={"Range": "bytes=1000-"})
    resp = conn.getresponse()
    assert resp.status == 206 and len(resp.read(4096)) == 4096
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")  # RST
    conn.sock.close()
    conn.close()
    line = dev.log_line(r"GET /big\.bin range bytes=1000- -> 206 bytes 1000-%d/%d; sent \d+/%d B, "
                        r"file at \d+/%d \(\d+\.\d%%\); cut: " % (BIG - 1, BIG, BIG - 1000, BIG))
    sent = int(re.search(r"sent (\d+)/", line).group(1))
    # The count is of whole writes the kernel took: the one that met the RST may have sent part
    # of itself (the 4096 bytes read above) and still count 0. The cut is logged before the end.
    assert 0 <= sent < BIG - 1000, line


@pytest.mark.case("log of a 404, a 304 and a 416", "status and range in each line")
def test_log_lines_without_body(dev):
    dev.get("/nothing-here.bin")
    dev.log_line(r"GET /nothing-here\.bin range - -> 404 -; sent \d+/\d+ B$")
    dev.get("/notes.txt", Range="bytes=99-", If_None_Match="*")
    dev.log_line(r"GET /notes\.txt range bytes=99- -> 304 -; sent 0/0 B$")
    dev.get("/notes.txt", Range="bytes=99-")
    dev.log_line(r"GET /notes\.txt range bytes=99- -> 416 bytes \*/14; sent \d+/\d+ B$")


def run_device_script(interp, script, *args, flash):
    argv, env = interpreter_command(interp, ROOT / "device_tests" / script, args)
    env["ESP32_FLASH"] = str(flash)
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)


def boots(flash_path, tmp_path):
    """The partition a reboot would start (on a copy: booting changes otadata)."""
    copy = tmp_path / "reboot.bin"
    shutil.copy(flash_path, copy)
    return flashsim.boot(flashsim.Flash(str(copy)))


def ota_1(flash_path):
    data = flash_path.read_bytes()
    for entry in flashsim.read_partition_table(flashsim.Flash(str(flash_path))):
        if entry.label == "ota_1":
            return data[entry.addr:entry.addr + entry.size]
    raise KeyError("ota_1")


@pytest.mark.case("device_tests/ota_main.py (main.py style) from the dev server with its --ca-out file",
                  "OTA OK; the simulated flash boots the new image in ota_1")
def test_ota_main_from_dev_server(interp, dev, tmp_path):
    flash = tmp_path / "flash.bin"
    flashsim.create_flash(str(flash), app_image=TEMPLATE)
    ota = run_device_script(interp, "ota_main.py", dev.url("app.bin"), dev.ca_file, flash=flash)
    assert ota.returncode == 0, ota.stdout + ota.stderr
    assert "version '4.2.0-dev'" in ota.stdout
    assert "next boot runs ota_1" in ota.stdout
    assert boots(flash, tmp_path) == "ota_1"
    assert ota_1(flash)[:SIZE] == NEW_APP


@pytest.mark.case("partial_http_download with 64 KiB Range requests from the dev server",
                  "ESP_OK; each Range answered 206 in the log; boots the new image")
def test_partial_download_from_dev_server(interp, dev, tmp_path):
    flash = tmp_path / "flash.bin"
    flashsim.create_flash(str(flash), app_image=TEMPLATE)
    res = run_scenario(interp, "ota_run.py", "oneshot", dev.url("app.bin"), dev.ca_file,
                       "partial_http_download=true", "max_http_request_size=65536",
                       env={"ESP32_FLASH": str(flash)})
    assert res["ok"] is True, res.result
    assert boots(flash, tmp_path) == "ota_1"
    assert ota_1(flash)[:SIZE] == NEW_APP
    last = SIZE - 1
    dev.log_line(r"GET /app\.bin range bytes=589824-\d* -> 206 bytes 589824-%d/%d; sent %d/%d B, "
                 r"file at %d/%d \(100\.0%%\)$" % (last, SIZE, SIZE - 589824, SIZE - 589824, SIZE, SIZE))


@pytest.mark.case("Server(...) context manager in-process", "url/port/ca_pem usable; one log line per request")
def test_server_api(tmp_path, fw_dir):
    lines = []
    with Server(fw_dir, port=0, state_dir=tmp_path / "state", log=lines.append) as srv:
        assert srv.url("app.bin") == "https://localhost:%d/app.bin" % srv.port
        conn = connect(srv.port, srv.ca_pem)
        resp, body = ask(conn, "/app.bin", Range="bytes=-16")
        conn.close()
        assert resp.status == 206 and body == NEW_APP[-16:]
    assert len(lines) == 1 and "range bytes=-16 -> 206" in lines[0], lines


@pytest.mark.case("parse_range on edge cases", "(first, last), None (ignored) or UNSATISFIABLE")
@pytest.mark.parametrize("header, total, expected", [
    ("bytes=0-0", 10, (0, 0)), ("BYTES = 2 - 4", 10, (2, 4)), ("bytes=9-", 10, (9, 9)),
    ("bytes=-1", 10, (9, 9)), ("bytes=-10", 0, ranges.UNSATISFIABLE),
    ("bytes=0-", 0, ranges.UNSATISFIABLE), ("bytes=10-", 10, ranges.UNSATISFIABLE),
    ("bytes=-", 10, None), ("pages=1-2", 10, None), ("bytes=a-b", 10, None), (None, 10, None),
])
def test_parse_range(header, total, expected):
    assert ranges.parse_range(header, total) == expected


@pytest.mark.case("esp_app_desc_t.version of every image in shared/images",
                  "the app's version; None without an app description")
def test_app_version_of_real_images():
    versions = {p.name: catalog.app_version(p.read_bytes()[:80]) for p in sorted(IMAGES.glob("*.bin"))}
    assert versions["esp32-app-template.bin"] == "1cd5752"
    assert versions["esp_idf_blink_esp32s2.bin"].startswith("qa-test-v5.0")
    for name in ("helloworld-esp32.bin", "bootloader_esp32.bin", "esp32c3_header_min_rev.bin"):
        assert versions[name] is None, name


@pytest.mark.case("pip installs the server from the repository (wheel built offline, pinned setuptools)",
                  "the esp-https-ota-server command runs from the installed copy")
def test_pip_installs_the_server_command(tmp_path):
    src = tmp_path / "src"  # a copy: setuptools writes build/ and *.egg-info beside the sources
    shutil.copytree(SERVER_SRC, src / "server", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(ROOT / "pyproject.toml", src)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run(pip + ["wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(tmp_path / "whl"),
                          str(src)], check=True, capture_output=True, timeout=300)
    wheels = list((tmp_path / "whl").glob("esp_https_ota_server-*.whl"))
    assert len(wheels) == 1
    target = tmp_path / "site"
    subprocess.run(pip + ["install", "-q", "--no-deps", "--no-index", "--target", str(target), str(wheels[0])],
                   check=True, capture_output=True, timeout=300)
    assert not (target / "esp_https_ota").exists()  # the board package is not part of it
    env = dict(os.environ, PYTHONPATH=str(target))
    proc = subprocess.run([sys.executable, str(target / "bin" / "esp-https-ota-server"), "--help"], env=env,
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "FILE_OR_DIR" in proc.stdout or "--ca-out" in proc.stdout
