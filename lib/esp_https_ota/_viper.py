# Native (@micropython.viper) byte kernels. Kept apart from _kernels.py because a port
# without a native emitter cannot even compile this file; _kernels.py falls back then.
# Offsets and lengths are ints so callers never slice (a slice allocates on MicroPython).
import micropython


@micropython.viper
def copy_xor(dst, doff: int, src, soff: int, n: int, acc: int) -> int:
    # Copy src[soff:soff+n] to dst[doff:...]; return acc XOR every copied byte.
    d = ptr8(dst)
    s = ptr8(src)
    i = 0
    if ((doff | soff) & 3) == 0:
        # Word-wise while both sides are 4-byte aligned (bytearray data is); fold at the end.
        d32 = ptr32(dst)
        s32 = ptr32(src)
        dw = doff >> 2
        sw = soff >> 2
        words = n >> 2
        w = 0
        j = 0
        while j < words:
            x = s32[sw + j]
            d32[dw + j] = x
            w ^= x
            j += 1
        acc ^= (w ^ (w >> 8) ^ (w >> 16) ^ (w >> 24)) & 0xFF
        i = words << 2
    while i < n:
        v = s[soff + i]
        d[doff + i] = v
        acc ^= v
        i += 1
    return acc


@micropython.viper
def xor_bytes(src, soff: int, n: int, acc: int) -> int:
    # Return acc XOR every byte of src[soff:soff+n].
    s = ptr8(src)
    i = 0
    if (soff & 3) == 0:
        s32 = ptr32(src)
        sw = soff >> 2
        words = n >> 2
        w = 0
        j = 0
        while j < words:
            w ^= s32[sw + j]
            j += 1
        acc ^= (w ^ (w >> 8) ^ (w >> 16) ^ (w >> 24)) & 0xFF
        i = words << 2
    while i < n:
        acc ^= s[soff + i]
        i += 1
    return acc


@micropython.viper
def copy_bytes(dst, doff: int, src, soff: int, n: int):
    # dst[doff:doff+n] = src[soff:soff+n], without allocating.
    d = ptr8(dst)
    s = ptr8(src)
    i = 0
    while i < n:
        d[doff + i] = s[soff + i]
        i += 1


@micropython.viper
def fill_bytes(dst, doff: int, n: int, value: int):
    # dst[doff:doff+n] = value, without allocating.
    d = ptr8(dst)
    i = 0
    while i < n:
        d[doff + i] = value
        i += 1
