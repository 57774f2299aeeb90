"""A real HTTPS (or plain HTTP) server on 127.0.0.1 for testing the OTA client, with a test PKI
made at run time.

Plain CPython 3.11: stdlib (`ssl`, `socketserver`, `http.server`) plus `cryptography` for the
certificates. Used by the e2e tests, the demo (`tools/demo.py`) and its own tests
(`host_tests/test_https_server.py`).

    pki = make_pki(tmp_dir)                      # dict of file paths (str), see make_pki()
    with OTAServer(fw_dir, pki) as srv:          # cert="server", tls=True, port=0
        url = srv.url("app.bin")                 # "https://localhost:PORT/app.bin"
        url = srv.url("app.bin", chunked=7)      # keyword arguments become the query string
        ...
        srv.handshakes, srv.connections, srv.requests, srv.reset_counters()
        srv.defaults["ignore_range"] = "1"       # every later request as if its URL said so

Command line (for the demo):  python host_tests/https_server.py --dir DIR --pki PKIDIR [--port 0]
prints one JSON line {"port": ..., "url": "https://localhost:PORT/", "ca_pem": "..."} and
serves until SIGTERM/SIGINT.

PKI (make_pki)
--------------
EC P-256 keys, ECDSA-SHA256 signatures; roots sign leaves directly (no intermediates).
  ca / ca_der / ca_key                "OTA Test Root CA" (PEM and DER)
  server / server_key                 CN=localhost, SAN DNS:localhost + IP:127.0.0.1, serverAuth
  other_ca / other_ca_der / _key      "OTA Other Root CA", an independent root
  other_server / other_server_key     localhost cert signed by other_ca
  wrong_host / wrong_host_key         signed by ca, only DNS:wrong.example / CN=wrong.example
  expired / expired_key               localhost cert signed by ca, valid from -30 days to -1 day
  client_ca / client_ca_der / _key    "OTA Test Client CA" for mutual TLS
  client / client_key                 client cert (clientAuth) signed by client_ca, PEM
  client_der / client_key_der         the same in DER (for MicroPython's load_cert_chain)
  dir                                 the directory
Files are reused when they exist (a leaf is remade if its issuer changed or, except `expired`,
if it is no longer valid).

Responses
---------
GET and HEAD of files under root_dir: 200 with Content-Length, Accept-Ranges: bytes,
ETag: "<first 16 hex digits of the file's SHA-256>", Last-Modified,
Content-Type: application/octet-stream.
  Range: bytes=a-b | bytes=a- | bytes=-n   -> 206 with Content-Range: bytes a-b/total
      (b is clamped to total-1; a syntactically invalid or multi-range header is ignored -> 200)
  unsatisfiable range (a >= total, or bytes=-0) -> 416 with Content-Range: bytes */total
  missing file (or a directory, or a path with "..") -> 404 with a small text body
  If-None-Match matching the ETag (or "*"; W/ prefixes accepted) -> 304, ETag, no body and no
      Content-Length
Other methods -> 501 (http.server's default). HTTP/1.1 keep-alive by default: the connection
stays open until the client sends "Connection: close", a query parameter below closes it, the
connection is idle for `idle_timeout` s (default 60), or the server stops.

Query parameters, accepted on any URL (files, redirects, missing paths); combine freely.
Checked in this order: delay_ms, auth, require_header, status, then the path.
  delay_ms=N        wait N ms before sending the response headers (woken early by stop()).
  auth=user:pass    require Basic auth with these credentials, else 401 with
                    WWW-Authenticate: Basic realm="ota" and a short body.
  require_header=Name:value
                    403 unless the request carries header Name (case-insensitive) with exactly
                    this value (surrounding whitespace ignored). To test the client's init
                    callback / extra headers.
  status=NNN        answer NNN with a short text body ("503 Service Unavailable\\n") instead of
                    the file (no body for 1xx/204/304).
  ignore_range=1    ignore any Range header: 200 with the whole file (no Accept-Ranges).
  If-Range          (request header) a Range is honoured only while the ETag (strong match) or the
                    Last-Modified date (exact) it carries still holds; else 200, the whole file.
  no_etag=1, no_last_modified=1, weak_etag=1
                    leave out the ETag / the Last-Modified field, or send the ETag as W/"...".
  chunked=N         send the body with Transfer-Encoding: chunked in chunks of N bytes.
  chunk_sizes=7,4096,1
                    chunked, cycling through these chunk sizes (overrides chunked=N).
  chunk_ext=1       each chunk-size line (also the last, "0") carries extensions: ";foo=bar;baz".
  trailer=1         after the last chunk send the trailer field "X-OTA-Trailer: done"
                    (announced by a Trailer: X-OTA-Trailer response header).
  http10=1          answer with status line HTTP/1.0, no Content-Length, Connection: close, and end
                    the body by closing the connection (close-delimited; TLS close_notify is sent
                    first). Overrides chunked.
  close=1           send Connection: close and close (gracefully, with close_notify) after the
                    response, so a client must reconnect for its next (range) request.
  cut_after=N       send headers and N body bytes (payload bytes; with chunked, the cut may fall
                    inside a chunk), then close abruptly: TCP FIN *without* TLS close_notify.
                    If N >= body length the whole body is sent first (with chunked: every data
                    chunk but NOT the terminating 0-chunk). cut_rst=1 makes the close a TCP RST
                    (SO_LINGER 0) instead of a FIN.
  cut_first=N       as cut_after, but only the first response to this exact path and query: the
                    same URL asked again (a resume) gets its whole answer.
  content_encoding=gzip
                    send the file gzip-compressed with Content-Encoding: gzip (whatever the request's
                    Accept-Encoding), ETag "<...>-gzip"; Range and Content-Length count the
                    compressed bytes.
  pace_ms=N         pause N ms before each piece of the body (pieces of _SEND_PIECE bytes; with
                    chunked, before each chunk): a slow link, for the asyncio API's event-loop test.
  stall_after=N     send headers and N body bytes, then send nothing more, keeping the connection
                    open, until the server stops or stall_s seconds (default 30) pass; then close
                    abruptly as for cut_after.
Special paths:
  /redirect?to=<absolute URL or relative path>&code=302
                    answer `code` (default 302; 301, 302, 303, 307, 308 or any 3xx) with
                    Location: <to> exactly as given, and a short body with Content-Length.
  /redirect-chain?n=K&final=<path-or-URL>&code=302
                    exactly K redirects in total (K >= 1): n=K -> /redirect-chain?n=K-1&... ->
                    ... -> n=1 -> final. n < 1 -> 400.
  /redirect-loop    redirects to itself (same query string) forever; code= as above.
  pad=N on any of the three appends a query parameter of N letters to the Location.
Use srv.url("redirect", to=other.url("app.bin"), code=307) to get the query quoted right.

Counters (thread-safe; read them as attributes)
------------------------------------------------
  connections   accepted TCP connections
  handshakes    completed TLS handshakes (for tls=False: accepted connections)
  requests      list (a copy) of dicts, one per parsed request: method, path (request target
                with the query), headers (dict, lower-cased names), conn (serial number of the
                connection, 1-based, never reset), version ("HTTP/1.1"), status (the status sent,
                None while pending)
  conn_info     list (a copy) of dicts, one per connection: conn, tls_version, cipher, sni (the
                server_name the client sent, or None), client_cert (the client cert's subject CN
                or None), error (why the TLS handshake failed, or None)
  reset_counters()  zero all of the above (connection serial numbers keep counting)

MicroPython `tls` findings (unix port 1.29-preview, Mbed TLS 3.6.6; checked
with throwaway client scripts against this server)
---------------------------------------------------------------------------------------------
Handshake: EC P-256 / ECDSA-SHA256 chain accepted; MicroPython negotiates TLS 1.2
(ECDHE-ECDSA-AES256-GCM-SHA384) with this server (CPython clients get TLS 1.3). The default
verify_mode of SSLContext(PROTOCOL_TLS_CLIENT) is CERT_REQUIRED (2) on this build; set it
anyway. Keep-alive works: several requests on one TLS connection.

Certificates in: DER only.
  load_verify_locations(der): PEM (bytes, str, even NUL-terminated) -> ValueError('invalid cert');
    cadata=... -> TypeError (no keywords).
  load_cert_chain(cert_der, key_der): DER cert + DER key (SEC1 or PKCS8) works (pki client_der /
    client_key_der); any PEM -> ValueError('invalid key') (the key is parsed first) or
    ValueError('invalid cert').

Verification failures come out of wrap_socket() as ValueError, NOT OSError; the message is
mbedTLS's verify-info text, with a leading and trailing newline:
  wrong CA (other_ca, or other_server vs ca):
      ValueError('\\nThe certificate is not correctly signed by the trusted CA\\n')
  hostname mismatch (wrong_host; also any cert whose names lack the server_hostname):
      ValueError('\\nThe certificate Common Name (CN) does not match with the expected CN\\n')
  expired: ValueError('\\nThe certificate validity has expired\\n')
  (the server sees alerts unknown_ca / bad_certificate / certificate_expired; conn_info["error"])
  CERT_REQUIRED without server_hostname: ValueError('CERT_REQUIRED requires server_hostname')
  no CA loaded at all: OSError(-30336, 'MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED')
  mTLS server and no client cert, or one not signed by client_ca: OSError(32) (EPIPE) from
      wrap_socket (the server's alert races the client's write).
  So a client must catch ValueError as well as OSError around wrap_socket().
IP SAN: server_hostname="127.0.0.1" verifies against SAN IP:127.0.0.1, and really checks it
  (the wrong_host cert with "127.0.0.1", and the server cert with "127.0.0.2", fail with the CN
  message above). mbedTLS then sends "127.0.0.1" as SNI (the server records it).

The TLS socket has only close, read, readinto, readline, send, write, recv, recv_into, sendall,
setblocking, cipher: no settimeout/makefile/fileno. Timeouts are set on the plain socket
(s.settimeout(t) before or after wrap_socket both take effect).
  read(n) / readinto(buf) block until n bytes (the whole buffer) or EOF; readline() works for
    header lines and readline(limit) honours the limit (returns a partial line).
  recv(n) / recv_into(buf) return what has arrived: at a stall after 5500 body bytes recv(1000)
    gave 1000 x5 then 500 at once; recv_into(4000-byte buf) gave 4000, 1500, then 0 at close.
  setblocking(False): read() returns None when nothing has arrived.
Timeouts: OSError(110) (ETIMEDOUT). The bytes collected by the read(n)/readinto() that timed
  out are lost (5500 sent, 5000 seen), and the error is STICKY: every later read/recv on that TLS
  socket raises OSError(110) at once (0 ms), even after the server sends more or closes. A
  timeout is fatal for the connection: close it and reconnect (Range) to resume.
End of stream: a close with TLS close_notify (http10=1, close=1, Connection: close) and a bare
  TCP FIN without close_notify (cut_after, stall_after end) BOTH read as b"" / 0. MicroPython
  cannot tell a clean close from a cut, so truncation must be detected from Content-Length or
  the chunk framing; a close-delimited (http10) body cannot be checked at all.
  cut_rst=1 (TCP RST) -> OSError(104) (ECONNRESET), and data already received may be dropped
  (once only 65000 of 100000 sent bytes were read before the 104).
  Writing a request on a keep-alive connection the server has already closed "succeeds"
  (write returned 36), and the next read gives b"": retry once on a new connection.
  Once (not reproducible in ~15 retries) readinto() at an idle keep-alive connection returned 0
  instead of blocking; treat a 0/b"" before the body is complete as incomplete data.
Name lookup: socket.getaddrinfo("localhost", port) gives only AF_INET 127.0.0.1 here; where
  localhost maps to ::1 first, pick the AF_INET entry (the server listens on 127.0.0.1 only).
"""

import argparse
import base64
import datetime
import email.utils
import functools
import gzip
import hashlib
import http.server
import ipaddress
import json
import os
import re
import signal
import socket
import socketserver
import ssl
import sys
import threading
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["make_pki", "OTAServer", "LEAF_CERTS"]

# ---------------------------------------------------------------------------------------------
# PKI
# ---------------------------------------------------------------------------------------------

LEAF_CERTS = ("server", "other_server", "wrong_host", "expired")
_DAY = datetime.timedelta(days=1)


def _write_atomic(path, data):
    tmp = path.with_name(path.name + ".tmp%d" % os.getpid())
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "esp_https_ota tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _load_pair(cert_path, key_path):
    if cert_path.exists() and key_path.exists():
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            return cert, key
        except ValueError:
            pass
    return None, None


def _save_pair(cert_path, key_path, cert, key):
    _write_atomic(key_path, key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
    _write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM))


def _make_ca(cn):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn)).issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _DAY).not_valid_after(now + 3650 * _DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _make_leaf(ca_cert, ca_key, cn, dns=(), ips=(), client=False, not_before=None, not_after=None):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    names = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    eku = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn)).issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - _DAY)
        .not_valid_after(not_after or now + 365 * _DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def make_pki(directory):
    """Create (or reuse) the test PKI in `directory`; return a dict of file paths (str).

    Keys: ca, ca_der, ca_key, server, server_key, other_ca, other_ca_der, other_ca_key,
    other_server, other_server_key, wrong_host, wrong_host_key, expired, expired_key,
    client_ca, client_ca_der, client_ca_key, client, client_key, client_der, client_key_der, dir.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    out = {"dir": str(d)}
    cas = {}

    for name, cn in (("ca", "OTA Test Root CA"), ("other_ca", "OTA Other Root CA"),
                     ("client_ca", "OTA Test Client CA")):
        cert_p, key_p = d / (name + ".pem"), d / (name + ".key")
        cert, key = _load_pair(cert_p, key_p)
        if cert is None or cert.not_valid_after_utc < now + 30 * _DAY:
            cert, key = _make_ca(cn)
            _save_pair(cert_p, key_p, cert, key)
        der_p = d / (name + ".der")
        der = cert.public_bytes(serialization.Encoding.DER)
        if not der_p.exists() or der_p.read_bytes() != der:
            _write_atomic(der_p, der)
        cas[name] = (cert, key)
        out[name], out[name + "_key"], out[name + "_der"] = str(cert_p), str(key_p), str(der_p)

    leaves = {
        "server": ("ca", dict(cn="localhost", dns=["localhost"], ips=["127.0.0.1"])),
        "other_server": ("other_ca", dict(cn="localhost", dns=["localhost"], ips=["127.0.0.1"])),
        "wrong_host": ("ca", dict(cn="wrong.example", dns=["wrong.example"])),
        "expired": ("ca", dict(cn="localhost", dns=["localhost"], ips=["127.0.0.1"],
                               not_before=now - 30 * _DAY, not_after=now - _DAY)),
        "client": ("client_ca", dict(cn="OTA Test Client", client=True)),
    }
    for name, (issuer, kw) in leaves.items():
        ca_cert, ca_key = cas[issuer]
        cert_p, key_p = d / (name + ".pem"), d / (name + ".key")
        cert, key = _load_pair(cert_p, key_p)
        stale = cert is None
        if not stale:
            try:
                cert.verify_directly_issued_by(ca_cert)
            except Exception:  # InvalidSignature, or the issuer name differs
                stale = True
        if not stale and name != "expired":
            stale = not (cert.not_valid_before_utc <= now <= cert.not_valid_after_utc)
        if stale:
            cert, key = _make_leaf(ca_cert, ca_key, **kw)
            _save_pair(cert_p, key_p, cert, key)
        out[name], out[name + "_key"] = str(cert_p), str(key_p)
        if name == "client":
            der_p, kder_p = d / "client.der", d / "client.key.der"
            _write_atomic(der_p, cert.public_bytes(serialization.Encoding.DER))
            _write_atomic(kder_p, key.private_bytes(serialization.Encoding.DER,
                                                    serialization.PrivateFormat.TraditionalOpenSSL,
                                                    serialization.NoEncryption()))
            out["client_der"], out["client_key_der"] = str(der_p), str(kder_p)
    return out


# ---------------------------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------------------------

_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.I)
_CHUNK_EXT = b";foo=bar;baz"
_SEND_PIECE = 16384


class _Abort(Exception):
    """Leave the connection now (server stopping or a fault was injected)."""


class _TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, handler, ota):
        self.ota = ota
        super().__init__(address, handler)

    def handle_error(self, request, client_address):
        if self.ota.verbose:
            super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "OTATestServer/1.0"
    sys_version = ""

    # --- connection set-up and tear-down -----------------------------------------------------

    def setup(self):
        ota = self.server.ota
        self.ota = ota
        self.alive = False
        self.abrupt = False
        self.rst = False
        raw = self.request
        raw.settimeout(ota.handshake_timeout)
        try:  # headers and body go out in separate writes: no Nagle/delayed-ACK stalls
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.serial, info = ota._open_connection(raw)
        sock = raw
        if ota.tls:
            try:
                sock = ota._ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
                ota._track(raw, sock)
                sock.do_handshake()
            except (OSError, ValueError) as e:
                info["error"] = "%s: %s" % (type(e).__name__, e)
                ota._untrack(raw)
                ota._untrack(sock)
                _close_quietly(sock)
                return
            info["tls_version"] = sock.version()
            info["cipher"] = (sock.cipher() or (None,))[0]
            info["sni"] = ota._pop_sni(sock)
            peer = sock.getpeercert()
            if peer:
                for rdn in peer.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName":
                            info["client_cert"] = v
        ota._handshake_done()
        self.request = self.connection = sock
        sock.settimeout(ota.idle_timeout)
        self.rfile = sock.makefile("rb", self.rbufsize)
        self.wfile = _Writer(sock)
        self.alive = True

    def handle(self):
        if not self.alive:
            return
        try:
            super().handle()
        except (_Abort, OSError, ValueError):
            self.close_connection = True

    def finish(self):
        if not self.alive:
            return
        for f in (self.wfile, self.rfile):
            try:
                f.close()
            except (OSError, ValueError):
                pass
        sock = self.connection
        try:
            if self.abrupt:
                if self.rst:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                else:
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
            else:
                _graceful_close(sock, self.ota.tls, self.ota._stop)
        except (OSError, ValueError):
            pass
        self.ota._untrack(sock)
        _close_quietly(sock)

    def log_message(self, fmt, *args):
        if self.server.ota.verbose:
            super().log_message(fmt, *args)

    # --- requests --------------------------------------------------------------------------

    def do_GET(self):
        self._serve_or_400(head=False)

    def do_HEAD(self):
        self._serve_or_400(head=True)

    def _serve_or_400(self, head):
        self.record = None
        self.head, self.q, self.http10 = head, {}, False
        try:
            self._serve(head)
        except ValueError:  # a malformed query parameter (int("x"), ...)
            if self.record is None or self.record["status"] is not None:
                raise
            self.q = {}
            self.http10 = False
            self.close_connection = True
            self._simple(400, body=b"400 Bad Request: malformed query parameter\n")

    def _serve(self, head):
        ota = self.ota
        if ota._stop.is_set():
            raise _Abort()
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.record = ota._record_request(self.command, self.path, headers, self.serial,
                                          self.request_version)
        # A GET/HEAD with a body: drain it so the next request parses.
        n = int(headers.get("content-length", "0") or 0)
        if n > 0:
            self.rfile.read(n)
        url = urlsplit(self.path)
        q = dict(ota.defaults)  # server-wide faults, set by a test between runs; the URL's win
        q.update({k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()})
        self.q = q
        for k in ("delay_ms", "status", "chunked", "cut_after", "cut_first", "stall_after", "code", "n", "pace_ms"):
            if k in q:
                int(q[k])  # a malformed number is a 400 now, not a broken response later
        if "stall_s" in q:
            float(q["stall_s"])
        if "chunk_sizes" in q:
            [int(x) for x in q["chunk_sizes"].split(",") if x.strip()]
        self.head = head
        self.http10 = q.get("http10") == "1"
        if q.get("close") == "1" or self.http10:
            self.close_connection = True

        if "delay_ms" in q:
            if ota._stop.wait(int(q["delay_ms"]) / 1000.0):
                raise _Abort()
        if "auth" in q:
            want = "Basic " + base64.b64encode(q["auth"].encode()).decode()
            if headers.get("authorization", "").strip() != want:
                return self._simple(401, [("WWW-Authenticate", 'Basic realm="ota"')])
        if "require_header" in q:
            name, _, value = q["require_header"].partition(":")
            got = headers.get(name.strip().lower())
            if got is None or got.strip() != value.strip():
                return self._simple(403, body=b"403 Forbidden: missing header %s\n" % name.strip().encode())
        if "status" in q:
            return self._simple(int(q["status"]))

        path = unquote(url.path)
        if path in ("/redirect", "/redirect-chain", "/redirect-loop"):
            return self._redirect(path, url.query)
        return self._file(path, headers)

    def _redirect(self, path, query):
        q = self.q
        code = int(q.get("code", "302"))
        if path == "/redirect":
            if "to" not in q:
                return self._simple(400, body=b"400 Bad Request: no to=\n")
            location = q["to"]
        elif path == "/redirect-chain":
            n = int(q.get("n", "1"))
            final = q.get("final", "/")
            if n < 1:
                return self._simple(400, body=b"400 Bad Request: n < 1\n")
            if n == 1:
                location = final
            else:
                location = "/redirect-chain?" + urlencode({"n": n - 1, "final": final, "code": code})
        else:
            location = "/redirect-loop" + ("?" + query if query else "")
        if "pad" in q:  # a long Location from a short request (argv limits the test's URLs)
            location += ("&" if "?" in location else "?") + "pad=" + "a" * int(q["pad"])
        self._simple(code, [("Location", location)],
                     body=("%d redirect to %s\n" % (code, location)).encode())

    def _file(self, path, headers):
        ota = self.ota
        parts = [p for p in path.split("/") if p not in ("", ".")]
        fpath = ota.root.joinpath(*parts) if parts else ota.root
        if ".." in parts or not fpath.is_file():
            return self._simple(404, body=b"404 Not Found: %s\n" % path.encode("utf-8", "replace"))
        data, etag, mtime = ota._file_info(fpath)
        encoded = self.q.get("content_encoding") == "gzip"
        if encoded:  # another representation: its own bytes and ETag; Range counts its bytes
            data = _gzipped(data)
            etag = etag[:-1] + '-gzip"'
        total = len(data)
        if self.q.get("weak_etag") == "1":
            etag = "W/" + etag
        last_modified = email.utils.formatdate(mtime, usegmt=True)
        common = [("ETag", etag)] if self.q.get("no_etag") != "1" else []
        if encoded:
            common.append(("Content-Encoding", "gzip"))
        if self.q.get("no_last_modified") != "1":
            common.append(("Last-Modified", last_modified))
        inm = headers.get("if-none-match")
        if inm is not None:
            tags = [t.strip() for t in inm.split(",")]
            if "*" in tags or etag in [t[2:] if t.startswith("W/") else t for t in tags]:
                return self._send(304, common, None)
        ignore_range = self.q.get("ignore_range") == "1"
        if not ignore_range:
            common.append(("Accept-Ranges", "bytes"))
        rng = None if ignore_range else _parse_range(headers.get("range"), total)
        if_range = headers.get("if-range")
        if rng is not None and if_range is not None:
            # RFC 9110 13.1.5: the Range only if the validator still matches (strong comparison;
            # a date must equal Last-Modified exactly), else the whole current representation.
            still = (if_range == etag and not etag.startswith("W/")) if if_range.startswith(('"', "W/")) \
                else if_range == last_modified
            if not still:
                rng = None
        if rng == "unsatisfiable":
            return self._simple(416, common + [("Content-Range", "bytes */%d" % total)])
        if rng is not None:
            start, end = rng
            return self._send(206, common + [("Content-Range", "bytes %d-%d/%d" % (start, end, total))],
                              data[start:end + 1])
        return self._send(200, common, data)

    # --- responses --------------------------------------------------------------------------

    def _simple(self, code, headers=(), body=None):
        if body is None:
            body = ("%d %s\n" % (code, http.server.BaseHTTPRequestHandler.responses.get(
                code, ("Status",))[0])).encode()
        if code in (204, 304) or 100 <= code < 200:
            body = None
        return self._send(code, list(headers) + [("Content-Type", "text/plain")], body)

    def _send(self, code, headers, body):
        """Write status line, headers and `body` (None: a response without a body) with the
        framing and faults the query asked for."""
        q = self.q
        self.record["status"] = code
        sizes = None
        if body is not None and not self.http10:
            if "chunk_sizes" in q:
                sizes = [max(1, int(s)) for s in q["chunk_sizes"].split(",") if s.strip()]
            elif "chunked" in q:
                sizes = [max(1, int(q["chunked"]))]
        version = "HTTP/1.0" if self.http10 else "HTTP/1.1"
        reason = self.responses.get(code, ("Status",))[0]
        lines = ["%s %d %s" % (version, code, reason),
                 "Server: " + self.server_version,
                 "Date: " + self.date_time_string()]
        if body is not None and not any(k == "Content-Type" for k, _ in headers):
            lines.append("Content-Type: application/octet-stream")
        lines += ["%s: %s" % kv for kv in headers]
        if body is not None:
            if sizes:
                lines.append("Transfer-Encoding: chunked")
                if q.get("trailer") == "1":
                    lines.append("Trailer: X-OTA-Trailer")
            elif not self.http10:
                lines.append("Content-Length: %d" % len(body))
        if self.close_connection:
            lines.append("Connection: close")
        elif self.request_version == "HTTP/1.0":
            lines.append("Connection: keep-alive")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if body is None or self.head:
            return
        limit, action = None, None
        if "cut_after" in q:
            limit, action = int(q["cut_after"]), "cut"
        elif "cut_first" in q and self.ota._cut_once(self.path):
            limit, action = int(q["cut_first"]), "cut"
        elif "stall_after" in q:
            limit, action = int(q["stall_after"]), "stall"
        if sizes:
            complete = self._write_chunked(body, sizes, limit)
        else:
            n = len(body) if limit is None else min(limit, len(body))
            for i in range(0, n, _SEND_PIECE):
                if self.ota._stop.is_set() or self._pace():
                    raise _Abort()
                self.wfile.write(body[i:min(i + _SEND_PIECE, n)])
            complete = limit is None
        if not complete:
            self._fault(action)

    def _write_chunked(self, body, sizes, limit):
        ext = _CHUNK_EXT if self.q.get("chunk_ext") == "1" else b""
        sent, i = 0, 0
        while sent < len(body):
            if self.ota._stop.is_set() or self._pace():
                raise _Abort()
            n = min(sizes[i % len(sizes)], len(body) - sent)
            i += 1
            head = b"%x%s\r\n" % (n, ext)
            if limit is not None and sent + n > limit:
                part = limit - sent
                self.wfile.write(head + body[sent:sent + part])
                return False
            self.wfile.write(head + body[sent:sent + n] + b"\r\n")
            sent += n
        if limit is not None:
            return False  # every data chunk went out, the last-chunk does not
        tail = b"0" + ext + b"\r\n"
        if self.q.get("trailer") == "1":
            tail += b"X-OTA-Trailer: done\r\n"
        self.wfile.write(tail + b"\r\n")
        return True

    def _pace(self):
        """pace_ms: wait before the next piece; True if the server stopped meanwhile."""
        if "pace_ms" not in self.q:
            return False
        self.wfile.flush()
        return self.ota._stop.wait(int(self.q["pace_ms"]) / 1000.0)

    def _fault(self, action):
        if action == "stall":
            self.ota._stop.wait(float(self.q.get("stall_s", "30")))
        self.abrupt = True
        self.rst = self.q.get("cut_rst") == "1"
        self.close_connection = True
        raise _Abort()


@functools.lru_cache(maxsize=8)
def _gzipped(data):
    """The file gzip-compressed (mtime 0: the same bytes every time), for content_encoding=gzip."""
    return gzip.compress(data, compresslevel=6, mtime=0)


def _parse_range(value, total):
    """(start, end) for one satisfiable byte range, "unsatisfiable", or None (no header, or one
    to ignore: syntactically invalid or several ranges)."""
    if value is None:
        return None
    m = _RANGE_RE.match(value)
    if not m or not (m.group(1) or m.group(2)):
        return None
    a, b = m.group(1), m.group(2)
    if a:
        start = int(a)
        if b and int(b) < start:
            return None
        if start >= total:
            return "unsatisfiable"
        return start, min(int(b), total - 1) if b else total - 1
    n = int(b)
    if n == 0 or total == 0:
        return "unsatisfiable"
    return max(total - n, 0), total - 1


class _Writer:
    """Unbuffered writer: every write() is one sendall()."""

    def __init__(self, sock):
        self._sock = sock

    def write(self, data):
        self._sock.sendall(data)
        return len(data)

    def flush(self):
        pass

    def close(self):
        pass


def _close_quietly(sock):
    try:
        sock.close()
    except (OSError, ValueError):
        pass


def _graceful_close(sock, tls, stop):
    """Send TLS close_notify (without waiting for the peer's), FIN, then drain what the peer
    still sends for a moment so that unread input does not turn the close into a RST."""
    if tls:
        try:
            sock.setblocking(False)
            sock.unwrap()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, ssl.SSLError, OSError, ValueError):
            pass
    socket.socket.shutdown(sock, socket.SHUT_WR)
    socket.socket.settimeout(sock, 0.05)
    for _ in range(20):  # at most ~1 s
        if stop.is_set():
            break
        try:
            if not socket.socket.recv(sock, 65536):
                break
        except socket.timeout:
            continue
        except OSError:
            break


class OTAServer:
    """An HTTPS (or HTTP) file server on a background thread; see the module docstring."""

    def __init__(self, root_dir, pki, cert="server", tls=True, host="127.0.0.1", port=0,
                 require_client_cert=False, verbose=False, idle_timeout=60.0,
                 handshake_timeout=10.0):
        if cert not in LEAF_CERTS and not (cert in pki and cert + "_key" in pki):
            raise ValueError("cert must be one of %s, or a name with <name> and <name>_key in pki" % (LEAF_CERTS,))
        self.root = Path(root_dir)
        self.pki = pki
        self.cert = cert
        self.tls = tls
        self.host = host
        self.verbose = verbose
        self.idle_timeout = idle_timeout
        self.handshake_timeout = handshake_timeout
        self.require_client_cert = require_client_cert
        self._want_port = port
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._socks = {}
        self._sni = {}
        self._files = {}
        self._cut_paths = set()
        self.defaults = {}  # query parameters every request gets unless its URL sets them
        self._serial = 0
        self._server = None
        self._thread = None
        self._ctx = self._make_context() if tls else None
        self.reset_counters()

    def _make_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.pki[self.cert], self.pki[self.cert + "_key"])
        if self.require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(self.pki["client_ca"])

        def on_sni(sslsock, server_name, _ctx):
            with self._lock:
                self._sni[id(sslsock)] = server_name
        ctx.sni_callback = on_sni
        return ctx

    # --- life cycle ----------------------------------------------------------------------------

    def start(self):
        if self._server is not None:
            return self
        self._stop.clear()
        self._server = _TCPServer((self.host, self._want_port), _Handler, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="OTAServer:%d" % self.port, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop accepting, wake every stalled/delayed handler and close every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stop.set()
        server.shutdown()
        server.server_close()
        with self._lock:
            socks = list(self._socks.values())
        for s in socks:
            try:
                socket.socket.shutdown(s, socket.SHUT_RDWR)
            except (OSError, ValueError):
                pass
        self._thread.join(2)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def url(self, path="", host="localhost", **query):
        """"https://localhost:PORT/path" (http:// for tls=False); keyword arguments are appended
        as a quoted query string: url("redirect", to=other.url("a.bin"), code=307)."""
        u = "%s://%s:%d/%s" % ("https" if self.tls else "http", host, self.port, path.lstrip("/"))
        if query:
            u += ("&" if "?" in u else "?") + urlencode(query, quote_via=quote, safe="/:,")
        return u

    # --- counters --------------------------------------------------------------------------------

    def reset_counters(self):
        with self._lock:
            self._handshakes = 0
            self._connections = 0
            self._requests = []
            self._conn_info = []

    @property
    def handshakes(self):
        with self._lock:
            return self._handshakes

    @property
    def connections(self):
        with self._lock:
            return self._connections

    @property
    def requests(self):
        with self._lock:
            return [dict(r) for r in self._requests]

    @property
    def conn_info(self):
        with self._lock:
            return [dict(c) for c in self._conn_info]

    # --- used by the handlers ----------------------------------------------------------------

    def _open_connection(self, raw):
        info = {"conn": 0, "tls_version": None, "cipher": None, "sni": None,
                "client_cert": None, "error": None}
        with self._lock:
            self._serial += 1
            self._connections += 1
            info["conn"] = self._serial
            self._conn_info.append(info)
            self._socks[id(raw)] = raw
        return info["conn"], info

    def _track(self, raw, sock):
        with self._lock:
            self._socks.pop(id(raw), None)
            self._socks[id(sock)] = sock

    def _untrack(self, sock):
        with self._lock:
            self._socks.pop(id(sock), None)
            self._sni.pop(id(sock), None)

    def _pop_sni(self, sock):
        with self._lock:
            return self._sni.pop(id(sock), None)

    def _handshake_done(self):
        with self._lock:
            self._handshakes += 1

    def _record_request(self, method, path, headers, serial, version):
        rec = {"method": method, "path": path, "headers": headers, "conn": serial,
               "version": version, "status": None}
        with self._lock:
            self._requests.append(rec)
        return rec

    def _cut_once(self, path):
        """True the first time `path` (with its query) asks for a cut_first cut."""
        with self._lock:
            first = path not in self._cut_paths
            self._cut_paths.add(path)
        return first

    def _file_info(self, fpath):
        st = fpath.stat()
        key = (str(fpath), st.st_mtime_ns, st.st_size)
        with self._lock:
            hit = self._files.get(key)
        if hit is None:
            data = fpath.read_bytes()
            hit = (data, '"%s"' % hashlib.sha256(data).hexdigest()[:16], st.st_mtime)
            with self._lock:
                self._files[key] = hit
        return hit


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

def main(argv=None):
    p = argparse.ArgumentParser(description="HTTPS test server for esp_https_ota")
    p.add_argument("--dir", required=True, help="directory to serve")
    p.add_argument("--pki", required=True, help="directory for the test PKI (made if missing)")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--cert", default="server", choices=LEAF_CERTS)
    p.add_argument("--plain-http", action="store_true", help="serve http:// without TLS")
    p.add_argument("--require-client-cert", action="store_true")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)

    pki = make_pki(args.pki)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    server = OTAServer(args.dir, pki, cert=args.cert, tls=not args.plain_http, host=args.host,
                       port=args.port, require_client_cert=args.require_client_cert,
                       verbose=args.verbose).start()
    print(json.dumps({"port": server.port, "url": server.url(""), "ca_pem": pki["ca"]}), flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
