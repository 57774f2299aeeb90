# Opening the connection: TCP with a timeout, then TLS verifying the server's certificate chain
# and host name against the CAs given (the board's tls takes DER, one certificate per call).
import socket
from micropython import const

from .errors import OTAError, ESP_ERR_INVALID_ARG, ESP_ERR_HTTP_CONNECT
from .pem import der_certificates, der_private_key

_MBEDTLS_X509_VERIFY_FAILED = const(-0x2700)
_SOL_SOCKET = const(1)  # lwIP and Linux agree on these two
_SO_KEEPALIVE = const(8)


def tls_context(cas, client_cert, client_key):
    """A client SSLContext that requires a verified chain (and our certificate, for mutual TLS)."""
    if not cas:
        raise OTAError(ESP_ERR_INVALID_ARG, "http_config.cert_pem is required for https (server verification)")
    import tls

    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = tls.CERT_REQUIRED  # the default differs between ports: set it
    for der in cas:
        ctx.load_verify_locations(der)
    if client_cert:
        try:
            ctx.load_cert_chain(der_certificates(client_cert, "http_config.client_cert_pem")[0],
                                der_private_key(client_key))
        except (OSError, ValueError) as e:
            raise OTAError(ESP_ERR_INVALID_ARG, "http_config.client_cert_pem/client_key_pem rejected (%s)" % e)
    return ctx


def connect(scheme, host, port, timeout_ms, keepalive, tls_context_for, server_name):
    """A stream (readinto(buf, n), readline(limit), write, close) to host:port; TLS for https,
    with server_name checked against the certificate. Raises ESP_ERR_HTTP_CONNECT."""
    where = "%s:%d" % (host, port)
    try:
        addrs = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    except OSError as e:
        raise OTAError(ESP_ERR_HTTP_CONNECT, "cannot resolve %s (%s)" % (host, e))
    sock = None
    err = None
    for family, _, _, _, addr in addrs:
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(timeout_ms / 1000)
            if keepalive:
                sock.setsockopt(_SOL_SOCKET, _SO_KEEPALIVE, 1)
            sock.connect(addr)
            break
        except OSError as e:
            err = e
            sock.close()
            sock = None
    if sock is None:
        raise OTAError(ESP_ERR_HTTP_CONNECT, "cannot connect to %s (%s)" % (where, err))
    if scheme == "https":
        try:
            return tls_context_for().wrap_socket(sock, server_hostname=server_name)
        except (OSError, ValueError) as e:  # a failed certificate check is a ValueError
            sock.close()
            if isinstance(e, OTAError):
                raise
            raise OTAError(ESP_ERR_HTTP_CONNECT, "TLS handshake with %s failed: %s" % (where, _tls_reason(e)))
    return sock if hasattr(sock, "readinto") else _Stream(sock)


class _Stream:
    """Stream methods for a socket that lacks them (CPython's); MicroPython sockets have them."""

    def __init__(self, sock):
        self._s = sock

    def readinto(self, buf, n):
        mv = memoryview(buf)
        got = 0
        while got < n:
            k = self._s.recv_into(mv[got:n])
            if not k:
                break
            got += k
        return got

    def readline(self, limit):
        out = bytearray()
        while len(out) < limit and not out.endswith(b"\n"):
            b = self._s.recv(1)
            if not b:
                break
            out += b
        return bytes(out)

    def write(self, data):
        self._s.sendall(data)

    def close(self):
        self._s.close()


def _tls_reason(e):
    """What went wrong in a handshake, from mbedTLS's error (verify info text or code)."""
    if isinstance(e, ValueError):
        why = " ".join(str(e).split())  # mbedTLS's verify info, one reason per line
        if "future" in why:
            why += " (is the clock set? call ntptime.settime() before the OTA)"
        return "certificate verification failed: " + why
    code = e.args[0] if e.args else None
    if code == _MBEDTLS_X509_VERIFY_FAILED:
        return "certificate verification failed (not signed by http_config.cert_pem, wrong host name, or expired)"
    return str(e)
