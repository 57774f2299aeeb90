"""Host-side helpers for test_fuzz.py (CPython only): encoders for HTTP framing, the small test
image, an independent reference for the image verdict, and the seeded generator of the inputs
that scenarios/fuzz_replay.py replays under both interpreters."""

import binascii
import hashlib
import random
import struct

import imagetools
from interpreters import IMAGES

TEMPLATE_PATH = IMAGES / "esp32-app-template.bin"
C6_PATH = IMAGES / "esp32c6-appdesc.bin"
PARTITION_SIZE = 0x300000  # ota_1 in flashsim's default table
CHIP_REVISION = 300  # the simulated chip (shims/machine.py default): v3.0
HEAD = b"HTTP/1.1 200 OK\r\n"


def small_image():
    """A valid ESP32 app image of 12 KB (three flash blocks), made from the real C6 image in
    shared/images: chip id set to ESP32 (0) and one segment of seeded data added, so the
    writer runs through several blocks without CPython spending 0.1 s per example on 600 KB."""
    return imagetools.grown(imagetools.with_chip_id(C6_PATH.read_bytes(), 0), 12 * 1024, seed=7)


def split(data, cuts):
    """data in pieces at the given offsets (any order, duplicates and out-of-range clipped)."""
    points = sorted({min(max(c, 0), len(data)) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:])]


def chunked(payload, sizes, upper=False, zeros=0, ext=b"", lf_only=False, trailers=()):
    """A chunked encoding of payload: chunks of the given sizes (cycled; all >= 1), hex in upper
    or lower case with `zeros` leading zeros (at most 7 digits in all, the package's limit),
    chunk extension `ext` on each size line, CRLF (or bare LF) line ends, trailer fields."""
    eol = b"\n" if lf_only else b"\r\n"
    out = bytearray()
    pos = i = 0
    while pos < len(payload):
        n = min(sizes[i % len(sizes)], len(payload) - pos)
        i += 1
        digits = ("%X" if upper else "%x") % n
        digits = "0" * max(0, min(zeros, 7 - len(digits))) + digits
        out += digits.encode() + ext + eol + payload[pos:pos + n] + b"\r\n"
        pos += n
    out += b"0" + ext + eol
    for t in trailers:
        out += t + b"\r\n"
    out += b"\r\n"
    return bytes(out)


def reference_verdict(data, known_len=True, max_len=PARTITION_SIZE, chip_id=0, rev=CHIP_REVISION):
    """Whether the writer must accept `data`, decided independently of lib/: ESP-IDF's image
    format (esp_image_format.h) walked with struct, the checksum and SHA-256 recomputed here.
    Returns (ok, why)."""
    if len(data) < 288:
        return False, "shorter than the head"
    if data[0] != 0xE9 or data[32:36] != b"\x32\x54\xcd\xab":
        return False, "no magic or app description"
    chip, min_rev, max_rev = struct.unpack_from("<H", data, 12)[0], *struct.unpack_from("<HH", data, 15)
    if chip != chip_id or min_rev > rev or max_rev not in (0, 0xFFFF) and rev > max_rev:
        return False, "other chip or revision"
    count = data[1]
    if not 1 <= count <= 16:
        return False, "segment count"
    limit = min(max_len, len(data)) if known_len else max_len
    pos, acc = 24, 0xEF
    for _ in range(count):
        if pos + 8 > len(data):
            return False, "truncated segment header"
        length = struct.unpack_from("<I", data, pos + 4)[0]
        pos += 8
        if length % 4 or pos + length > limit or pos + length > len(data):
            return False, "segment length"
        for b in data[pos:pos + length]:
            acc ^= b
        pos += length
    hashed = data[23] != 0
    check_at = pos + 15 - pos % 16
    image_len = check_at + 1 + (32 if hashed else 0)
    if image_len > max_len or image_len > len(data):
        return False, "truncated or too long"
    if data[check_at] != acc:
        return False, "checksum"
    if hashed and hashlib.sha256(data[:check_at + 1]).digest() != data[check_at + 1:image_len]:
        return False, "sha256"
    return True, "valid"


# -- config values as JSON for the replay: see fuzz_replay.decode()

def encode(v):
    if isinstance(v, (bytes, bytearray)):
        return {"$b": binascii.hexlify(v).decode()}
    if isinstance(v, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in v):
            return {k: encode(x) for k, x in v.items()}
        return {"$d": [[encode(list(k) if isinstance(k, tuple) else k), encode(x)] for k, x in v.items()]}
    if isinstance(v, (list, tuple)):
        return [encode(x) for x in v]
    if isinstance(v, Callback):
        return {"$cb": v.name}
    if isinstance(v, PartitionRef):
        return {"$part": v.label}
    return v


class Callback(str):
    """Names one of fuzz_replay.CALLBACKS in generated configs."""

    @property
    def name(self):
        return str(self)


class PartitionRef(str):
    """Names a partition (esp32.Partition(label)) in generated configs."""

    @property
    def label(self):
        return str(self)


OTA_FIELDS = ("http_config", "http_client_init_cb", "decrypt_cb", "bulk_flash_erase", "partial_http_download",
              "ota_resumption", "allow_http_insecure_transport", "max_http_request_size", "buffer_caps",
              "ota_image_bytes_written", "enc_img_header_size", "write_buffer_size", "decrypt_user_ctx", "partition")
HTTP_FIELDS = ("url", "cert_pem", "client_cert_pem", "client_key_pem", "username", "password", "user_agent",
               "common_name", "timeout_ms", "max_redirection_count", "buffer_size", "disable_auto_redirect",
               "skip_cert_common_name_check", "keep_alive_enable", "is_async", "crt_bundle_attach",
               "use_global_ca_store", "cert_len", "auth_type", "method", "user_data", "if_name")
CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
URLS = ("https://127.0.0.1:8443/fw.bin", "http://127.0.0.1/fw.bin", "https://u:p@127.0.0.1/a?b#c",
        "HTTPS://127.0.0.1:0/", "https://127.0.0.1:65536/", "https://[::1]:443/x", "https://[::1/x",
        "ftp://127.0.0.1/", "https://", "https:///x", "https://127.0.0.1/a b", "//127.0.0.1/x", "", "x")


def random_value(r, depth=0):
    """A seeded arbitrary config value: JSON-like leaves and containers, bytes, callables,
    partitions."""
    k = r.randrange(14 if depth < 2 else 10)
    if k == 0:
        return None
    if k == 1:
        return r.random() < 0.5
    if k == 2:
        return r.choice((0, 1, -1, 4096, 8192, 12288, 65536, 2 ** 31 - 1, 2 ** 32, 10 ** 30, -10 ** 30))
    if k == 3:
        return r.randrange(-5, 1 << r.randrange(1, 70))
    if k == 4:
        return "".join(chr(r.choice((r.randrange(32, 127), r.randrange(0, 0x3000)))) for _ in range(r.randrange(12)))
    if k == 5:
        return bytes(r.randrange(256) for _ in range(r.randrange(12)))
    if k == 6:
        return r.choice(URLS)
    if k == 7:
        return Callback(r.choice(("none", "ok", "fail", "connect")))
    if k == 8:
        return PartitionRef(r.choice(("ota_0", "ota_1", "nvs", "vfs", "otadata")))
    if k == 9:
        return r.choice((1.5, -0.0, 1e300, CERT, CERT.encode()))
    if k in (10, 11):
        return [random_value(r, depth + 1) for _ in range(r.randrange(3))]
    keys = OTA_FIELDS + HTTP_FIELDS + ("staging", "final", "finalize_with_copy")
    out = {}
    for _ in range(r.randrange(4)):
        key = r.choice(keys) if r.random() < 0.7 else r.choice(("", "x", "URL", 5, None, (1, 2), b"url"))
        out[key] = random_value(r, depth + 1)
    return out


def random_config(r):
    """A valid config, then 1-4 fields of either dict set to arbitrary values (or dropped)."""
    http = {"url": "https://127.0.0.1:8443/fw.bin", "cert_pem": CERT}
    cfg = {"http_config": http}
    for _ in range(r.randrange(1, 5)):
        where = cfg if r.random() < 0.5 else http
        key = r.choice(OTA_FIELDS if where is cfg else HTTP_FIELDS) if r.random() < 0.85 else r.choice(
            ("bogus", "", 7, b"url"))
        if r.random() < 0.1:
            where.pop(key, None)
        else:
            where[key] = random_value(r)
    if r.random() < 0.05:
        return random_value(r)
    return cfg


def random_http(r):
    """A seeded response: arbitrary bytes, or a mutated plausible head with a body."""
    if r.random() < 0.3:
        data = bytes(r.randrange(256) for _ in range(r.randrange(200)))
    else:
        lines = [r.choice((b"HTTP/1.1 ", b"HTTP/1.0 ", b"http/1.1 ", b"HTTP/1.1", b"HTTP/2 ", b"")) +
                 r.choice((b"200", b"206", b"301", b"302", b"304", b"401", b"416", b"500", b"2000", b"abc", b"20"))
                 + r.choice((b" OK", b"", b"OK", b" \xff"))]
        for _ in range(r.randrange(5)):
            name = r.choice((b"Content-Length", b"content-length", b"Transfer-Encoding", b"Location", b"Connection",
                             b"Content-Range", b"X", b""))
            value = r.choice((b"12", b" 12 ", b"-1", b"999999999", b"9999999999", b"1 2", b"chunked", b"close",
                              b"keep-alive", b"bytes 0-9/10", b"bytes 5-9/*", b"bytes x", b"/next",
                              b"http://127.0.0.1:1/next", b"\xc3\x28", b"https://127.0.0.1:2/x", b""))
            lines.append(name + r.choice((b": ", b":", b" : ")) + value)
        body = r.choice((b"0123456789abcdef" * 4, chunked(b"hello world", [3, 5]), b"5\r\nab", b"zz\r\n", b""))
        eol = r.choice((b"\r\n", b"\n"))
        data = eol.join(lines) + eol + eol + body
        for _ in range(r.randrange(3)):  # a few byte mutations
            if data:
                i = r.randrange(len(data))
                data = data[:i] + bytes([r.randrange(256)]) + data[i + 1:]
        if r.random() < 0.2:
            data = data[:r.randrange(len(data) + 1)]
    cuts = [r.randrange(len(data) + 1) for _ in range(r.randrange(6))]
    return {"kind": "http", "pieces": [binascii.hexlify(p).decode() for p in split(data, cuts)],
            "end": r.choice(("eof", "eof", "timeout", "reset")),
            "reads": [r.choice((1, 2, 7, 64, 1000, 4096)) for _ in range(r.randrange(1, 4))]}


def mutate_image(r, base):
    """(image bytes, [(offset, value)] set on base, cut, extra): flips, byte sets (often in the
    header and app description), truncation, appended bytes, and re-signed edits."""
    data = bytearray(base)
    for _ in range(r.randrange(4)):
        op = r.randrange(5)
        if op <= 1:
            off = r.randrange(300) if r.random() < 0.6 else r.randrange(len(data))
            data[off] = r.randrange(256) if op == 0 else data[off] ^ (1 << r.randrange(8))
        elif op == 2:  # edit inside a segment's data, then recompute checksum and hash: still valid
            try:
                segments, _, _ = imagetools.layout(data)
                off, length = r.choice(segments)
                if length and off + length <= len(data):
                    data[off + r.randrange(length)] ^= 0x5A
                    imagetools.refresh(data)
            except (struct.error, IndexError, ValueError):
                pass  # the structure was already broken: leave it so
        elif op == 3:
            data = data[:r.randrange(len(data) + 1)]
            break
        else:
            data += bytes(r.randrange(256) for _ in range(r.randrange(40)))
            break
    return bytes(data)


def diff(base, data):
    """data as (sets on base, cut, extra) for the replay's compact form."""
    n = min(len(base), len(data))
    sets = [[i, data[i]] for i in range(n) if base[i] != data[i]]
    return sets, n, binascii.hexlify(data[n:]).decode()


def random_image_case(r, base, base_path):
    data = mutate_image(r, base) if r.random() < 0.8 else bytes(base)
    sets, cut, extra = diff(base, data)
    if len(sets) > 400:  # an unlucky refresh on garbage: keep the replay file small
        data, sets, cut, extra = bytes(base), [], len(base), ""
    return data, {"kind": "image", "base": str(base_path), "set": sets, "cut": cut, "extra": extra,
                  "sizes": [r.choice((1, 3, 16, 288, 1000, 4096, 9000)) for _ in range(r.randrange(1, 4))],
                  "buffer_size": r.choice((4096, 4096, 8192)), "known_len": r.random() < 0.7}


def replay_cases(seed, small_path, n_http=150, n_config=150, n_small=30, n_template=2):
    """The seeded inputs for scenarios/fuzz_replay.py; returns (cases, [image bytes or None])."""
    r = random.Random(seed)
    cases, images = [], []
    for _ in range(n_http):
        cases.append(random_http(r))
        images.append(None)
    for _ in range(n_config):
        cases.append({"kind": "config", "config": encode(random_config(r))})
        images.append(None)
    small = small_path.read_bytes()
    for _ in range(n_small):
        data, case = random_image_case(r, small, small_path)
        cases.append(case)
        images.append(data)
    template = TEMPLATE_PATH.read_bytes()
    for _ in range(n_template):
        data, case = random_image_case(r, template, TEMPLATE_PATH)
        cases.append(case)
        images.append(data)
    return cases, images
