"""esp_https_ota.heatshrink, the decoder of delta patches' compression, against the heatshrink2
package (the reference C implementation's Python binding) as the encoder and oracle."""

import hashlib
import os
import random

import heatshrink2
import pytest

from conftest import IMAGES, run_scenario

PAIRS = [(8, 7), (8, 4), (10, 5), (4, 3), (12, 8)]  # (window, lookahead): esp_delta_ota's first


def samples():
    rnd = random.Random(7)
    image = (IMAGES / "esp32-app-template.bin").read_bytes()
    return {
        "empty": b"",
        "one-byte": b"A",
        "random-4k": bytes(rnd.randrange(256) for _ in range(4096)),
        "zeros-70k": bytes(70000),
        "text": b"the quick brown fox jumps over the lazy dog; " * 300,
        "image-prefix": image[:200000],
    }


@pytest.mark.parametrize("kernel", ["viper", "plain"])
@pytest.mark.parametrize("window, lookahead", PAIRS, ids=lambda v: str(v))
@pytest.mark.case("heatshrink streams (window/lookahead 8/7, 8/4, 10/5, 4/3, 12/8) of empty, 1-byte, random, zeros,"
                  " text and image data, through the viper kernel and its plain fallback",
                  "decoded byte for byte as heatshrink2 encoded them, input and output in odd pieces")
def test_decoder_matches_heatshrink2(interp, tmp_path, window, lookahead, kernel):
    data = samples()
    paths = []
    for name, raw in data.items():
        p = tmp_path / (name + ".hs")
        p.write_bytes(heatshrink2.compress(raw, window_sz2=window, lookahead_sz2=lookahead))
        paths.append(p)
    env = {"HEATSHRINK_PLAIN": "1"} if kernel == "plain" else {}
    res = run_scenario(interp, "heatshrink_check.py", window, lookahead, *paths, heap="4m", env=env)
    assert res.result == [[len(raw), hashlib.sha256(raw).hexdigest()] for raw in data.values()]


@pytest.mark.case("heatshrink window 2^3 or lookahead >= window", "ESP_ERR_OTA_VALIDATE_FAILED naming the pair")
def test_bad_parameters_are_refused(interp, tmp_path):
    p = tmp_path / "x.hs"
    p.write_bytes(b"")
    res = run_scenario(interp, "heatshrink_check.py", 3, 2, p)
    assert res.result[0][:2] == ["err", 0x1503] and "2^3" in res.result[0][2]
