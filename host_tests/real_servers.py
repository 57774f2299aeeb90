"""Real, deployed HTTP servers that nobody here wrote, serving a directory over TLS on 127.0.0.1:
aiohttp's static route (web.static -> FileResponse) and tornado's StaticFileHandler.

Both have the API of https_server.OTAServer where it matters, and the same URL space:

    with AiohttpStaticServer(fw_dir, pki, close_every=0) as srv:   # or TornadoStaticServer
        srv.url("fw/app.bin")          # "https://localhost:PORT/fw/app.bin": the static file
        srv.url("redirect/app.bin")    # 302 Found, Location: /fw/app.bin
        srv.connections                # accepted TCP connections
        srv.requests                   # list (a copy) of dicts: method, path, headers (lower-cased
                                       # names), conn (1-based connection serial, never reset),
                                       # status (as sent; None until the server decided it)
        srv.reset_counters()

close_every=N (N > 0): the N-th, 2N-th, ... request of each connection is answered with
"Connection: close" and the server then closes that connection (a keep-alive request limit,
like nginx's keepalive_requests). The server itself is unmodified; only these hooks are added:

  aiohttp  a middleware (records the request; force_close() on every N-th of a connection), the
           on_response_prepare signal (the status FileResponse chose: 200/206/304/416), and a
           protocol factory passed to loop.create_server() that counts accepted connections
           (what web.TCPSite does, plus a counter).
  tornado  HTTPServer.handle_stream() counts connections; prepare() of StaticFileHandler /
           RedirectHandler subclasses records the request (flush() its status) and, for the keep-alive limit, sets
           the request connection's _disconnect_on_finish, the flag tornado itself sets when a
           client sends "Connection: close" (there is no public per-connection request limit).

Each server runs its own asyncio loop on a daemon thread.

`python host_tests/real_servers.py` starts each server on a throwaway PKI and prints what it
answers to a set of raw requests (the probe behind host_tests/SERVERS.md).
"""

import asyncio
import socket
import ssl
import threading
from pathlib import Path

STATIC = "fw"  # the files of root_dir are served under /fw/
REDIRECT = "redirect"  # /redirect/<name> -> 302 to /fw/<name>


class _RealServer:
    """A server on its own asyncio loop and thread; subclasses implement _start() / _stop()."""

    name = "?"

    def __init__(self, root_dir, pki, cert="server", host="127.0.0.1", close_every=0):
        self.root = Path(root_dir)
        self.pki = pki
        self.cert = cert
        self.host = host
        self.close_every = close_every
        self.port = None
        self._lock = threading.Lock()
        self._serial = 0
        self._loop = None
        self._thread = None
        self.reset_counters()

    # -- life cycle
    def _ssl_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.pki[self.cert], self.pki[self.cert + "_key"])
        return ctx

    def start(self):
        if self._thread is not None:
            return self
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="%s-server" % self.name, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(20)
        return self

    def stop(self):
        if self._thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(20)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def url(self, path="", host="localhost"):
        return "https://%s:%d/%s" % (host, self.port, path.lstrip("/"))

    # -- counters
    def reset_counters(self):
        with self._lock:
            self._connections = 0
            self._requests = []

    @property
    def connections(self):
        with self._lock:
            return self._connections

    @property
    def requests(self):
        with self._lock:
            return [dict(r) for r in self._requests]

    def _new_connection(self):
        """Count one accepted connection; its serial number."""
        with self._lock:
            self._connections += 1
            self._serial += 1
            return self._serial

    def _record(self, method, path, headers, conn, nth):
        """Record one request (the nth of its connection); the dict to fill its status into, and
        whether the server closes the connection after it."""
        rec = {"method": method, "path": path, "headers": {k.lower(): v for k, v in headers.items()},
               "conn": conn, "nth": nth, "status": None}
        with self._lock:
            self._requests.append(rec)
        return rec, bool(self.close_every) and nth % self.close_every == 0

    def _set_status(self, rec, status):
        with self._lock:
            rec["status"] = status


class AiohttpStaticServer(_RealServer):
    """aiohttp's web.static() (FileResponse) and a route raising web.HTTPFound."""

    name = "aiohttp"

    async def _start(self):
        from aiohttp import web

        conn_of = {}  # RequestHandler (one per connection) -> [serial, requests so far]
        server = self

        @web.middleware
        async def count(request, handler):
            state = conn_of.setdefault(request.protocol, [0, 0])
            state[1] += 1
            rec, close = server._record(request.method, request.path_qs, request.headers, state[0], state[1])
            request["ota_rec"] = rec
            resp = await handler(request)
            if close:
                resp.force_close()
            return resp

        async def on_prepare(request, response):
            rec = request.get("ota_rec")
            if rec is not None:
                server._set_status(rec, response.status)

        async def redirect(request):
            raise web.HTTPFound("/%s/%s" % (STATIC, request.match_info["name"]))

        app = web.Application(middlewares=[count])
        app.on_response_prepare.append(on_prepare)
        app.add_routes([web.get("/%s/{name}" % REDIRECT, redirect), web.static("/" + STATIC, str(self.root))])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        handler_factory = self._runner.server

        def factory():
            proto = handler_factory()
            conn_of[proto] = [self._new_connection(), 0]
            return proto

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(factory, self.host, 0, ssl=self._ssl_context())
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self):
        self._server.close()
        await self._runner.cleanup()


class TornadoStaticServer(_RealServer):
    """tornado's StaticFileHandler and RedirectHandler (permanent=False: 302)."""

    name = "tornado"

    async def _start(self):
        import tornado.httpserver
        import tornado.netutil
        import tornado.web

        server = self
        conn_of = {}  # IOStream (one per connection) -> [serial, requests so far]

        class Recording:
            def prepare(self):
                state = conn_of.setdefault(self.request.connection.stream, [0, 0])
                state[1] += 1
                rec, close = server._record(self.request.method, self.request.uri, self.request.headers,
                                            state[0], state[1])
                self._ota_rec = rec
                if close:
                    self.request.connection._disconnect_on_finish = True
                return super().prepare()

            def flush(self, include_footers=False):
                # The first flush sends the headers (finish() flushes too): the status as sent,
                # recorded before the client can have it.
                rec = getattr(self, "_ota_rec", None)
                if rec is not None and rec["status"] is None:
                    server._set_status(rec, self.get_status())
                return super().flush(include_footers)

        class Static(Recording, tornado.web.StaticFileHandler):
            pass

        class Redirect(Recording, tornado.web.RedirectHandler):
            pass

        class CountingHTTPServer(tornado.httpserver.HTTPServer):
            def handle_stream(self, stream, address):
                conn_of[stream] = [server._new_connection(), 0]
                return super().handle_stream(stream, address)

        app = tornado.web.Application([
            (r"/%s/(.*)" % REDIRECT, Redirect, {"url": "/%s/{0}" % STATIC, "permanent": False}),
            (r"/%s/(.*)" % STATIC, Static, {"path": str(self.root)}),
        ], log_function=lambda handler: None)
        self._server = CountingHTTPServer(app, ssl_options=self._ssl_context())
        socks = tornado.netutil.bind_sockets(0, self.host, family=socket.AF_INET)
        self._server.add_sockets(socks)
        self.port = socks[0].getsockname()[1]

    async def _stop(self):
        self._server.stop()
        await self._server.close_all_connections()


SERVERS = {"aiohttp": AiohttpStaticServer, "tornado": TornadoStaticServer}


# -- the raw-socket probe behind SERVERS.md ---------------------------------------------------

def raw_exchange(port, requests, ca, read_timeout=2.0):
    """Send each raw request (bytes) in turn on ONE TLS connection to 127.0.0.1:port and read its
    response; a list of (head: str, body: bytes, closed_after: bool). Stops when the server closes."""
    ctx = ssl.create_default_context(cafile=ca)
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            f = s.makefile("rb")
            for req in requests:
                try:
                    s.sendall(req)
                    head = b""
                    while not head.endswith(b"\r\n\r\n"):
                        line = f.readline()
                        if not line:
                            break
                        head += line
                except (OSError, ssl.SSLError):
                    head = b""
                if not head:
                    out.append(("", b"", True))
                    break
                body = _read_body(f, head, req)
                out.append((head.decode("latin-1"), body, False))
            # Did the server close after the last response?
            if out and not out[-1][2]:
                s.settimeout(0.5)
                try:
                    closed = f.read(1) == b""
                except (OSError, ssl.SSLError):
                    closed = False  # a timeout: still open
                out[-1] = out[-1][:2] + (closed,)
    return out


def _header(head, name):
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == name:
            return v.strip()
    return None


def _read_body(f, head, req):
    status = int(head.split(b" ", 2)[1])
    if req.startswith(b"HEAD ") or status in (204, 304) or 100 <= status < 200:
        return b""
    te = _header(head, b"transfer-encoding")
    if te and b"chunked" in te.lower():
        body = b""
        while True:
            size = int(f.readline().split(b";")[0], 16)
            if size == 0:
                while f.readline() not in (b"\r\n", b""):
                    pass
                return body
            body += f.read(size)
            f.readline()
    n = _header(head, b"content-length")
    if n is not None:
        return f.read(int(n))
    return f.read()


def probe(server, name, size):
    """Raw requests against `server` for file `name` of `size` bytes; printable lines."""
    path = "/%s/%s" % (STATIC, name)

    def get(extra="", target=path, method="GET"):
        return ("%s %s HTTP/1.1\r\nHost: localhost:%d\r\n%s\r\n" % (method, target, server.port, extra)).encode()

    first = raw_exchange(server.port, [get()], server.pki["ca"])[0]
    etag = _header(first[0].encode("latin-1"), b"etag")
    cases = [
        ("GET", get()),
        ("HEAD", get(method="HEAD")),
        ("Range bytes=0-4095", get("Range: bytes=0-4095\r\n")),
        ("Range bytes=%d-%d (end past the file)" % (size - 10, size + 1000),
         get("Range: bytes=%d-%d\r\n" % (size - 10, size + 1000))),
        ("Range bytes=-100 (suffix)", get("Range: bytes=-100\r\n")),
        ("Range bytes=%d- (start at the end: unsatisfiable)" % size, get("Range: bytes=%d-\r\n" % size)),
        ("Range bytes=0-1,5-6 (multi-range)", get("Range: bytes=0-1,5-6\r\n")),
        ("Range: pages=1 (unknown unit)", get("Range: pages=1\r\n")),
        ("If-None-Match: <its ETag>", get("If-None-Match: %s\r\n" % (etag or b"").decode())),
        ("missing file", get(target="/%s/missing.bin" % STATIC)),
        ("redirect", get(target="/%s/%s" % (REDIRECT, name))),
        ("HTTP/1.0 GET", get().replace(b"HTTP/1.1", b"HTTP/1.0")),
    ]
    lines = []
    for label, req in cases:
        head, body, closed = raw_exchange(server.port, [req], server.pki["ca"])[0]
        lines.append("## %s\n%s[body %d bytes; connection %s]\n" % (
            label, head.replace("\r\n", "\n"), len(body), "closed" if closed else "kept open"))
    # Keep-alive: how many requests one connection takes (up to 120).
    n = 120
    got = raw_exchange(server.port, [get("Range: bytes=0-15\r\n")] * n, server.pki["ca"])
    answered = sum(1 for h, _, _ in got if h)
    lines.append("## keep-alive: %d ranged GETs on one connection -> %d answered, then %s\n" % (
        n, answered, "closed" if got[-1][2] else "still open"))
    return lines


def main():
    import tempfile

    from https_server import make_pki

    with tempfile.TemporaryDirectory() as d:
        pki = make_pki(Path(d) / "pki")
        root = Path(d) / "fw"
        root.mkdir()
        data = bytes(range(256)) * 400  # 102400 bytes
        (root / "app.bin").write_bytes(data)
        for cls in (AiohttpStaticServer, TornadoStaticServer):
            with cls(root, pki) as srv:
                print("=" * 20, cls.name, "=" * 20)
                for line in probe(srv, "app.bin", len(data)):
                    print(line)
                print("server-side: %d connections, %d requests" % (srv.connections, len(srv.requests)))


if __name__ == "__main__":
    main()
