"""CPython stand-in for MicroPython's `micropython` module (tests only; never on a board).

`viper`/`native` are identity decorators and `ptr8`/`ptr16`/`ptr32` become builtins, so
viper kernels run unchanged (slowly) as plain Python and can be checked against the fallback.
MicroPython's gc.threshold(), which CPython's gc lacks, is added to it here (every package module
imports this one first).
"""

import builtins
import gc
import struct

_gc_threshold = -1


def _threshold(amount=None):
    # gc.threshold([amount]): MicroPython's extra collection trigger; CPython collects its own way.
    global _gc_threshold
    if amount is None:
        return _gc_threshold
    _gc_threshold = amount


if not hasattr(gc, "threshold"):
    gc.threshold = _threshold  # type: ignore[attr-defined]


def const(value):
    return value


def native(func):
    return func


def viper(func):
    return func


class _Ptr:
    """Element-indexed view of a buffer like viper's ptr16/ptr32 (little-endian, unsigned)."""

    def __init__(self, buf, fmt, size):
        self._mv = memoryview(buf).cast("B")
        self._fmt = fmt
        self._size = size

    def __getitem__(self, i):
        return struct.unpack_from(self._fmt, self._mv, i * self._size)[0]

    def __setitem__(self, i, value):
        struct.pack_into(self._fmt, self._mv, i * self._size, value & ((1 << (8 * self._size)) - 1))


def _ptr8(buf):
    return memoryview(buf).cast("B")


builtins.ptr8 = _ptr8
builtins.ptr16 = lambda buf: _Ptr(buf, "<H", 2)
builtins.ptr32 = lambda buf: _Ptr(buf, "<I", 4)

_locked = 0


def heap_lock():
    global _locked
    _locked += 1


def heap_unlock():
    global _locked
    _locked -= 1
    return 0


def mem_info(*args):
    pass


def opt_level(*args):
    return 0


def alloc_emergency_exception_buf(size):
    pass


def schedule(func, arg):
    func(arg)
