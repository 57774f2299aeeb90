# The byte kernels in plain Python: the fallback where the port has no native emitter (and
# the reference the viper kernels are tested against). Same contracts as _viper.py.


def copy_xor(dst, doff, src, soff, n, acc):
    for i in range(n):
        v = src[soff + i]
        dst[doff + i] = v
        acc ^= v
    return acc


def xor_bytes(src, soff, n, acc):
    for i in range(soff, soff + n):
        acc ^= src[i]
    return acc


def copy_bytes(dst, doff, src, soff, n):
    for i in range(n):
        dst[doff + i] = src[soff + i]


def fill_bytes(dst, doff, n, value):
    for i in range(doff, doff + n):
        dst[i] = value
