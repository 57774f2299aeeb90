# The asyncio API: begin, perform, finish and abort with the names and codes of the blocking
# ones, and async_https_ota(). The connection is an asyncio.open_connection() stream and every
# request is awaited (pipeline.py yields them as needs, see ranges.py); the response is then read
# by the same code as the blocking API, from a read-ahead buffer the event loop has filled, so a
# network wait never blocks the loop. Loaded only when used.
import asyncio
from micropython import const

from . import handle, _kernels
from .errors import OTAError, ESP_ERR_INVALID_ARG, ESP_ERR_NOT_SUPPORTED, ESP_ERR_HTTP_CONNECT, \
    ESP_ERR_HTTPS_OTA_IN_PROGRESS
from .response import read_head

_AHEAD = const(5120)  # read-ahead: decrypt_cb's stage reads 4 KiB at once, plus framing
_SLACK = const(64)  # chunk lines and the like a step may read beyond the image bytes it takes
_DRAIN = const(4096)  # a redirect's or a 401's body read to keep the connection (as http.py)


class _Stream:
    # The connection as the blocking stream HTTPClient reads (readinto, readline, write, close),
    # served from a buffer that fill() fills from the event loop. A read the buffer cannot serve
    # (a chunk line longer than the slack, say) waits on the socket itself, blocking, counted in
    # `blocked`.

    def __init__(self, stream, timeout_ms):
        self._s = stream
        self._ms = timeout_ms
        self._buf = bytearray(_AHEAD)
        self._lo = self._hi = 0  # the bytes read ahead: _buf[_lo:_hi]
        self.eof = False
        self.blocked = 0

    def ahead(self):
        return self._hi - self._lo

    async def fill(self, want):
        # Read ahead until `want` bytes are buffered (at most the buffer), or the peer closed.
        want = _AHEAD if want < 0 or want > _AHEAD else want
        while self._hi - self._lo < want and not self.eof:
            try:
                self._got(await asyncio.wait_for_ms(self._s.readinto(self._tail()), self._ms))
            except asyncio.TimeoutError:
                raise OSError(110)  # ETIMEDOUT: HTTPClient names timeout_ms

    def _tail(self):
        # The free end of the buffer, what is left moved to the front first when it is full.
        if self._hi == _AHEAD:
            _kernels.copy_bytes(self._buf, 0, self._buf, self._lo, self._hi - self._lo)
            self._lo, self._hi = 0, self._hi - self._lo
        return memoryview(self._buf)[self._hi:]

    def _got(self, n):
        if n == 0:
            self.eof = True
        elif n:  # None: nothing yet (a TLS record not complete)
            self._hi += n

    async def fill_until(self, end):
        # Read ahead until `end` (the response head's empty line, a chunk line's LF) is in, the
        # buffer is full or EOF.
        while self._buf.find(end, self._lo, self._hi) < 0 and not self.eof and self.ahead() < _AHEAD:
            await self.fill(self.ahead() + 1)

    async def drain(self):
        await self._s.drain()

    def _wait(self, want):
        # Block until `want` bytes are buffered or the peer closed (the fallback).
        import select

        self.blocked += 1
        poller = select.poll()
        poller.register(self._s.s, select.POLLIN)
        while self.ahead() < want and not self.eof:
            if not poller.poll(self._ms):
                raise OSError(110)
            self._got(self._s.s.readinto(self._tail()))

    def readinto(self, buf, n):
        if self.ahead() < n and not self.eof:
            self._wait(n if n < _AHEAD else _AHEAD)
        k = self.ahead()
        k = n if k > n else k
        _kernels.copy_bytes(buf, 0, self._buf, self._lo, k)
        self._lo += k
        return k

    def readline(self, limit):
        end = self._buf.find(b"\n", self._lo, self._hi)
        while end < 0 and not self.eof and self.ahead() < limit and self.ahead() < _AHEAD:
            self._wait(self.ahead() + 1)
            end = self._buf.find(b"\n", self._lo, self._hi)
        end = self._hi if end < 0 else end + 1
        end = self._lo + limit if end - self._lo > limit else end
        line = bytes(self._buf[self._lo:end])
        self._lo = end
        return line

    def write(self, buf, off, n):
        self._s.write(memoryview(buf)[off:off + n])  # sent now, or by drain()

    def close(self):
        self._s.s.close()


def _owed(body):
    # What to read ahead before a step: the bytes certain to come before the body ends, the
    # rest of a Content-Length body or of the current chunk with its CRLF; -2: a chunk line comes
    # next; -1: a close-delimited body, until the peer closes. (body.py's fields, read here so
    # that the blocking API carries none of this.)
    if body.ended:
        return 0
    if body._chunked:
        return body._left + 2 if body._left else -2
    return body._left


async def _connect(c):
    # The async twin of HTTPClient._connect: an asyncio.open_connection() stream (its address
    # lookup blocks on MicroPython), TLS verifying the chain and the name.
    from .transport import tls_reason

    c.close()
    _, host, port = c.dest
    where = "%s:%d" % (host, port)
    try:
        s, _ = await asyncio.open_connection(host, port, ssl=c.tls_context(), server_hostname=c.cfg.verify_name or host)
    except (OSError, ValueError) as e:
        raise OTAError(ESP_ERR_HTTP_CONNECT, "cannot connect to %s (%s)" % (where, tls_reason(e)))
    c.adopt(_Stream(s, c.cfg.timeout_ms))


async def _request(c, start, last):
    # The async twin of HTTPClient.request: the same steps, each network wait awaited.
    c.new_request()
    while True:
        reused = c.reusable()
        if not reused:
            await _connect(c)
        s = c.stream()
        c.send(start, last)
        try:
            await s.drain()  # the TLS handshake of a new connection happens here
            await s.fill_until(b"\r\n\r\n")
        except (OSError, ValueError) as e:
            if reused:
                raise c.read_error(e)
            from .transport import tls_reason

            raise c.fail(ESP_ERR_HTTP_CONNECT, "failed in the TLS handshake or the connection: %s" % tls_reason(e))
        try:
            read_head(c)
        except OTAError as e:
            if c.stale(reused, e):
                continue
            raise
        if c.status != 200 and c.status != 206 and 0 < c.length <= _DRAIN:
            await s.fill(c.length)  # answer() may read it, to keep the connection
        st = c.answer(start)
        if st:
            owed = _owed(c.body)  # the body's first bytes too: begin() looks at them
            await s.fill(owed if 0 <= owed < _AHEAD else _AHEAD)
            return st


async def _run(build):
    # The async twin of ranges.run: make each request the generator asks for, awaited.
    err: "BaseException | None" = None
    while True:
        try:
            need = next(build) if err is None else build.throw(err)
        except StopIteration as e:
            return e.value
        err = None
        if need[2] >= 0:  # a Range with an end: partial_http_download, whose next requests come in perform()
            err = OTAError(ESP_ERR_NOT_SUPPORTED, "partial_http_download is not supported by the asyncio API yet")
            continue
        try:
            await _request(need[0], need[1], need[2])
        except BaseException as e:  # a cancelled task too: the generator cleans up, then raises it
            err = e


async def begin(config):
    """esp_https_ota_begin(), awaited: the same config, handle and errors. partial_http_download
    is not supported here yet (ESP_ERR_NOT_SUPPORTED): its Range requests come mid-download. A
    cancelled task leaves nothing open and nothing written."""
    return await _run(handle._begin(config))


async def perform(h):
    """esp_https_ota_perform(), awaited: reads ahead what the next step takes, then takes it.
    A cancelled task aborts the OTA, keeping the progress ota_resumption saved."""
    s = h.client.stream() if isinstance(h, handle._Handle) and h.client is not None else None
    if s is None:
        return handle.perform(h)  # not a handle, or closed: perform() raises what it raises
    if not isinstance(s, _Stream):
        raise OTAError(ESP_ERR_INVALID_ARG, "handle from begin(): use perform(), or aio.begin() for this one")
    try:
        await asyncio.sleep_ms(0)  # every step lets the other tasks run, data waiting or not
        owed = _owed(h.client.body)
        try:
            if owed == -2:
                await s.fill_until(b"\n")
            else:
                await s.fill(owed)
        except OSError as e:
            raise h.client.read_error(e)
        # No more than is read ahead: the step must not wait for the network.
        cap = s.ahead() - _SLACK
        return handle._perform(h, -1 if s.eof or 0 <= owed <= s.ahead() else (cap if cap > 0 else 1))
    except asyncio.CancelledError:
        handle._abort(h, True)
        raise


async def finish(h):
    """esp_https_ota_finish(): validates and sets the boot partition (blocking: it reads the
    image back from flash)."""
    return handle.finish(h)


def abort(h):
    """esp_https_ota_abort()."""
    return handle.abort(h)


async def async_https_ota(config):
    """esp_https_ota() for asyncio: begin, perform until done, finish; on any failure (or
    cancellation) the OTA is aborted and the boot partition untouched."""
    h = await begin(config)
    try:
        while await perform(h) == ESP_ERR_HTTPS_OTA_IN_PROGRESS:
            pass
    except BaseException:
        if h.client is not None:  # not already aborted (a cancelled perform() aborts)
            handle.abort(h)
        raise
    return await finish(h)
