# Secure Boot V2 public keys from PEM: what `espsecure extract-public-key --version 2` writes, a
# "PUBLIC KEY" block (X.509 SubjectPublicKeyInfo, RFC 5280 4.1), for RSA-3072 or ECDSA P-256.
# A PKCS#1 "RSA PUBLIC KEY" block (RFC 8017 A.1.1, `openssl rsa -RSAPublicKey_out`) and bare
# DER are accepted too. Every failure is ESP_ERR_INVALID_ARG naming signature_verify_keys.
from micropython import const

from .errors import OTAError, ESP_ERR_INVALID_ARG

_FIELD = const("signature_verify_keys")
_SEQUENCE = const(0x30)
_INTEGER = const(0x02)
_BIT_STRING = const(0x03)
_NULL = const(0x05)
_OID = const(0x06)
_RSA_BYTES = const(384)  # RSA-3072
_EC_POINT_LEN = const(65)  # 0x04 || X (32) || Y (32): uncompressed
# The DER contents of the algorithm identifiers' OIDs.
_OID_RSA = const(b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01")  # 1.2.840.113549.1.1.1 rsaEncryption
_OID_EC = const(b"\x2a\x86\x48\xce\x3d\x02\x01")  # 1.2.840.10045.2.1 id-ecPublicKey
_OID_P256 = const(b"\x2a\x86\x48\xce\x3d\x03\x01\x07")  # 1.2.840.10045.3.1.7 prime256v1


def _bad(what):
    return OTAError(ESP_ERR_INVALID_ARG, "%s: %s" % (_FIELD, what))


def _tlv(der, off, end, tag):
    # (start, stop) of the contents of the DER element at der[off] that must have `tag` and
    # end by `end`; definite lengths of up to 3 bytes.
    if off + 2 > end or der[off] != tag:
        raise _bad("DER: expected tag 0x%02x at byte %d" % (tag, off))
    n = der[off + 1]
    off += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 3 or off + k > end:
            raise _bad("DER: bad length at byte %d" % (off - 1))
        n = int.from_bytes(der[off:off + k], "big")
        off += k
    if off + n > end:
        raise _bad("DER: element at byte %d runs past its container" % off)
    return off, off + n


def _uint(der, off, end):
    # (value, bytes without the sign byte, next offset) of a non-negative DER INTEGER.
    start, stop = _tlv(der, off, end, _INTEGER)
    if start == stop or der[start] & 0x80:
        raise _bad("DER: negative or empty INTEGER at byte %d" % off)
    size = stop - start - (1 if der[start] == 0 and stop - start > 1 else 0)
    return int.from_bytes(der[start:stop], "big"), size, stop


def _rsa(der, off, end):
    # ("rsa", n, e) from a PKCS#1 RSAPublicKey SEQUENCE { n INTEGER, e INTEGER } at der[off].
    start, stop = _tlv(der, off, end, _SEQUENCE)
    n, size, nxt = _uint(der, start, stop)
    e, _, nxt = _uint(der, nxt, stop)
    if nxt != stop:
        raise _bad("DER: data after the RSA exponent")
    if size != _RSA_BYTES or n >> (8 * _RSA_BYTES - 1) != 1:
        raise _bad("RSA modulus of %d bytes: Secure Boot V2 uses RSA-3072 (384)" % size)
    if e < 3 or not e & 1 or e >> 32:
        raise _bad("RSA exponent %d: must be odd, at least 3 and fit 32 bits" % e)
    return ("rsa", n, e)


def _ec(der, start, stop):
    # ("ecdsa", x, y) from the BIT STRING contents of an uncompressed P-256 point.
    from .ecdsa import on_curve

    if stop - start != 1 + _EC_POINT_LEN or der[start] != 0 or der[start + 1] != 4:
        raise _bad("EC key is not an uncompressed P-256 point (65 bytes, 0x04 first)")
    x = int.from_bytes(der[start + 2:start + 34], "big")
    y = int.from_bytes(der[start + 34:stop], "big")
    if not on_curve(x, y):
        raise _bad("EC point is not on the P-256 curve")
    return ("ecdsa", x, y)


def _spki(der, start, stop):
    # The key of a SubjectPublicKeyInfo, whose outer SEQUENCE holds der[start:stop]:
    # SEQUENCE { SEQUENCE { OID, parameters }, BIT STRING }.
    a_start, a_stop = _tlv(der, start, stop, _SEQUENCE)
    o_start, o_stop = _tlv(der, a_start, a_stop, _OID)
    alg = der[o_start:o_stop]
    b_start, b_stop = _tlv(der, a_stop, stop, _BIT_STRING)
    if b_stop != stop:
        raise _bad("DER: data after the key's BIT STRING")
    if alg == _OID_RSA:
        if o_stop != a_stop and _tlv(der, o_stop, a_stop, _NULL)[1] != a_stop:
            raise _bad("RSA algorithm parameters are not NULL")  # NULL, or absent
        if b_start == b_stop or der[b_start] != 0:
            raise _bad("RSA key BIT STRING has unused bits")
        return _rsa(der, b_start + 1, b_stop)
    if alg == _OID_EC:
        p_start, p_stop = _tlv(der, o_stop, a_stop, _OID)
        if der[p_start:p_stop] != _OID_P256 or p_stop != a_stop:
            raise _bad("EC key on another curve than P-256 (prime256v1)")
        return _ec(der, b_start, b_stop)
    raise _bad("key algorithm is neither RSA nor EC")


def parse_pem(pem):
    # ("rsa", n, e) or ("ecdsa", x, y) of one Secure Boot V2 public key.
    #
    # pem: str or bytes holding exactly one "PUBLIC KEY" (SubjectPublicKeyInfo) or "RSA PUBLIC
    #   KEY" (PKCS#1) PEM block, or the DER itself. n, e, x, y are ints.
    # Raises OTAError(ESP_ERR_INVALID_ARG) naming signature_verify_keys for another type, no such
    # block, more than one, bad base64, malformed DER, another algorithm or curve, an RSA size
    # other than 3072 bits, or an EC point that is not on P-256.
    from .pem import der_blocks

    if not isinstance(pem, (str, bytes, bytearray)):
        raise _bad("a key must be a PEM str or bytes")
    try:
        blocks = der_blocks(pem, b"PUBLIC KEY", _FIELD)
    except ValueError as ex:  # binascii.Error is a ValueError; OTAError is an OSError
        raise _bad("bad base64 in the PEM block (%s)" % ex)
    if len(blocks) != 1:
        raise _bad("%d PEM blocks: give one key per entry" % len(blocks))
    der = blocks[0]
    start, stop = _tlv(der, 0, len(der), _SEQUENCE)
    if stop != len(der):
        raise _bad("%d bytes after the key" % (len(der) - stop))
    if start < stop and der[start] == _INTEGER:  # PKCS#1 starts with the modulus
        return _rsa(der, 0, stop)
    return _spki(der, start, stop)
