"""MicroPython's blocking stream methods (readinto(buf, n), readline(limit), write(buf, off, n))
over a CPython socket's recv_into/sendall, for the socket and tls shims."""

import socket as _socket_module


class MicroPythonStream:
    """Subclasses provide _recv_into(memoryview) -> count (0 at the end) and _sendall(data)."""

    def readinto(self, buf, n=None):
        mv = memoryview(buf).cast("B")
        if n is None or n > len(mv):
            n = len(mv)
        got = 0
        while got < n:  # a blocking MicroPython stream returns only once n bytes are in, or at EOF
            k = self._recv_into(mv[got:n])
            if k == 0:
                break
            got += k
        return got

    def readline(self, limit=-1):
        out = bytearray()
        one = bytearray(1)
        while limit < 0 or len(out) < limit:
            if not self._recv_into(memoryview(one)):
                break
            out += one
            if one[0] == 10:
                break
        return bytes(out)

    def write(self, data, off=0, n=-1):
        mv = memoryview(data).cast("B")
        mv = mv[off:] if n < 0 else mv[off:off + n]
        try:
            self._sendall(mv)
        except _socket_module.timeout:
            raise OSError(110, "ETIMEDOUT")
        return len(mv)
