"""Power loss during an OTA: seeded cuts inside the flash ops, then a reboot and the next OTA.

The flash simulator's power-cut mode (shims/esp32.py: ESP32_FLASH_CUT=k, _SEED, _AFTER) tears the
k-th erase or write call of the process (a write programs only a prefix; an erase clears some
sectors and a prefix of the next) and kills the process with SIGKILL, so no finally block runs.
For each mode a clean run first counts the OTA's flash ops N; then each cut picks k in 1..N
(always including N-1 and N, the erase and the write of set_boot()'s otadata entry, and "just
after N"). After the cut the board, booted from the host (flashsim.boot, otadata put back after), must run a
valid image: ota_0, byte for byte the old firmware, unless set_boot()'s otadata write completed
(then ota_1, the new image). Then the next OTA (a normal full one, or for the resumed mode a
resume from the progress the app saved) must succeed and boot its image.

The board has a history: both otadata sectors hold valid entries (seq 3 -> ota_0 running, seq 2
-> an older image in ota_1), so set_boot() rewrites a sector that holds a valid old entry and a
torn rewrite must fall back to the other sector.

Cuts run two at a time in threads (each its own flash file). Counts per mode: CUTS_CPYTHON under
CPython, CUTS_MICROPYTHON under the MicroPython unix port.
"""

import random
import re
import shutil
import struct
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import IMAGES, run_scenario
import flashsim_path  # noqa: F401  (puts shims/ on sys.path)
import flashsim
import imagetools
from https_server import OTAServer

TEMPLATE = (IMAGES / "esp32-app-template.bin").read_bytes()
CUTS_CPYTHON = 30
CUTS_MICROPYTHON = 8
ESP_ERR_OTA_VALIDATE_FAILED = 0x1503
XOR = 0x5A
ENC_HEADER = b"TOY-ENC-HEADER!!"
OTA_0, OTA_1 = 0x10000, 0x310000
OTADATA = 0xD000
SIGKILL_STATUS = -9


def small_app(version, data_len, seed):
    """A real-format, valid ESP32 app, small so each process is cheap: the template's header and
    the first 8 KB of its DROM segment (which opens with esp_app_desc_t), then one IRAM segment
    of seeded random bytes; checksum and SHA-256 recomputed."""
    rnd = random.Random(seed)
    seg0 = TEMPLATE[32:32 + 8192]
    out = bytearray(TEMPLATE[:24])
    out[1] = 2  # segment count
    out += struct.pack("<II", 0x3F400020, len(seg0)) + seg0
    out += struct.pack("<II", 0x40080000, data_len) + rnd.randbytes(data_len)
    out += bytes(15 - len(out) % 16 + 1 + 32)  # padding, checksum byte, SHA-256
    return imagetools.with_version(bytes(imagetools.refresh(out)), version)


OLD_APP = small_app("0.9.0-old", 20000, 1)  # in ota_1 before the OTA (an earlier firmware)
BASE_APP = small_app("1.0.0-base", 24000, 2)  # the running firmware, in ota_0
NEW_APP = small_app("2.0.0-new", 28000, 3)  # the update the cut interrupts (9 sectors)
NEXT_APP = small_app("3.0.0-next", 26000, 4)  # the OTA after the cut
ENC_APP = ENC_HEADER + bytes(b ^ XOR for b in NEW_APP)
assert len(NEW_APP) % 4096 and all(len(a) < 40000 for a in (OLD_APP, BASE_APP, NEW_APP, NEXT_APP))


@pytest.fixture(scope="module")
def fw_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("fw_power")
    (d / "app.bin").write_bytes(NEW_APP)
    (d / "next.bin").write_bytes(NEXT_APP)
    (d / "app.enc").write_bytes(ENC_APP)
    (d / "corrupt.bin").write_bytes(imagetools.flip_byte(NEW_APP, 9000))  # IRAM segment data
    (d / "badhash.bin").write_bytes(imagetools.flip_byte(NEW_APP, len(NEW_APP) - 5))  # SHA-256
    (d / "truncated.bin").write_bytes(NEW_APP[:len(NEW_APP) - 40])  # ends in the padding
    return d


@pytest.fixture(scope="module")
def server(pki, fw_dir):
    with OTAServer(fw_dir, pki) as srv:
        yield srv


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """A flash file of a board with history: ota_0 runs BASE_APP (otadata sector 0, seq 3,
    VALID), ota_1 holds OLD_APP (sector 1, seq 2, VALID)."""
    path = tmp_path_factory.mktemp("board") / "board.bin"
    flashsim.create_flash(str(path), app_image=OLD_APP)  # seq 1 -> ota_0
    with flashsim.Flash(str(path)) as fl:
        table = flashsim.read_partition_table(fl)
        ota0, ota1 = (flashsim.find_first(table, 0, 0xFF, n) for n in ("ota_0", "ota_1"))
        _put(fl, OTA_1, OLD_APP)
        flashsim.set_boot(fl, ota1)
        assert flashsim.boot(fl) == "ota_1"
        flashsim.mark_app_valid(fl)
        _put(fl, OTA_0, BASE_APP)
        flashsim.set_boot(fl, ota0)
        assert flashsim.boot(fl) == "ota_0"
        flashsim.mark_app_valid(fl)
        two = flashsim.read_otadata(fl)
        assert [(e[0], e[2]) for e in two] == [(3, flashsim.OTA_IMG_VALID), (2, flashsim.OTA_IMG_VALID)]
        assert flashsim.boot(fl) == "ota_0"  # a VALID entry: booting changes nothing now
    return path


def _put(fl, addr, image):
    sectors = -(-len(image) // 4096)
    fl.erase(addr, sectors * 4096)
    fl.write(addr, image + b"\xff" * (sectors * 4096 - len(image)))


def boot_peek(path):
    """The partition a reset would start, leaving the file as it was (booting changes otadata's
    states, and the next process boots for itself): otadata is saved and put back."""
    with open(path, "rb") as f:
        f.seek(OTADATA)
        saved = f.read(0x2000)
    with flashsim.Flash(str(path)) as fl:
        label = flashsim.boot(fl)
    with open(path, "r+b") as f:
        f.seek(OTADATA)
        f.write(saved)
    return label


def region(path, addr, n):
    with open(path, "rb") as f:
        f.seek(addr)
        return f.read(n)


# mode: (url, config options, resumed)
MODES = {
    "full": ("app.bin", []),
    "ranged4k": ("app.bin", ["partial_http_download=true", "max_http_request_size=4096"]),
    "ranged16k": ("app.bin", ["partial_http_download=true", "max_http_request_size=16384"]),
    "bulk": ("app.bin", ["bulk_flash_erase=true"]),
    "resumed": ("app.bin", ["ota_resumption=true"]),
    "decrypted": ("app.enc", ["decrypt_xor=%d" % XOR, "enc_img_header_size=%d" % len(ENC_HEADER)]),
}
WHAT = {
    "full": "a full OTA",
    "ranged4k": "a ranged OTA (partial_http_download, 4096-byte requests)",
    "ranged16k": "a ranged OTA (partial_http_download, 16384-byte requests)",
    "bulk": "a bulk_flash_erase OTA (768 sector erases first)",
    "resumed": "a resumed OTA (ota_resumption from a seeded earlier cut; the next OTA resumes from the saved progress)",
    "decrypted": "a decrypt_cb OTA (XOR toy with a 16-byte header)",
}


def prepare_resume(path, done, torn):
    """An earlier OTA of NEW_APP that lost power: its first `done` bytes are in ota_1, the next
    sector is torn (its first `torn` bytes new, the rest OLD_APP's)."""
    with flashsim.Flash(str(path)) as fl:
        fl.erase(OTA_1, done + 4096)
        fl.write(OTA_1, NEW_APP[:done])
        old = (OLD_APP + b"\xff" * 8192)[done + torn:done + 4096]
        fl.write(OTA_1 + done, NEW_APP[done:done + torn] + old)


class Runner:
    """One mode's cuts under one interpreter, against one server."""

    def __init__(self, interp, mode, server, pki, board, tmp_path):
        self.interp, self.mode = interp, mode
        self.server, self.pki, self.board, self.tmp = server, pki, board, tmp_path
        self.url, self.opts = MODES[mode]
        self.counts = {}  # resume offset (0 if not resumed) -> clean op count N
        self.lock = threading.Lock()

    def run(self, flash, url, opts, cut=None):
        env = {"ESP32_FLASH": str(flash)}
        if cut is not None:
            k, seed, after = cut
            env.update(ESP32_FLASH_CUT=str(k), ESP32_FLASH_CUT_SEED=str(seed),
                       ESP32_FLASH_CUT_AFTER="1" if after else "0")
        return run_scenario(self.interp, "power_cut.py", self.server.url(url), self.pki["ca"], *opts,
                            env=env, check=cut is None)

    def fresh(self, name, rnd):
        path = self.tmp / (name + ".bin")
        shutil.copy(self.board, path)
        resume = None
        if self.mode == "resumed":
            done = rnd.randrange(1, len(NEW_APP) // 4096) * 4096
            prepare_resume(path, done, rnd.randrange(0, 4096))
            resume = (done, done + rnd.randrange(0, 4096))  # (bytes in flash, what the app saved)
        return path, resume

    def cut_opts(self, resume, progress):
        opts = list(self.opts)
        if resume is not None:
            opts += ["ota_image_bytes_written=%d" % resume[1], "progress=%s" % progress]
        return opts

    def op_count(self, resume):
        """N, the flash ops of a clean run from the same state (counted once per state)."""
        key = resume[0] if resume else 0
        with self.lock:  # one clean run per state, while the other thread waits
            if key not in self.counts:
                path = self.tmp / ("clean-%d.bin" % key)
                shutil.copy(self.board, path)
                if resume is not None:
                    prepare_resume(path, resume[0], 0)
                res = self.run(path, self.url, self.cut_opts(resume, self.tmp / ("clean-%d.progress" % key)))
                assert res["ok"] is True, res.result
                assert res["running"] == "ota_0"
                assert boot_peek(path) == "ota_1"
                assert region(path, OTA_1, len(NEW_APP)) == NEW_APP
                path.unlink()
                self.counts[key] = res["ops"]
            return self.counts[key]

    def one_cut(self, index, seed):
        """One seeded cut, its reboot and the next OTA; returns (k, after, booted) or raises."""
        rnd = random.Random(seed)
        name = "%s-%d" % (self.mode, index)
        flash, resume = self.fresh(name, rnd)
        progress = self.tmp / (name + ".progress")
        try:
            n = self.op_count(resume)
            k, after = self.pick(rnd, n, index)
            cut = self.run(flash, self.url, self.cut_opts(resume, progress), (k, rnd.randrange(1 << 30), after))
            where = "%s cut %d: op %d of %d%s, seed %d" % (self.mode, index, k, n, " (after)" if after else "", seed)
            assert cut.returncode == SIGKILL_STATUS and cut.result is None, where + "\n" + cut.output()
            assert re.search(r"POWERCUT op=%d " % k, cut.stderr), where + "\n" + cut.output()
            # The reboot: a valid image, the old one unless set_boot's otadata write completed.
            booted = boot_peek(flash)
            want = "ota_1" if (k == n and after) else "ota_0"
            assert booted == want, where
            assert region(flash, OTA_0, len(BASE_APP)) == BASE_APP, where  # the running app is never touched
            if booted == "ota_1":
                assert region(flash, OTA_1, len(NEW_APP)) == NEW_APP, where
            # The next OTA.
            saved = int(progress.read_text()) if progress.exists() else (resume[1] if resume else None)
            if resume is not None and booted == "ota_0" and saved < len(NEW_APP):
                url, opts, image = self.url, self.opts + ["ota_image_bytes_written=%d" % saved], NEW_APP
            else:
                url, opts, image = "next.bin", [], NEXT_APP
            res = self.run(flash, url, opts)
            assert res["ok"] is True, (where, res.result)
            assert res["running"] == booted, where  # the process's own boot agrees with the host's
            target = "ota_0" if booted == "ota_1" else "ota_1"
            assert boot_peek(flash) == target, where
            assert region(flash, OTA_0 if target == "ota_0" else OTA_1, len(image)) == image, where
            return k, after, booted, n
        finally:
            for p in (flash, progress):
                if p.exists():
                    p.unlink()

    def pick(self, rnd, n, index):
        """Cut k in 1..N: the first three cuts are set_boot's otadata erase (N-1) and write (N),
        and just after that write; the rest seeded (bulk: mostly after the 768 erases)."""
        forced = [(n - 1, False), (n, False), (n, True)]
        if index < len(forced):
            return forced[index]
        if self.mode == "bulk" and rnd.random() < 0.6:
            k = rnd.randint(n - 24, n)
        else:
            k = rnd.randint(1, n)
        return k, rnd.random() < 0.2


MODE_PARAMS = [pytest.param(m, id=m, marks=pytest.mark.case(
    "power cut at seeded flash ops (N-1, N, after N, then random; %d under CPython, %d under MicroPython) of %s,"
    " then reboot and the next OTA" % (CUTS_CPYTHON, CUTS_MICROPYTHON, WHAT[m]),
    "boots ota_0 intact (ota_1 once set_boot's otadata write completed); next OTA ESP_OK and boots"))
    for m in MODES]


@pytest.mark.parametrize("mode", MODE_PARAMS)
def test_power_cut(interp, mode, server, pki, board, tmp_path):
    count = CUTS_CPYTHON if interp == "cpython" else CUTS_MICROPYTHON
    runner = Runner(interp, mode, server, pki, board, tmp_path)
    master = random.Random("power-%s-%s" % (mode, interp))
    seeds = [master.randrange(1 << 30) for _ in range(count)]
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(runner.one_cut, range(count), seeds))
    assert len(done) == count
    ks = sorted({k for k, _after, _booted, _n in done})
    n = max(n for *_rest, n in done)
    assert len(ks) >= min(count, n) // 2, ks  # the cuts spread over the ops, not a few
    assert sum(1 for _k, _a, booted, _n in done if booted == "ota_1") >= 1  # the "after N" cut
    print("\n%s %s: %d cuts survived, N=%s, cut ops %s" % (interp, mode, len(done), sorted(runner.counts.values()), ks))


@pytest.mark.parametrize("image", [
    pytest.param("corrupt.bin", marks=pytest.mark.case(
        "corrupt segment byte, set_boot() trusting (ESP32_SETBOOT_TRUST=1)", "ESP_ERR_OTA_VALIDATE_FAILED, otadata untouched")),
    pytest.param("badhash.bin", marks=pytest.mark.case(
        "corrupt appended SHA-256, set_boot() trusting (ESP32_SETBOOT_TRUST=1)", "ESP_ERR_OTA_VALIDATE_FAILED, otadata untouched")),
    pytest.param("truncated.bin", marks=pytest.mark.case(
        "image 40 bytes short, set_boot() trusting (ESP32_SETBOOT_TRUST=1)", "ESP_ERR_OTA_VALIDATE_FAILED, otadata untouched")),
])
def test_verdict_comes_before_set_boot(interp, image, server, pki, board, tmp_path):
    """With a set_boot() that does not re-verify, a bad image must still never reach otadata:
    the package gives its verdict before it calls set_boot()."""
    flash = tmp_path / "flash.bin"
    shutil.copy(board, flash)
    before = region(flash, OTADATA, 0x2000)
    res = run_scenario(interp, "power_cut.py", server.url(image), pki["ca"],
                       env={"ESP32_FLASH": str(flash), "ESP32_SETBOOT_TRUST": "1"})
    assert res["ok"] is False and res["code"] == ESP_ERR_OTA_VALIDATE_FAILED, res.result
    assert region(flash, OTADATA, 0x2000) == before
    with flashsim.Flash(str(flash)) as fl:
        assert flashsim.get_boot_partition(fl).label == "ota_0"
    assert boot_peek(flash) == "ota_0"
    # (test_flashsim.py checks that the trusting set_boot() really points otadata at a bad image.)
