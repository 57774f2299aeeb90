# RSASSA-PSS verification (RFC 8017 8.2.2 with EMSA-PSS-VERIFY, 9.1.2) exactly as ESP-IDF
# Secure Boot V2 signs an app: RSA-3072, SHA-256, MGF1 with SHA-256, a 32-byte salt, and the
# image's SHA-256 digest used *as* mHash (espsecure signs it with utils.Prehashed(SHA256()):
# the digest is not hashed again). Public data only, so nothing here tries to be constant-time.
# A salt other than 32 bytes is rejected, as espsecure verify-signature does (ESP-IDF's app-side
# check, mbedtls_rsa_rsassa_pss_verify() in secure_boot_rsa_signature.c, takes any salt length).
#
# The encoded message EM is kept as one integer m = s^e mod n: its fields are bit ranges of m,
# which saves the 384-byte buffers and byte loops that a bytes-based version would need.
import hashlib

from micropython import const

_K = const(384)  # modulus length in bytes (RSA-3072); emBits = 3071, so emLen = k = 384
_HLEN = const(32)  # SHA-256
_SLEN = const(32)  # salt length: espsecure's padding.PSS(..., salt_length=32)
_DB_LEN = const(351)  # emLen - hLen - 1: the masked data block
_TRAILER = const(0xBC)


def int_from_le(buf, off, n):
    # The unsigned integer of the n little-endian bytes of buf at off: how the ESP-IDF signature
    # block stores RSA values (n, e, signature) and ECDSA values (x, y, r, s).
    return int.from_bytes(buf[off:off + n], "little")


def _mask_bits(nbits):
    return (1 << nbits) - 1


def _mgf1(seed):
    # MGF1-SHA-256(seed, 352) as a big-endian integer (11 blocks; the caller drops the last byte).
    t = 0
    for counter in range((_DB_LEN + _HLEN - 1) // _HLEN):
        h = hashlib.sha256(seed)
        h.update(counter.to_bytes(4, "big"))
        t = (t << (8 * _HLEN)) | int.from_bytes(h.digest(), "big")
    return t


def _emsa_pss_verify(m, m_hash):
    # EMSA-PSS-VERIFY (RFC 8017 9.1.2) of m_hash against EM = I2OSP(m, 384), emBits = 3071.
    if m & 0xFF != _TRAILER:
        return False
    if m >> (8 * _K - 1):  # the top 8*emLen - emBits = 1 bit of EM must be zero
        return False
    h = ((m >> 8) & _mask_bits(8 * _HLEN)).to_bytes(_HLEN, "big")  # EM[351:383]
    masked_db = m >> (8 * (_HLEN + 1))  # EM[0:351]
    db = (masked_db ^ (_mgf1(h) >> 8)) & _mask_bits(8 * _DB_LEN - 1)  # leftmost bit cleared
    # DB = PS (emLen - sLen - hLen - 2 = 318 zero bytes) || 0x01 || salt (32 bytes)
    if db >> (8 * _SLEN) != 1:
        return False
    salt = (db & _mask_bits(8 * _SLEN)).to_bytes(_SLEN, "big")
    hh = hashlib.sha256(bytes(8))  # M' = 8 zero bytes || mHash || salt
    hh.update(m_hash)
    hh.update(salt)
    return hh.digest() == h


def verify_pss(n, e, digest, sig):
    # True when `sig` is a valid RSASSA-PSS signature of `digest` under the RSA-3072 key (n, e).
    #
    # n, e: ints (the modulus must be exactly 3072 bits; e odd, at least 3).
    # digest: the 32-byte SHA-256 of the signed data, used directly as mHash.
    # sig: the 384-byte signature as RFC 8017's octet string (big-endian, what `cryptography`
    #   returns), or already an int: pass int_from_le(block, 812, 384) for the little-endian
    #   copy in an ESP-IDF signature block.
    # Returns False for every mismatch; raises nothing for well-typed input.
    if n >> (8 * _K - 1) != 1 or not n & 1 or e < 3 or not e & 1:
        return False
    if len(digest) != _HLEN:
        return False
    if isinstance(sig, int):
        s = sig
    else:
        if len(sig) != _K:
            return False
        s = int.from_bytes(sig, "big")
    if s <= 0 or s >= n:  # RSAVP1: s must be a representative in [0, n-1]; 0 never verifies
        return False
    return _emsa_pss_verify(pow(s, e, n), digest)
