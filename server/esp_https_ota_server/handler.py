"""One HTTPS connection: the TLS handshake, then HTTP/1.1 requests kept alive, each answered
from the Catalog with Range and conditional headers honoured, and logged in one line:

    12:00:01 192.168.1.7:50123 GET /app.bin range bytes=0-4095 -> 206 bytes 0-4095/601808;
             sent 4096/4096 B, file at 4096/601808 (0.7%)          (one line in the log)

"range a -> b": what the request asked ("-": no Range) and what the answer covers ("whole" or
Content-Range); "sent": body bytes actually sent / the body's length (less when the client went
away: then "cut" and the error); "file at": how far into the file the answer ended, as a share
of it. Bodies of 1 MiB or more also log a "sending" line at each quarter.
"""

import http.server
import re
import socket
import ssl
from urllib.parse import unquote, urlsplit

from . import ranges

_HANDSHAKE_TIMEOUT_S = 20
_IDLE_TIMEOUT_S = 60  # a kept-alive connection with no new request is closed after this
_SEND_CHUNK = 64 * 1024
_PROGRESS_MIN = 1 << 20
_HOST_RE = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")
_SEND_ERRORS = OSError  # ConnectionResetError, BrokenPipeError, TimeoutError, ssl.SSLError
# The alert a board's mbedTLS sends when it rejects the certificate, and the likely cause.
_TLS_HINTS = (
    ("UNKNOWN_CA", "does the board trust this CA? give it the cert_pem printed at start"),
    ("BAD_CERTIFICATE", "is the URL's host one the certificate covers? add it with --hosts"),
    ("CERTIFICATE_EXPIRED", "is the board's clock set? e.g. ntptime.settime()"),
)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "esp_https_ota_server"
    sys_version = ""
    timeout = _IDLE_TIMEOUT_S
    error_content_type = "text/plain; charset=utf-8"  # send_error(): 400, 414, 501 ...
    error_message_format = "%(code)d %(message)s\n"
    # Set on the server (server.py): catalog, ssl_context, log (callable taking one line),
    # default_base_url, track(sock) / untrack(sock).

    def version_string(self):
        return self.server_version

    # --- connection ----------------------------------------------------------------------

    def setup(self):
        self.tls_error = None
        self.quiet = False
        raw = self.request
        raw.settimeout(_HANDSHAKE_TIMEOUT_S)
        try:  # headers and body go out in separate writes: no Nagle / delayed-ACK stall
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        try:
            self.request = self.server.ssl_context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError) as e:  # wrap_socket has closed the socket
            self.tls_error = e
            hints = [" (%s)" % h for alert, h in _TLS_HINTS if alert in str(e)]
            self.server.log("%s TLS handshake failed: %s%s" % (self._client(), e, "".join(hints)))
            return
        self.server.track(self.request)
        super().setup()

    def handle(self):
        if self.tls_error is None:
            super().handle()

    def handle_one_request(self):
        self.quiet = False
        super().handle_one_request()

    def finish(self):
        if self.tls_error is not None:
            return
        try:
            super().finish()
        finally:
            self.server.untrack(self.request)
            self.request.close()

    # --- logging ---------------------------------------------------------------------------

    def _client(self):
        return "%s:%d" % self.client_address[:2]

    def log_request(self, code="-", size="-"):
        if not self.quiet:  # requests answered outside _serve (malformed, other methods)
            self.server.log("%s %s %s" % (self._client(), getattr(self, "requestline", "") or "-",
                                          code))

    def log_error(self, fmt, *args):
        if not fmt.startswith("code "):  # send_error()'s, whose log_request() line follows
            self.log_message(fmt, *args)

    def log_message(self, fmt, *args):
        self.server.log("%s %s" % (self._client(), fmt % args))

    # --- requests ----------------------------------------------------------------------------

    def do_GET(self):
        self._serve(send_body=True)

    def do_HEAD(self):
        self._serve(send_body=False)

    def _base_url(self):
        host = (self.headers.get("Host") or "").strip()
        if _HOST_RE.fullmatch(host):
            return "https://" + host
        return self.server.default_base_url

    def _serve(self, send_body):
        self.quiet = True
        target = urlsplit(self.path)
        name = unquote(target.path)[1:] if target.path.startswith("/") else ""
        asked = self.headers.get("Range")
        res = self.server.catalog.open(name, self._base_url())
        if res is None:
            return self._text(404, "not found: %s\n" % target.path, send_body, asked)
        with res.body:
            self._answer(res, send_body, asked)

    def _answer(self, res, send_body, asked):
        etag, mtime = res.etag, res.mtime
        inm, ims = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
        if (ranges.none_match(inm, etag) if inm is not None
                else ims is not None and ranges.not_modified_since(ims, mtime)):
            self.send_response(304)
            self._validators(res)
            self.end_headers()
            return self._log(304, asked, "-", 0, 0, None)

        span = None
        if asked is not None and send_body:  # Range is defined for GET only
            if_range = self.headers.get("If-Range")
            if if_range is None or ranges.if_range_holds(if_range, etag, mtime):
                span = ranges.parse_range(asked, res.size)
            else:
                asked += " (If-Range stale)"
        if span == ranges.UNSATISFIABLE:
            return self._text(416, "range not satisfiable: %s of %d bytes\n" % (asked, res.size),
                              send_body, asked, [("Content-Range", "bytes */%d" % res.size)])
        if span is None:
            first, length, status, answered = 0, res.size, 200, "whole"
        else:
            first, length, status = span[0], span[1] - span[0] + 1, 206
            answered = "bytes %d-%d/%d" % (span[0], span[1], res.size)
        self.send_response(status)
        self.send_header("Content-Type", res.content_type)
        self.send_header("Content-Length", str(length))
        if status == 206:
            self.send_header("Content-Range", answered)
        self._validators(res)
        self.end_headers()
        if send_body:
            sent, error = self._send(res, first, length)
            self._log(status, asked, answered, sent, length, (first, res.size), error)
        else:
            self._log(status, asked, answered, 0, 0, None)

    def _validators(self, res):
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", res.etag)
        self.send_header("Last-Modified", ranges.http_date(res.mtime))
        self.send_header("Cache-Control", "no-cache")

    def _send(self, res, first, length):
        """Send `length` bytes of the body from `first`; (bytes sent, error or None)."""
        res.body.seek(first)
        buf = memoryview(bytearray(min(_SEND_CHUNK, max(length, 1))))
        sent, quarter = 0, 0
        while sent < length:
            n = res.body.readinto(buf[:min(len(buf), length - sent)])
            if not n:
                self.close_connection = True
                return sent, "file shrank while being sent"
            try:
                self.wfile.write(buf[:n])
            except _SEND_ERRORS as e:
                self.close_connection = True
                return sent, "%s: %s" % (type(e).__name__, e)
            sent += n
            if length >= _PROGRESS_MIN and sent * 4 // length > quarter and sent < length:
                quarter = sent * 4 // length
                self.server.log("%s %s %s sending %d/%d B (%d%%)" % (
                    self._client(), self.command, self.path, sent, length, sent * 100 // length))
        return sent, None

    def _text(self, status, text, send_body, asked, extra=()):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        answered = dict(extra).get("Content-Range", "-")
        error = None
        if send_body:
            try:
                self.wfile.write(body)
            except _SEND_ERRORS as e:
                self.close_connection = True
                error = "%s: %s" % (type(e).__name__, e)
        sent = len(body) if send_body and error is None else 0
        self._log(status, asked, answered, sent, len(body) if send_body else 0, None, error)

    def _log(self, status, asked, answered, sent, length, where, error=None):
        """The request's one log line. `where`: (first byte, file size) for a file's body."""
        line = "%s %s %s range %s -> %d %s; sent %d/%d B" % (
            self._client(), self.command, self.path, asked or "-", status, answered, sent, length)
        if where is not None:
            at, size = where[0] + sent, where[1]
            line += ", file at %d/%d (%.1f%%)" % (at, size, 100.0 * at / size if size else 100.0)
        if error:
            line += "; cut: " + error
        self.server.log(line)
