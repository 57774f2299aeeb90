# URLs for the HTTP request side: split an absolute http(s) URL into what a request needs, and
# resolve a redirect's Location against the current URL (RFC 3986 §5.2, strict mode).
from micropython import const

from .errors import OTAError, ESP_ERR_INVALID_ARG, ESP_ERR_HTTP_INVALID_TRANSPORT

_HTTPS_PORT = const(443)
_HTTP_PORT = const(80)
_MAX_PORT = const(65535)


def _parse(url):
    # RFC 3986 Appendix B: [scheme, authority, path, query, fragment]; an absent part is None.
    url, h, fragment = url.partition("#")
    url, q, query = url.partition("?")
    scheme = authority = None
    i = url.find(":")
    if i > 0 and url.find("/", 0, i) < 0:
        scheme, url = url[:i], url[i + 1:]
    if url.startswith("//"):
        i = url.find("/", 2)
        i = len(url) if i < 0 else i
        authority, url = url[2:i], url[i:]
    return [scheme, authority, url, query if q else None, fragment if h else None]


def _remove_dots(path):
    # RFC 3986 §5.2.4 remove_dot_segments; the input buffer is path[i:]. A final "/." or "/.."
    # gets a "/" first: the result is the same, and rules B and C lose their end-of-input cases.
    if path in (".", ".."):  # D: with that "/", only the whole input can match it
        return ""
    if path.endswith("/.") or path.endswith("/.."):
        path += "/"
    out: "list[str]" = []  # output buffer, one "/segment" (or a first "segment") per item
    i, n = 0, len(path)
    while i < n:
        if path.startswith("../", i):  # A
            i += 3
        elif path.startswith("./", i) or path.startswith("/./", i):  # A, B
            i += 2
        elif path.startswith("/../", i):  # C
            i += 3
            if out:
                out.pop()
        else:  # E
            j = path.find("/", i + 1)
            j = n if j < 0 else j
            out.append(path[i:j])
            i = j
    return "".join(out)


def resolve(base, ref):
    # The absolute URL for reference `ref` against absolute URL `base` (RFC 3986 §5.2.2, §5.3).
    b = _parse(base)
    if b[0] is None:
        raise OTAError(ESP_ERR_INVALID_ARG, "base URL is not absolute: %r" % redact(base))
    t = _parse(ref)
    if t[0] is not None or t[1] is not None:
        t[2] = _remove_dots(t[2])
    elif not t[2]:
        t[2] = b[2]
        t[3] = b[3] if t[3] is None else t[3]
    else:  # §5.2.3 merge
        bp = "/" if b[1] is not None and not b[2] else b[2]
        t[2] = _remove_dots(t[2] if t[2][0] == "/" else bp[: bp.rfind("/") + 1] + t[2])
    t[1] = b[1] if t[0] is None and t[1] is None else t[1]
    t[0] = b[0] if t[0] is None else t[0]
    out = t[0] + ":" + ("" if t[1] is None else "//" + t[1]) + t[2]
    out += "" if t[3] is None else "?" + t[3]
    return out if t[4] is None else out + "#" + t[4]


def redact(url):
    # `url` without the "user:pass@" part of its authority, for messages and logs.
    start = url.find("://") + 3 if "://" in url else (2 if url.startswith("//") else 0)
    end = len(url)
    for sep in "/?#":
        i = url.find(sep, start)
        end = i if 0 <= i < end else end
    at = url.rfind("@", start, end)
    return url if at < 0 else url[:start] + url[at + 1:]


def _bad(msg, url):
    return OTAError(ESP_ERR_INVALID_ARG, "http_config.url %s: %r" % (msg, redact(url)))


def _host_port(hostport, url):
    # (host, port text) of host[:port]; an IPv6 literal loses its brackets.
    if not hostport.startswith("["):
        host, _, port = hostport.partition(":")
        return host, port
    end = hostport.find("]")
    if end < 0:
        raise _bad("has a bad host", url)
    port = hostport[end + 1:]
    if port and port[0] != ":":
        raise _bad("has a bad port", url)
    return hostport[1:end], port[1:]


def split(url):
    # (scheme, host, port, target, userinfo) of an absolute http(s) URL; target is the
    # request-target (path, default "/", plus "?query"), never the fragment.
    for ch in url.encode():  # bytes: a str's characters would each be interned, for good, as a qstr
        if ch <= 32 or ch == 127:  # a CR or LF would end the request line: header injection
            raise _bad("contains a space or control character", url)
    scheme, authority, path, query, _ = _parse(url)
    scheme = scheme.lower() if scheme else ""
    if authority is None or scheme not in ("https", "http"):
        raise OTAError(ESP_ERR_HTTP_INVALID_TRANSPORT,
                       "http_config.url must start with https:// (got %r)" % redact(url))
    userinfo, _, hostport = authority.rpartition("@")
    host, port = _host_port(hostport, url)
    if not host:
        raise _bad("has no host", url)
    if port and not (port.encode().isdigit() and 0 < int(port) <= _MAX_PORT):  # ASCII digits only
        raise _bad("has a bad port", url)
    port = int(port) if port else (_HTTPS_PORT if scheme == "https" else _HTTP_PORT)
    target = path or "/"
    return scheme, host, port, target if query is None else target + "?" + query, userinfo
