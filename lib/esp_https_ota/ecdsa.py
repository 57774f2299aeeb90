# ECDSA verification on NIST P-256 (SEC 1 v2, 4.1.4) as ESP-IDF Secure Boot V2 uses it: the
# image's SHA-256 digest is the hash itself (espsecure signs with ec.ECDSA(utils.Prehashed(
# SHA256())), so e = the digest read as a big-endian integer; 32 bytes need no truncation).
# Points in Jacobian coordinates (X, Y, Z) for x = X/Z^2, y = Y/Z^3; Z == 0 is the point at
# infinity. Public data only: no constant-time care. u1*G + u2*Q with Shamir's trick.
from micropython import const

_P = const(0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF)
_N = const(0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551)
_B = const(0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B)
_GX = const(0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296)
_GY = const(0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)
_HLEN = const(32)


def on_curve(x, y):
    # True when (x, y) is an affine point of P-256: y^2 = x^3 - 3x + b (mod p), 0 <= x, y < p.
    if not (0 <= x < _P and 0 <= y < _P):
        return False
    return (y * y - (x * x * x - 3 * x + _B)) % _P == 0


def _double(pt):
    # 2*pt (dbl-2001-b, a = -3). P-256 has no point of order 2, so only infinity doubles to it.
    x, y, z = pt
    if z == 0:
        return pt
    delta = z * z % _P
    gamma = y * y % _P
    beta = x * gamma % _P
    alpha = 3 * (x - delta) * (x + delta) % _P
    x3 = (alpha * alpha - 8 * beta) % _P
    z3 = ((y + z) * (y + z) - gamma - delta) % _P
    y3 = (alpha * (4 * beta - x3) - 8 * gamma * gamma) % _P
    return (x3, y3, z3)


def _add(p1, p2):
    # p1 + p2 for any two points (add-1998-cmo-2), doubling or infinity where the formula cannot.
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    if z1 == 0:
        return p2
    if z2 == 0:
        return p1
    z1z1 = z1 * z1 % _P
    z2z2 = z2 * z2 % _P
    u1 = x1 * z2z2 % _P
    u2 = x2 * z1z1 % _P
    s1 = y1 * z2 * z2z2 % _P
    s2 = y2 * z1 * z1z1 % _P
    h = (u2 - u1) % _P
    r = (s2 - s1) % _P
    if h == 0:
        return _double(p1) if r == 0 else (1, 1, 0)
    hh = h * h % _P
    hhh = h * hh % _P
    v = u1 * hh % _P
    x3 = (r * r - hhh - 2 * v) % _P
    y3 = (r * (v - x3) - s1 * hhh) % _P
    return (x3, y3, z1 * z2 * h % _P)


def _mul2(u1, u2, q):
    # u1*G + u2*q in Jacobian coordinates, one doubling per bit (Shamir's trick).
    g = (_GX, _GY, 1)
    table = (None, g, q, _add(g, q))
    acc = (1, 1, 0)
    i = 255
    while i >= 0:
        acc = _double(acc)
        sel = (u1 >> i & 1) | (u2 >> i & 1) << 1
        if sel:
            acc = _add(acc, table[sel])
        i -= 1
    return acc


def verify_p256(x, y, digest, r, s):
    # True when (r, s) is a valid ECDSA P-256 signature of `digest` under the public key (x, y).
    #
    # x, y, r, s: ints (in an ESP-IDF signature block they are little-endian: read them with
    #   rsa.int_from_le(block, off, 32)).
    # digest: the 32-byte SHA-256 of the signed data, used as the hash (not hashed again).
    # Returns False for every mismatch, for r or s outside [1, n-1] and for a point not on the
    # curve; raises nothing for well-typed input.
    if len(digest) != _HLEN or not (0 < r < _N and 0 < s < _N) or not on_curve(x, y):
        return False
    e = int.from_bytes(digest, "big")
    w = pow(s, _N - 2, _N)  # s^-1 (n is prime; MicroPython's pow() has no -1 exponent)
    xr, _, zr = _mul2(e * w % _N, r * w % _N, (x, y, 1))
    if zr == 0:
        return False
    zinv = pow(zr, _P - 2, _P)
    return xr * zinv * zinv % _P % _N == r
