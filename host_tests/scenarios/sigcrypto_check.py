# Run the signature primitives (esp_https_ota.rsa, .ecdsa, .pubkey) on the test vectors of a JSON
# file, under CPython or the MicroPython unix port; test_sigcrypto.py makes the vectors with
# `cryptography` and espsecure and compares. Big integers travel as hex strings.
# usage: sigcrypto_check.py VECTORS.json
#   {"cases": [{"id": ..., "op": ..., ...}, ...]} with op one of
#   rsa     n, e, digest, sig (hex); form "be" (RFC 8017 octet string, passed as bytes) or
#           "le" (little-endian as in a signature block: read with rsa.int_from_le, passed as int)
#   ecdsa   x, y, r, s, digest (hex)
#   pem     pem (str, or any JSON value), or der (hex): parse_pem's tuple, big ints in hex
#   signed  path of an `espsecure sign-data --version 2` output and pem of the key: reads
#           signature block 0 as ESP-IDF lays it out and verifies it with the key from pem
# Prints `RESULT {"results": {id: value}}`: a bool, a list, or {"error": code, "msg": str}.
import json
import sys
from binascii import unhexlify

from esp_https_ota import ecdsa, pubkey, rsa
from esp_https_ota.errors import OTAError

SECTOR = 4096


def h2i(s):
    return int(s, 16)


def run_rsa(c):
    sig = unhexlify(c["sig"])
    if c.get("form") == "le":
        sig = rsa.int_from_le(sig, 0, len(sig))
    return rsa.verify_pss(h2i(c["n"]), c["e"], unhexlify(c["digest"]), sig)


def run_ecdsa(c):
    return ecdsa.verify_p256(h2i(c["x"]), h2i(c["y"]), unhexlify(c["digest"]), h2i(c["r"]), h2i(c["s"]))


def run_pem(c):
    key = pubkey.parse_pem(unhexlify(c["der"]) if "der" in c else c["pem"])
    return [key[0], "%x" % key[1], "%x" % key[2]]


def run_signed(c):
    """Signature block 0 of the last sector: magic 0xE7, version 2 (RSA) or 3 (ECDSA), the image
    digest at 4; RSA: n (LE) at 36, e (LE u32) at 420, signature (LE) at 812; ECDSA P-256:
    curve id at 36, x, y (LE) at 37, r, s (LE) at 101."""
    import hashlib

    with open(c["path"], "rb") as f:
        data = f.read()
    blk = memoryview(data)[len(data) - SECTOR:]
    digest = bytes(blk[4:36])
    key = pubkey.parse_pem(c["pem"])
    out = {"magic": blk[0], "version": blk[1],
           "digest_ok": hashlib.sha256(memoryview(data)[:len(data) - SECTOR]).digest() == digest}
    if blk[1] == 2:
        out["block_key_matches"] = [rsa.int_from_le(blk, 36, 384), rsa.int_from_le(blk, 420, 4)] == [key[1], key[2]]
        out["verified"] = key[0] == "rsa" and rsa.verify_pss(key[1], key[2], digest, rsa.int_from_le(blk, 812, 384))
    else:
        out["block_key_matches"] = [rsa.int_from_le(blk, 37, 32), rsa.int_from_le(blk, 69, 32)] == [key[1], key[2]]
        r, s = rsa.int_from_le(blk, 101, 32), rsa.int_from_le(blk, 133, 32)
        out["verified"] = key[0] == "ecdsa" and blk[36] == 2 and ecdsa.verify_p256(key[1], key[2], digest, r, s)
    return out


OPS = {"rsa": run_rsa, "ecdsa": run_ecdsa, "pem": run_pem, "signed": run_signed}


def main(path):
    with open(path) as f:
        cases = json.load(f)["cases"]
    results = {}
    for c in cases:
        try:
            results[c["id"]] = OPS[c["op"]](c)
        except OTAError as ex:
            results[c["id"]] = {"error": ex.code, "msg": str(ex)}
    print("RESULT", json.dumps({"results": results}))


main(sys.argv[1])
