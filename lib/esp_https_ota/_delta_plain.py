# The delta kernels in plain Python: the fallback where the port has no native emitter (and the
# reference the viper ones are tested against). Same contracts as _delta_viper.py.


def hs_decode(st, src, end, win, out, off, n):
    pos, acc, nbits, phase, copy, dist, head, sizes = st
    wbits, lbits = sizes & 0xFF, sizes >> 8
    mask = (1 << wbits) - 1
    k = 0
    while k < n:
        if copy > 0:
            v = win[(head - dist) & mask]
            copy -= 1
        else:
            need = 1 if phase == 0 else 8 if phase == 1 else wbits if phase == 2 else lbits
            while nbits < need and pos < end:
                acc = ((acc << 8) | src[pos]) & 0xFFFFFF
                pos += 1
                nbits += 8
            if nbits < need:
                break
            nbits -= need
            val = (acc >> nbits) & ((1 << need) - 1)
            if phase == 0:
                phase = 2 - val
                continue
            if phase == 2:
                dist, phase = val + 1, 3
                continue
            if phase == 3:
                copy, phase = val + 1, 0
                continue
            v, phase = val, 0
        out[off + k] = v
        win[head] = v
        head = (head + 1) & mask
        k += 1
    st[0], st[1], st[2], st[3], st[4], st[5], st[6] = pos, acc, nbits, phase, copy, dist, head
    return k


def add_bytes(dst, doff, a, aoff, b, boff, n):
    for i in range(n):
        dst[doff + i] = (a[aoff + i] + b[boff + i]) & 0xFF
