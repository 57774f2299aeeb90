# Opening the connection: TCP with a timeout, then TLS verifying the server's certificate chain
# and host name against the CAs given (the board's tls takes DER, one certificate per call).
import socket
from micropython import const

from .errors import OTAError, ESP_ERR_INVALID_ARG, ESP_ERR_HTTP_CONNECT

_MBEDTLS_X509_VERIFY_FAILED = const(-0x2700)
_SOL_SOCKET = const(1)  # lwIP and Linux agree on these two
_SO_KEEPALIVE = const(8)


def tls_context(cfg):
    # A client SSLContext that requires a verified chain (and holds our certificate, for mutual
    # TLS), from config.HTTPConfig `cfg`.
    import tls
    from .pem import der_blocks

    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = tls.CERT_REQUIRED  # the default differs between ports: set it
    for der in der_blocks(cfg.cert_pem, b"CERTIFICATE", "http_config.cert_pem"):
        ctx.load_verify_locations(der)
    if cfg.client_cert:
        try:
            ctx.load_cert_chain(der_blocks(cfg.client_cert, b"CERTIFICATE", "http_config.client_cert_pem")[0],
                                der_blocks(cfg.client_key, b"PRIVATE KEY", "http_config.client_key_pem")[0])
        except (OSError, ValueError) as e:
            raise OTAError(ESP_ERR_INVALID_ARG, "http_config.client_cert_pem/client_key_pem rejected (%s)" % e)
    return ctx


def connect(host, port, cfg, tls):
    # A stream (readinto(buf, n), readline(limit), write(buf, off, n), close) to host:port;
    # TLS when `tls` (an SSLContext) is given, checking cfg.verify_name or host. Raises ESP_ERR_HTTP_CONNECT.
    where = "%s:%d" % (host, port)
    try:
        addrs = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    except OSError as e:
        raise OTAError(ESP_ERR_HTTP_CONNECT, "cannot resolve %s (%s)" % (host, e))
    sock = err = None
    for family, _, _, _, addr in addrs:
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(cfg.timeout_ms / 1000)
            if cfg.keepalive:
                sock.setsockopt(_SOL_SOCKET, _SO_KEEPALIVE, 1)
            sock.connect(addr)
            break
        except OSError as e:
            err = e
            if sock is not None:  # None when socket() itself failed (e.g. ENFILE: no free lwIP socket)
                sock.close()
            sock = None
    if sock is None:
        raise OTAError(ESP_ERR_HTTP_CONNECT, "cannot connect to %s (%s)" % (where, err))
    if tls is None:
        return sock
    try:
        return tls.wrap_socket(sock, server_hostname=cfg.verify_name or host)
    except (OSError, ValueError) as e:  # a failed certificate check is a ValueError
        sock.close()
        raise OTAError(ESP_ERR_HTTP_CONNECT, "TLS handshake with %s failed: %s" % (where, tls_reason(e)))


def tls_reason(e):
    # What went wrong in a handshake, from mbedTLS's error (verify info text or code).
    if isinstance(e, ValueError):
        why = " ".join(str(e).split())  # mbedTLS's verify info, one reason per line
        if "future" in why:
            why += " (is the clock set? call ntptime.settime() before the OTA)"
        return "certificate verification failed: " + why
    if e.args and e.args[0] == _MBEDTLS_X509_VERIFY_FAILED:
        return "certificate verification failed (not signed by http_config.cert_pem, wrong host name, or expired)"
    return str(e)
