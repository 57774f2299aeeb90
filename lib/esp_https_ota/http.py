# The HTTP/1.1 request side (esp_http_client where esp_https_ota relies on it): one kept-alive
# connection, GET with an optional Range; redirects, Basic auth after a 401 and ESP-IDF's map from
# status to error are in status.py, loaded only for such a response. The request is built once per
# URL into one buffer, and the Range numbers are written into it in place, so requests for the
# next range allocate nothing.
from micropython import const

from ._kernels import put, put_int
from .body import Body
from .errors import (
    OTAError, ESP_ERR_INVALID_ARG, ESP_ERR_HTTP_WRITE_DATA, ESP_ERR_HTTP_CONNECTION_CLOSED, ESP_ERR_HTTP_READ_TIMEOUT,
)
from .response import read_head

_LINE = const(128)  # response head lines are parsed from their first 128 bytes
_RANGE_ROOM = const(48)  # "Range: bytes=<9 digits>-<9 digits>\r\n\r\n"
_ETIMEDOUT = const(110)
_STALE_TRIED = const(0x200000)  # tries: a kept-alive connection found closed was replaced (status.py has the others)
_EAGAIN = const(11)


class HTTPClient:
    # The client handle that http_client_init_cb gets (set_header, delete_header, get_url).
    # After request(): status and the head's fields (see response.read_head); body is the source
    # of the response's body bytes.

    def __init__(self, cfg, tls=None):
        self.cfg = cfg  # config.HTTPConfig
        self.url = cfg.url
        self.credentials = cfg.credentials
        self.send_auth = False  # Basic credentials go out only after a 401, as ESP-IDF does
        self.headers = {}
        self._tls = tls  # the SSLContext (begin() makes it before this module is loaded), or made on first use
        self._sock = None
        self._conn = None  # (scheme, host, port) of the open connection
        self.dest = cfg.dest  # (scheme, host, port) the request is built for (aio.py connects there)
        self.target = cfg.target
        self.req = None  # the request without its Range line, then room for it
        self._req_len = 0
        self.line = bytearray(_LINE)
        self.one = bytearray(1)  # for byte-wise reads (response head, chunk lines)
        self.status = self.length = self.range_start = self.range_total = -1
        self.chunked = self.keep_alive = False
        self.encoding = 0  # Content-Encoding: 0 none (or identity), 1 gzip or deflate, -1 another
        self.location = None
        self.want_validator = False  # read_head() keeps ETag and Last-Modified (progress.py)
        self.etag = self.last_modified = None
        self.head_left = 0  # bytes the response head may still take (response.read_head)
        self.requests = 0
        self.new_request()
        self.body = Body(self)

    # -- as esp_http_client_set_header() / _delete_header() / _get_url()
    def set_header(self, name, value):
        if "\r" in name + value or "\n" in name + value or ":" in name:
            raise OTAError(ESP_ERR_INVALID_ARG, "header %r: CR, LF or ':' would inject another header" % name)
        self.headers[name] = value
        self.req = None

    def delete_header(self, name):
        self.headers.pop(name, None)
        self.req = None

    def get_url(self):
        return self.url

    def tls_context(self):
        # The TLS context for dest (made once); None for plain http.
        if self.dest[0] == "https" and self._tls is None:
            from .transport import tls_context

            self._tls = tls_context(self.cfg)
        return self._tls

    def adopt(self, sock):
        # A connection aio.py opened to dest.
        self._sock, self._conn = sock, self.dest

    def ready(self):
        # Build the request now (in begin()), so that perform()'s Range requests allocate nothing.
        if self.req is None:
            self._prepare()

    # -- the stream, for response.py and body.py
    def read(self, buf, n):
        sock = self._sock
        if sock is None:  # closed by an error: perform() called again after it raised
            raise self.fail(ESP_ERR_HTTP_CONNECTION_CLOSED, "is not connected (closed by an earlier error)")
        try:
            return sock.readinto(buf, n)
        except OSError as e:
            raise self.read_error(e)

    def readline(self, limit):
        try:
            # Open here: only read_head() calls this, on the response to the request just sent.
            return self._sock.readline(limit)  # type: ignore[union-attr]
        except OSError as e:
            raise self.read_error(e)

    def stream(self):
        return self._sock

    def getc(self):
        # The next byte of the stream, or -1 once the peer has closed it.
        return self.one[0] if self.read(self.one, 1) == 1 else -1

    def fail(self, code, msg):
        # Close the connection; the OTAError to raise, naming the URL.
        self.close()
        return OTAError(code, self.url + " " + msg)

    def read_error(self, e):
        if e.args and e.args[0] in (_ETIMEDOUT, _EAGAIN, "timed out"):
            return self.fail(ESP_ERR_HTTP_READ_TIMEOUT, "sent nothing within timeout_ms=%d" % self.cfg.timeout_ms)
        return self.fail(ESP_ERR_HTTP_CONNECTION_CLOSED, "could not be read (%s)" % e)

    def close(self):
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = self._conn = None

    # -- requests (aio.py drives the same steps with awaits)
    def request(self, start=-1, last=-1):
        # GET the URL (with Range bytes=start-last when start >= 0; last -1: to the end), following
        # redirects and one 401; read the response head. Returns 200 or 206; raises OTAError else.
        self.new_request()
        while True:
            reused = self.reusable()
            if not reused:
                self._connect()
            self.send(start, last)
            try:
                read_head(self)
            except OTAError as e:
                if self.stale(reused, e):
                    continue
                raise
            st = self.answer(start)
            if st:
                return st

    def new_request(self):
        self.tries = 0  # redirects followed, plus status.py's _AUTH_TRIED and _STALE_TRIED

    def reusable(self):
        # Build the request if the URL changed; whether the open connection can carry it.
        if self.req is None:
            self._prepare()
        return self._conn == self.dest and self.keep_alive and self.body.ended

    def stale(self, reused, e):
        # A kept-alive connection the server dropped while idle takes the request and then reads
        # as closed: True to try once more on a new connection.
        if not reused or self.tries & _STALE_TRIED or e.code != ESP_ERR_HTTP_CONNECTION_CLOSED:
            return False
        self.tries |= _STALE_TRIED
        self.keep_alive = False
        return True

    def answer(self, start):
        # After the head: 200 or 206, or 0 once a redirect or a 401 has been taken (request
        # again); raises OTAError for any other status, or a 206 to a range not asked for.
        self.body.arm()
        st = self.status
        if st == 200 or st == 206 and (start < 0 or self.range_start == start and self.range_total >= 0):
            return st
        from .status import answer

        return answer(self, start)

    def _prepare(self):
        # Build the request for the current URL, less its Range line.
        scheme, host, port = self.dest
        target = self.target
        default = 443 if scheme == "https" else 80
        lines = ["GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nConnection: keep-alive" % (
            target, host if port == default else "%s:%d" % (host, port), self.cfg.user_agent)]
        if self.cfg.accept_encoding:
            lines.append("Accept-Encoding: " + self.cfg.accept_encoding)
        if self.send_auth and self.credentials:
            import binascii

            lines.append("Authorization: Basic " + binascii.b2a_base64(self.credentials.encode()).decode().strip())
        for name in self.headers:
            if scheme == "http" and name.lower() == "authorization":
                raise self.fail(ESP_ERR_INVALID_ARG, "Authorization header not sent over plain http")
            lines.append("%s: %s" % (name, self.headers[name]))
        head = ("\r\n".join(lines) + "\r\n").encode()
        self._req_len = len(head)
        self.req = bytearray(head + bytes(_RANGE_ROOM))

    def _connect(self):
        self.close()
        from .transport import connect  # begin() unloads it once connected: reconnects are rare

        self.adopt(connect(self.dest[1], self.dest[2], self.cfg, self.tls_context()))

    def send(self, start, last):
        req = self.req
        k = self._req_len
        if start >= 0:
            k = put(req, k, b"Range: bytes=")
            k = put_int(req, k, start)
            k = put(req, k, b"-")
            if last >= 0:
                k = put_int(req, k, last)
            k = put(req, k, b"\r\n")
        k = put(req, k, b"\r\n")
        self.requests += 1
        try:
            self._sock.write(req, 0, k)  # type: ignore[union-attr]  # open: request() connected or reused it
        except OSError as e:
            raise self.fail(ESP_ERR_HTTP_WRITE_DATA, "could not be sent the request (%s)" % e)
