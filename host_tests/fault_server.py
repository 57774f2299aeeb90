"""A TLS server on 127.0.0.1 whose every reply is scripted byte for byte, for fault injection.

    with FaultServer(pki) as srv:                       # cert="server" (a make_pki() leaf name)
        srv.add("cut-17", lambda req: [("send", raw[:17]), ("cut",)])
        url = srv.url("cut-17")                          # https://localhost:PORT/f/cut-17
        srv.requests                                     # [Request], in arrival order

A reply function gets the parsed Request (name, target, headers with lower-case names, range
as (first, last or -1) or None, conn serial, index of the request on its connection) and returns
a list of actions, carried out in order:
    ("send", bytes)             sendall
    ("trickle", bytes, delay)   one byte at a time, `delay` seconds apart
    ("sleep", seconds)
    ("cut",)                    close at once: TCP FIN without TLS close_notify
    ("rst",)                    close at once with a TCP RST (SO_LINGER 0)
    ("stall", seconds)          send nothing more; close (FIN) after `seconds` or at stop()
    ("close",)                  TLS close_notify, then FIN
When the list ends without closing, the connection stays open for the next request (keep-alive).
An unknown name gets a 404. Plain CPython 3.11 (ssl, socket, threading).
"""

import socket
import ssl
import threading
from collections import namedtuple

Request = namedtuple("Request", "name target headers range conn index")


def parse_range(value):
    """'bytes=a-b' or 'bytes=a-' as (a, b or -1); anything else None."""
    if not value or not value.startswith("bytes="):
        return None
    first, _, last = value[6:].partition("-")
    try:
        return int(first), int(last) if last else -1
    except ValueError:
        return None


class FaultServer:
    def __init__(self, pki, cert="server"):
        self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ctx.load_cert_chain(pki[cert], pki[cert + "_key"])
        self._replies = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conns = []
        self._requests = []
        self._serial = 0
        self._listener = None

    def add(self, name, reply):
        self._replies[name] = reply

    def url(self, name):
        return "https://localhost:%d/f/%s" % (self.port, name)

    @property
    def requests(self):
        with self._lock:
            return list(self._requests)

    @property
    def connections(self):
        with self._lock:
            return self._serial

    # -- life cycle
    def __enter__(self):
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True, name="FaultServer").start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for raw in conns:
            try:
                raw.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _accept(self):
        while not self._stop.is_set():
            try:
                raw, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self._serial += 1
                serial = self._serial
                self._conns.append(raw)
            threading.Thread(target=self._serve, args=(raw, serial), daemon=True).start()

    # -- one connection
    def _serve(self, raw, serial):
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw.settimeout(30)
        try:
            sock = self._ctx.wrap_socket(raw, server_side=True)
        except (OSError, ValueError):
            raw.close()  # the client refused the certificate, as the test meant
            return
        index = 0
        try:
            while not self._stop.is_set():
                req = self._read_request(sock, serial, index)
                if req is None:
                    break
                index += 1
                reply = self._replies.get(req.name)
                actions = reply(req) if reply else [("send", b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")]
                if self._act(sock, raw, actions):
                    return
            self._graceful(sock, raw)
        except (OSError, ValueError):
            raw.close()

    def _read_request(self, sock, serial, index):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                return None
            data += chunk
        lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        target = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else ""
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        name = target.split("?", 1)[0][3:] if target.startswith("/f/") else target
        req = Request(name, target, headers, parse_range(headers.get("range")), serial, index)
        with self._lock:
            self._requests.append(req)
        return req

    def _act(self, sock, raw, actions):
        """Carry out the actions; True once the connection is closed."""
        for action in actions:
            kind = action[0]
            if kind == "send":
                sock.sendall(action[1])
            elif kind == "trickle":
                for i in range(len(action[1])):
                    if self._stop.wait(action[2]):
                        break
                    sock.sendall(action[1][i:i + 1])
            elif kind == "sleep":
                self._stop.wait(action[1])
            elif kind == "stall":
                self._stop.wait(action[1])
                self._abrupt(raw, rst=False)
                return True
            elif kind in ("cut", "rst"):
                self._abrupt(raw, rst=kind == "rst")
                return True
            elif kind == "close":
                self._graceful(sock, raw)
                return True
            else:
                raise ValueError("unknown action %r" % (kind,))
        return False

    @staticmethod
    def _abrupt(raw, rst):
        if rst:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        else:
            try:
                raw.shutdown(socket.SHUT_RDWR)  # FIN, and no close_notify
            except OSError:
                pass
        raw.close()

    @staticmethod
    def _graceful(sock, raw):
        try:
            sock.settimeout(0.5)  # close_notify out; the client's may never come
            sock.unwrap()
        except (OSError, ValueError, ssl.SSLError):
            pass
        raw.close()
