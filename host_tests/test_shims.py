"""The CPython stand-ins are no more lenient than the board: the `tls` shim against the
behaviour of MicroPython's tls recorded in https_server.py's docstring, and the package's
answer to each (a reset mid-body is an error, never a short image)."""

import socket as std_socket
import sys

import pytest

from conftest import run_scenario
from https_server import OTAServer
from interpreters import SHIMS

sys.path.append(str(SHIMS / "cpython"))  # appended: the stdlib's socket keeps precedence
import tls  # noqa: E402  (the shim)

BODY = bytes(range(256)) * 64  # 16 KiB


@pytest.fixture(scope="module")
def srv(pki, tmp_path_factory):
    d = tmp_path_factory.mktemp("shimfw")
    (d / "body.bin").write_bytes(BODY)
    with OTAServer(d, pki) as s:
        yield s


def context(pki):
    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = tls.CERT_REQUIRED
    with open(pki["ca_der"], "rb") as f:
        ctx.load_verify_locations(f.read())
    return ctx


def get(srv, pki, path, timeout=None):
    port = int(srv.url().split(":")[2].split("/")[0])
    raw = std_socket.create_connection(("127.0.0.1", port))
    if timeout:
        raw.settimeout(timeout)
    s = context(pki).wrap_socket(raw, server_hostname="localhost")
    s.write(b"GET /%s HTTP/1.1\r\nHost: localhost\r\n\r\n" % path.encode())
    while s.readline() not in (b"\r\n", b""):
        pass
    return s


@pytest.mark.case("tls shim: CERT_REQUIRED without server_hostname", "ValueError, as the board")
def test_cert_required_needs_server_hostname(srv, pki):
    port = int(srv.url().split(":")[2].split("/")[0])
    raw = std_socket.create_connection(("127.0.0.1", port))
    with pytest.raises(ValueError, match="requires server_hostname"):
        context(pki).wrap_socket(raw)
    raw.close()


@pytest.mark.case("tls shim: TCP reset mid-body", "OSError(104), as the board")
def test_reset_raises_econnreset(srv, pki):
    s = get(srv, pki, "body.bin?cut_after=5000&cut_rst=1")
    buf = bytearray(len(BODY))
    with pytest.raises(OSError) as e:
        s.readinto(buf)
    assert e.value.errno == 104
    s.close()


@pytest.mark.case("tls shim: read after a timeout", "OSError(110) again at once (sticky), as the board")
def test_timeout_is_sticky(srv, pki):
    s = get(srv, pki, "body.bin?stall_after=1000&stall_s=2", timeout=0.3)
    buf = bytearray(4000)
    with pytest.raises(OSError) as first:
        s.readinto(buf)
    with pytest.raises(OSError) as again:
        s.readinto(buf, 1)
    assert first.value.errno == again.value.errno == 110
    s.close()


@pytest.mark.case("TCP reset in the middle of the image body", "ESP_ERR_HTTP_CONNECTION_CLOSED or INCOMPLETE_DATA")
def test_reset_mid_body_is_an_error_not_a_short_image(interp, srv, pki, tmp_path):
    import flashsim_path  # noqa: F401
    import flashsim
    from interpreters import IMAGES

    template = (IMAGES / "esp32-app-template.bin").read_bytes()
    flash = tmp_path / "flash.bin"
    flashsim.create_flash(str(flash), app_image=template)
    (srv_dir := tmp_path / "fw").mkdir()
    (srv_dir / "app.bin").write_bytes(template)
    with OTAServer(srv_dir, pki) as s:
        res = run_scenario(interp, "ota_run.py", "oneshot", s.url("app.bin", cut_after=60000, cut_rst=1), pki["ca"],
                           env={"ESP32_FLASH": str(flash)})
    assert res["ok"] is False
    assert res["code"] in (0x7008, 0x700C), res.result  # CONNECTION_CLOSED, INCOMPLETE_DATA
    assert "image bytes" in res["msg"] and "104" in res["msg"], res["msg"]  # where, and why
    assert flashsim.boot(flashsim.Flash(str(flash))) == "ota_0"
