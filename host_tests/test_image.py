"""The streaming image validator (lib/esp_https_ota/image.py) checked against esptool.

esptool (pinned in requirements.txt) is the independent reference: its Python loader
esptool.bin_image.LoadFirmwareImage() parses the same ESP-IDF app image format, computes the XOR
checksum (calculate_checksum()) and the appended SHA-256 (calc_digest vs stored_digest).

1. Every real image in shared/images/ and the images esptool elf2image makes at test time are
   fed through ImageValidator at several split sizes, under CPython and MicroPython, and every
   field, the segment walk and the verdict must match esptool's reading.
2. Property tests (CPython, in process, hypothesis): random and mutated images at random split
   points; the validator raises nothing but OTAError and its verdict equals esptool's, except
   where the two legitimately differ (said at each exclusion).
3. ESP-IDF's own OTA test cases (truncated image and header, random data, wrong chip, chip
   revision window, padded images), under both interpreters.
4. The native (viper) kernels against the plain fallback on real images, both interpreters.
"""

import hashlib
import io
import random
import struct
import subprocess
import sys

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import imagetools
from conftest import SCENARIOS, run_scenario
from interpreters import IMAGES, LIB, SHIMS

from esptool.bin_image import LoadFirmwareImage
from esptool.cmds import _parse_app_info
from esptool.targets import CHIP_DEFS

# The package itself, in this process, for the property tests (CPython: shims/cpython provides
# the `micropython` module). The scenario module doubles as the feeding harness.
for _p in (LIB, SHIMS / "cpython", SCENARIOS):
    if str(_p) not in sys.path:
        sys.path.append(str(_p))

import image_check  # noqa: E402  (host_tests/scenarios/image_check.py)
from esp_https_ota import _kernels  # noqa: E402
from esp_https_ota.errors import ESP_ERR_INVALID_VERSION, ESP_ERR_OTA_VALIDATE_FAILED, ESP_FAIL  # noqa: E402

ESP_FAIL_CODE = ESP_FAIL
SIXTEEN_MB = 1 << 24  # ESP-IDF's largest partition; the scenario's default max_len
TEMPLATE_ELF = IMAGES / "esp32-app-template.elf"
C6_ELF = IMAGES / "esp32c6-appdesc.elf"
SHARED = sorted(p.name for p in IMAGES.glob("*.bin"))
# (file name, --chip, ELF): the issue asks for esp32, esp32s3 and esp32c3 images of the app
# template (elf2image accepts the ESP32 ELF for the other chips without a warning: it only
# rewrites the header's chip id and flash layout, the load addresses stay ESP32's) and esp32c6
# from the C6 ELF.
GENERATED = [
    ("elf2image-esp32.bin", "esp32", TEMPLATE_ELF),
    ("elf2image-esp32s3.bin", "esp32s3", TEMPLATE_ELF),
    ("elf2image-esp32c3.bin", "esp32c3", TEMPLATE_ELF),
    ("elf2image-esp32c6-appdesc.bin", "esp32c6", C6_ELF),
]
APP_IMAGES = {"esp32-app-template.bin", "esp_idf_blink_esp32s2.bin", "esp32c6-appdesc.bin",
              "elf2image-esp32.bin", "elf2image-esp32s3.bin", "elf2image-esp32c3.bin",
              "elf2image-esp32c6-appdesc.bin"}
CHIP_NAME = {c.IMAGE_CHIP_ID: name for name, c in CHIP_DEFS.items() if getattr(c, "IMAGE_CHIP_ID", None) is not None}
MP_HEAP = "4m"  # the scenario holds a whole 600 KB image in memory (a host test, not the board)


# ---------------------------------------------------------------------------- esptool's view

def esptool_view(data, chip="esp32"):
    """How esptool reads `data`: LoadFirmwareImage() plus image-info's checksum and digest
    verdicts. ok = loads without error AND checksum matches AND (no digest OR digest matches).

    Every ESP32-family loader class (esp32, esp32s2, ..., esp32c6) inherits
    ESP32FirmwareImage.__init__ unchanged, so the chip only affects memory-type names."""
    data = bytes(data)
    try:
        img = LoadFirmwareImage(chip, data)
    except Exception as e:  # noqa: BLE001  FatalError, RuntimeError, struct.error, TypeError...
        return {"loaded": False, "ok": False, "error": "%s: %s" % (type(e).__name__, e)}
    # Where the loader stopped: right after the checksum byte (LoadFirmwareImage hides its stream).
    f = io.BytesIO(data)
    type(img)(f)
    end = f.tell()
    calc = img.calculate_checksum()
    digest_ok = (not img.append_digest) or img.stored_digest == img.calc_digest
    return {
        "loaded": True,
        "ok": img.checksum == calc and digest_ok,
        "checksum": img.checksum,
        "calc_checksum": calc,
        "append_digest": img.append_digest,
        "digest_ok": digest_ok,
        "image_len": end + (32 if img.append_digest else 0),
        "img": img,
    }


def chip_of(data):
    return CHIP_NAME.get(struct.unpack_from("<H", data, 12)[0], "esp32") if len(data) >= 14 else "esp32"


def assert_header_matches(ours, img):
    assert ours["magic"] == 0xE9
    assert ours["segment_count"] == len(img.segments)
    assert ours["chip_id"] == img.chip_id
    assert ours["min_chip_rev_full"] == img.min_rev_full
    assert ours["max_chip_rev_full"] == img.max_rev_full
    assert (ours["hash_appended"] == 1) == img.append_digest


def assert_app_desc_matches(ours, esp):
    """Our AppDesc against esptool's _parse_app_info() of segment 0 (ESP-IDF reads the app
    description at byte 32, the start of segment 0; image-info itself only looks in the first
    segment esptool classifies as DROM, which for the S3/C3 images made from the ESP32 ELF is
    none, so image-info prints no app information for those)."""
    assert ours["magic_word"] == esp["magic_word"] == 0xABCD5432
    assert ours["secure_version"] == esp["secure_version"]
    for field in ("version", "project_name", "time", "date", "idf_ver"):
        # esptool drops every NUL (sanitize_string), we stop at the first one, as C does;
        # in real images everything after the first NUL is NUL.
        assert ours[field] == esp[field], field
    assert ours["app_elf_sha256"] == esp["app_elf_sha256"]
    for field in ("min_efuse_blk_rev_full", "max_efuse_blk_rev_full"):
        assert "%d.%d" % (ours[field] // 100, ours[field] % 100) == esp[field]
    assert (2 ** ours["mmu_page_size"] // 1024 if ours["mmu_page_size"] else None) == (
        int(esp["mmu_page_size"].split()[0]) if esp["mmu_page_size"] else None)


# ---------------------------------------------------------------------------- the images

@pytest.fixture(scope="session")
def images(tmp_path_factory):
    """name -> path of every shared image and of the ones elf2image makes now; the esptool
    output of each elf2image run under "warnings" (lines that warn)."""
    out = tmp_path_factory.mktemp("elf2image")
    paths = {name: IMAGES / name for name in SHARED}
    warnings = {}
    for name, chip, elf in GENERATED:
        dst = out / name
        proc = subprocess.run([sys.executable, "-m", "esptool", "--chip", chip, "elf2image", "-o", str(dst), str(elf)],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, "elf2image --chip %s failed:\n%s%s" % (chip, proc.stdout, proc.stderr)
        warnings[name] = [line for line in (proc.stdout + proc.stderr).splitlines() if "warn" in line.lower()]
        paths[name] = dst
    paths["warnings"] = warnings
    return paths


ALL_IMAGES = SHARED + [g[0] for g in GENERATED]


def test_elf2image_makes_the_shared_images_again_without_warnings(images):
    # shared/images/README.md says these two were made with this very command.
    assert images["elf2image-esp32.bin"].read_bytes() == (IMAGES / "esp32-app-template.bin").read_bytes()
    assert images["elf2image-esp32c6-appdesc.bin"].read_bytes() == (IMAGES / "esp32c6-appdesc.bin").read_bytes()
    assert images["warnings"] == {g[0]: [] for g in GENERATED}
    for name, chip, _ in GENERATED:
        data = images[name].read_bytes()
        assert struct.unpack_from("<H", data, 12)[0] == CHIP_DEFS[chip].IMAGE_CHIP_ID


def test_esptool_sees_every_image_as_the_readme_says(images):
    """The reference itself, before we compare against it."""
    expect = {  # name: (chip id, segments, digest appended)
        "esp32-app-template.bin": (0, 5, True), "esp_idf_blink_esp32s2.bin": (2, 6, True),
        "esp32c6-appdesc.bin": (13, None, True), "helloworld-esp32.bin": (0, 2, True),
        "helloworld-esp32c3.bin": (5, None, True), "helloworld-esp32s3.bin": (9, None, True),
        "bootloader_esp32.bin": (0, 4, False), "esp32c3_header_min_rev.bin": (5, 1, False),
    }
    for name in ALL_IMAGES:
        data = images[name].read_bytes()
        ref = esptool_view(data, chip_of(data))
        assert ref["ok"], (name, ref)
        assert ref["image_len"] == len(data), name
        if name in expect:
            chip_id, nseg, digest = expect[name]
            assert ref["img"].chip_id == chip_id
            assert nseg is None or len(ref["img"].segments) == nseg
            assert ref["append_digest"] == digest


# ---------------------------------------------------------------------------- 1. cross-check

def check_against_esptool(res, data, name):
    """Compare one image_check.py RESULT with esptool's reading of the same bytes."""
    ref = esptool_view(data, chip_of(data))
    img = ref["img"]
    assert res["len"] == len(data)
    assert res["native"] is True  # fed through the viper kernels (on CPython: via the shim)
    assert_header_matches(res["header"], img)
    # The segment walk: (load address, data offset, length) as the validator read them.
    assert res["trace_error"] is None
    assert res["segments"] == [[s.addr, s.file_offs + 8, len(s.data)] for s in img.segments]
    head = res["head"]
    if name in APP_IMAGES:
        assert head["ok"] is True, head
        assert head["segment_count"] == len(img.segments)
        assert_app_desc_matches(head["desc"], _parse_app_info(img.segments[0].data))
    else:
        # RAM-loaded images and the bootloader carry no esp_app_desc_t: not OTA apps.
        assert head["ok"] is False and head["code"] == ESP_FAIL_CODE, head
        assert len(img.segments[0].data) < 256 or _parse_app_info(img.segments[0].data) is None
    for run in res["runs"]:
        assert run["ok"] == ref["ok"] is True, run
        assert run["checksum"] == run["computed"] == img.checksum == ref["calc_checksum"], run
        assert run["image_len"] == ref["image_len"] == run["pos"] == len(data), run
        assert run["hash_appended"] == ref["append_digest"]
        assert run["done"] is True


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.case(
    "%s fed at splits 1, 7, 4096 and random, copied and direct" % n,
    "ESP_OK; header, app description, segments and verdict as esptool reads them" if n in APP_IMAGES
    else "ESP_OK verdict, head ESP_FAIL (no app description); header and segments as esptool reads them"))
    for n in ALL_IMAGES])
def test_image_fields_segments_and_verdict_match_esptool(interp, name, images):
    path = images[name]
    data = path.read_bytes()
    seed = sum(data[:64]) % 1000
    res = run_scenario(interp, "image_check.py", path, "splits=1,7,4096,r%d" % seed, "trace=1", heap=MP_HEAP)
    check_against_esptool(res, data, name)
    assert [r["split"] for r in res["runs"]] == ["1", "7", "4096", "r%d" % seed]
    # Fed straight from the file's buffer (no block copy), body length known up front.
    res = run_scenario(interp, "image_check.py", path, "splits=7,r%d" % (seed + 1), "mode=direct",
                       "stream_len=known", "trace=1", heap=MP_HEAP)
    check_against_esptool(res, data, name)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.case(
    "one flipped byte in the %s of %s" % ("segment data or checksum" if n == "bootloader_esp32.bin"
                                          else "segment data, checksum or digest", n),
    "ESP_ERR_OTA_VALIDATE_FAILED, as esptool"))
    for n in ["esp32-app-template.bin", "esp_idf_blink_esp32s2.bin", "helloworld-esp32.bin", "bootloader_esp32.bin"]])
def test_damaged_real_images_fail_like_esptool(interp, name, tmp_path):
    """A flipped byte in segment data, in the checksum byte and in the appended digest."""
    data = (IMAGES / name).read_bytes()
    segments, checksum_off, image_len = imagetools.layout(data)
    cases = {"data": segments[-1][0] + segments[-1][1] // 2, "checksum": checksum_off}
    if image_len > checksum_off + 1:
        cases["digest"] = image_len - 5
    for what, off in cases.items():
        bad = imagetools.flip_byte(data, off)
        path = tmp_path / ("%s-%s.bin" % (what, name))
        path.write_bytes(bad)
        ref = esptool_view(bad, chip_of(bad))
        assert ref["loaded"] and ref["ok"] is False
        res = run_scenario(interp, "image_check.py", path, "splits=4096,r9", heap=MP_HEAP)
        for run in res["runs"]:
            assert run["ok"] is False and run["code"] == ESP_ERR_OTA_VALIDATE_FAILED, (what, run)
            assert run["stage"] == "verdict"
            assert run["checksum"] == ref["checksum"] and run["computed"] == ref["calc_checksum"]
            if what == "digest":
                assert "SHA-256" in run["msg"] and str(image_len - 32) in run["msg"]
            else:
                assert "checksum" in run["msg"] and str(checksum_off) in run["msg"]


# ---------------------------------------------------------------------------- 2. properties

def sizes_from(cuts, total):
    """feed() sizes: the drawn sizes in turn, cycling, until `total` bytes are covered."""
    sizes = []
    i = 0
    left = total
    while left > 0:
        k = min(cuts[i % len(cuts)] if cuts else left, left)
        sizes.append(k)
        left -= k
        i += 1
    return sizes


def ours(data, cuts, mode, stream_known):
    r = image_check.feed(bytes(data), sizes_from(cuts, len(data)), mode, SIXTEEN_MB,
                         len(data) if stream_known else -1)
    # Never anything but OTAError, and always ESP_ERR_OTA_VALIDATE_FAILED from the validator.
    assert r["type"] in (None, "OTAError"), r
    assert r["ok"] or r["code"] == ESP_ERR_OTA_VALIDATE_FAILED, r
    return r


def compare(data, cuts, mode, stream_known):
    """Our verdict against esptool's, where they can be compared.

    Where they legitimately differ (both facts checked by dedicated tests below):
    - segment count 0 (byte 1): we refuse it (there is no segment 0 to hold an app description);
      esptool loads it, and ESP-IDF only checks count > 16. Ours must say not ok; no comparison.
    - hash_appended (byte 23) other than 0 or 1: esptool refuses to load it (RuntimeError);
      ESP-IDF, and we, treat any non-zero value as "hash appended". No comparison.
    - a segment length that is not a multiple of 4: esptool pads the segment and loads it;
      ESP-IDF's verify_segment_header(), and we, refuse it. Ours must say not ok.
    """
    # Not differences, so not excluded: trailing bytes (both ignore them); more than 16 segments
    # (esptool's verify() rejects them after loading); max_len is 16 MB here and every input is
    # far smaller, so a segment past max_len also runs past the end of the data, which esptool
    # rejects too (stream_len known makes us fail earlier, with the same verdict); truncation
    # anywhere (esptool: EOF error, short read of the checksum or digest).
    r = ours(data, cuts, mode, stream_known)
    magic = len(data) >= 1 and data[0] == 0xE9
    if magic and len(data) >= 2 and data[1] == 0:
        event("segment count 0: not compared")
        assert not r["ok"]
        return r, None
    if magic and len(data) >= 24 and data[23] not in (0, 1):
        event("hash_appended not 0/1: not compared")
        return r, None
    if not r["ok"] and "not a multiple of 4" in r.get("msg", ""):
        event("unaligned segment length: refused as ESP-IDF does, not compared")
        return r, None
    ref = esptool_view(data)
    event("esptool ok" if ref["ok"] else "esptool not ok")
    assert r["ok"] == ref["ok"], (r, {k: v for k, v in ref.items() if k != "img"}, bytes(data[:64]).hex())
    if ref["ok"]:
        assert r["checksum"] == r["computed"] == ref["checksum"]
        assert r["image_len"] == ref["image_len"] <= len(data)
    return r, ref


cuts_st = st.lists(st.integers(1, 5000) | st.integers(1, 9), max_size=12)
mode_st = st.sampled_from(["block", "direct"])
PROPS = settings(deadline=None, max_examples=150, database=None)


# Random bytes; random bytes behind the magic; and random bytes behind a plausible header
# (magic, 1..20 segments, hash flag 0/1) so that the segment walk is reached.
plausible_st = st.builds(lambda count, mid, flag, tail: bytes([0xE9, count]) + mid + bytes([flag]) + tail,
                         st.integers(1, 20), st.binary(min_size=21, max_size=21), st.integers(0, 1),
                         st.binary(max_size=700))


@PROPS
@given(data=st.binary(max_size=700) | st.binary(max_size=40).map(lambda b: b"\xe9" + b) | plausible_st,
       cuts=cuts_st, mode=mode_st, stream_known=st.booleans())
@pytest.mark.case("150 random byte strings (bare, behind the magic, behind a plausible header) at random splits",
                  "verdict as esptool's; nothing raised but ESP_ERR_OTA_VALIDATE_FAILED")
def test_random_bytes_agree_with_esptool(data, cuts, mode, stream_known):
    compare(data, cuts, mode, stream_known)


def build_image(segments, hash_appended, header_rest):
    """A well-formed image: header (magic, count, 21 drawn bytes, hash flag), the segments,
    zero padding, the right checksum and, if flagged, the right SHA-256."""
    out = bytearray([0xE9, len(segments)]) + header_rest + bytes([hash_appended])
    acc = 0xEF
    for addr, body in segments:
        out += struct.pack("<II", addr, len(body)) + body
        for b in body:
            acc ^= b
    out += bytes(15 - len(out) % 16) + bytes([acc])
    if hash_appended:
        out += hashlib.sha256(out).digest()
    return out


@st.composite
def synthetic_images(draw):
    """Well-formed images of 1..6 segments of any length (also not a multiple of 4, also
    longer than a 4096-byte block), then maybe damaged."""
    rnd = random.Random(draw(st.integers(0, 2 ** 32)))
    segments = []
    for _ in range(draw(st.integers(1, 6))):
        n = draw(st.integers(0, 48) | st.integers(0, 9000))
        segments.append((draw(st.integers(0, 2 ** 32 - 1)), rnd.randbytes(n)))
    data = build_image(segments, draw(st.integers(0, 1)), draw(st.binary(min_size=21, max_size=21)))
    return mutate(draw, data)


MUTATIONS = ["none", "flip", "truncate", "extend", "segcount", "seglen", "hash", "refresh"]


def segment_header_offsets(data):
    """Offsets of the segment headers that lie inside data."""
    offs = []
    pos = 24
    for _ in range(data[1] if len(data) > 1 else 0):
        if pos + 8 > len(data):
            break
        offs.append(pos)
        pos += 8 + struct.unpack_from("<I", data, pos + 4)[0]
    return offs


def refresh_fitting(data):
    """imagetools.refresh() when the (possibly changed) layout fits in ~1 MB: a valid image again."""
    try:
        _, _, image_len = imagetools.layout(bytes(data))
    except struct.error:
        return data
    if image_len > (1 << 20):
        return data
    if len(data) < image_len:
        data = data + bytes(image_len - len(data))
    return imagetools.refresh(bytearray(data))


def mutate(draw, data):
    data = bytearray(data)
    for op in draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=3)):
        event("mutation " + op)
        if op == "flip" and data:
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
        elif op == "truncate":
            data = data[:draw(st.integers(0, len(data)))]
        elif op == "extend":
            data += draw(st.binary(min_size=1, max_size=600))
        elif op == "segcount" and len(data) > 1:
            data[1] = draw(st.integers(1, 20))  # 0 is a known difference, see compare()
        elif op == "seglen":
            offs = segment_header_offsets(data)
            if offs:
                off = draw(st.sampled_from(offs))
                old = struct.unpack_from("<I", data, off + 4)[0]
                new = draw(st.integers(max(0, old - 20), min(old + 20, 2 ** 32 - 1)) | st.integers(0, 2 ** 32 - 1)
                           | st.just(0))
                struct.pack_into("<I", data, off + 4, new)
        elif op == "hash" and len(data) >= 24:
            data[23] = draw(st.integers(0, 1))
        elif op == "refresh" and len(data) >= 24 and data[0] == 0xE9:
            data = bytearray(refresh_fitting(data))
    return bytes(data)


@PROPS
@given(data=synthetic_images(), cuts=cuts_st, mode=mode_st, stream_known=st.booleans())
@pytest.mark.case("150 well-formed images of 1 to 6 segments, then mutated, at random splits",
                  "verdict as esptool's; nothing raised but ESP_ERR_OTA_VALIDATE_FAILED")
def test_synthetic_images_agree_with_esptool(data, cuts, mode, stream_known):
    compare(data, cuts, mode, stream_known)


# Real images small enough for 150 examples in a few seconds (the big ones are in test 1).
SMALL_REAL = ["helloworld-esp32.bin", "helloworld-esp32c3.bin", "helloworld-esp32s3.bin", "esp32c6-appdesc.bin",
              "esp32c3_header_min_rev.bin", "bootloader_esp32.bin"]
SMALL_REAL_DATA = {name: (IMAGES / name).read_bytes() for name in SMALL_REAL}


@st.composite
def mutated_real_images(draw):
    return mutate(draw, SMALL_REAL_DATA[draw(st.sampled_from(SMALL_REAL))])


@PROPS
@given(data=mutated_real_images(), cuts=cuts_st, mode=mode_st, stream_known=st.booleans())
@pytest.mark.case("150 mutated small real images at random splits",
                  "verdict as esptool's; nothing raised but ESP_ERR_OTA_VALIDATE_FAILED")
def test_mutated_real_images_agree_with_esptool(data, cuts, mode, stream_known):
    compare(data, cuts, mode, stream_known)


@settings(deadline=None, max_examples=100, database=None)
@given(name=st.sampled_from(SMALL_REAL), cuts=cuts_st, mode=mode_st, stream_known=st.booleans(),
       tail=st.binary(max_size=300))
@pytest.mark.case("small real images with up to 300 trailing bytes at random splits",
                  "ESP_OK; image_len without the trailing bytes")
def test_real_images_pass_at_any_split_with_any_trailing_bytes(name, cuts, mode, stream_known, tail):
    data = SMALL_REAL_DATA[name] + tail
    r, ref = compare(data, cuts, mode, stream_known)
    assert r["ok"] and ref["ok"]
    assert r["image_len"] == len(SMALL_REAL_DATA[name])


@pytest.mark.case("header-only image with segment count 0 (esptool loads it)",
                  "ESP_ERR_OTA_VALIDATE_FAILED (segment count 0)")
def test_segment_count_zero_is_refused_although_esptool_loads_it():
    # Header-only image: 24 bytes, no segments, 7 zero bytes of padding, checksum 0xEF.
    data = bytes([0xE9, 0]) + bytes(22) + bytes(7) + b"\xef"
    assert esptool_view(data)["ok"] is True
    r = ours(data, [], "block", False)
    assert r["ok"] is False and "segment count 0" in r["msg"]


@pytest.mark.case("image of 17 segments", "ESP_ERR_OTA_VALIDATE_FAILED (segment count 17), esptool refuses too")
def test_more_than_16_segments_are_refused_by_both():
    data = build_image([(0x3FFC0000, b"\x01\x02\x03\x04")] * 17, 1, bytes(21))
    ref = esptool_view(data)
    assert ref["loaded"] is False and "segment count" in ref["error"]
    r = ours(data, [5], "block", True)
    assert r["ok"] is False and "segment count 17" in r["msg"]


def test_hash_appended_byte_other_than_0_or_1_is_refused_by_esptool():
    data = bytearray(SMALL_REAL_DATA["helloworld-esp32.bin"])
    data[23] = 2
    ref = esptool_view(data)
    assert ref["loaded"] is False and "append_digest" in ref["error"]


@pytest.mark.case("header byte 23 (hash_appended) set to 2",
                  "ESP_ERR_OTA_VALIDATE_FAILED (taken as a hash, as ESP-IDF does)")
def test_hash_appended_byte_2_is_a_hash_as_in_esp_idf():
    """ESP-IDF (process_appended_hash: `if (data->image.hash_appended)`) takes any non-zero byte 23."""
    # helloworld-esp32.bin with header byte 23 set to 2: its SHA-256 no longer matches (the
    # header is hashed), so ESP-IDF's esp_image_verify() rejects it; esptool rejects it too.
    data = bytearray(SMALL_REAL_DATA["helloworld-esp32.bin"])
    data[23] = 2
    r = ours(data, [4096], "block", True)
    assert r["ok"] is False


@pytest.mark.case("segment length 1, not a multiple of 4 (esptool loads it)", "ESP_ERR_OTA_VALIDATE_FAILED")
def test_unaligned_segment_length_is_refused_as_in_esp_idf():
    """ESP-IDF's verify_segment_header() rejects a length that is not a multiple of 4."""
    # esp32c3_header_min_rev.bin (one empty segment) with that segment's length set to 1: its
    # data byte (offset 32) is 0, so the image is still 48 bytes and checksum 0xEF still right.
    data = bytearray(SMALL_REAL_DATA["esp32c3_header_min_rev.bin"])
    struct.pack_into("<I", data, 28, 1)
    assert esptool_view(data)["ok"] is True
    r = ours(data, [4096], "block", True)
    assert r["ok"] is False


# ---------------------------------------------------------------------------- 3. ESP-IDF's cases

def run_case(interp, path, *opts):
    return run_scenario(interp, "image_check.py", path, *opts, heap=MP_HEAP)


@pytest.mark.case("the first 64000 bytes of a real app, body length unknown then known",
                  "ESP_ERR_OTA_VALIDATE_FAILED at the verdict, then in feed()")
def test_idf_truncated_image(interp):
    """advanced_https_ota's truncated_bin: the first 64000 bytes of a real app."""
    path = IMAGES / "esp32-app-template.bin"
    res = run_case(interp, path, "prefix=64000", "splits=4096,r1")
    assert res["len"] == 64000 and res["head"]["ok"] is True  # the head is intact
    for run in res["runs"]:
        assert run["ok"] is False and run["code"] == ESP_ERR_OTA_VALIDATE_FAILED and run["stage"] == "verdict"
        assert "truncated" in run["msg"] and "64000" in run["msg"], run["msg"]
    # With the body length known (Content-Length), feed() stops at the segment that runs past it.
    res = run_case(interp, path, "prefix=64000", "splits=4096", "stream_len=known")
    run = res["runs"][0]
    assert run["ok"] is False and run["code"] == ESP_ERR_OTA_VALIDATE_FAILED and run["stage"] == "feed"
    assert "101388" in run["msg"] and "64000" in run["msg"], run["msg"]  # segment 0's length, the body's


@pytest.mark.case("the first 180 bytes of a real app (the head needs 288)",
                  "head ESP_FAIL naming 180 and 288; verdict not ok")
def test_idf_truncated_header(interp):
    """advanced_https_ota's truncated_header: 180 bytes, less than the 288 the head needs."""
    res = run_case(interp, IMAGES / "esp32-app-template.bin", "prefix=180", "splits=7")
    head = res["head"]
    assert head["ok"] is False and head["code"] == ESP_FAIL_CODE
    assert "180" in head["msg"] and "288" in head["msg"], head["msg"]
    assert res["runs"][0]["ok"] is False


@pytest.mark.parametrize("first", [
    pytest.param(0x00, marks=pytest.mark.case(
        "32000 random bytes, the first 0x00", "head ESP_FAIL (byte 0); verdict ESP_ERR_OTA_VALIDATE_FAILED")),
    pytest.param(0xE9, marks=pytest.mark.case(
        "32000 random bytes, the first 0xE9 (the magic)",
        "head ESP_FAIL (no app description); verdict ESP_ERR_OTA_VALIDATE_FAILED")),
])
def test_idf_random_data(interp, tmp_path, first):
    """advanced_https_ota's random_bin: 32000 random bytes whose first byte is 0 (ESP-IDF's
    test forces it, so 0xE9 cannot turn up by chance); also with 0xE9 forced in."""
    data = bytes([first]) + random.Random(289).randbytes(31999)
    path = tmp_path / "random.bin"
    path.write_bytes(data)
    res = run_case(interp, path, "splits=4096")
    head = res["head"]
    assert head["ok"] is False and head["code"] == ESP_FAIL_CODE
    assert ("byte 0 is 0x00" in head["msg"]) if first == 0 else ("0xABCD5432" in head["msg"]), head["msg"]
    assert res["runs"][0]["ok"] is False and res["runs"][0]["code"] == ESP_ERR_OTA_VALIDATE_FAILED
    assert esptool_view(data)["ok"] is False


@pytest.mark.case("ESP32 app whose header says chip id 2 (ESP32-S2)",
                  "ESP_ERR_INVALID_VERSION from the chip check; image valid")
def test_idf_wrong_chip_id(interp, tmp_path):
    """An ESP32 app whose header says ESP32-S2 (bytes 12-13), checksum and hash recomputed."""
    data = imagetools.with_chip_id((IMAGES / "esp32-app-template.bin").read_bytes(), 2)
    path = tmp_path / "wrong-chip.bin"
    path.write_bytes(data)
    res = run_case(interp, path, "chip=0,-1", "splits=4096")
    assert res["header"]["chip_id"] == 2
    assert res["chip"]["code"] == ESP_ERR_INVALID_VERSION
    assert "chip id 2" in res["chip"]["msg"] and "bytes 12-13" in res["chip"]["msg"]
    assert res["runs"][0]["ok"] is True  # otherwise intact: only the chip check refuses it
    assert esptool_view(data, "esp32s2")["ok"] is True


@pytest.mark.case("five images padded with random bytes to a multiple of 289", "ESP_OK; trailing bytes ignored")
def test_idf_image_padded_to_multiple_of_289(interp, tmp_path):
    """Images padded with random bytes to a multiple of 289 bytes (the size of esp_image_header_t
    + one segment header + esp_app_desc_t + 1, ESP-IDF's old OTA buffer): trailing bytes are
    ignored, so the verdict is good."""
    rnd = random.Random(289)
    for name in ("esp32-app-template.bin", "esp_idf_blink_esp32s2.bin", "esp32c6-appdesc.bin",
                 "helloworld-esp32.bin", "bootloader_esp32.bin"):
        data = (IMAGES / name).read_bytes()
        padded = data + rnd.randbytes(289 - len(data) % 289)
        assert len(padded) % 289 == 0 and len(padded) > len(data)
        path = tmp_path / name
        path.write_bytes(padded)
        res = run_case(interp, path, "splits=289,4096", "stream_len=known")
        for run in res["runs"]:
            assert run["ok"] is True, (name, run)
            assert run["image_len"] == len(data) and run["pos"] == len(padded)
        assert esptool_view(padded, chip_of(padded))["ok"] is True


@pytest.mark.case("image minimum revision v3.0 on a v1.0 chip, then on a v3.0 chip",
                  "ESP_ERR_INVALID_VERSION; then ESP_OK")
def test_idf_min_chip_revision_above_the_chip(interp, tmp_path):
    data = imagetools.with_chip_revisions((IMAGES / "esp32-app-template.bin").read_bytes(), 300, 0xFFFF)
    path = tmp_path / "min-rev-300.bin"
    path.write_bytes(data)
    res = run_case(interp, path, "chip=0,100", "splits=4096")
    assert res["header"]["min_chip_rev_full"] == 300
    assert res["chip"]["code"] == ESP_ERR_INVALID_VERSION
    assert "v3.0" in res["chip"]["msg"] and "v1.0" in res["chip"]["msg"], res["chip"]["msg"]
    assert res["runs"][0]["ok"] is True
    res = run_case(interp, path, "chip=0,300", "splits=4096")
    assert res["chip"]["ok"] is True


@pytest.mark.case("ESP32-S2 image with max_chip_rev_full 0 on a v3.0 S2, then on an ESP32",
                  "ESP_OK (no maximum); ESP_ERR_INVALID_VERSION on the ESP32")
def test_idf_max_chip_revision_0_means_no_maximum(interp):
    """esp_idf_blink_esp32s2.bin's max_chip_rev_full is 0: no upper bound."""
    path = IMAGES / "esp_idf_blink_esp32s2.bin"
    res = run_case(interp, path, "chip=2,300", "splits=4096")
    assert res["header"]["max_chip_rev_full"] == 0
    assert res["chip"]["ok"] is True
    assert run_case(interp, path, "chip=0,300", "splits=4096")["chip"]["code"] == ESP_ERR_INVALID_VERSION


@pytest.mark.case("48-byte header-only C3 image, minimum revision v2.55, on chips v2.54 and v2.55",
                  "head ESP_FAIL (48 of 288); ESP_ERR_INVALID_VERSION on v2.54, ESP_OK on v2.55")
def test_header_only_image_min_revision_2_55(interp):
    """esp32c3_header_min_rev.bin: 48 bytes, min chip revision v2.55; too short for parse_head."""
    path = IMAGES / "esp32c3_header_min_rev.bin"
    res = run_case(interp, path, "chip=5,254", "splits=1")
    assert res["head"]["code"] == ESP_FAIL_CODE and "48 of 288" in res["head"]["msg"]
    assert res["chip"]["code"] == ESP_ERR_INVALID_VERSION and "v2.55" in res["chip"]["msg"]
    assert res["runs"][0]["ok"] is True
    assert run_case(interp, path, "chip=5,255", "splits=1")["chip"]["ok"] is True


# ---------------------------------------------------------------------------- 4. kernels

@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.case(
    "viper and plain kernels on %s, intact and with a flipped segment byte" % n,
    "same checksum, verdict and message at every split"))
    for n in ["esp32-app-template.bin", "esp_idf_blink_esp32s2.bin", "bootloader_esp32.bin",
              "esp32c6-appdesc.bin", "helloworld-esp32s3.bin"]])
def test_native_and_plain_kernels_agree_on_every_split(interp, name, tmp_path):
    """Viper kernels vs the plain fallback: the same checksum and verdict at every split size,
    on the intact image and on one with a segment data byte flipped."""
    data = (IMAGES / name).read_bytes()
    segments, _, _ = imagetools.layout(data)
    bad = tmp_path / ("bad-" + name)
    bad.write_bytes(imagetools.flip_byte(data, segments[0][0] + segments[0][1] - 1))
    splits = "3,5,4096,r%d" % len(data) if len(data) > 100000 else "1,2,3,5,8,13,4096,r7"
    for path in (IMAGES / name, bad):
        res = run_case(interp, path, "splits=" + splits, "kernels=native,plain")
        assert res["native"] is True
        runs = res["runs"]
        native = [r for r in runs if r["kernels"] == "native"]
        plain = [r for r in runs if r["kernels"] == "plain"]
        assert len(native) == len(plain) == len(splits.split(","))
        for n, p in zip(native, plain):
            assert n["split"] == p["split"]
            assert (n["computed"], n["checksum"], n["ok"], n["msg"]) == (p["computed"], p["checksum"], p["ok"], p["msg"])
        assert all(r["ok"] is (path != bad) for r in runs)
        assert len({r["computed"] for r in runs}) == 1


@pytest.mark.case("the package imported in-process under CPython (micropython shim)",
                  "viper kernels in use, not the plain fallback")
def test_kernels_in_process_are_the_native_ones():
    # The property tests above ran with the viper kernels (through the CPython shim).
    assert _kernels.NATIVE is True
    from esp_https_ota import _plain

    assert _kernels.xor_bytes is not _plain.xor_bytes
