"""`Server`: the catalog served over HTTPS, from a thread (tests, tools) or the caller's.

    with Server("build/", port=0, state_dir=tmp) as srv:     # start() ... close()
        srv.url("app.bin"), srv.urls("app.bin"), srv.ca_pem, srv.port, srv.pki

    srv = Server(path, bind="0.0.0.0", port=8070); srv.open()  # the command line's way:
    try: srv.serve_forever()                                   # until KeyboardInterrupt
    finally: srv.close()

IPv4 only. The listening socket exists from open() on; certificates are made or reused there.
"""

import ipaddress
import os
import socket
import socketserver
import ssl
import sys
import threading
import time

from . import hosts, pki
from .catalog import Catalog
from .handler import Handler

DEFAULT_STATE_DIR = os.path.join("~", ".esp_https_ota_server")


class _TLSServer(socketserver.ThreadingTCPServer):
    # socketserver rather than http.server.HTTPServer: its server_bind() calls getfqdn(), a
    # DNS query on some hosts, and nothing here needs the server's name.
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, catalog, ssl_context, log, default_base_url):
        self.catalog = catalog
        self.ssl_context = ssl_context
        self.log = log
        self.default_base_url = default_base_url
        self._open = set()
        self._lock = threading.Lock()
        super().__init__(address, Handler)

    def track(self, sock):
        with self._lock:
            self._open.add(sock)

    def untrack(self, sock):
        with self._lock:
            self._open.discard(sock)

    def close_connections(self):
        """Shut down every open connection, so kept-alive handler threads end now."""
        with self._lock:
            socks = list(self._open)
        for s in socks:
            try:  # the plain socket's shutdown: SSLSocket.shutdown would drop its TLS state
                socket.socket.shutdown(s, socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        e = sys.exc_info()[1]
        self.log("%s:%d connection error: %s: %s" % (client_address[0], client_address[1],
                                                     type(e).__name__, e))


class Server:
    """Serve `path` (a file or a directory) over HTTPS; see the module docstring.

    `hosts`: extra names or IP addresses for the server certificate; `version`: latest.json's
    version instead of the image's; `log`: a callable taking one line (default: stderr).
    Raises FileNotFoundError for a missing `path`, OSError when the port cannot be bound."""

    def __init__(self, path, port=0, bind="127.0.0.1", state_dir=DEFAULT_STATE_DIR, hosts=(),
                 version=None, log=None):
        self.catalog = Catalog(path, version)
        self.bind = bind
        self.requested_port = port
        self.state_dir = os.path.expanduser(state_dir)
        self.extra_hosts = list(hosts)
        self.log = log or _stderr_line
        self.pki = None  # pki.Pki, from open()
        self.names = None  # (dns names, IP addresses) the server certificate covers
        self._httpd = None
        self._thread = None
        self._serving = False

    # --- life cycle --------------------------------------------------------------------------

    def open(self):
        """Make or reuse the certificates and bind the port; returns self."""
        if self._httpd is not None:
            return self
        self.names = hosts.cert_names(self.bind, self.extra_hosts)
        self.pki = pki.ensure(self.state_dir, *self.names)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.pki.cert_path, self.pki.key_path)
        self._httpd = _TLSServer((self.bind, self.requested_port), self.catalog, ctx, self.log,
                                 None)
        # For a request without a usable Host header; the port is known once bound.
        self._httpd.default_base_url = "https://%s:%d" % (self.default_host(), self.port)
        return self

    def serve_forever(self):
        """Answer requests in this thread until close() (from another thread) or an exception
        such as KeyboardInterrupt."""
        self.open()
        self._serving = True
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._serving = False

    def start(self):
        """open(), then serve from a daemon thread; returns self."""
        self.open()
        if self._thread is None:
            self._thread = threading.Thread(target=self.serve_forever, daemon=True,
                                            name="esp_https_ota_server")
            self._thread.start()
            while not self._serving and self._thread.is_alive():
                time.sleep(0.001)
        return self

    def close(self):
        """Stop serving, end open connections and release the port. Safe to call twice."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        if self._serving:
            httpd.shutdown()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        httpd.close_connections()
        httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # --- where it is -------------------------------------------------------------------------

    @property
    def port(self):
        return self._httpd.server_address[1]

    @property
    def ca_pem(self):
        return self.pki.ca_pem

    def default_host(self):
        """The host name for URLs: "localhost" when bound to loopback, the first LAN address
        when bound to all interfaces (or "localhost" when there is none), else the bind address."""
        addr = ipaddress.ip_address(self.bind) if hosts.is_ip(self.bind) else None
        if addr is None:
            return self.bind
        if addr.is_loopback:
            return "localhost"
        if addr.is_unspecified:
            lan = [ip for ip in self.names[1] if not ipaddress.ip_address(ip).is_loopback]
            return lan[0] if lan else "localhost"
        return self.bind

    def url(self, name, host=None):
        """"https://HOST:PORT/name" with `host` or default_host()."""
        h = host or self.default_host()
        if ":" in h:
            h = "[%s]" % h
        return "https://%s:%d/%s" % (h, self.port, name)

    def urls(self, name):
        """Every URL a board may use for `name`: one per LAN address when bound to all
        interfaces, else the default one."""
        if self.bind and hosts.is_ip(self.bind) and ipaddress.ip_address(self.bind).is_unspecified:
            lan = [ip for ip in self.names[1] if not ipaddress.ip_address(ip).is_loopback]
            if lan:
                return [self.url(name, ip) for ip in lan]
        return [self.url(name)]


_log_lock = threading.Lock()


def _stderr_line(line):
    with _log_lock:  # handler threads log concurrently: whole lines only
        sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), line))
        sys.stderr.flush()
