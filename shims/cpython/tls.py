"""CPython stand-in for MicroPython's `tls` module (tests only; never on a board).

It keeps the board's semantics that the package relies on: `load_verify_locations` takes one
DER certificate per call, positionally (PEM raises); `verify_mode` must be set explicitly; the
wrapped socket is a blocking stream whose `readinto(buf, n)` / `read(n)` return only when n
bytes arrived or the peer closed, and `readline(limit)` reads up to a newline.
"""

import socket as _socket
import ssl as _ssl

from _mpstream import MicroPythonStream

PROTOCOL_TLS_CLIENT = 0
PROTOCOL_TLS_SERVER = 1
CERT_NONE = 0
CERT_OPTIONAL = 1
CERT_REQUIRED = 2
MBEDTLS_VERSION = "CPython ssl shim"


class SSLContext:
    def __init__(self, protocol):
        if protocol != PROTOCOL_TLS_CLIENT:
            raise ValueError("the shim only does TLS clients")
        self._ctx = _ssl.SSLContext(_ssl.PROTOCOL_TLS_CLIENT)
        self._ctx.check_hostname = False
        self._ctx.verify_mode = _ssl.CERT_NONE
        self._verify_mode = CERT_NONE
        self._cas = []

    @property
    def verify_mode(self):
        return self._verify_mode

    @verify_mode.setter
    def verify_mode(self, mode):
        self._verify_mode = mode

    def load_verify_locations(self, cadata):
        if not isinstance(cadata, (bytes, bytearray, memoryview)) or bytes(cadata[:1]) != b"\x30":
            raise ValueError("invalid cert")  # the board takes DER only
        self._ctx.load_verify_locations(cadata=bytes(cadata))

    def load_cert_chain(self, certfile, keyfile):
        # The board takes DER or PEM bytes; CPython wants files.
        import os
        import tempfile

        from cryptography.hazmat.primitives import serialization

        paths = []
        for data, suffix in ((certfile, ".crt"), (keyfile, ".key")):
            if bytes(data[:1]) == b"\x30" and suffix == ".crt":
                data = _ssl.DER_cert_to_PEM_cert(bytes(data)).encode()
            elif bytes(data[:1]) == b"\x30":
                data = serialization.load_der_private_key(bytes(data), None).private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            fd, path = tempfile.mkstemp(suffix=suffix)
            with os.fdopen(fd, "wb") as f:
                f.write(bytes(data))
            paths.append(path)
        try:
            self._ctx.load_cert_chain(paths[0], paths[1])
        finally:
            for p in paths:
                os.unlink(p)

    def wrap_socket(self, sock, server_side=False, do_handshake=True, server_hostname=None):
        if self._verify_mode == CERT_REQUIRED:
            self._ctx.verify_mode = _ssl.CERT_REQUIRED
            self._ctx.check_hostname = server_hostname is not None
        elif self._verify_mode == CERT_OPTIONAL:
            self._ctx.verify_mode = _ssl.CERT_OPTIONAL
        try:
            ss = self._ctx.wrap_socket(
                sock, server_side=server_side, server_hostname=server_hostname,
                do_handshake_on_connect=do_handshake)
        except _ssl.SSLCertVerificationError as e:
            # The board's tls raises ValueError with mbedTLS's verify info text.
            raise ValueError("\n" + _verify_info(e) + "\n")
        except _ssl.SSLError as e:
            raise OSError(-0x7780, "TLS handshake failed: " + str(e))
        return _TLSStream(ss)


def _verify_info(e):
    """mbedtls_x509_crt_verify_info()'s wording for CPython's verify failure."""
    msg = str(e.verify_message)
    if "expired" in msg:
        return "The certificate validity has expired"
    if "not yet valid" in msg:
        return "The certificate validity starts in the future"
    if "mismatch" in msg or "match" in msg:
        return "The certificate Common Name (CN) does not match with the expected CN"
    return "The certificate is not correctly signed by the trusted CA"


class _TLSStream(MicroPythonStream):
    def __init__(self, ss):
        self._s = ss

    def _recv_into(self, mv):
        try:
            return self._s.recv_into(mv)
        except _socket.timeout:
            raise OSError(110, "ETIMEDOUT")
        except _ssl.SSLZeroReturnError:
            return 0
        except (ConnectionResetError, _ssl.SSLEOFError):
            return 0

    def _sendall(self, data):
        self._s.sendall(data)

    def read(self, n=-1):
        if n is None or n < 0:
            chunks = []
            while True:
                b = bytearray(4096)
                k = self.readinto(b)
                if not k:
                    return b"".join(chunks)
                chunks.append(bytes(b[:k]))
        b = bytearray(n)
        return bytes(b[: self.readinto(b, n)])

    def setblocking(self, flag):
        self._s.setblocking(flag)

    def close(self):
        try:
            self._s.close()
        except OSError:
            pass
