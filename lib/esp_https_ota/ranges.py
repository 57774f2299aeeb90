# The Range loop of a partial download (and of a resumed one), as ESP-IDF keeps it in
# esp_https_ota_perform(): a source whose readinto(buf, n) reads the current response's body and,
# when it ends before the image does, sends the request for the next range.
#
# The first request is a need that open_source() yields, (client, start, last) for
# client.request(), so that begin() can make it blocking (run()) and the asyncio API
# (aio.py) can await it; an exception from the request is thrown in at the yield.
from .errors import ESP_ERR_INVALID_RESPONSE


def open_source(client, start, step, restart=False):
    # A generator: yields the first request for the image from byte `start`, in requests of
    # `step` bytes (0: one request), and returns (source, image size or -1). With `restart`
    # (If-Range was sent), a 200 to the first request is the whole image from byte 0 (source.start
    # 0), and to a later one an error: the image changed on the server.
    if not start and not step:
        yield client, -1, -1
        return client.body, -1 if client.chunked else client.length
    src = RangeSource(client, start, step, restart)
    yield client, start, start + step - 1 if step else -1
    src.check()
    return src, src.total


def run(build, need):
    # Make the requests a generator of needs asks for, from `need` on, blocking; what it returns.
    err: "BaseException | None" = None
    while True:
        try:
            need[0].request(need[1], need[2])
        except BaseException as e:  # OTAError, MemoryError, Ctrl-C: the generator cleans up
            err = e
        try:
            need = next(build) if err is None else build.throw(err)
        except StopIteration as e:
            return e.value
        err = None


class RangeSource:
    def __init__(self, client, start, step, restart=False):
        self._c = client
        self._pos = start  # image bytes delivered (or resumed) so far
        self._step = step  # > 0: bytes per Range request
        self._restart = restart
        self.start = start  # where the body's bytes begin in the image
        self.total = -1

    def _ask(self, last):
        self._c.request(self._pos, last)
        self.check()

    def check(self):
        # The response to the request for bytes _pos onwards is in: check it.
        c = self._c
        start = self._pos
        if c.status == 206:
            if self.total >= 0 and c.range_total != self.total:
                raise c.fail(ESP_ERR_INVALID_RESPONSE, "changed the image size from %d to %d between ranges" % (
                    self.total, c.range_total))
            self.total = c.range_total
            return
        # 200: the server ignored Range (or If-Range found another image) and sends it whole.
        if self._restart:
            if self.total >= 0:
                raise c.fail(ESP_ERR_INVALID_RESPONSE, "sent the whole image again at byte %d: it changed on the server" % start)
            self._step = self._pos = self.start = 0
            self.total = -1 if c.chunked else c.length
            return
        self._step = 0  # skip what is already here
        if start and (c.chunked or c.length < start):
            raise c.fail(ESP_ERR_INVALID_RESPONSE, "ignored Range at byte %d and sent a body that cannot be resumed" % start)
        self.total = -1 if c.chunked else c.length
        c.body.skip(start)

    def readinto(self, buf, n):
        while True:
            got = self._c.body.readinto(buf, n)
            if got:
                self._pos += got
                return got
            if not self._step or self._pos >= self.total:
                return 0
            last = self._pos + self._step
            self._ask((last if last < self.total else self.total) - 1)
