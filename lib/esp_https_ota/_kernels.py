# The byte kernels of the download loop: a native (viper) version where the port has a
# native emitter, else these plain functions with the same contracts. NATIVE says which.


def _copy_xor(dst, doff, src, soff, n, acc):
    for i in range(n):
        v = src[soff + i]
        dst[doff + i] = v
        acc ^= v
    return acc


def _xor_bytes(src, soff, n, acc):
    for i in range(soff, soff + n):
        acc ^= src[i]
    return acc


def _copy_bytes(dst, doff, src, soff, n):
    for i in range(n):
        dst[doff + i] = src[soff + i]


def _fill_bytes(dst, doff, n, value):
    for i in range(doff, doff + n):
        dst[i] = value


plain = (_copy_xor, _xor_bytes, _copy_bytes, _fill_bytes)

try:
    from ._viper import copy_xor, xor_bytes, copy_bytes, fill_bytes

    NATIVE = True
except (ImportError, SyntaxError, ValueError, NameError):
    # No native emitter (SyntaxError), an .mpy for another arch (ValueError), or no viper shim.
    copy_xor, xor_bytes, copy_bytes, fill_bytes = plain
    NATIVE = False
