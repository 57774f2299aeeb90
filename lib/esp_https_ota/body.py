# HTTP body framing: the body of the response just read, as a source of image bytes
# (readinto(buf, n) -> count, 0 at its end). Content-Length, chunked (chunk lines parsed byte by
# byte) or close-delimited; nothing is allocated per read.
from micropython import const

from .errors import ESP_ERR_HTTP_FETCH_HEADER, ESP_ERR_HTTP_INCOMPLETE_DATA

_MAX_CHUNK_DIGITS = const(7)  # chunks under 256 MB: small ints on a 32-bit board
_MAX_TRAILER = const(81920)  # as the head (response._MAX_HEAD)


class Body:
    def __init__(self, client):
        self._c = client
        self._chunked = False
        self._left = 0  # bytes the body (or the current chunk) still owes; -1: until close
        self.ended = True

    def arm(self):
        # Start on the body of the response the client has just read the head of.
        c = self._c
        self._chunked = c.chunked
        self._left = 0 if c.chunked else c.length
        # HTTP: 304 and 204 have no body whatever their headers say.
        self.ended = c.length == 0 and not c.chunked or c.status == 304 or c.status == 204

    def readinto(self, buf, n):
        # Up to n body bytes into buf[0:n]; 0 at the body's end. A body that ends before its
        # declared length raises ESP_ERR_HTTP_INCOMPLETE_DATA.
        if self.ended:
            return 0
        if self._chunked and self._left == 0:
            self._left = self._chunk_size()
            if self._left == 0:
                self.ended = True
                return 0
        if 0 <= self._left < n:
            n = self._left
        got = self._c.read(buf, n)
        if got < n and self._left >= 0:
            raise self._c.fail(ESP_ERR_HTTP_INCOMPLETE_DATA, "closed the connection with %d body bytes still owed" % (
                self._left - got))
        if got == 0:  # a close-delimited body has ended
            self.ended = True
            self._c.keep_alive = False
            return 0
        if self._left > 0:
            self._left -= got
            if self._left == 0:
                if self._chunked:
                    self._line_end()  # the CRLF after the chunk's data
                else:
                    self.ended = True
        return got

    def drain(self, limit):
        # Read and drop a body of at most `limit` bytes so the connection can carry the next
        # request; False (the connection must close) for anything else.
        if self.ended:
            return True
        if self._chunked or not 0 <= self._left <= limit or not self._c.keep_alive:
            return False
        self.skip(self._left)
        return True

    def skip(self, n):
        # Read and drop n body bytes (a redirect's body, or bytes re-sent by a server that
        # ignored Range).
        scrap = bytearray(1024)
        while n > 0:
            got = self.readinto(scrap, min(n, len(scrap)))
            if got == 0:
                raise self._c.fail(ESP_ERR_HTTP_INCOMPLETE_DATA, "ended the body before the bytes to skip")
            n -= got

    def _getc(self):
        ch = self._c.getc()
        if ch < 0:
            raise self._c.fail(ESP_ERR_HTTP_INCOMPLETE_DATA, "closed the connection inside a chunked body")
        return ch

    def _line_end(self):
        # Consume up to and including the next LF; return the count of bytes before it.
        count = 0
        while self._getc() != 10:
            count += 1
            if count > self._c.cfg.line_limit:
                raise self._c.fail(ESP_ERR_HTTP_FETCH_HEADER, "chunk line longer than %d bytes" % self._c.cfg.line_limit)
        return count

    def _chunk_size(self):
        # A chunk-size line: hex digits, then extensions; after the last chunk, the trailer.
        size = digits = 0
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
        if digits == 0 or digits > _MAX_CHUNK_DIGITS:
            raise self._c.fail(ESP_ERR_HTTP_FETCH_HEADER, "bad chunk size line")
        if c != 10:
            self._line_end()  # extensions and CRLF
        if size == 0:  # trailer fields, up to the empty line (CRLF or LF), bounded as the head
            left = _MAX_TRAILER
            while left >= 0:
                n = self._line_end()
                if n <= 1:
                    return 0
                left -= n + 1
            raise self._c.fail(ESP_ERR_HTTP_FETCH_HEADER, "chunked trailer longer than %d bytes" % _MAX_TRAILER)
        return size
