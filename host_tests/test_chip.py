"""chip.py's eFuse register maps against esptool's own readers (an independent oracle).

For each chip, seeded random eFuse words are given both to esptool's ROM class (its read_reg
replaced, so no serial port) and to chip.revision() through a stand-in machine.mem32; both
must give the same major * 100 + minor. The unix-port shim only models the ESP32, so this runs
in-process under CPython."""

import random
import sys
import types

import pytest
from esptool.targets import ESP32C3ROM, ESP32C6ROM, ESP32ROM, ESP32S2ROM, ESP32S3ROM

from interpreters import LIB, SHIMS

sys.path += [str(LIB), str(SHIMS / "cpython")]  # appended: the stdlib keeps precedence
from esp_https_ota import chip  # noqa: E402

CHIPS = [(0, ESP32ROM), (2, ESP32S2ROM), (5, ESP32C3ROM), (9, ESP32S3ROM), (13, ESP32C6ROM)]


class Words(dict):
    """Register address -> 32-bit word, random but fixed per address for one seed."""

    def __init__(self, seed):
        super().__init__()
        self.rng = random.Random(seed)

    def __getitem__(self, addr):
        if addr not in self:
            # Sparse bits often, so the small fields take every value, zero included.
            self[addr] = self.rng.getrandbits(32) & self.rng.getrandbits(32) if self.rng.random() < 0.5 \
                else self.rng.getrandbits(32)
        return dict.__getitem__(self, addr)


def esptool_revision(rom_class, words):
    rom = rom_class.__new__(rom_class)  # no serial connection: only the eFuse arithmetic
    rom.read_reg = lambda addr: words[addr]
    return rom.get_major_chip_version() * 100 + rom.get_minor_chip_version()


@pytest.fixture
def mem32(monkeypatch):
    words = Words(0)
    monkeypatch.setitem(sys.modules, "machine", types.SimpleNamespace(mem32=words))
    return words


@pytest.mark.case("chip revision from eFuse, 400 seeded word sets per chip (ESP32, S2, C3, S3, C6) vs esptool",
                  "same revision")
@pytest.mark.parametrize("chip_id,rom_class", CHIPS, ids=[c.CHIP_NAME for _, c in CHIPS])
def test_revision_matches_esptool(mem32, chip_id, rom_class):
    revisions = set()
    for seed in range(400):
        mem32.clear()
        mem32.rng.seed(seed * 100 + chip_id)
        ours = chip.revision(chip_id)
        assert ours == esptool_revision(rom_class, mem32), (rom_class.CHIP_NAME, seed, dict(mem32))
        revisions.add(ours)
    assert len(revisions) >= 8  # the word sets reached many revisions, not one


def test_s3_v0_0_block_version_rule(mem32):
    """ESP32-S3 v0.0 with block version v1.1 reused the major bits: esptool says v0.0."""
    blk1 = ESP32S3ROM.EFUSE_BLOCK1_ADDR
    mem32.update({blk1 + 12: 1 << 24, blk1 + 20: 2 << 24, ESP32S3ROM.EFUSE_BLOCK2_ADDR + 16: 1})
    assert esptool_revision(ESP32S3ROM, mem32) == 0
    assert chip.revision(9) == 0
    mem32[ESP32S3ROM.EFUSE_BLOCK2_ADDR + 16] = 0  # another block version: the major bits count
    assert esptool_revision(ESP32S3ROM, mem32) == 200 == chip.revision(9)


def test_unknown_chip_is_not_checked(mem32):
    assert chip.revision(12) == -1  # ESP32-C2: not mapped, so the revision check is skipped
