"""The chip stand-ins: flashsim (NOR flash, partition table, otadata, bootloader, image check)
and the esp32 shim's Partition API. The expected values come from ESP-IDF's own tools and
sources (gen_esp32part.py, otatool.py, esp_rom_crc32_le, esp_ota_ops.c, bootloader_utility.c),
re-derived here independently of flashsim's code. The esp32 API checks also run under the
MicroPython unix port (scenarios/shim_selfcheck.py), with the zero-allocation check."""

import binascii
import hashlib
import importlib
import re
import struct
import sys

import pytest
from esptool.bin_image import LoadFirmwareImage

from conftest import IMAGES, SHIMS, run_scenario

sys.path.insert(0, str(SHIMS))
import flashsim  # noqa: E402

TEMPLATE = (IMAGES / "esp32-app-template.bin").read_bytes()
OTADATA = 0xD000
OTA_0, OTA_1 = 0x10000, 0x310000
NEW, PENDING_VERIFY, VALID, INVALID, ABORTED = 0, 1, 2, 3, 4

# SHA-256 of what ESP-IDF's gen_esp32part.py (esp-idf 102122904ade, run once by hand) writes for
#   nvs,data,nvs,0x9000,0x4000 / otadata,data,ota,0xd000,0x2000 / phy_init,data,phy,0xf000,0x1000 /
#   ota_0,app,ota_0,0x10000,0x300000 / ota_1,app,ota_1,0x310000,0x300000 / vfs,data,fat,0x610000,0x1F0000
# with --flash-size 8MB: 0xC00 bytes, MD5 record included.
GEN_ESP32PART_DEFAULT_SHA256 = "29ae65d7dcc54bc96ca80058733de75ed77ee65fa4567bfa7a35950496e753b8"


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "flash.bin"
    flashsim.create_flash(str(p), app_image=TEMPLATE)
    return p


@pytest.fixture
def flash(path):
    fl = flashsim.Flash(str(path))
    yield fl
    fl.close()


def part(fl, label):
    return [e for e in flashsim.read_partition_table(fl) if e.label == label][0]


def put_image(fl, label, image):
    p = part(fl, label)
    fl.erase(p.addr, (len(image) + 4095) // 4096 * 4096)
    fl.write(p.addr, image)
    return p


def otadata_bytes(fl):
    buf = bytearray(0x2000)
    fl.read(OTADATA, buf)
    return bytes(buf)


def entry(fl, sector):
    """(seq, state, crc) of otadata sector 0 or 1, unpacked here, not by flashsim."""
    raw = otadata_bytes(fl)[sector * 4096:sector * 4096 + 32]
    seq, _label, state, crc = struct.unpack("<I20sII", raw)
    return seq, state, crc


def esp_rom_crc32_le(crc, data):
    """ESP-IDF's esp_rom_crc32_le (components/esp_rom/linux/esp_rom_crc.c), bit by bit."""
    crc = ~crc & 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return ~crc & 0xFFFFFFFF


def otatool_next_seq(fl, target_slot, ota_count=2):
    """(seq, sector) that ESP-IDF's otatool.py switch_ota_partition would write."""
    infos = [entry(fl, 0), entry(fl, 1)]

    def valid(info):
        seq, _state, crc = info
        return seq < 0xFFFFFFFF and crc == binascii.crc32(struct.pack("I", seq), 0xFFFFFFFF) % (1 << 32)

    if valid(infos[0]) and valid(infos[1]):
        base = 0 if infos[0][0] >= infos[1][0] else 1
    elif valid(infos[0]):
        base = 0
    elif valid(infos[1]):
        base = 1
    else:
        base = -1
    target_seq = target_slot + 1
    if base == -1:
        return target_seq, 0
    i = 0
    while infos[base][0] > target_seq % ota_count + i * ota_count:
        i += 1
    return target_seq % ota_count + i * ota_count, 1 if base == 0 else 0


# ------------------------------------------------------------------ partition table

def test_table_is_byte_identical_to_gen_esp32part(path):
    table = path.read_bytes()[0x8000:0x8000 + 0xC00]
    assert hashlib.sha256(table).hexdigest() == GEN_ESP32PART_DEFAULT_SHA256
    assert flashsim.partition_table_bytes() == table


def test_table_parses_like_gen_esp32part_from_binary(path):
    # gen_esp32part.PartitionTable.from_binary, restated: '<2sBBLL16sL' records, MD5 record, end
    data = path.read_bytes()[0x8000:0x8000 + 0xC00]
    md5 = hashlib.md5()
    rows = []
    for o in range(0, len(data), 32):
        rec = data[o:o + 32]
        if rec == b"\xff" * 32:
            break
        if rec[:2] == b"\xeb\xeb":
            assert rec[2:16] == b"\xff" * 14 and rec[16:] == md5.digest()
            continue
        md5.update(rec)
        magic, ptype, sub, off, size, name, flags = struct.unpack("<2sBBLL16sL", rec)
        assert magic == b"\xaa\x50"
        rows.append((name.rstrip(b"\0").decode(), ptype, sub, off, size, flags))
    assert rows == [("nvs", 1, 2, 0x9000, 0x4000, 0), ("otadata", 1, 0, 0xD000, 0x2000, 0),
                    ("phy_init", 1, 1, 0xF000, 0x1000, 0), ("ota_0", 0, 0x10, 0x10000, 0x300000, 0),
                    ("ota_1", 0, 0x11, 0x310000, 0x300000, 0), ("vfs", 1, 0x81, 0x610000, 0x1F0000, 0)]


def test_table_round_trip(tmp_path, flash):
    assert flashsim.read_partition_table(flash) == list(flashsim.DEFAULT_TABLE)
    table = [(0, 0x00, 0x10000, 0x100000, "factory", 0), (1, 0x00, 0xD000, 0x2000, "otadata", 0),
             (0, 0x10, 0x110000, 0x100000, "ota_0", 0), (0, 0x11, 0x210000, 0x100000, "ota_1", 0),
             (1, 0x02, 0x9000, 0x4000, "nvs_key_long_16", 2)]
    p = tmp_path / "custom.bin"
    flashsim.create_flash(str(p), size=4 * 1024 * 1024, partitions=table)
    with flashsim.Flash(str(p)) as fl:
        got = flashsim.read_partition_table(fl)
    assert [tuple(e) for e in got] == table
    assert got[4].label == "nvs_key_long_16" and got[4].flags == 2


def test_table_with_bad_md5_is_rejected():
    data = bytearray(flashsim.partition_table_bytes())
    data[40] ^= 1  # inside the second record
    with pytest.raises(ValueError, match="MD5"):
        flashsim.parse_partition_table(bytes(data))


# ------------------------------------------------------------------ NOR semantics, counters

def test_erase_and_write_are_nor(flash):
    a = 0x700000
    flash.write(a, b"\x0f" * 4096)
    with pytest.raises(flashsim.FlashWriteError, match="0x700000"):
        flash.write(a, b"\x0f" * 4096)  # same bytes again: still a write without erase
    with pytest.raises(flashsim.FlashWriteError, match="0x700003"):
        flash.write(a + 3, b"\xf0")  # odd lengths are checked too
    flash.erase(a, 4096)
    buf = bytearray(4096)
    flash.read(a, buf)
    assert buf == b"\xff" * 4096
    flash.write(a + 100, b"\x01\x02")
    flash.write(a + 102, b"\x03")  # next to written bytes, not over them: fine
    flash.read(a, buf)
    assert buf[99:104] == b"\xff\x01\x02\x03\xff"


def test_write_error_leaves_flash_unchanged_and_nonstrict_ands(path):
    fl = flashsim.Flash(str(path))
    a = 0x701000
    fl.write(a, b"\x0f" * 4096)
    with pytest.raises(flashsim.FlashWriteError):
        fl.write(a, b"\x00" * 4096)
    buf = bytearray(4096)
    fl.read(a, buf)
    assert buf == b"\x0f" * 4096
    fl.close()
    loose = flashsim.Flash(str(path), strict=False)
    loose.write(a, b"\x3c" * 4096)
    loose.write(a + 4096, b"\xaa" * 7)
    loose.write(a + 4096, b"\x0f" * 7)
    loose.read(a, buf)
    assert buf == b"\x0c" * 4096  # old AND new
    small = bytearray(8)
    loose.read(a + 4096, small)
    assert small == b"\x0a" * 7 + b"\xff"
    loose.close()


def test_alignment_and_range_errors(flash):
    with pytest.raises(ValueError):
        flash.erase(0x700100, 4096)
    with pytest.raises(ValueError):
        flash.erase(0x700000, 100)
    with pytest.raises(OSError):
        flash.erase(flash.size, 4096)
    with pytest.raises(OSError):
        flash.write(flash.size - 2, b"abc")
    with pytest.raises(OSError):
        flash.read(-1, bytearray(4))


def test_counters(flash):
    flash.reset_stats()
    assert flash.stats == {"erase_calls": 0, "erased_bytes": 0, "erase_sizes": {4096: 0, 65536: 0},
                           "write_calls": 0, "written_bytes": 0, "read_calls": 0}
    flash.erase(0x700000, 65536)
    flash.erase(0x710000, 4096)
    flash.erase(0x711000, 8192)
    flash.write(0x700000, bytes(4096))
    flash.write(0x701000, bytes(10))
    flash.read(0x700000, bytearray(16))
    assert flash.stats == {"erase_calls": 3, "erased_bytes": 65536 + 4096 + 8192,
                           "erase_sizes": {4096: 1, 65536: 1, 8192: 1},
                           "write_calls": 2, "written_bytes": 4106, "read_calls": 1}
    flash.reset_stats()
    assert flash.stats["erase_sizes"] == {4096: 0, 65536: 0} and flash.stats["write_calls"] == 0


# ------------------------------------------------------------------ otadata

def test_otadata_crc_is_esp_idf_convention():
    for seq in (1, 2, 3, 7, 0x12345678, 0xFFFFFFFE):
        expected = esp_rom_crc32_le(0xFFFFFFFF, struct.pack("<I", seq))  # bootloader_common_ota_select_crc
        assert flashsim.ota_select_crc(seq) == expected
        assert expected == binascii.crc32(struct.pack("I", seq), 0xFFFFFFFF) % (1 << 32)  # otatool.py
    assert flashsim.ota_select_crc(1) == 0x4743989A
    assert flashsim.ota_select_crc(2) == 0x55F63774


def test_first_boot_records_ota_0_as_the_bootloader_does(tmp_path, flash):
    # create_flash powers the chip on once: erased otadata, no factory -> set_actual_ota_seq()
    data = otadata_bytes(flash)
    assert data[:32] == struct.pack("<I", 1) + b"\xff" * 20 + struct.pack("<II", VALID, 0x4743989A)
    assert data[32:] == b"\xff" * (0x2000 - 32)
    p = tmp_path / "fresh.bin"
    flashsim.create_flash(str(p), app_image=TEMPLATE, first_boot=False)
    with flashsim.Flash(str(p)) as fl:
        assert otadata_bytes(fl) == b"\xff" * 0x2000
        assert flashsim.boot(fl) == "ota_0"
        assert otadata_bytes(fl) == data
        assert flashsim.boot(fl) == "ota_0" and otadata_bytes(fl) == data  # nothing more to write


def test_set_boot_good_image_then_boot_picks_ota_1(flash):
    ota1 = put_image(flash, "ota_1", TEMPLATE)
    assert flashsim.verify_image(flash, ota1) is None
    assert entry(flash, 0) == (1, VALID, 0x4743989A)
    flashsim.set_boot(flash, ota1)
    assert entry(flash, 0) == (1, VALID, 0x4743989A)  # the active entry is left alone
    assert entry(flash, 1) == (2, NEW, 0x55F63774)  # the other sector gets the new seq, state NEW
    assert flashsim.get_boot_partition(flash).label == "ota_1"
    assert flashsim.boot(flash) == "ota_1"
    assert entry(flash, 1)[:2] == (2, PENDING_VERIFY)


def test_seq_arithmetic_across_switches_matches_esp_idf(flash):
    put_image(flash, "ota_1", TEMPLATE)
    seqs = []
    for label, slot in (("ota_1", 1), ("ota_0", 0), ("ota_1", 1), ("ota_0", 0)):
        want_seq, want_sector = otatool_next_seq(flash, slot)
        flashsim.set_boot(flash, part(flash, label))
        assert entry(flash, want_sector) == (want_seq, NEW, esp_rom_crc32_le(0xFFFFFFFF, struct.pack("<I", want_seq)))
        assert flashsim.boot(flash) == label
        flashsim.mark_app_valid(flash)
        assert entry(flash, want_sector)[:2] == (want_seq, VALID)
        seqs.append((want_seq, want_sector))
    assert seqs == [(2, 1), (3, 0), (4, 1), (5, 0)]


def test_set_boot_on_erased_otadata_and_to_the_selected_slot(tmp_path):
    p = tmp_path / "fresh.bin"
    flashsim.create_flash(str(p), app_image=TEMPLATE, first_boot=False)
    with flashsim.Flash(str(p)) as fl:
        ota1 = put_image(fl, "ota_1", TEMPLATE)
        flashsim.set_boot(fl, ota1)  # no valid entry: sector 0, seq = slot + 1
        assert entry(fl, 0) == (2, NEW, 0x55F63774) and entry(fl, 1)[0] == 0xFFFFFFFF
        assert flashsim.boot(fl) == "ota_1"
        flashsim.mark_app_valid(fl)
        # esp_rewrite_ota_data: the slot is already selected -> same sector, same seq, state NEW
        flashsim.set_boot(fl, ota1)
        assert entry(fl, 0) == (2, NEW, 0x55F63774) and entry(fl, 1)[0] == 0xFFFFFFFF


def test_set_boot_on_corrupt_image_raises_and_leaves_otadata(flash):
    bad = bytearray(TEMPLATE)
    bad[1000] ^= 0x01  # segment data: XOR checksum and SHA-256 both break
    esp = LoadFirmwareImage("esp32", bytes(bad))
    assert esp.calculate_checksum() != esp.checksum and esp.stored_digest != esp.calc_digest
    ota1 = put_image(flash, "ota_1", bytes(bad))
    before = otadata_bytes(flash)
    with pytest.raises(OSError) as exc:
        flashsim.set_boot(flash, ota1)
    assert exc.value.args == (-5379, "ESP_ERR_OTA_VALIDATE_FAILED")
    assert exc.value.errno == -0x1503
    assert "checksum" in flashsim.last_verify_error
    assert otadata_bytes(flash) == before
    assert flashsim.boot(flash) == "ota_0"


@pytest.mark.parametrize("damage, reason", [
    (lambda im: im[:600000], "checksum"),  # cut in the last segment (the rest reads as 0xFF)
    (lambda im: im[:64000], "segment 1 length 0xffffffff"),  # cut in segment 0: erased header next
    (lambda im: im[:28] + struct.pack("<I", 0x400000) + im[32:], "does not fit"),  # 4 MB segment
    (lambda im: im[:-1] + bytes([im[-1] ^ 0x80]), "hash"),  # SHA-256 byte
    (lambda im: bytes([0xE8]) + im[1:], "magic"),
    (lambda im: im[:12] + b"\x02\x00" + im[14:], "chip ID"),  # an ESP32-S2 image id
    (lambda im: im[:1] + bytes([17]) + im[2:], "segment count"),
])
def test_verify_image_failures(flash, damage, reason):
    ota1 = put_image(flash, "ota_1", damage(TEMPLATE))
    with pytest.raises(OSError) as exc:
        flashsim.set_boot(flash, ota1)
    assert exc.value.args[0] == -5379
    assert re.search(reason, flashsim.last_verify_error), flashsim.last_verify_error


def test_other_chip_and_erased_partition_do_not_verify(flash):
    c6 = (IMAGES / "esp32c6-appdesc.bin").read_bytes()
    assert flashsim.verify_image(flash, put_image(flash, "ota_1", c6)) is not None
    flash.erase(OTA_1, 0x10000)
    assert "magic" in flashsim.verify_image(flash, part(flash, "ota_1"))


# ------------------------------------------------------------------ rollback

def test_rollback_when_new_app_never_marks_itself_valid(flash):
    flashsim.set_boot(flash, put_image(flash, "ota_1", TEMPLATE))
    assert flashsim.boot(flash) == "ota_1"  # NEW -> PENDING_VERIFY
    assert entry(flash, 1)[:2] == (2, PENDING_VERIFY)
    assert flashsim.boot(flash) == "ota_0"  # still PENDING_VERIFY at reset -> ABORTED, old app
    assert entry(flash, 1)[:2] == (2, ABORTED) and entry(flash, 0)[:2] == (1, VALID)
    assert flashsim.boot(flash) == "ota_0"
    assert flashsim.get_boot_partition(flash).label == "ota_0"


def test_rollback_from_erased_otadata_falls_back_to_ota_0(tmp_path):
    p = tmp_path / "fresh.bin"
    flashsim.create_flash(str(p), app_image=TEMPLATE, first_boot=False)
    with flashsim.Flash(str(p)) as fl:
        flashsim.set_boot(fl, put_image(fl, "ota_1", TEMPLATE))
        assert [flashsim.boot(fl), flashsim.boot(fl), flashsim.boot(fl)] == ["ota_1", "ota_0", "ota_0"]


def test_marked_valid_app_stays(flash):
    flashsim.set_boot(flash, put_image(flash, "ota_1", TEMPLATE))
    assert flashsim.boot(flash) == "ota_1"
    flashsim.mark_app_valid(flash)
    assert entry(flash, 1)[:2] == (2, VALID)
    assert [flashsim.boot(flash), flashsim.boot(flash)] == ["ota_1", "ota_1"]


def test_mark_app_invalid_rollback(flash):
    flashsim.set_boot(flash, put_image(flash, "ota_1", TEMPLATE))
    assert flashsim.boot(flash) == "ota_1"
    flashsim.mark_app_invalid_rollback(flash)
    assert entry(flash, 1)[:2] == (2, INVALID)
    assert flashsim.boot(flash) == "ota_0"


def test_boot_falls_back_when_selected_image_is_corrupt(flash):
    flashsim.set_boot(flash, put_image(flash, "ota_1", TEMPLATE))
    flash.erase(OTA_1, 4096)  # the image's first sector is gone
    assert flashsim.boot(flash) == "ota_0"


def test_factory_partition(tmp_path):
    table = [(1, 0x00, 0xD000, 0x2000, "otadata", 0), (0, 0x00, 0x10000, 0x100000, "factory", 0),
             (0, 0x10, 0x110000, 0x100000, "ota_0", 0), (0, 0x11, 0x210000, 0x100000, "ota_1", 0)]
    p = tmp_path / "factory.bin"
    flashsim.create_flash(str(p), size=4 * 1024 * 1024, partitions=table)
    with flashsim.Flash(str(p)) as fl:
        factory = put_image(fl, "factory", TEMPLATE)
        assert flashsim.boot(fl) == "factory"  # erased otadata with a factory app: no otadata write
        assert otadata_bytes(fl) == b"\xff" * 0x2000
        flashsim.set_boot(fl, put_image(fl, "ota_1", TEMPLATE))
        assert flashsim.boot(fl) == "ota_1"
        flashsim.set_boot(fl, factory)
        assert otadata_bytes(fl) == b"\xff" * 0x2000  # set_boot(factory) erases otadata
        assert flashsim.boot(fl) == "factory"
        with pytest.raises(OSError) as exc:  # "Running firmware is factory": ESP_FAIL, errno 1
            flashsim.mark_app_valid(fl)
        assert exc.value.args == (1, "ESP_FAIL")


# ------------------------------------------------------------------ esp32 shim, in this process

@pytest.fixture
def esp32(path, monkeypatch):
    """The esp32 shim imported fresh (= the chip booting) on the `path` flash."""
    monkeypatch.setenv("ESP32_FLASH", str(path))
    sys.modules.pop("esp32", None)
    mod = importlib.import_module("esp32")
    yield mod
    mod.flash.close()
    sys.modules.pop("esp32", None)


def test_import_without_flash_file_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.setenv("ESP32_FLASH", str(tmp_path / "missing.bin"))
    sys.modules.pop("esp32", None)
    with pytest.raises(RuntimeError, match="create_flash"):
        importlib.import_module("esp32")
    sys.modules.pop("esp32", None)


def test_partition_identity_find_and_next(esp32):
    P = esp32.Partition
    run = P(P.RUNNING)
    assert run.info() == (0, 0x10, OTA_0, 0x300000, "ota_0", False)
    assert repr(run) == "<Partition type=0, subtype=16, address=65536, size=3145728, label=ota_0, encrypted=0>"
    addr = lambda p: p.info()[2]  # noqa: E731  (the board's Partition has no ==, nor has the shim)
    assert addr(run) == addr(P("ota_0")) == addr(P(P.BOOT)) != addr(P("ota_1"))
    assert run != P("ota_0")  # two objects for one partition: not equal, as on the board
    assert [p.info()[4] for p in P.find()] == ["ota_0", "ota_1"]
    assert [p.info()[4] for p in P.find(P.TYPE_DATA)] == ["nvs", "otadata", "phy_init", "vfs"]
    assert [p.info()[4] for p in P.find(type=P.TYPE_DATA, subtype=0, label="otadata")] == ["otadata"]
    assert P.find(P.TYPE_APP, label="vfs") == []
    assert addr(run.get_next_update()) == addr(P("ota_1")) and addr(P("ota_1").get_next_update()) == addr(run)
    with pytest.raises(OSError) as exc:
        P("nope")
    assert exc.value.args[0] == 2
    with pytest.raises(ValueError):
        P(7)
    assert P.flash is esp32.flash


def test_writeblocks_2_args_erase_3_args_do_not(esp32):
    P = esp32.Partition
    nxt = P(P.RUNNING).get_next_update()
    st = P.flash.stats
    buf = bytes(range(256)) * 16
    P.flash.reset_stats()
    nxt.writeblocks(5, buf)
    nxt.writeblocks(5, buf)  # the 2-arg form erases, so twice is fine
    assert (st["erase_calls"], st["erase_sizes"][4096], st["write_calls"]) == (2, 2, 2)
    with pytest.raises(flashsim.FlashWriteError, match=hex(OTA_1 + 5 * 4096)):
        nxt.writeblocks(5, buf, 0)
    assert st["erase_calls"] == 2
    assert nxt.ioctl(6, 5) == 0
    nxt.writeblocks(5, buf, 0)
    back = bytearray(16)
    nxt.readblocks(5, back, 32)
    assert back == buf[32:48]
    nxt.writeblocks(16, bytes(65536))  # 16 blocks: one 64 KB erase_range
    assert st["erase_sizes"][65536] == 1
    with pytest.raises(OSError) as exc:
        nxt.writeblocks(3, bytes(100))  # esp_partition_erase_range: size not a sector multiple
    assert exc.value.args == (-0x104, "ESP_ERR_INVALID_SIZE")


def test_ioctl_and_range_errors(esp32):
    P = esp32.Partition
    nxt = P("ota_1")
    assert [nxt.ioctl(c, 0) for c in (1, 2, 3, 4, 5)] == [0, 0, 0, 768, 4096]
    assert nxt.ioctl(99, 0) is None
    with pytest.raises(OSError) as exc:
        nxt.ioctl(6, 768)
    assert exc.value.args[0] == -0x104
    with pytest.raises(OSError) as exc:
        nxt.readblocks(769, bytearray(4))
    assert exc.value.args[0] == -0x102
    with pytest.raises(OSError) as exc:
        nxt.readblocks(767, bytearray(8), 4092)
    assert exc.value.args[0] == -0x104
    small = P("ota_1", 512)
    assert (small.ioctl(4, 0), small.ioctl(5, 0), small.ioctl(6, 0)) == (6144, 512, -22)


def test_set_boot_through_partition(esp32):
    P = esp32.Partition
    nxt = P(P.RUNNING).get_next_update()
    with pytest.raises(OSError) as exc:
        nxt.set_boot()  # ota_1 is erased
    assert exc.value.args == (-5379, "ESP_ERR_OTA_VALIDATE_FAILED")
    for i in range(0, len(TEMPLATE), 4096):
        block = TEMPLATE[i:i + 4096]
        nxt.writeblocks(i // 4096, block + b"\xff" * (4096 - len(block)))
    nxt.set_boot()
    assert P(P.BOOT).info()[2] == nxt.info()[2] and P(P.RUNNING).info()[4] == "ota_0"
    P.mark_app_valid_cancel_rollback()  # acts on the active (new) entry, as ESP-IDF does
    seq, _label, state, _crc = flashsim.read_otadata(P.flash)[1]
    assert (seq, state) == (2, VALID)


# ------------------------------------------------------------------ both interpreters

def test_shim_selfcheck(interp, path):
    # The self-check holds 64 KB buffers for the shim, not the package: give it room.
    res = run_scenario(interp, "shim_selfcheck.py", env={"ESP32_FLASH": str(path)}, heap="1m")
    assert "machine.reset()" in res.stdout and "after reset" not in res.stdout
    assert (res["running"], res["boot"], res["next"], res["next_of_next"]) == ("ota_0", "ota_0", "ota_1", "ota_0")
    assert res["info"] == [0, 16, 65536, 3145728, "ota_0", False]
    assert res["repr"] == "<Partition type=0, subtype=16, address=65536, size=3145728, label=ota_0, encrypted=0>"
    assert res["eq"] == [False, False]  # no ==, as the board: compare info()[2]
    assert res["find_app"] == ["ota_0", "ota_1"]
    assert res["find_data"] == ["nvs", "otadata", "phy_init", "vfs"]
    assert res["find_ota1"] == ["ota_1"] and res["find_label"] == ["nvs"]
    assert res["data_by_label"] == [1, 0]
    assert res["unknown_label"] == ["OSError", 2]
    assert res["ioctl"] == [0, 0, 0, 768, 4096]
    assert res["ioctl6_past_end"] == ["OSError", -260] and res["ioctl6_last"] == 0
    assert res["wb2_twice_ok"] is True and res["wb2_counts"] == [1, 4096, 1, 4096]
    assert res["wb3_unerased"][0] == "FlashWriteError" and "0x310000" in res["wb3_unerased"][1]
    assert res["wb3_counts"] == [0] and res["wb3_after_erase_ok"] is True
    assert res["rb_offset"] == list(range(100, 108)) and res["rb_erased"] == [255] * 8
    assert res["rb_past_end"] == ["OSError", -260] and res["rb_beyond"] == ["OSError", -258]
    assert res["wb2_unaligned_len"] == ["OSError", -260]
    assert res["wb3_partial"] is None and res["wb3_partial_data"] == [255, 255, 0, 1, 2, 255, 255, 255]
    assert res["set_boot_bad"] == ["OSError", -5379] and res["boot_after_bad"] == "ota_0"
    assert res["mark_valid"] is None
    assert res["bs512_ioctl"] == [6144, 512, -22] and res["bs512_kept"] == [True, True, True]
    assert res["nvs"] == [-7, 3, "abc", ["OSError", -4354], ["OSError", -4364]]
    assert res["nvs_erased"] == ["OSError", -4354]
    assert res["machine"] == [6, 160000000]
    if interp == "micropython":
        assert res["heap_lock_bites"] is True  # the check below can fail
        assert res["zero_alloc_failed_at"] is None
        # 2-arg 4096 + ioctl(6) + 2-arg 64 KB + setup + erase 4096 + erase 64 KB
        assert res["zero_alloc_stats"][0] == 6


def test_a_new_process_is_a_reboot(interp, path):
    with flashsim.Flash(str(path)) as fl:
        flashsim.set_boot(fl, put_image(fl, "ota_1", TEMPLATE))
    # The self-check holds 64 KB buffers for the shim, not the package: give it room.
    res = run_scenario(interp, "shim_selfcheck.py", env={"ESP32_FLASH": str(path)}, heap="1m")
    assert (res["running"], res["boot"], res["next"]) == ("ota_1", "ota_1", "ota_0")
    with flashsim.Flash(str(path)) as fl:
        # the import booted ota_1 (NEW -> PENDING_VERIFY); the script then marked it valid
        assert entry(fl, 1)[:2] == (2, VALID)
        assert flashsim.boot(fl) == "ota_1"


# ------------------------------------------------------------------ chip revision window

# ESP-IDF's rule (bootloader_common_check_chip_validity() in bootloader_support/src/
# bootloader_common_loader.c, and app_update's check behind esp_https_ota): refused when
# !ESP_CHIP_REV_ABOVE(rev, min_chip_rev_full), i.e. rev < min, with no value of min meaning
# "none" (0xFFFF is v655.35: no chip has it); refused when IS_MAX_REV_SET(max) (max not 0 and not
# 0xFFFF) and rev > max. The table is that rule for a v3.0 chip, written out by hand.
@pytest.mark.parametrize("min_rev, max_rev, ok", [
    (0, 0, True), (0, 0xFFFF, True), (300, 0xFFFF, True), (300, 300, True), (100, 399, True),
    (301, 0xFFFF, False), (0, 299, False), (0, 1, False),
    pytest.param(0xFFFF, 0xFFFF, False, marks=pytest.mark.case(
        "image min_chip_rev_full 0xFFFF (flashsim verify and the package's chip check)", "refused: not 'no minimum'")),
    (0xFFFF, 0, False), (0xFFFE, 0xFFFF, False),
])
def test_verify_image_chip_revision_window(flash, monkeypatch, min_rev, max_rev, ok):
    import imagetools

    monkeypatch.setattr(flashsim, "CHIP_REVISION", 300)
    image = imagetools.with_chip_revisions(TEMPLATE, min_rev, max_rev)
    why = flashsim.verify_image(flash, put_image(flash, "ota_1", image))
    assert (why is None) == ok, why
    if not ok:
        assert "chip revision" in why
    # The package's own check (lib/esp_https_ota/chip.py) draws the same line.
    from interpreters import LIB

    if str(LIB) not in sys.path:
        sys.path += [str(LIB), str(SHIMS / "cpython")]  # appended: the stdlib keeps precedence
    from esp_https_ota import chip
    from esp_https_ota.errors import OTAError
    from esp_https_ota.image import ImageHeader

    try:
        chip.check(ImageHeader(image), 0, 300)
        package_ok = True
    except OTAError as e:
        assert e.code == 0x10A  # ESP_ERR_INVALID_VERSION
        package_ok = False
    assert package_ok == ok


# ------------------------------------------------------------------ power-cut and trusting set_boot modes

CUT_SCRIPT = """
import sys
import flashsim
fl = flashsim.Flash(sys.argv[1])
if sys.argv[2] != "0":
    fl.power_cut(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1")
try:
    try:
        fl.erase(0x310000, 0x4000)  # op 1: four sectors of 0x00
        fl.write(0x310000, b"\\x11" * 4096)  # op 2
        fl.write(0x311000, b"\\x22" * 64)  # op 3
        print("RESULT {}")
    except BaseException as e:
        print("EXCEPT", repr(e))
finally:
    print("FINALLY")
"""


def predicted(seed, op, salt, n):
    """flashsim's tear choice, computed here on the host: the same on both interpreters."""
    import powercut

    return powercut.cut_random(seed, op, salt, n)


@pytest.mark.case("flashsim power cut: torn multi-sector erase, torn write, cut after a write, no cut",
                  "SIGKILL at op k, prefix geometry as seeded, no finally/except runs")
def test_power_cut_tears_and_kills(interp, path, tmp_path):
    script = tmp_path / "cut.py"
    script.write_text(CUT_SCRIPT)

    def run(op, seed, after):
        with flashsim.Flash(str(path)) as fl:  # old data under the four sectors
            fl.erase(OTA_1, 0x4000)
            fl.write(OTA_1, b"\x00" * 0x4000)
        res = run_scenario(interp, script, str(path), op, seed, int(after), env={"PYTHONPATH": str(SHIMS),
                           "MICROPYPATH": ".frozen:" + str(SHIMS)}, check=False)
        with open(path, "rb") as f:
            f.seek(OTA_1)
            return res, f.read(0x4000)

    seen = set()
    for seed in range(6):
        res, data = run(1, seed, False)
        assert res.returncode == -9 and "FINALLY" not in res.stdout and "EXCEPT" not in res.stdout, res.output()
        full = predicted(seed, 1, "sectors", 4)
        part = predicted(seed, 1, "bytes", 1024)
        assert "POWERCUT op=1 erase 0x310000+0x4000 torn: %d whole sectors then %d bytes" % (full, part * 4) in res.stderr
        cut = full * 4096 + part * 4
        assert data == b"\xff" * cut + b"\x00" * (0x4000 - cut)
        seen.add(cut)
    assert len(seen) >= 3  # the seed moves the tear
    res, data = run(2, 7, False)
    keep = predicted(7, 2, "bytes", 1024) * 4
    assert res.returncode == -9 and "POWERCUT op=2 write 0x310000+4096 torn: %d bytes" % keep in res.stderr
    assert data == b"\x11" * keep + b"\xff" * (0x4000 - keep)
    res, data = run(2, 7, True)
    assert res.returncode == -9 and "POWERCUT op=2 after write" in res.stderr and "FINALLY" not in res.stdout
    assert data == b"\x11" * 4096 + b"\xff" * 0x3000
    res, data = run(0, 0, False)
    assert res.returncode == 0 and res.result == {} and "FINALLY" in res.stdout
    assert data == b"\x11" * 4096 + b"\x22" * 64 + b"\xff" * (0x3000 - 64)


@pytest.mark.case("trusting set_boot (ESP32_SETBOOT_TRUST=1) on a corrupt image", "otadata points at it; the bootloader falls back")
def test_trusting_set_boot_skips_the_image_check(path, monkeypatch):
    bad = bytearray(TEMPLATE)
    bad[1000] ^= 0x01
    with flashsim.Flash(str(path)) as fl:
        put_image(fl, "ota_1", bytes(bad))
        with pytest.raises(OSError):  # the default, as the board: set_boot re-verifies
            flashsim.set_boot(fl, part(fl, "ota_1"))
    monkeypatch.setenv("ESP32_FLASH", str(path))
    monkeypatch.setenv("ESP32_SETBOOT_TRUST", "1")
    sys.modules.pop("esp32", None)
    esp32 = importlib.import_module("esp32")
    try:
        esp32.Partition("ota_1").set_boot()  # no check: otadata now selects the corrupt image
        assert flashsim.get_boot_partition(esp32.flash).label == "ota_1"
        assert flashsim.boot(esp32.flash) == "ota_0"  # the bootloader's own verify falls back
    finally:
        esp32.flash.close()
        sys.modules.pop("esp32", None)
