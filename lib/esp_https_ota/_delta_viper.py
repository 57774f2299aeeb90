# Native (@micropython.viper) kernels of delta patches, loaded only for a delta OTA: the
# heatshrink decoder's loop and detools' byte-wise add. heatshrink.py and delta.py hold the
# plain versions, used where this file cannot compile or load (see _viper.py).
import micropython


@micropython.viper
def hs_decode(st, src, end: int, win, out, off: int, n: int) -> int:
    # Decode heatshrink from src[st[0]:end] into out[off:off+n]; the count made. st is an
    # array('i') of 8: input position, bit accumulator, bits in it, phase (0 tag, 1 literal,
    # 2 index, 3 count), bytes of a back-reference still to copy, its distance, window head,
    # and window_sz2 | lookahead_sz2 << 8. Stops early only when it needs more input.
    s = ptr32(st)
    i = ptr8(src)
    w = ptr8(win)
    o = ptr8(out)
    pos = s[0]
    acc = s[1]
    nbits = s[2]
    phase = s[3]
    copy = s[4]
    dist = s[5]
    head = s[6]
    wbits = s[7] & 0xFF
    lbits = s[7] >> 8
    mask = (1 << wbits) - 1
    k = 0
    while k < n:
        v = 0
        if copy > 0:
            v = w[(head - dist) & mask]
            copy -= 1
        else:
            need = 1
            if phase == 1:
                need = 8
            elif phase == 2:
                need = wbits
            elif phase == 3:
                need = lbits
            while nbits < need and pos < end:
                acc = ((acc << 8) | i[pos]) & 0xFFFFFF
                pos += 1
                nbits += 8
            if nbits < need:
                break
            nbits -= need
            val = (acc >> nbits) & ((1 << need) - 1)
            if phase == 0:
                phase = 2 - val  # 1: a literal follows, 0: a back-reference
                continue
            if phase == 2:
                dist = val + 1
                phase = 3
                continue
            if phase == 3:
                copy = val + 1
                phase = 0
                continue
            v = val
            phase = 0
        o[off + k] = v
        w[head] = v
        head = (head + 1) & mask
        k += 1
    s[0] = pos
    s[1] = acc
    s[2] = nbits
    s[3] = phase
    s[4] = copy
    s[5] = dist
    s[6] = head
    return k


@micropython.viper
def add_bytes(dst, doff: int, a, aoff: int, b, boff: int, n: int):
    # dst[doff+i] = (a[aoff+i] + b[boff+i]) & 0xFF for i < n: bsdiff's diff bytes on the base.
    d = ptr8(dst)
    x = ptr8(a)
    y = ptr8(b)
    i = 0
    while i < n:
        d[doff + i] = (x[aoff + i] + y[boff + i]) & 0xFF
        i += 1
