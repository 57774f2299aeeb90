# A response head (status line and header fields), read byte by byte into the client's small
# line buffer and parsed in place, so that the Range requests of a partial download allocate
# nothing. Only a Location field, which comes with redirects, is read into a new string.
from micropython import const

from .errors import ESP_ERR_HTTP_FETCH_HEADER, ESP_ERR_HTTP_CONNECTION_CLOSED

_LF = const(10)
_CR = const(13)
_SP = const(32)
_TAB = const(9)
_COLON = const(58)
_MAX_DIGITS = const(9)  # stays a small int on a 32-bit board
_MAX_HEAD = const(81920)  # http_parser's HTTP_MAX_HEADER_SIZE, which esp_http_client uses


def _is(line, start, end, text):
    # line[start:end] equals `text` (lower case), ignoring case.
    if end - start != len(text):
        return False
    for i in range(end - start):
        if line[start + i] | 32 != text[i]:
            return False
    return True


def _find(line, start, end, text):
    # Whether `text` (lower case) occurs in line[start:end], ignoring case.
    for i in range(start, end - len(text) + 1):
        if _is(line, i, i + len(text), text):
            return True
    return False


def _index(line, start, end, value):
    for i in range(start, end):
        if line[i] == value:
            return i
    return end


def _int(line, start, end):
    # The decimal number in line[start:end] (blanks around it allowed), or -1.
    value = digits = 0
    for i in range(start, end):
        ch = line[i]
        if 48 <= ch <= 57 and (digits == 0 or line[i - 1] != _SP):
            value = value * 10 + ch - 48
            digits += 1
        elif ch != _SP and ch != _TAB:
            return -1
    return value if 0 < digits <= _MAX_DIGITS else -1


def _text(line, start, end):
    # line[start:end] as a str, blanks around it dropped; None if not UTF-8 (begin() only: this
    # allocates).
    try:
        return bytes(line[start:end]).strip().decode()
    except UnicodeError:
        return None


def _line(c, line, limit):
    # Read one line, keeping its first len(line) bytes (CR and LF dropped); return their count.
    sock, one = c.stream(), c.one  # read here, a byte at a time: the hot loop of a Range request
    k = total = 0
    while True:
        try:
            got = sock.readinto(one, 1)
        except OSError as e:
            raise c.read_error(e)
        if got != 1:
            raise c.fail(ESP_ERR_HTTP_CONNECTION_CLOSED, "closed the connection before the end of the response header")
        ch = one[0]
        if ch == _LF:
            c.head_left -= total + 1
            if c.head_left < 0:
                raise c.fail(ESP_ERR_HTTP_FETCH_HEADER, "response header longer than %d bytes" % _MAX_HEAD)
            return k
        total += 1
        if total > limit:
            raise c.fail(ESP_ERR_HTTP_FETCH_HEADER, "response header line longer than %d bytes" % limit)
        if ch != _CR and k < len(line):
            line[k] = ch
            k += 1
            if k == 9 and ch == _COLON and _is(line, 0, 8, b"location"):
                raw = c.readline(limit - total + 1)
                if raw[-1:] != b"\n":
                    raise c.fail(ESP_ERR_HTTP_FETCH_HEADER, "Location header longer than %d bytes "
                                 "(http_config.buffer_size)" % limit)
                c.head_left -= total + len(raw)
                try:
                    c.location = raw.strip().decode()
                except UnicodeError:
                    raise c.fail(ESP_ERR_HTTP_FETCH_HEADER, "Location header is not UTF-8")
                return k


def read_head(c):
    # Read the response head from client c into c.status, c.length (-1: none), c.chunked,
    # c.keep_alive, c.encoding, c.range_start and c.range_total (-1: none), c.location (None: none), and with
    # c.want_validator c.etag and c.last_modified (None: none).
    line, limit = c.line, c.cfg.line_limit
    c.head_left = _MAX_HEAD
    k = _line(c, line, limit)
    status = _int(line, 9, 12) if k >= 12 and _is(line, 0, 7, b"http/1.") else -1
    if status < 0 or k > 12 and line[12] != _SP:
        raise c.fail(ESP_ERR_HTTP_FETCH_HEADER, "bad status line %r" % bytes(line[:k]))
    c.status = status
    c.keep_alive = line[7] == 49  # HTTP/1.1 keeps the connection unless told otherwise
    c.length = c.range_start = c.range_total = -1
    c.chunked = False
    c.encoding = 0
    c.location = None
    if c.want_validator:
        c.etag = c.last_modified = None
    while True:
        k = _line(c, line, limit)
        if k == 0:
            return
        colon = _index(line, 0, k, _COLON)
        v = colon + 1
        if _is(line, 0, colon, b"content-length"):
            c.length = _int(line, v, k)
            if c.length < 0:
                raise c.fail(ESP_ERR_HTTP_FETCH_HEADER, "bad Content-Length %r" % bytes(line[v:k]))
        elif _is(line, 0, colon, b"transfer-encoding"):
            c.chunked = _find(line, v, k, b"chunked")
        elif _is(line, 0, colon, b"content-encoding"):  # the body is then inflated (pipeline.py)
            c.encoding = 1 if _find(line, v, k, b"gzip") or _find(line, v, k, b"deflate") else (
                0 if _find(line, v, k, b"identity") else -1)
        elif _is(line, 0, colon, b"connection"):
            if _find(line, v, k, b"close"):
                c.keep_alive = False
            elif _find(line, v, k, b"keep-alive"):
                c.keep_alive = True
        elif c.want_validator and k < len(line) and _is(line, 0, colon, b"etag"):  # k == len: cut short
            c.etag = _text(line, v, k)
        elif c.want_validator and k < len(line) and _is(line, 0, colon, b"last-modified"):
            c.last_modified = _text(line, v, k)
        elif _is(line, 0, colon, b"content-range"):
            _content_range(c, line, v, k)


def _content_range(c, line, v, k):
    # Content-Range in line[v:k], "bytes first-last/total" or a 416's "*/total", into
    # c.range_start and c.range_total.
    dash = _index(line, v, k, 45)
    slash = _index(line, v, k, 47)
    first = dash if dash < slash else slash
    while first > v and line[first - 1] != _SP:  # back to the blank after the unit
        first -= 1
    c.range_total = _int(line, slash + 1, k)
    if dash < slash:  # the total may be "*" (unknown)
        c.range_start = _int(line, first, dash)
        ok = c.range_start >= 0 and (c.range_total >= 0 or _is(line, slash + 1, k, b"*"))
    else:  # "*/total": no range (RFC 9110 14.4)
        ok = _is(line, first, slash, b"*") and c.range_total >= 0
    if not ok:
        raise c.fail(ESP_ERR_HTTP_FETCH_HEADER, "bad Content-Range %r" % bytes(line[v:k]))
