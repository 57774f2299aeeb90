"""The Secure Boot V2 signature primitives (esp_https_ota.rsa, .ecdsa, .pubkey) under CPython and
the MicroPython unix port, against keys and signatures made at test time by `cryptography` with
espsecure's convention (RSA-3072 PSS, MGF1-SHA-256, salt 32; ECDSA P-256; the image's SHA-256
digest signed as a prehash, not hashed again), and against espsecure itself end to end."""

import hashlib
import json
import os
import subprocess

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from conftest import ROOT, run_scenario

ESPSECURE = ROOT / ".venv" / "bin" / "espsecure"
ESP_ERR_INVALID_ARG = 0x102
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P256_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
PSS32 = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
PREHASHED = utils.Prehashed(hashes.SHA256())


def digest_of(tag):
    return hashlib.sha256(tag.encode()).digest()


def flip(data, bit):
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@pytest.fixture(scope="module")
def rsa_keys():
    return [rsa.generate_private_key(65537, 3072) for _ in range(2)]


@pytest.fixture(scope="module")
def ec_keys():
    return [ec.generate_private_key(ec.SECP256R1()) for _ in range(2)]


def rsa_case(cid, key, digest, sig, form="be"):
    pn = key.public_key().public_numbers()
    if form == "le":
        sig = sig[::-1]
    return {"id": cid, "op": "rsa", "n": "%x" % pn.n, "e": pn.e, "digest": digest.hex(), "sig": sig.hex(),
            "form": form}


def rsa_sign(key, digest, pss=PSS32):
    return key.sign(digest, pss, PREHASHED)


def ec_case(cid, key, digest, r, s, x=None, y=None):
    pn = key.public_key().public_numbers()
    x = pn.x if x is None else x
    y = pn.y if y is None else y
    return {"id": cid, "op": "ecdsa", "x": "%x" % x, "y": "%x" % y, "digest": digest.hex(), "r": "%x" % r,
            "s": "%x" % s}


def ec_sign(key, digest):
    return utils.decode_dss_signature(key.sign(digest, ec.ECDSA(PREHASHED)))


def pem_of(key, fmt=serialization.PublicFormat.SubjectPublicKeyInfo):
    return key.public_key().public_bytes(serialization.Encoding.PEM, fmt).decode()


def run_cases(interp, tmp_path, cases, heap=None):
    """{id: result} of the scenario on `cases` (heap: MicroPython's, for large vector files)."""
    path = tmp_path / ("vectors-%s.json" % interp)
    path.write_text(json.dumps({"cases": cases}))
    return run_scenario(interp, "sigcrypto_check.py", path, heap=heap)["results"]


@pytest.mark.case("RSA-3072 PSS signature (salt 32, MGF1-SHA-256, prehashed digest), big- and little-endian",
                  "verify_pss True")
def test_valid_rsa(interp, tmp_path, rsa_keys):
    cases = []
    for i in range(3):
        d = digest_of("rsa %d" % i)
        sig = rsa_sign(rsa_keys[0], d)
        cases += [rsa_case("be%d" % i, rsa_keys[0], d, sig), rsa_case("le%d" % i, rsa_keys[0], d, sig, "le")]
    assert run_cases(interp, tmp_path, cases) == {c["id"]: True for c in cases}


@pytest.mark.case("ECDSA P-256 signature of the prehashed digest", "verify_p256 True")
def test_valid_ecdsa(interp, tmp_path, ec_keys):
    cases = []
    for i in range(4):
        d = digest_of("ec %d" % i)
        cases.append(ec_case("ok%d" % i, ec_keys[0], d, *ec_sign(ec_keys[0], d)))
    # (r, n - s) is the other valid signature of the same digest: ECDSA (and mbedTLS) accept it
    d = digest_of("ec 0")
    r, s = ec_sign(ec_keys[0], d)
    cases.append(ec_case("negated_s", ec_keys[0], d, r, P256_N - s))
    # Q = G, 2G, -G: G + Q in Shamir's table needs the doubling (or gives infinity) inside _add
    for name, secret in (("q_is_g", 1), ("q_is_2g", 2), ("q_is_minus_g", P256_N - 1)):
        key = ec.derive_private_key(secret, ec.SECP256R1())
        cases.append(ec_case(name, key, d, *ec_sign(key, d)))
    assert run_cases(interp, tmp_path, cases) == {c["id"]: True for c in cases}


@pytest.mark.case("signature checked with another key of the same kind", "False")
def test_wrong_key(interp, tmp_path, rsa_keys, ec_keys):
    d = digest_of("wrong key")
    cases = [rsa_case("rsa", rsa_keys[1], d, rsa_sign(rsa_keys[0], d)),
             ec_case("ecdsa", ec_keys[1], d, *ec_sign(ec_keys[0], d))]
    assert run_cases(interp, tmp_path, cases) == {"rsa": False, "ecdsa": False}


@pytest.mark.case("one bit of the digest flipped (first, middle, last)", "False")
def test_flipped_digest_bit(interp, tmp_path, rsa_keys, ec_keys):
    d = digest_of("digest bit")
    sig = rsa_sign(rsa_keys[0], d)
    r, s = ec_sign(ec_keys[0], d)
    cases = []
    for bit in (0, 131, 255):
        cases += [rsa_case("rsa%d" % bit, rsa_keys[0], flip(d, bit), sig),
                  ec_case("ec%d" % bit, ec_keys[0], flip(d, bit), r, s)]
    assert run_cases(interp, tmp_path, cases) == {c["id"]: False for c in cases}


@pytest.mark.case("one bit of the signature flipped (RSA: first, middle, last byte; ECDSA: r, s)", "False")
def test_flipped_signature_bit(interp, tmp_path, rsa_keys, ec_keys):
    d = digest_of("signature bit")
    sig = rsa_sign(rsa_keys[0], d)
    r, s = ec_sign(ec_keys[0], d)
    cases = [rsa_case("rsa%d" % bit, rsa_keys[0], d, flip(sig, bit)) for bit in (0, 1500, 3071)]
    cases += [ec_case("r", ec_keys[0], d, r ^ 1, s), ec_case("s", ec_keys[0], d, r, s ^ (1 << 100))]
    assert run_cases(interp, tmp_path, cases) == {c["id"]: False for c in cases}


@pytest.mark.case("RSA signature not of the convention: salt 64, digest hashed again, 383 bytes (leading 0 "
                  "dropped), 33-byte mHash, s >= n, 0", "False")
def test_rsa_other_conventions(interp, tmp_path, rsa_keys):
    key = rsa_keys[0]
    d = digest_of("convention")
    n = key.public_key().public_numbers().n
    zero_led = rsa_sign(key, d)
    while zero_led[0]:  # a signature whose first byte is 0 (1 in 256 with a fresh salt each time)
        zero_led = rsa_sign(key, d)
    cases = [
        rsa_case("zero_led", key, d, zero_led),
        rsa_case("salt64", key, d, rsa_sign(key, d, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=64))),
        rsa_case("hashed_again", key, d, key.sign(d, PSS32, hashes.SHA256())),
        rsa_case("short", key, d, zero_led[1:]),  # the same integer as a valid signature, 383 bytes
        rsa_case("digest33", key, d + b"\x00", signed_em(key, pss_em(d + b"\x00"))),
        rsa_case("s_eq_n", key, d, n.to_bytes(384, "big")),
        rsa_case("s_gt_n", key, d, (n + 1).to_bytes(384, "big")),
        rsa_case("zero", key, d, bytes(384)),
    ]
    expected = {c["id"]: False for c in cases}
    expected["zero_led"] = True
    assert run_cases(interp, tmp_path, cases) == expected


def mgf1(seed, length):
    out = b"".join(hashlib.sha256(seed + c.to_bytes(4, "big")).digest() for c in range((length + 31) // 32))
    return out[:length]


def signed_em(key, em):
    """The raw RSA signature (big-endian, 384 bytes) of the encoded message `em` (an int)."""
    priv = key.private_numbers()
    return pow(em, priv.d, priv.public_numbers.n).to_bytes(384, "big")


def pss_em(digest, salt=b"\x5a" * 32, trailer=0xBC, top_bit=False, ps=b"", sep=0x01):
    """EMSA-PSS-ENCODE (RFC 8017 9.1.1, emBits 3071) with knobs to break one rule at a time:
    `ps` replaces the start of the zero padding, `top_bit` sets the bit that must be clear."""
    h = hashlib.sha256(bytes(8) + digest + salt).digest()
    pad = 384 - 32 - 2 - len(salt)
    db = (ps + bytes(pad))[:pad] + bytes([sep]) + salt
    masked = bytearray(a ^ b for a, b in zip(db, mgf1(h, len(db))))
    masked[0] = (masked[0] & 0x7F) | (0x80 if top_bit else 0)
    return int.from_bytes(bytes(masked) + h + bytes([trailer]), "big")


@pytest.mark.case("RSA signatures of hand-made encoded messages, each breaking one EMSA-PSS rule (trailer, "
                  "top bit, padding byte, separator, 31-byte salt, s + n)", "False; the unbroken one True")
def test_rsa_emsa_pss_rules(interp, tmp_path, rsa_keys):
    key = rsa_keys[0]
    pub = key.public_key().public_numbers()
    d = digest_of("emsa")

    def signed(em):
        return signed_em(key, em)

    control = signed(pss_em(d))
    key.public_key().verify(control, d, PSS32, PREHASHED)  # the hand encoder is PSS as cryptography has it
    cases = [rsa_case("control", key, d, control),
             rsa_case("trailer", key, d, signed(pss_em(d, trailer=0xBD))),
             rsa_case("top_bit", key, d, signed(pss_em(d, top_bit=True))),
             rsa_case("ps_first", key, d, signed(pss_em(d, ps=b"\x01"))),
             rsa_case("ps_last", key, d, signed(pss_em(d, ps=bytes(317) + b"\x80"))),
             rsa_case("separator", key, d, signed(pss_em(d, sep=0x03))),
             rsa_case("salt31", key, d, signed(pss_em(d, salt=b"\x5a" * 31)))]
    s_plus_n = (int.from_bytes(control, "big") + pub.n).to_bytes(385, "little")  # an int: (s + n)^e = s^e mod n
    cases.append({"id": "s_plus_n", "op": "rsa", "n": "%x" % pub.n, "e": pub.e, "digest": d.hex(),
                  "sig": s_plus_n.hex(), "form": "le"})
    expected = {c["id"]: False for c in cases}
    expected["control"] = True
    assert run_cases(interp, tmp_path, cases) == expected


@pytest.mark.case("ECDSA r or s out of [1, n-1] (0, n, r + n)", "False")
def test_ecdsa_r_s_out_of_range(interp, tmp_path, ec_keys):
    key = ec_keys[0]
    d = digest_of("range")
    r, s = ec_sign(key, d)
    cases = [ec_case("r0", key, d, 0, s), ec_case("s0", key, d, r, 0), ec_case("rn", key, d, P256_N, s),
             ec_case("sn", key, d, r, P256_N), ec_case("s_plus_n", key, d, r, s + P256_N),
             ec_case("r_plus_n", key, d, r + P256_N, s)]  # the same r mod n: reducing first would accept it
    assert run_cases(interp, tmp_path, cases) == {c["id"]: False for c in cases}


@pytest.mark.case("ECDSA (r, s) and digest chosen so that u1*G + u2*Q is the point at infinity", "False")
def test_ecdsa_sum_at_infinity(interp, tmp_path, ec_keys):
    key = ec_keys[0]
    secret = key.private_numbers().private_value
    r, s = 0x1234567, 0x89ABCDEF
    e = -r * secret % P256_N  # e + r*d = 0 (mod n): (e/s)*G + (r/s)*Q = O
    cases = [ec_case("infinity", key, e.to_bytes(32, "big"), r, s)]
    assert run_cases(interp, tmp_path, cases) == {"infinity": False}


@pytest.mark.case("ECDSA public key not on P-256 (y + 1, x >= p, the origin)", "False")
def test_ecdsa_point_not_on_curve(interp, tmp_path, ec_keys):
    key = ec_keys[0]
    pn = key.public_key().public_numbers()
    d = digest_of("curve")
    r, s = ec_sign(key, d)
    cases = [ec_case("y_plus_1", key, d, r, s, y=(pn.y + 1) % P256_P),
             ec_case("x_plus_p", key, d, r, s, x=pn.x + P256_P), ec_case("origin", key, d, r, s, x=0, y=0),
             ec_case("control", key, d, r, s)]
    expected = {c["id"]: False for c in cases}
    expected["control"] = True
    assert run_cases(interp, tmp_path, cases) == expected


@pytest.mark.case("PEM of an RSA-3072 key (SubjectPublicKeyInfo, PKCS#1, DER) and a P-256 key",
                  "('rsa', n, e) / ('ecdsa', x, y)")
def test_parse_pem_both_kinds(interp, tmp_path, rsa_keys, ec_keys):
    rn = rsa_keys[0].public_key().public_numbers()
    en = ec_keys[0].public_key().public_numbers()
    der = rsa_keys[0].public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    cases = [{"id": "rsa", "op": "pem", "pem": pem_of(rsa_keys[0])},
             {"id": "pkcs1", "op": "pem", "pem": pem_of(rsa_keys[0], serialization.PublicFormat.PKCS1)},
             {"id": "der", "op": "pem", "der": der.hex()},
             {"id": "ec", "op": "pem", "pem": pem_of(ec_keys[0])},
             {"id": "crlf_text_around", "op": "pem",
              "pem": "key for release 1.2\r\n" + pem_of(ec_keys[0]).replace("\n", "\r\n") + "trailing words\n"}]
    res = run_cases(interp, tmp_path, cases)
    want_rsa = ["rsa", "%x" % rn.n, "%x" % rn.e]
    want_ec = ["ecdsa", "%x" % en.x, "%x" % en.y]
    assert res == {"rsa": want_rsa, "pkcs1": want_rsa, "der": want_rsa, "ec": want_ec, "crlf_text_around": want_ec}


def bad_pems(rsa_keys, ec_keys):
    good_rsa, good_ec = pem_of(rsa_keys[0]), pem_of(ec_keys[0])
    body = good_ec.splitlines()
    return {
        "garbage": "this is not a key",
        "empty": "",
        "certificate_header": good_ec.replace("PUBLIC KEY", "CERTIFICATE"),
        "private_key": ec_keys[0].private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()).decode(),
        "truncated_der": "\n".join([body[0], body[1], body[-1]]) + "\n",
        "bad_base64": "\n".join([body[0], body[1] + body[2][:-3], body[-1]]) + "\n",
        "two_keys": good_rsa + good_ec,
        "rsa2048": pem_of(rsa.generate_private_key(65537, 2048)),
        "p384": pem_of(ec.generate_private_key(ec.SECP384R1())),
        "ed25519": ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
        "not_a_string": 3072,
    }


@pytest.mark.case("garbage, truncated, bad base64, private key, two keys, RSA-2048, P-384, Ed25519, a number as PEM",
                  "OTAError ESP_ERR_INVALID_ARG naming signature_verify_keys")
def test_parse_pem_rejects(interp, tmp_path, rsa_keys, ec_keys):
    pems = bad_pems(rsa_keys, ec_keys)
    res = run_cases(interp, tmp_path, [{"id": k, "op": "pem", "pem": v} for k, v in pems.items()])
    assert set(res) == set(pems)
    for name, value in res.items():
        assert isinstance(value, dict), (name, value)
        assert value["error"] == ESP_ERR_INVALID_ARG, (name, value)
        assert "signature_verify_keys" in value["msg"], (name, value)
    assert "3072" in res["rsa2048"]["msg"] and "P-256" in res["p384"]["msg"]


def tlv(tag, body):
    """One DER element (definite length, short or long form)."""
    n = len(body)
    head = bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag]) + head + body


def der_int(v):
    return tlv(0x02, v.to_bytes(v.bit_length() // 8 + 1, "big"))


OID_RSA = tlv(0x06, bytes.fromhex("2a864886f70d010101"))
OID_EC = tlv(0x06, bytes.fromhex("2a8648ce3d0201"))
OID_P256 = tlv(0x06, bytes.fromhex("2a8648ce3d030107"))
NULL = tlv(0x05, b"")


def spki(alg, key_bits, extra=b"", unused=0):
    return tlv(0x30, tlv(0x30, alg) + tlv(0x03, bytes([unused]) + key_bits) + extra)


def defective_ders(rsa_key, ec_key):
    """{name: (DER, expected)}: hand-built keys, each with one defect (expected None: rejected),
    and the valid variants beside them (expected: what parse_pem returns)."""
    rn = rsa_key.public_key().public_numbers()
    en = ec_key.public_key().public_numbers()
    point = b"\x04" + en.x.to_bytes(32, "big") + en.y.to_bytes(32, "big")
    rsa_pub = tlv(0x30, der_int(rn.n) + der_int(rn.e))
    want_rsa = ["rsa", "%x" % rn.n, "%x" % rn.e]
    want_ec = ["ecdsa", "%x" % en.x, "%x" % en.y]
    return {
        "rsa_valid": (spki(OID_RSA + NULL, rsa_pub), want_rsa),
        "rsa_params_absent": (spki(OID_RSA, rsa_pub), want_rsa),
        "ec_valid": (spki(OID_EC + OID_P256, point), want_ec),
        "element_after_bit_string": (spki(OID_EC + OID_P256, point, extra=NULL), None),
        "element_after_curve_oid": (spki(OID_EC + OID_P256 + NULL, point), None),
        "ec_without_curve": (spki(OID_EC, point), None),
        "rsa_params_not_null": (spki(OID_RSA + OID_P256, rsa_pub), None),
        "rsa_third_integer": (spki(OID_RSA + NULL, tlv(0x30, der_int(rn.n) + der_int(rn.e) + der_int(3))), None),
        "rsa_even_exponent": (tlv(0x30, der_int(rn.n) + der_int(65536)), None),
        "rsa_exponent_1": (tlv(0x30, der_int(rn.n) + der_int(1)), None),
        "rsa_exponent_over_32_bits": (tlv(0x30, der_int(rn.n) + der_int((1 << 32) + 1)), None),
        "rsa_negative_modulus": (tlv(0x30, tlv(0x02, rn.n.to_bytes(384, "big")) + der_int(rn.e)), None),
        "rsa_unused_bits": (spki(OID_RSA + NULL, rsa_pub, unused=1), None),
        "ec_unused_bits": (spki(OID_EC + OID_P256, point, unused=1), None),
        "ec_compressed_point": (spki(OID_EC + OID_P256, bytes([2 + (en.y & 1)]) + en.x.to_bytes(32, "big")), None),
        "ec_hybrid_point": (spki(OID_EC + OID_P256, bytes([6 + (en.y & 1)]) + point[1:]), None),
        "bytes_after_the_key": (spki(OID_EC + OID_P256, point) + b"\x00", None),
        "indefinite_length": (b"\x30\x80" + spki(OID_EC + OID_P256, point)[2:] + b"\x00\x00", None),
        "four_byte_length": (b"\x30\x84\x00\x00\x00\x59" + spki(OID_EC + OID_P256, point)[2:], None),
    }


@pytest.mark.case("hand-built DER keys with one defect each (trailing elements or bytes, wrong parameters, "
                  "exponent even/1/over 32 bits, negative modulus, unused bits, compressed or hybrid point, odd lengths)",
                  "OTAError naming signature_verify_keys; the valid variants parse")
def test_parse_pem_defective_der(interp, tmp_path, rsa_keys, ec_keys):
    ders = defective_ders(rsa_keys[0], ec_keys[0])
    res = run_cases(interp, tmp_path, [{"id": k, "op": "pem", "der": v[0].hex()} for k, v in ders.items()])
    for name, (_, want) in ders.items():
        if want is None:
            assert isinstance(res[name], dict) and res[name]["error"] == ESP_ERR_INVALID_ARG, (name, res[name])
            assert "signature_verify_keys" in res[name]["msg"], (name, res[name])
        else:
            assert res[name] == want, name


@pytest.mark.case("EC key whose point is off the curve, in a well-formed PEM", "OTAError naming signature_verify_keys")
def test_parse_pem_point_off_curve(interp, tmp_path, ec_keys):
    der = bytearray(ec_keys[0].public_key().public_bytes(serialization.Encoding.DER,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))
    der[-1] ^= 1  # the last byte of y
    import base64

    pem = "-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n" % base64.b64encode(bytes(der)).decode()
    res = run_cases(interp, tmp_path, [{"id": "off", "op": "pem", "pem": pem}])
    assert res["off"]["error"] == ESP_ERR_INVALID_ARG and "signature_verify_keys" in res["off"]["msg"]
    assert "curve" in res["off"]["msg"]


def espsecure(*args):
    proc = subprocess.run([str(ESPSECURE)] + [str(a) for a in args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def espsecure_signed(tmp_path_factory):
    """{scheme: (public PEM text, signed file)} made by espsecure alone, and checked by it."""
    d = tmp_path_factory.mktemp("espsecure")
    data = d / "app.bin"
    data.write_bytes(os.urandom(5000))
    out = {}
    for scheme in ("rsa3072", "ecdsa256"):
        key, pub, signed = d / (scheme + ".pem"), d / (scheme + "_pub.pem"), d / (scheme + "_signed.bin")
        espsecure("generate-signing-key", "--version", "2", "--scheme", scheme, key)
        espsecure("extract-public-key", "--version", "2", "--keyfile", key, pub)
        espsecure("sign-data", "--version", "2", "--keyfile", key, "--output", signed, data)
        espsecure("verify-signature", "--version", "2", "--keyfile", pub, signed)
        out[scheme] = (pub.read_text(), signed)
    return out


@pytest.mark.case("espsecure sign-data --version 2 (rsa3072, ecdsa256): signature block read little-endian, key "
                  "from extract-public-key", "digest matches, verified; with the other key: not verified")
def test_espsecure_end_to_end(interp, tmp_path, espsecure_signed):
    cases = []
    for scheme, (pub, signed) in espsecure_signed.items():
        cases.append({"id": scheme, "op": "signed", "path": str(signed), "pem": pub})
    other = {"rsa3072": "ecdsa256", "ecdsa256": "rsa3072"}
    for scheme, (_, signed) in espsecure_signed.items():
        cases.append({"id": scheme + "_other_key", "op": "signed", "path": str(signed),
                      "pem": espsecure_signed[other[scheme]][0]})
    res = run_cases(interp, tmp_path, cases)
    ok = {"magic": 0xE7, "digest_ok": True, "block_key_matches": True, "verified": True}
    assert res["rsa3072"] == dict(ok, version=2)
    assert res["ecdsa256"] == dict(ok, version=3)
    for scheme in other:
        assert res[scheme + "_other_key"]["verified"] is False
        assert res[scheme + "_other_key"]["digest_ok"] is True


@pytest.mark.case("espsecure-signed image with one byte changed before the signature sector",
                  "image digest differs from the block's")
def test_espsecure_tampered_image(interp, tmp_path, espsecure_signed):
    cases = []
    for scheme, (pub, signed) in espsecure_signed.items():
        data = bytearray(signed.read_bytes())
        data[100] ^= 0x40
        path = tmp_path / (scheme + "_tampered.bin")
        path.write_bytes(bytes(data))
        cases.append({"id": scheme, "op": "signed", "path": str(path), "pem": pub})
    res = run_cases(interp, tmp_path, cases)
    for scheme in espsecure_signed:
        assert res[scheme]["digest_ok"] is False
        assert res[scheme]["verified"] is True  # the block itself is intact: the digest check is what catches it


def mutations(der, positions):
    """Every truncation at `positions` and the byte at each of them set to 0x00, 0x80, 0xFF, xor 1."""
    out = [der[:i] for i in positions]
    for i in positions:
        for v in (0x00, 0x80, 0xFF, der[i] ^ 1):
            out.append(der[:i] + bytes([v]) + der[i + 1:])
    return out


@pytest.mark.case("every truncation and single-byte change of a key's DER (header bytes for RSA)",
                  "OTAError ESP_ERR_INVALID_ARG or a key, never another exception")
def test_parse_pem_mutated_der(interp, tmp_path, rsa_keys, ec_keys):
    ders = [ec_keys[0].public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)]
    ders += [rsa_keys[0].public_key().public_bytes(serialization.Encoding.DER, fmt)
             for fmt in (serialization.PublicFormat.SubjectPublicKeyInfo, serialization.PublicFormat.PKCS1)]
    cases = []
    for k, der in enumerate(ders):
        positions = range(len(der)) if len(der) < 100 else list(range(40)) + list(range(40, len(der), 37))
        cases += [{"id": "%d-%d" % (k, i), "op": "pem", "der": m.hex()} for i, m in enumerate(mutations(der, positions))]
    res = run_cases(interp, tmp_path, cases, heap="8m")  # the vectors' JSON and results, not the parser
    assert len(res) == len(cases)
    kinds = {"error": 0, "key": 0}
    for name, value in res.items():
        if isinstance(value, dict):
            assert value["error"] == ESP_ERR_INVALID_ARG and "signature_verify_keys" in value["msg"], (name, value)
            kinds["error"] += 1
        else:
            assert value[0] in ("rsa", "ecdsa"), (name, value)
            kinds["key"] += 1
    assert kinds["error"] > len(cases) // 2
