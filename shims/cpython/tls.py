"""CPython stand-in for MicroPython's `tls` module (tests only; never on a board).

It keeps the board's semantics that the package relies on: `load_verify_locations` takes one
DER certificate per call, positionally (PEM raises); `verify_mode` must be set explicitly, and
CERT_REQUIRED needs `server_hostname` (ValueError without, as on the board); the
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
            if server_hostname is None:
                raise ValueError("CERT_REQUIRED requires server_hostname")  # as the board's tls
            self._ctx.verify_mode = _ssl.CERT_REQUIRED
            self._ctx.check_hostname = True
        elif self._verify_mode == CERT_OPTIONAL:
            self._ctx.verify_mode = _ssl.CERT_OPTIONAL
        try:
            ss = self._ctx.wrap_socket(
                sock, server_side=server_side, server_hostname=server_hostname,
                do_handshake_on_connect=do_handshake, suppress_ragged_eofs=False)
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
    """As the board's TLS socket: a close with or without close_notify reads as the end (b"");
    a TCP reset raises OSError(104); a timeout raises OSError(110) and is sticky: every later
    read on the socket raises it again at once."""

    def __init__(self, ss):
        self._s = ss
        self._timed_out = False

    def _recv_into(self, mv):
        if self._timed_out:
            raise OSError(110, "ETIMEDOUT")
        try:
            return self._s.recv_into(mv)
        except _socket.timeout:
            self._timed_out = True
            raise OSError(110, "ETIMEDOUT")
        except _ssl.SSLZeroReturnError:
            return 0  # close_notify
        except _ssl.SSLEOFError as e:
            # A FIN without close_notify is OpenSSL's UNEXPECTED_EOF_WHILE_READING and reads as
            # the end on the board too; the same error without that reason is a TCP reset.
            if e.reason == "UNEXPECTED_EOF_WHILE_READING":
                return 0
            raise OSError(104, "ECONNRESET")
        except ConnectionResetError:
            raise OSError(104, "ECONNRESET")

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
