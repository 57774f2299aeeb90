# Device side of `make bench`, for the MicroPython unix port (or a board).
# usage: ota_bench.py MODE URL CA_PEM_PATH [KEY=VALUE config ...]
#   MODE tls:  a bare TLS read loop of the same file (the ceiling for throughput)
#   MODE ota:  a whole esp_https_ota() of it
#   MODE heap / tls-heap: the same, sampling the live GC heap (after gc.collect) as it goes
# Prints RESULT {json}.
import gc
import json
import sys
import time

mode, url, ca_path = sys.argv[1], sys.argv[2], sys.argv[3]
import esp32  # noqa: E402,F401  (the chip: on a board this module is C and uses no GC heap)

if mode != "no-package":
    import esp_https_ota as ota  # noqa: E402
    # Everything an OTA imports, so the baseline holds all code and the figures below are data.
    from esp_https_ota import chip, config, flash, http  # noqa: E402,F401

gc.collect()
import_heap = gc.mem_alloc()
with open(ca_path) as f:
    ca_pem = f.read()
cfg = {"http_config": {"url": url, "cert_pem": ca_pem}}
for arg in sys.argv[4:]:
    k, _, v = arg.partition("=")
    cfg[k] = True if v == "true" else int(v)
if url.startswith("http://"):
    cfg["allow_http_insecure_transport"] = True


def live():
    gc.collect()
    return gc.mem_alloc() - import_heap


def tls_loop(sample, flash_to=None):
    import binascii
    import socket
    import tls

    # Parsed here, not with the package, so that the no-package run loads none of it.
    scheme, _, rest = url.partition("://")
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    port = int(port) if port else (443 if scheme == "https" else 80)
    path = "/" + path
    t0 = time.ticks_us()
    sock = socket.socket()
    sock.connect(socket.getaddrinfo(host, port)[0][-1])
    if scheme == "https":
        ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
        ctx.verify_mode = tls.CERT_REQUIRED
        body = ca_pem.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
        ctx.load_verify_locations(binascii.a2b_base64(body))
        sock = ctx.wrap_socket(sock, server_hostname=host)
    sock.write(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, host)).encode())
    left = -1
    while True:
        line = sock.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            left = int(line[15:])
    buf = bytearray(4096)
    total = 0
    peak = live() if sample else 0
    while left > 0:
        n = sock.readinto(buf, min(left, 4096))
        if not n:
            break
        if flash_to is not None:
            flash_to.writeblocks(total // 4096, buf)
        left -= n
        total += n
        if sample and total % 65536 == 0:
            peak = max(peak, live())
    sock.close()
    return time.ticks_diff(time.ticks_us(), t0), total, peak


res = {"import_heap": import_heap}


def ota_run(sample):
    import esp32

    esp32.flash.reset_stats()  # count the OTA's flash work only (the boot wrote otadata)
    t0 = time.ticks_us()
    h = ota.begin(cfg)
    peak = live() if sample else 0
    calls = 0
    while ota.perform(h) == ota.ESP_ERR_HTTPS_OTA_IN_PROGRESS:
        calls += 1
        if sample and calls % 16 == 0:
            peak = max(peak, live())
    total = ota.get_image_len_read(h)
    t1 = time.ticks_us()
    ota.finish(h)  # set_boot() re-verifies the whole image, as the chip's does
    res["us_with_finish"] = time.ticks_diff(time.ticks_us(), t0)
    return time.ticks_diff(t1, t0), total, peak, esp32.flash.stats


if mode in ("tls", "tls-heap"):
    us, total, peak = tls_loop(mode == "tls-heap")
elif mode == "no-package":
    # The same work without the package: download, write to the update partition, set_boot.
    import esp32

    target = esp32.Partition(esp32.Partition.RUNNING).get_next_update()
    us, total, peak = tls_loop(False, target)
    target.set_boot()
else:
    us, total, peak, stats = ota_run(mode == "heap")
    res["flash"] = {"erase_sizes": dict((str(k), v) for k, v in stats["erase_sizes"].items()),
                    "written_bytes": stats["written_bytes"], "erase_calls": stats["erase_calls"]}
res.update({"us": us, "bytes": total, "peak_live": peak})
print("RESULT", json.dumps(res))
