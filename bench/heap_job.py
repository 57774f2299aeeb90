# Device side of the heap figures: bench/heap.py compiles this file to .mpy and runs it as
# `micropython -X heapsize=NNk -m heap_job MODE URL [CA_PEM_PATH]` in an empty directory.
#   ota:      esp_https_ota.esp_https_ota(cfg), nothing else
#   bare:     no package: the same download in 4096-byte blocks into one preallocated buffer,
#             writeblocks() of each block into the next update partition, then set_boot()
#   resident: prints "RESULT <live after nothing> <after import esp_https_ota> <after an OTA>",
#             after micropython.qstr_info()'s line before the import and after the OTA
# Success is judged by the host (exit status and the flash file), so ota and bare print nothing.
import esp32  # the chip shims first (.mpy): on a board they are C; esp32 brings flashsim
import machine  # noqa: F401
import gc
import sys

gc.collect()
mode, url = sys.argv[1], sys.argv[2]
ca = None
if len(sys.argv) > 3:
    with open(sys.argv[3]) as f:
        ca = f.read()


def bare():
    import socket

    scheme, _, rest = url.partition("://")
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    sock = socket.socket()
    sock.connect(socket.getaddrinfo(host, int(port))[0][-1])
    if scheme == "https":
        import binascii
        import tls

        ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
        ctx.verify_mode = tls.CERT_REQUIRED
        ctx.load_verify_locations(binascii.a2b_base64(ca.split("-----")[2]))
        sock = ctx.wrap_socket(sock, server_hostname=host)
    sock.write(("GET /%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, host)).encode())
    left = -1
    while True:
        line = sock.readline()
        if line in (b"\r\n", b""):
            break
        if line[:15].lower() == b"content-length:":
            left = int(line[15:])
    buf = bytearray(4096)
    mv = memoryview(buf)
    part = esp32.Partition(esp32.Partition.RUNNING).get_next_update()
    block = 0
    while left > 0:
        want = min(left, 4096)
        got = 0
        while got < want:  # a read may return less than asked: fill the block
            n = sock.readinto(mv[got:want])
            if not n:
                raise OSError("body ended early")
            got += n
        part.writeblocks(block, buf)  # the last block's tail past the image is don't-care
        block += 1
        left -= got
    sock.close()
    part.set_boot()


def config():
    cfg = {"http_config": {"url": url}}
    if ca is not None:
        cfg["http_config"]["cert_pem"] = ca
    if url.startswith("http://"):
        cfg["allow_http_insecure_transport"] = True
    return cfg


if mode == "bare":
    bare()
elif mode == "ota":
    import esp_https_ota

    esp_https_ota.esp_https_ota(config())
elif mode == "resident":
    import micropython

    cfg = config()
    gc.collect()
    m0 = gc.mem_alloc()
    micropython.qstr_info()  # "qstr pool: n_pool=.., n_qstr=.." before the package...
    import esp_https_ota

    gc.collect()
    m1 = gc.mem_alloc()
    esp_https_ota.esp_https_ota(cfg)
    gc.collect()
    micropython.qstr_info()  # ...and after an OTA: runtime qstrs are never freed
    print("RESULT", m0, m1, gc.mem_alloc())
else:
    raise SystemExit("unknown mode " + mode)
