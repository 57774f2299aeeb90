"""CPython stand-in for MicroPython's `socket`: the standard library's socket module, whose
socket objects also have MicroPython's stream methods (readinto(buf, n), readline, write(buf,
off, n)), as the board's do. Only on CPython's path (shims/cpython)."""

import sysconfig as _sysconfig

_path = _sysconfig.get_path("stdlib") + "/socket.py"
with open(_path) as _f:
    exec(compile(_f.read(), _path, "exec"))  # the real module's namespace, here

from _mpstream import MicroPythonStream as _MicroPythonStream  # noqa: E402

_StdSocket = socket  # noqa: F821  (defined by the exec above)


class socket(_StdSocket, _MicroPythonStream):  # noqa: F811
    def _recv_into(self, mv):
        try:
            return self.recv_into(mv)
        except timeout:  # noqa: F821
            raise OSError(110, "ETIMEDOUT")
        except ConnectionResetError:
            raise OSError(104, "ECONNRESET")  # as the board's socket

    def _sendall(self, data):
        self.sendall(data)
