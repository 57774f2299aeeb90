# Streaming HTTP/1.1 client for firmware downloads: one connection, TLS with certificate and
# hostname verification, bodies read into caller buffers (no per-read allocation).
import socket
from micropython import const

from .errors import (
    OTAError, ESP_FAIL, ESP_ERR_INVALID_ARG, ESP_ERR_HTTP_CONNECT, ESP_ERR_HTTP_WRITE_DATA,
    ESP_ERR_HTTP_FETCH_HEADER, ESP_ERR_HTTP_INVALID_TRANSPORT, ESP_ERR_HTTP_MAX_REDIRECT,
    ESP_ERR_HTTP_CONNECTION_CLOSED, ESP_ERR_HTTP_NOT_MODIFIED, ESP_ERR_HTTP_RANGE_NOT_SATISFIABLE,
    ESP_ERR_HTTP_READ_TIMEOUT, ESP_ERR_HTTP_INCOMPLETE_DATA, ESP_ERR_HTTP_REDIRECT_DOWNGRADE,
)

_DEFAULT_TIMEOUT_MS = const(5000)
_DEFAULT_MAX_REDIRECT = const(10)
_MIN_HEADER_LINE = const(1024)
_ETIMEDOUT = const(110)
_EAGAIN = const(11)
_MBEDTLS_X509_VERIFY_FAILED = const(-0x2700)


def pem_to_der_list(pem):
    """Every certificate of a PEM bundle as DER bytes (the board's tls takes DER, one per call)."""
    import binascii

    if isinstance(pem, str):
        pem = pem.encode()
    if pem[:1] == b"\x30":
        return [bytes(pem)]  # already DER
    ders = []
    begin = b"-----BEGIN CERTIFICATE-----"
    end = b"-----END CERTIFICATE-----"
    i = pem.find(begin)
    while i >= 0:
        j = pem.find(end, i)
        if j < 0:
            break
        ders.append(binascii.a2b_base64(pem[i + len(begin):j]))
        i = pem.find(begin, j)
    if not ders:
        raise OTAError(ESP_ERR_INVALID_ARG, "http_config.cert_pem holds no PEM certificate")
    return ders


def split_url(url):
    """(scheme, host, port, path, userinfo) of an absolute http(s) URL."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("https", "http"):
        raise OTAError(ESP_ERR_HTTP_INVALID_TRANSPORT, "http_config.url must start with https:// (got %r)" % url)
    slash = rest.find("/")
    netloc, path = (rest, "/") if slash < 0 else (rest[:slash], rest[slash:])
    userinfo, at, hostport = netloc.rpartition("@")
    host, colon, port = hostport.partition(":")
    if not host:
        raise OTAError(ESP_ERR_INVALID_ARG, "http_config.url has no host: %r" % url)
    try:
        port = int(port) if colon else (443 if scheme == "https" else 80)
    except ValueError:
        raise OTAError(ESP_ERR_INVALID_ARG, "http_config.url has a bad port: %r" % url)
    return scheme, host, port, path, userinfo if at else ""


class HTTPClient:
    """One HTTP(S) connection that follows redirects and streams a response body.

    `status`, `content_length` (-1 while unknown) and `url` describe the current response;
    `readinto(buf, n)` returns body bytes until it returns 0 at the body's end."""

    def __init__(self, http_config, allow_http=False):
        url = http_config.get("url")
        if not isinstance(url, str) or not url:
            raise OTAError(ESP_ERR_INVALID_ARG, "http_config.url is required")
        self.url = url
        scheme = split_url(url)[0]
        if scheme == "http" and not allow_http:
            raise OTAError(ESP_ERR_INVALID_ARG,
                           "plain http:// refused: set allow_http_insecure_transport to permit it")
        self._allow_http = allow_http
        self._timeout_ms = http_config.get("timeout_ms") or _DEFAULT_TIMEOUT_MS
        self._max_redirects = http_config.get("max_redirection_count") or _DEFAULT_MAX_REDIRECT
        self._line_limit = max(http_config.get("buffer_size") or 0, _MIN_HEADER_LINE)
        self._user_agent = http_config.get("user_agent") or "esp_https_ota-micropython"
        self._headers = {}
        self._tls_ctx = None
        cert_pem = http_config.get("cert_pem")
        self._cas = pem_to_der_list(cert_pem) if cert_pem else None
        self._sock = None
        self._conn = None  # (scheme, host, port) of the open connection
        self.status = -1
        self.content_length = -1
        self._chunked = False
        self._left = 0  # body (or current chunk) bytes still owed
        self._eof = True
        self._keep_alive = False

    # -- request headers, as esp_http_client_set_header() for http_client_init_cb
    def set_header(self, name, value):
        self._headers[name] = value

    def delete_header(self, name):
        self._headers.pop(name, None)

    # -- connection
    def _tls_context(self):
        if self._tls_ctx is None:
            if not self._cas:
                raise OTAError(ESP_ERR_INVALID_ARG,
                               "http_config.cert_pem is required for https (server verification)")
            import tls

            ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
            ctx.verify_mode = tls.CERT_REQUIRED  # the default differs between ports: set it
            for der in self._cas:
                ctx.load_verify_locations(der)
            self._tls_ctx = ctx
        return self._tls_ctx

    def _connect(self, scheme, host, port):
        self.close()
        where = "%s:%d" % (host, port)
        try:
            addrs = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except OSError as e:
            raise OTAError(ESP_ERR_HTTP_CONNECT, "cannot resolve %s (%s)" % (host, e))
        sock = None
        err = None
        for family, _, _, _, addr in addrs:
            try:
                sock = socket.socket(family, socket.SOCK_STREAM)
                sock.settimeout(self._timeout_ms / 1000)
                sock.connect(addr)
                break
            except OSError as e:
                err = e
                sock.close()
                sock = None
        if sock is None:
            raise OTAError(ESP_ERR_HTTP_CONNECT, "cannot connect to %s (%s)" % (where, err))
        if scheme == "https":
            try:
                sock = self._tls_context().wrap_socket(sock, server_hostname=host)
            except (OSError, ValueError) as e:  # a failed certificate check is a ValueError
                sock.close()
                raise OTAError(ESP_ERR_HTTP_CONNECT, "TLS handshake with %s failed: %s" % (where, _tls_reason(e)))
        self._sock = sock
        self._conn = (scheme, host, port)

    def close(self):
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = None
        self._conn = None

    # -- requests
    def get(self, range_start=-1, range_end=-1):
        """Send GET for self.url (following redirects) and read the response head.

        Returns the status (200 or 206); raises OTAError for anything else."""
        redirects = 0
        while True:
            scheme, host, port, path, _ = split_url(self.url)
            if self._conn != (scheme, host, port) or not self._keep_alive or not self._eof:
                self._connect(scheme, host, port)
            self._send(host, port, path, range_start, range_end)
            location = self._read_head()
            if self.status in (301, 302, 303, 307, 308) and location:
                redirects += 1
                if redirects > self._max_redirects:
                    self.close()
                    raise OTAError(ESP_ERR_HTTP_MAX_REDIRECT, "more than %d redirects (last to %s)" % (
                        self._max_redirects, location))
                new_url = _resolve(self.url, location)
                if scheme == "https" and new_url.startswith("http://"):
                    self.close()
                    raise OTAError(ESP_ERR_HTTP_REDIRECT_DOWNGRADE, "redirect from https to %s refused" % new_url)
                self.url = new_url
                self._keep_alive = False  # the redirect body is not read: reconnect
                continue
            return self._check_status()

    def _send(self, host, port, path, range_start, range_end):
        default_port = 443 if self._conn[0] == "https" else 80
        lines = ["GET %s HTTP/1.1" % path,
                 "Host: %s" % (host if port == default_port else "%s:%d" % (host, port)),
                 "User-Agent: %s" % self._user_agent,
                 "Connection: keep-alive"]
        if range_start >= 0:
            lines.append("Range: bytes=%d-%s" % (range_start, "" if range_end < 0 else str(range_end)))
        for name in self._headers:
            lines.append("%s: %s" % (name, self._headers[name]))
        lines.append("\r\n")
        try:
            self._sock.write("\r\n".join(lines).encode())
        except OSError as e:
            self.close()
            raise OTAError(ESP_ERR_HTTP_WRITE_DATA, "sending the request to %s failed (%s)" % (self.url, e))

    def _readline(self):
        try:
            line = self._sock.readline(self._line_limit)
        except OSError as e:
            self.close()
            if _is_timeout(e):
                raise OTAError(ESP_ERR_HTTP_READ_TIMEOUT, "no response header from %s within %d ms" % (
                    self.url, self._timeout_ms))
            raise OTAError(ESP_ERR_HTTP_FETCH_HEADER, "reading the response from %s failed (%s)" % (self.url, e))
        if not line.endswith(b"\n"):
            self.close()
            if not line:
                raise OTAError(ESP_ERR_HTTP_CONNECTION_CLOSED, "%s closed the connection before the response header" % self.url)
            raise OTAError(ESP_ERR_HTTP_FETCH_HEADER, "response header line longer than %d bytes from %s" % (
                self._line_limit, self.url))
        return line

    def _read_head(self):
        """Read the status line and headers; returns the Location header (or None)."""
        status_line = self._readline()
        parts = status_line.split(None, 2)
        try:
            self.status = int(parts[1])
        except (IndexError, ValueError):
            self.close()
            raise OTAError(ESP_ERR_HTTP_FETCH_HEADER, "bad status line from %s: %r" % (self.url, status_line[:64]))
        self._keep_alive = parts[0] == b"HTTP/1.1"
        self.content_length = -1
        self._chunked = False
        location = None
        while True:
            line = self._readline()
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            value = value.strip()
            if name == b"content-length":
                try:
                    self.content_length = int(value)
                except ValueError:
                    self.close()
                    raise OTAError(ESP_ERR_HTTP_FETCH_HEADER, "bad Content-Length %r from %s" % (value, self.url))
            elif name == b"transfer-encoding":
                self._chunked = b"chunked" in value.lower()
            elif name == b"connection":
                v = value.lower()
                self._keep_alive = b"close" not in v and (self._keep_alive or b"keep-alive" in v)
            elif name == b"location":
                location = value.decode()
        if self._chunked:
            self.content_length = -1
            self._left = 0
        else:
            self._left = self.content_length
        self._eof = self.content_length == 0
        return location

    def _check_status(self):
        """ESP-IDF's mapping of an HTTP status to an error (200 and 206 proceed)."""
        st = self.status
        if st in (200, 206):
            return st
        self.close()
        if st == 304:
            raise OTAError(ESP_ERR_HTTP_NOT_MODIFIED, "HTTP 304 Not Modified from %s: image unchanged" % self.url)
        if st == 416:
            raise OTAError(ESP_ERR_HTTP_RANGE_NOT_SATISFIABLE, "HTTP 416 Range Not Satisfiable from %s" % self.url)
        raise OTAError(ESP_FAIL, "HTTP status %d from %s" % (st, self.url))

    # -- body
    def readinto(self, buf, n):
        """Read up to n body bytes into buf[0:n]; 0 means the body has ended.

        A body that ends before its declared length raises ESP_ERR_HTTP_INCOMPLETE_DATA."""
        if self._eof:
            return 0
        if self._chunked:
            if self._left == 0:
                self._left = self._chunk_size()
                if self._left == 0:
                    self._eof = True
                    return 0
            if n > self._left:
                n = self._left
        elif self._left >= 0 and n > self._left:
            n = self._left
        got = self._read(buf, n)
        if got < n and (self._chunked or self._left >= 0):
            self.close()
            raise OTAError(ESP_ERR_HTTP_INCOMPLETE_DATA, "connection closed with %s body bytes still owed by %s" % (
                "chunk" if self._chunked else str(self._left - got), self.url))
        if got == 0:  # close-delimited body ended
            self._eof = True
            self._keep_alive = False
            return 0
        if self._left >= 0:
            self._left -= got
            if self._chunked:
                if self._left == 0:
                    self._readline()  # CRLF after the chunk data
            elif self._left == 0:
                self._eof = True
        return got

    def _read(self, buf, n):
        try:
            return self._sock.readinto(buf, n)
        except OSError as e:
            self.close()
            if _is_timeout(e):
                raise OTAError(ESP_ERR_HTTP_READ_TIMEOUT, "no data from %s within %d ms" % (self.url, self._timeout_ms))
            raise OTAError(ESP_ERR_HTTP_CONNECTION_CLOSED, "reading from %s failed (%s)" % (self.url, e))

    def _chunk_size(self):
        line = self._readline()
        size = line.split(b";", 1)[0].strip()
        try:
            size = int(size, 16)
        except ValueError:
            self.close()
            raise OTAError(ESP_ERR_HTTP_FETCH_HEADER, "bad chunk size line %r from %s" % (line[:32], self.url))
        if size == 0:
            while self._readline() not in (b"\r\n", b"\n"):
                pass  # trailers
        return size

    def is_complete(self):
        return self._eof


def _resolve(base, location):
    if "://" in location:
        return location
    scheme, host, port, path, _ = split_url(base)
    root = "%s://%s:%d" % (scheme, host, port)
    if location.startswith("//"):
        return scheme + ":" + location
    if location.startswith("/"):
        return root + location
    return root + path[: path.rfind("/") + 1] + location


def _is_timeout(e):
    return e.args and e.args[0] in (_ETIMEDOUT, _EAGAIN, "timed out")


def _tls_reason(e):
    """What went wrong in a handshake, from mbedTLS's error (verify info text or code)."""
    if isinstance(e, ValueError):
        why = " ".join(str(e).split())  # mbedTLS's verify info, one reason per line
        if "future" in why:
            why += " (is the clock set? call ntptime.settime() before the OTA)"
        return "certificate verification failed: " + why
    code = e.args[0] if e.args else None
    if code == _MBEDTLS_X509_VERIFY_FAILED:
        return "certificate verification failed (not signed by http_config.cert_pem, wrong host name, or expired)"
    return str(e)
