# A response other than a plain 200 or 206 (http.py loads this module only for those): a redirect
# to follow, a 401 to answer with Basic credentials, or ESP-IDF's error for the status. Kept apart
# so that the code and names of these rare paths take no RAM in an OTA that never meets them.
from micropython import const

from .errors import (
    ESP_FAIL, ESP_ERR_INVALID_RESPONSE, ESP_ERR_HTTP_MAX_REDIRECT, ESP_ERR_HTTP_NOT_MODIFIED,
    ESP_ERR_HTTP_RANGE_NOT_SATISFIABLE, ESP_ERR_HTTP_REDIRECT_DOWNGRADE,
)

_DRAIN_LIMIT = const(4096)  # a redirect or 401 body up to this size is read to keep the connection
_REDIRECTS = const(0xFFFFF)  # client.tries: redirects followed (the bits above are flags)
_AUTH_TRIED = const(0x100000)  # client.tries: the 401 was answered with credentials


def answer(c, start):
    # For HTTPClient.answer(): 0 once a redirect or a 401 has been taken (request again); raises
    # OTAError for any other status.
    st = c.status
    if st in (301, 302, 303, 307, 308) and c.location and c.cfg.max_redirects >= 0:
        c.tries += 1
        if c.tries & _REDIRECTS > c.cfg.max_redirects:
            from .url import redact

            raise c.fail(ESP_ERR_HTTP_MAX_REDIRECT, "more than %d redirects (the last to %s)" % (
                c.cfg.max_redirects, redact(c.location)))
        _redirect(c)
    elif st == 401 and not c.tries & _AUTH_TRIED and c.credentials and c.dest[0] == "https" \
            and c.dest[1] == c.cfg.auth_host:  # never in clear text, nor to another host
        c.tries |= _AUTH_TRIED
        c.send_auth = True
        c.req = None
    else:
        _fail(c, start)
    if not c.body.drain(_DRAIN_LIMIT):
        c.close()
    return 0


def _redirect(c):
    from .url import redact, resolve, split

    new = redact(resolve(c.url, c.location))  # userinfo from a server is never used nor shown
    if c.dest[0] == "https" and not new.startswith("https://"):
        raise c.fail(ESP_ERR_HTTP_REDIRECT_DOWNGRADE, "redirect to %s refused: https to plain http" % new)
    scheme, host, port, c.target, _ = split(new)
    if (scheme, host, port) != c.dest:
        # Credentials stay with the origin (scheme, host, port) they were given for.
        c.send_auth = False
        c.credentials = None
        for name in list(c.headers):
            if name.lower() == "authorization":
                del c.headers[name]
    c.dest = (scheme, host, port)
    c.url = new
    c.req = None


def _fail(c, start):
    # ESP-IDF's map from an HTTP status to an error.
    st = c.status
    if st == 206:  # to a Range request (http.py returns the others)
        raise c.fail(ESP_ERR_INVALID_RESPONSE, "answered bytes %d- with Content-Range start %d, total %d" % (
            start, c.range_start, c.range_total))
    if st == 304:
        raise c.fail(ESP_ERR_HTTP_NOT_MODIFIED, "answered HTTP 304 Not Modified: image unchanged")
    if st == 416:
        raise c.fail(ESP_ERR_HTTP_RANGE_NOT_SATISFIABLE, "answered HTTP 416 Range Not Satisfiable (bytes %d-)" % start)
    why = ""
    if 300 <= st < 400:
        why = ": redirect not followed (disable_auto_redirect)" if c.cfg.max_redirects < 0 else ": redirect without Location"
    raise c.fail(ESP_FAIL, "answered HTTP status %d%s" % (st, why))
