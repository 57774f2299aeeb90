# Streaming HTTP/1.1 client for firmware downloads (esp_http_client's behaviour where
# esp_https_ota relies on it): TLS with certificate and host name verification, redirects,
# Basic auth, Range requests on one kept-alive connection, and bodies read into caller buffers
# (Content-Length, chunked, or close-delimited) without allocating per read.
from micropython import const

from . import transport

from .errors import (
    OTAError, ESP_FAIL, ESP_ERR_INVALID_ARG, ESP_ERR_INVALID_RESPONSE,
    ESP_ERR_HTTP_WRITE_DATA, ESP_ERR_HTTP_FETCH_HEADER, ESP_ERR_HTTP_INVALID_TRANSPORT,
    ESP_ERR_HTTP_MAX_REDIRECT, ESP_ERR_HTTP_CONNECTION_CLOSED, ESP_ERR_HTTP_NOT_MODIFIED,
    ESP_ERR_HTTP_RANGE_NOT_SATISFIABLE, ESP_ERR_HTTP_READ_TIMEOUT, ESP_ERR_HTTP_INCOMPLETE_DATA,
    ESP_ERR_HTTP_REDIRECT_DOWNGRADE,
)
from .pem import der_certificates

_DEFAULT_TIMEOUT_MS = const(5000)
_DEFAULT_MAX_REDIRECT = const(10)
_MIN_HEADER_LINE = const(1024)
_DRAIN_LIMIT = const(4096)  # a redirect or 401 body up to this size is read to keep the connection
_ETIMEDOUT = const(110)
_EAGAIN = const(11)

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
    """One connection at a time that follows redirects and streams a response body.

    After get(): `status` is the last status, `size` the whole image's length (-1 while
    unknown). readinto(buf, n) returns body bytes, moving on to the next Range request when one
    ends, until it returns 0 at the end of the image."""

    def __init__(self, http_config, allow_http=False):
        from .config import check_http_config

        check_http_config(http_config)
        self.url = http_config["url"]
        scheme, self._auth_host, _, _, userinfo = split_url(self.url)
        if scheme == "http" and not allow_http:
            raise OTAError(ESP_ERR_INVALID_ARG,
                           "plain http:// refused: set allow_http_insecure_transport to permit it")
        user = http_config.get("username")
        password = http_config.get("password")
        if userinfo:
            self.url = self.url.replace(userinfo + "@", "", 1)  # kept out of requests and error messages
            if user is None:
                user, _, password = userinfo.partition(":")
        self._credentials = None if user is None else "%s:%s" % (user, password or "")
        self._send_auth = False  # Basic credentials go out only after a 401, as ESP-IDF does
        self._timeout_ms = http_config.get("timeout_ms") or _DEFAULT_TIMEOUT_MS
        self._max_redirects = -1 if http_config.get("disable_auto_redirect") else (
            http_config.get("max_redirection_count") or _DEFAULT_MAX_REDIRECT)
        self._line_limit = max(http_config.get("buffer_size") or 0, _MIN_HEADER_LINE)
        self._user_agent = http_config.get("user_agent") or "esp_https_ota-micropython"
        self._keepalive_opt = bool(http_config.get("keep_alive_enable"))
        self._verify_name = http_config.get("common_name")  # checked instead of the URL's host
        self._headers = {}
        cert_pem = http_config.get("cert_pem")
        self._cas = der_certificates(cert_pem, "http_config.cert_pem") if cert_pem else None
        self._client_cert = http_config.get("client_cert_pem")
        self._client_key = http_config.get("client_key_pem")
        self._tls_ctx = None
        self._sock = None
        self._conn = None  # (scheme, host, port) of the open connection
        self._one = bytearray(1)  # for chunk-size lines, read without allocating
        self.status = -1
        self.size = -1
        self.requests = 0
        self._range_size = 0  # >0: partial download in requests of this many bytes
        self._pos = 0  # image bytes delivered so far
        self._chunked = False
        self._left = 0  # bytes the current response (or chunk) still owes; -1: until close
        self._eof = True
        self._keep_alive = False

    # -- request headers, as esp_http_client_set_header() for http_client_init_cb
    def set_header(self, name, value):
        self._headers[name] = value

    def delete_header(self, name):
        self._headers.pop(name, None)

    def get_url(self):
        return self.url

    # -- connection
    def _tls_context(self):
        if self._tls_ctx is None:
            self._tls_ctx = transport.tls_context(self._cas, self._client_cert, self._client_key)
        return self._tls_ctx

    def _connect(self, scheme, host, port):
        self.close()
        self._sock = transport.connect(scheme, host, port, self._timeout_ms, self._keepalive_opt,
                                       self._tls_context, self._verify_name or host)
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
    def get(self, range_size=0, start=0):
        """Request the image from byte `start` (in Range requests of range_size bytes when > 0);
        read the response head. Returns the status (200 or 206); raises OTAError otherwise."""
        self._range_size = range_size
        self._pos = start
        if range_size > 0:
            status = self._request(start, start + range_size - 1)
        else:
            status = self._request(start) if start else self._request()
        if status == 206:
            self.size = self._content_range_total
        else:
            self._range_size = 0  # 200: the server ignored Range and sends everything
            self.size = -1 if self._chunked else self._left
            if start:
                self._resume_whole_body(start)
        return status

    def _request(self, start=-1, end=-1):
        redirects = 0
        auth_retried = False
        stale_retried = False
        while True:
            scheme, host, port, path, _ = split_url(self.url)
            reused = self._conn == (scheme, host, port) and self._keep_alive and self._eof
            if not reused:
                self._connect(scheme, host, port)
            self._send(host, port, path, start, end)
            try:
                location = self._read_head()
            except OTAError as e:
                # A kept-alive connection the server dropped while idle takes the request and
                # then reads as closed: try once more on a new connection.
                if not reused or stale_retried or e.code != ESP_ERR_HTTP_CONNECTION_CLOSED:
                    raise
                stale_retried = True
                self._keep_alive = False
                continue
            st = self.status
            if st in (301, 302, 303, 307, 308) and location and self._max_redirects >= 0:
                redirects += 1
                if redirects > self._max_redirects:
                    self.close()
                    raise OTAError(ESP_ERR_HTTP_MAX_REDIRECT, "more than %d redirects (the last to %s)" % (
                        self._max_redirects, location))
                new_url = _resolve(self.url, location)
                if scheme == "https" and not new_url.startswith("https://"):
                    self.close()
                    raise OTAError(ESP_ERR_HTTP_REDIRECT_DOWNGRADE, "redirect from https to %s refused" % new_url)
                if split_url(new_url)[1] != host:
                    self._drop_authorization()
                self.url = new_url
                self._drain()
                continue
            if st == 401 and not auth_retried and self._credentials and host == self._auth_host:
                auth_retried = True
                self._send_auth = True
                self._drain()
                continue
            return self._check_status(start)

    def _drop_authorization(self):
        """Credentials stay with the host they were given for."""
        self._send_auth = False
        self._credentials = None
        for name in list(self._headers):
            if name.lower() == "authorization":
                del self._headers[name]

    def _send(self, host, port, path, start, end):
        default_port = 443 if self._conn[0] == "https" else 80
        lines = ["GET %s HTTP/1.1" % path,
                 "Host: %s" % (host if port == default_port else "%s:%d" % (host, port)),
                 "User-Agent: %s" % self._user_agent,
                 "Connection: keep-alive"]
        if start >= 0:
            lines.append("Range: bytes=%d-%s" % (start, "" if end < 0 else str(end)))
        if self._send_auth and self._credentials:
            import binascii

            lines.append("Authorization: Basic " + binascii.b2a_base64(self._credentials.encode()).decode().strip())
        for name in self._headers:
            lines.append("%s: %s" % (name, self._headers[name]))
        lines.append("\r\n")
        self.requests += 1
        try:
            self._sock.write("\r\n".join(lines).encode())
        except OSError as e:
            self.close()
            raise OTAError(ESP_ERR_HTTP_WRITE_DATA, "sending the request to %s failed (%s)" % (self.url, e))

    def _readline(self):
        try:
            line = self._sock.readline(self._line_limit)
        except OSError as e:
            self._raise_read_error(e, "the response header")
        if not line.endswith(b"\n"):
            self.close()
            if not line:
                raise OTAError(ESP_ERR_HTTP_CONNECTION_CLOSED, "%s closed the connection before the response header" % self.url)
            raise OTAError(ESP_ERR_HTTP_FETCH_HEADER, "response header line longer than %d bytes from %s" % (
                self._line_limit, self.url))
        return line

    def _read_head(self):
        """Read the status line and headers; return the Location header (or None)."""
        status_line = self._readline()
        parts = status_line.split(None, 2)
        try:
            self.status = int(parts[1])
        except (IndexError, ValueError):
            self.close()
            raise OTAError(ESP_ERR_HTTP_FETCH_HEADER, "bad status line from %s: %r" % (self.url, status_line[:64]))
        self._keep_alive = parts[0] == b"HTTP/1.1"
        length = -1
        self._chunked = False
        self._content_range_start = -1
        self._content_range_total = -1
        location = None
        while True:
            line = self._readline()
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            value = value.strip()
            if name == b"content-length":
                length = self._header_int(value, "Content-Length")
            elif name == b"transfer-encoding":
                self._chunked = b"chunked" in value.lower()
            elif name == b"connection":
                v = value.lower()
                self._keep_alive = b"close" not in v and (self._keep_alive or b"keep-alive" in v)
            elif name == b"location":
                location = value.decode()
            elif name == b"content-range":  # bytes a-b/total
                span, _, total = value.partition(b"/")
                self._content_range_start = self._header_int(span.split(b" ")[-1].split(b"-")[0], "Content-Range")
                if total != b"*":
                    self._content_range_total = self._header_int(total, "Content-Range")
        self._left = 0 if self._chunked else length
        # HTTP: 304 and 1xx/204 have no body whatever their headers say.
        self._eof = length == 0 or self.status == 304 or self.status == 204
        return location

    def _header_int(self, value, name):
        try:
            return int(value)
        except ValueError:
            self.close()
            raise OTAError(ESP_ERR_HTTP_FETCH_HEADER, "bad %s %r from %s" % (name, value, self.url))

    def _drain(self):
        """Read and drop a small body so the connection can carry the next request."""
        if self._eof:
            return
        if self._chunked or self._left < 0 or self._left > _DRAIN_LIMIT or not self._keep_alive:
            self.close()
            return
        scrap = bytearray(self._left)
        self._read(scrap, self._left)
        self._eof = True

    def _check_status(self, start):
        """ESP-IDF's mapping of an HTTP status to an error (200 and 206 proceed)."""
        st = self.status
        if st == 206 and start >= 0:
            if self._content_range_start != start or self._content_range_total < 0:
                self.close()
                raise OTAError(ESP_ERR_INVALID_RESPONSE, "206 from %s for bytes %d- has Content-Range start %d, total %d" % (
                    self.url, start, self._content_range_start, self._content_range_total))
            return st
        if st == 200 or st == 206:
            return st
        self.close()
        if st == 304:
            raise OTAError(ESP_ERR_HTTP_NOT_MODIFIED, "HTTP 304 Not Modified from %s: image unchanged" % self.url)
        if st == 416:
            raise OTAError(ESP_ERR_HTTP_RANGE_NOT_SATISFIABLE, "HTTP 416 Range Not Satisfiable from %s (bytes %d-)" % (
                self.url, start))
        if 300 <= st < 400:
            raise OTAError(ESP_FAIL, "HTTP %d from %s: redirect %s" % (
                st, self.url, "not followed (disable_auto_redirect)" if self._max_redirects < 0 else "without Location"))
        raise OTAError(ESP_FAIL, "HTTP status %d from %s" % (st, self.url))

    # -- body
    def readinto(self, buf, n):
        """Read up to n image bytes into buf[0:n]; 0 means the image has ended.

        A body that ends before its declared length raises ESP_ERR_HTTP_INCOMPLETE_DATA."""
        if self._eof:
            if self._range_size == 0 or self._pos >= self.size:
                return 0
            self._next_range()
        if self._chunked:
            if self._left == 0:
                self._left = self._chunk_size()
                if self._left == 0:
                    self._eof = True
                    return 0
        if self._left >= 0 and n > self._left:
            n = self._left
        got = self._read(buf, n)
        if got < n and self._left >= 0:
            self.close()
            raise OTAError(ESP_ERR_HTTP_INCOMPLETE_DATA, "connection closed at image byte %d with %d more bytes owed by %s" % (
                self._pos + got, self._left - got, self.url))
        self._pos += got
        if got == 0:  # close-delimited body ended
            self._eof = True
            self._keep_alive = False
            return 0
        if self._left >= 0:
            self._left -= got
            if self._left == 0:
                if self._chunked:
                    self._line_end()  # CRLF after the chunk data
                else:
                    self._eof = True
        return got

    def _next_range(self):
        start = self._pos
        end = start + self._range_size
        if end > self.size:
            end = self.size
        if self._request(start, end - 1) == 200:
            self._range_size = 0
            self._resume_whole_body(start)

    def _resume_whole_body(self, start):
        """The server ignored Range and sends everything: skip the bytes we already have."""
        if self._chunked or self._left < start:
            self.close()
            raise OTAError(ESP_ERR_INVALID_RESPONSE, "%s ignored Range at byte %d and sent a body that cannot be resumed" % (
                self.url, start))
        self._skip(start)

    def _skip(self, n):
        scrap = bytearray(1024)
        while n > 0:
            got = self._read(scrap, min(n, len(scrap)))
            if got == 0:
                raise OTAError(ESP_ERR_HTTP_INCOMPLETE_DATA, "%s ended the body while re-sending bytes already received" % self.url)
            n -= got
        if self._left >= 0:
            self._left -= self._pos

    def _read(self, buf, n):
        try:
            return self._sock.readinto(buf, n)
        except OSError as e:
            self._raise_read_error(e, "data")

    def _raise_read_error(self, e, what):
        self.close()
        if _is_timeout(e):
            raise OTAError(ESP_ERR_HTTP_READ_TIMEOUT, "no %s from %s within timeout_ms=%d" % (what, self.url, self._timeout_ms))
        raise OTAError(ESP_ERR_HTTP_CONNECTION_CLOSED, "reading %s from %s failed (%s)" % (what, self.url, e))

    def _getc(self):
        if self._read(self._one, 1) != 1:
            self.close()
            raise OTAError(ESP_ERR_HTTP_INCOMPLETE_DATA, "%s closed the connection inside a chunked body" % self.url)
        return self._one[0]

    def _line_end(self):
        """Consume up to and including the next LF, allocating nothing; return the bytes before it."""
        count = 0
        while self._getc() != 10:
            count += 1
            if count > self._line_limit:
                self.close()
                raise OTAError(ESP_ERR_HTTP_FETCH_HEADER, "chunk line longer than %d bytes from %s" % (self._line_limit, self.url))
        return count

    def _chunk_size(self):
        """Parse a chunk-size line (hex digits, then extensions) byte by byte, allocating nothing."""
        size = 0
        digits = 0
        while True:
            c = self._getc()
            if 48 <= c <= 57:
                d = c - 48
            elif 97 <= (c | 32) <= 102:
                d = (c | 32) - 87
            else:
                break
            size = (size << 4) | d
            digits += 1
        if digits == 0 or digits > 7:  # 7 hex digits: chunks under 256 MB, small ints on a 32-bit board
            self.close()
            raise OTAError(ESP_ERR_HTTP_FETCH_HEADER, "bad chunk size line from %s" % self.url)
        if c != 10:
            self._line_end()  # extensions and CRLF
        if size == 0:
            while self._line_end() > 1:
                pass  # trailer fields, up to the empty line (CRLF or LF)
        return size

    def is_complete(self):
        """True once every byte of the image has been received."""
        return self._eof and (self._range_size == 0 or self._pos >= self.size)


def _resolve(base, location):
    if "://" in location:
        return location
    scheme, host, port, path, _ = split_url(base)
    if location.startswith("//"):
        return scheme + ":" + location
    root = "%s://%s:%d" % (scheme, host, port)
    if location.startswith("/"):
        return root + location
    return root + path[: path.rfind("/") + 1] + location


def _is_timeout(e):
    return bool(e.args) and e.args[0] in (_ETIMEDOUT, _EAGAIN, "timed out")
