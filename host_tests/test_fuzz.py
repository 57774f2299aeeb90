"""Fuzzing with hypothesis: the response-head parser (arbitrary bytes, arbitrary split points),
chunked framing, the image parser and validator, and config dicts of arbitrary shape.

The property everywhere: only OTAError comes out, never another exception, and nothing is
written or erased outside the target partition. Where the right answer is known it is checked
too: a well-formed response gives exactly its body, an image is accepted exactly when an
independent reference (fuzz_support.reference_verdict, struct + hashlib) accepts it.

The hypothesis tests run in this process under CPython (scenarios/fuzz_replay.py's targets
imported as a module). A seeded set of inputs from the same generators is then replayed under
both interpreters by the script itself, and the two must give identical outcomes. Example
counts are printed (pytest -s) and gathered in EXAMPLES for the issue note.
"""

import json
import os
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzz_support as fs
from conftest import SCENARIOS, run_scenario
from interpreters import LIB, SHIMS
import flashsim_path  # noqa: F401  (puts shims/ on sys.path)
import flashsim

FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=300,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
EXAMPLES = {}  # test name -> examples run


def counted(name):
    EXAMPLES[name] = EXAMPLES.get(name, 0) + 1


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    """fuzz_replay imported in this process over the package and the shims (esp32 on a fresh
    flash file); yields the module. sys.path and sys.modules are put back afterwards."""
    path = tmp_path_factory.mktemp("fuzz") / "flash.bin"
    flashsim.create_flash(str(path), app_image=fs.TEMPLATE_PATH.read_bytes())
    saved_path, saved_env = list(sys.path), os.environ.get("ESP32_FLASH")
    saved_modules = set(sys.modules)
    os.environ["ESP32_FLASH"] = str(path)
    sys.path[:0] = [str(SCENARIOS)]
    sys.path += [str(LIB), str(SHIMS / "cpython")]  # appended: the stdlib keeps precedence
    try:
        import fuzz_replay

        yield fuzz_replay
    finally:
        for name in set(sys.modules) - saved_modules:
            mod = sys.modules.pop(name)
            if name == "esp32":
                mod.flash.close()
        sys.path[:] = saved_path
        if saved_env is None:
            os.environ.pop("ESP32_FLASH", None)
        else:
            os.environ["ESP32_FLASH"] = saved_env
        print("\nfuzz examples run: %s" % json.dumps(EXAMPLES))


def only_ota_errors(result):
    assert result[0] in ("ok", "OTAError"), result


splits = st.lists(st.integers(min_value=0, max_value=400), max_size=8)
ends = st.sampled_from(["eof", "timeout", "reset"])
reads = st.lists(st.sampled_from([1, 2, 7, 64, 1000, 4096]), min_size=1, max_size=3)


# ------------------------------------------------------------------ response head

@pytest.mark.case("fuzz: arbitrary bytes as the whole response, split at arbitrary points, then EOF/timeout/reset",
                  "OTAError or a response; no other exception")
@FUZZ
@given(data=st.binary(max_size=400), cuts=splits, end=ends, sizes=reads)
def test_response_head_arbitrary_bytes(target, data, cuts, end, sizes):
    counted("response head, arbitrary bytes")
    only_ota_errors(target.run_http(fs.split(data, cuts), end, sizes))


header_names = st.sampled_from([b"Content-Length", b"content-length", b"Transfer-Encoding", b"Location",
                                b"Connection", b"Content-Range", b"Content-Type", b"X-A", b""])
header_values = st.one_of(st.sampled_from([b"12", b" 12 ", b"-1", b"999999999999", b"chunked", b"close",
                                           b"bytes 0-9/10", b"bytes x", b"/next", b"http://127.0.0.1:1/x"]),
                          st.binary(max_size=40))


@pytest.mark.case("fuzz: plausible status line and header fields (names, values, separators, line ends) with byte edits",
                  "OTAError or a response; no other exception")
@FUZZ
@given(status=st.sampled_from([b"HTTP/1.1 200 OK", b"HTTP/1.0 206", b"HTTP/1.1 302 Found", b"HTTP/1.1 416",
                               b"HTTP/1.1 2000", b"http/1.1 200", b"HTTP/2 200", b"HTTP/1.1"]),
       fields=st.lists(st.tuples(header_names, st.sampled_from([b": ", b":", b" : "]), header_values), max_size=6),
       eol=st.sampled_from([b"\r\n", b"\n"]), body=st.binary(max_size=64),
       edits=st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 255)), max_size=3),
       cuts=splits, end=ends, sizes=reads)
def test_response_head_plausible(target, status, fields, eol, body, edits, cuts, end, sizes):
    counted("response head, plausible fields")
    data = bytearray(eol.join([status] + [n + s + v for n, s, v in fields]) + eol + eol + body)
    for at, value in edits:
        data[at % len(data)] = value
    only_ota_errors(target.run_http(fs.split(bytes(data), cuts), end, sizes))


@pytest.mark.case("fuzz: well-formed 200 with Content-Length, split anywhere, read in any sizes",
                  "exactly the body")
@FUZZ
@given(body=st.binary(max_size=3000), extra=st.lists(st.sampled_from([b"X-A: b", b"Server: x", b"ETag: \"1\""]),
                                                    max_size=3), cuts=splits, sizes=reads)
def test_content_length_body_is_exact(target, body, extra, cuts, sizes):
    counted("Content-Length body")
    head = b"\r\n".join([b"HTTP/1.1 200 OK", b"Content-Length: %d" % len(body)] + extra) + b"\r\n\r\n"
    assert target.run_http(fs.split(head + body + b"garbage after", cuts), "eof", sizes) == ["ok", 200, body]


# ------------------------------------------------------------------ chunked framing

@pytest.mark.case("fuzz: chunked bodies (sizes, hex case, leading zeros, extensions, trailers), split anywhere",
                  "exactly the payload")
@FUZZ
@given(payload=st.binary(min_size=0, max_size=3000), sizes=st.lists(st.integers(1, 700), min_size=1, max_size=5),
       upper=st.booleans(), zeros=st.integers(0, 6), ext=st.sampled_from([b"", b";a=b", b";x"]),
       trailers=st.lists(st.sampled_from([b"X-T: 1", b"Y: z"]), max_size=2), cuts=splits, reads_=reads)
def test_chunked_framing_exact(target, payload, sizes, upper, zeros, ext, trailers, cuts, reads_):
    counted("chunked, well-formed")
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    body = fs.chunked(payload, sizes, upper, zeros, ext, trailers=trailers)
    assert target.run_http(fs.split(head + body, cuts), "eof", reads_) == ["ok", 200, payload]


@pytest.mark.case("fuzz: chunked bodies with byte edits, truncation and garbage chunk-size lines",
                  "OTAError or a body; no other exception")
@FUZZ
@given(payload=st.binary(max_size=600), sizes=st.lists(st.integers(1, 200), min_size=1, max_size=3),
       edits=st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 255)), max_size=4),
       cut=st.none() | st.integers(0, 10 ** 6), junk=st.binary(max_size=30), end=ends, sizes_=reads)
def test_chunked_framing_hostile(target, payload, sizes, edits, cut, junk, end, sizes_):
    counted("chunked, hostile")
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    body = bytearray(fs.chunked(payload, sizes) if payload else junk + b"\r\n")
    for at, value in edits:
        body[at % len(body)] = value
    if cut is not None:
        body = body[:cut % (len(body) + 1)]
    result = target.run_http([head, bytes(body)], end, sizes_)
    only_ota_errors(result)
    if result[0] == "ok":
        assert len(result[2]) <= len(body)  # never more body than bytes sent


# ------------------------------------------------------------------ image parser and validator

@pytest.fixture(scope="module")
def small_image():
    return fs.small_image()


@pytest.fixture(scope="module")
def recording(target):
    import esp32

    return target.RecordingPartition(esp32.Partition("ota_1"))


@pytest.mark.case("fuzz: image bytes (flips, byte sets in the header and app description, truncation, appended"
                  " bytes, re-hashed segment edits) through the writer in arbitrary read sizes",
                  "accepted exactly when the independent reference accepts; nothing outside ota_1")
@settings(FUZZ, max_examples=250)
@given(seed=st.integers(0, 2 ** 32 - 1), sizes=st.lists(st.sampled_from([1, 3, 16, 288, 1000, 4096, 9000]),
                                                         min_size=1, max_size=3),
       buffer_size=st.sampled_from([4096, 8192]), known_len=st.booleans())
def test_image_writer_matches_reference(target, recording, small_image, seed, sizes, buffer_size, known_len):
    import random

    data = fs.mutate_image(random.Random(seed), small_image)
    recording.ops, recording.outside = [], []
    result = target.run_image(data, recording, sizes, buffer_size, known_len)
    only_ota_errors(result)
    assert recording.outside == []
    ok, why = fs.reference_verdict(data, known_len)
    assert (result[0] == "ok") == ok, (why, result)
    counted("image writer, " + ("accepted" if ok else "refused"))
    if ok:
        assert recording.ops  # it was written (into ota_1, as checked above)


# ------------------------------------------------------------------ config dicts

config_leaves = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.text(max_size=12),
                          st.binary(max_size=12), st.floats(allow_nan=True), st.sampled_from(fs.URLS),
                          st.sampled_from([fs.Callback(n) for n in ("none", "ok", "fail", "connect")]),
                          st.sampled_from([fs.PartitionRef(n) for n in ("ota_0", "ota_1", "nvs", "otadata")]))
known_keys = st.sampled_from(fs.OTA_FIELDS + fs.HTTP_FIELDS)
config_keys = st.one_of(known_keys, st.text(max_size=6), st.integers(-3, 3), st.binary(max_size=3), st.none())
config_values = st.recursive(config_leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(config_keys, inner, max_size=4)), max_leaves=8)


def materialize(v, target):
    """fs.Callback / fs.PartitionRef markers into the real things, through the replay's decoder."""
    return target.decode(json.loads(json.dumps(fs.encode(v))))


@pytest.mark.case("fuzz: config dicts of arbitrary shape (any keys, nested values, wrong types) at both levels",
                  "ESP_ERR_INVALID_ARG etc. as OTAError, or a parsed config; no other exception")
@FUZZ
@given(top=st.dictionaries(known_keys, config_leaves, max_size=4) | st.dictionaries(config_keys, config_values, max_size=5),
       http=st.dictionaries(known_keys, config_leaves, max_size=4) | st.dictionaries(config_keys, config_values, max_size=5),
       keep_valid_url=st.booleans(), whole=st.one_of(st.none(), config_values))
def test_config_any_shape(target, top, http, keep_valid_url, whole):
    if keep_valid_url:
        http["url"], http["cert_pem"] = fs.URLS[0], fs.CERT
    top["http_config"] = http
    cfg = materialize(top if whole is None else whole, target)
    result = target.run_config(cfg)
    only_ota_errors(result)
    counted("config dicts, " + ("accepted" if result[0] == "ok" else "refused"))


# ------------------------------------------------------------------ replay under both interpreters

REPLAY_SEED = 20261203


@pytest.fixture(scope="module")
def replay_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz_replay")
    small = d / "small.bin"
    small.write_bytes(fs.small_image())
    cases, images = fs.replay_cases(REPLAY_SEED, small)
    path = d / "cases.json"
    path.write_text(json.dumps(cases))
    flash = d / "flash.bin"
    flashsim.create_flash(str(flash), app_image=fs.TEMPLATE_PATH.read_bytes())
    return path, flash, cases, images


REPLAYED = {}


@pytest.mark.case("fuzz replay: 150 responses, 150 configs, 32 images (seeded) under CPython and MicroPython",
                  "only OTAError; nothing outside ota_1; identical outcomes on both interpreters")
def test_replay_on_both_interpreters(interp, replay_file):
    path, flash, cases, images = replay_file
    res = run_scenario(interp, "fuzz_replay.py", str(path), env={"ESP32_FLASH": str(flash)}, heap="16m")
    assert res["impl"] == interp
    assert res["counts"] == {"http": 150, "config": 150, "image": 32}
    assert res["unexpected"] == [] and res["outside"] == 0
    results = res["results"]
    assert len(results) == len(cases)
    for case, data, result in zip(cases, images, results):
        if case["kind"] == "image":
            assert (result[0] == "ok") == fs.reference_verdict(data, case["known_len"])[0], result
    kinds = {r[0] for r in results}
    assert kinds == {"ok", "OTAError"}  # both outcomes occur: the inputs are not all rejected
    REPLAYED[interp] = results
    if len(REPLAYED) == 2:
        assert REPLAYED["cpython"] == REPLAYED["micropython"]
