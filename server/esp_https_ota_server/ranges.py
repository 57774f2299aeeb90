"""Range and the conditional request headers (RFC 9110), as pure functions of header values.

    parse_range("bytes=0-99", 1000)  -> (0, 99)            first and last byte, inclusive
    parse_range("bytes=-100", 1000)  -> (900, 999)
    parse_range("bytes=5000-", 1000) -> UNSATISFIABLE      answered 416, bytes */1000
    parse_range("bytes=0-1,5-6", 10) -> None               ignored: the whole body, 200

One range per request is served: a board's Range loop asks for one at a time, and a server may
ignore a Range header it does not want to honour (several ranges, another unit, bad syntax).
"""

import email.utils
import re

UNSATISFIABLE = "unsatisfiable"

_RANGE_RE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", re.I)
_TAG_RE = re.compile(r'\s*(\*|(?:W/)?"[^"]*")\s*(?:,|$)')


def parse_range(header, total):
    """The range `header` asks of a `total`-byte body: (first, last), None to send it all, or
    UNSATISFIABLE (first byte at or past the end, or a zero-length suffix)."""
    if not header:
        return None
    m = _RANGE_RE.fullmatch(header)
    if m is None:
        return None
    first, last = m.group(1), m.group(2)
    if not first:
        if not last:
            return None  # "bytes=-" is not a range
        n = int(last)  # suffix: the last n bytes
        if n == 0 or total == 0:
            return UNSATISFIABLE
        return max(0, total - n), total - 1
    first = int(first)
    if last and int(last) < first:
        return None  # syntactically invalid: ignored (RFC 9110 14.1.1)
    if first >= total:
        return UNSATISFIABLE
    return first, (min(int(last), total - 1) if last else total - 1)


def entity_tags(header):
    """The entity-tags of an If-None-Match value, e.g. ['"ab"', 'W/"cd"'] or ['*']; [] if bad."""
    tags, pos = [], 0
    while pos < len(header):
        m = _TAG_RE.match(header, pos)
        if m is None or m.end() == pos:
            return []
        tags.append(m.group(1))
        pos = m.end()
    return tags


def none_match(header, etag):
    """If-None-Match holds (answer 304): "*" or one of its tags equals `etag`, weakly compared."""
    for tag in entity_tags(header):
        if tag == "*" or tag.removeprefix("W/") == etag.removeprefix("W/"):
            return True
    return False


def parse_date(text):
    """An HTTP date as POSIX seconds (int), or None when it does not parse."""
    try:
        return int(email.utils.parsedate_to_datetime(text).timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def http_date(seconds):
    """POSIX seconds as an IMF-fixdate, e.g. 'Sun, 06 Nov 1994 08:49:37 GMT'."""
    return email.utils.formatdate(int(seconds), usegmt=True)


def not_modified_since(header, mtime_s):
    """If-Modified-Since holds (answer 304): the resource did not change after that date."""
    since = parse_date(header)
    return since is not None and int(mtime_s) <= since


def if_range_holds(header, etag, mtime_s):
    """If-Range lets the Range through: its strong entity-tag equals `etag`, or its date equals
    the Last-Modified date (to the second). A weak tag never matches (strong comparison)."""
    value = header.strip()
    if value.startswith("W/"):
        return False
    if value.startswith('"'):
        return value == etag
    date = parse_date(value)
    return date is not None and date == int(mtime_s)
