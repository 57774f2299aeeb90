# Device side of `make bench` (throughput, live heap, flash work), for the MicroPython unix port.
# usage: ota_bench.py MODE URL CA_PEM_PATH [KEY=VALUE config ...]
#   tls:       a bare read loop of the same file (TLS for https://): the throughput ceiling
#   ota:       a whole OTA through begin()/perform()/finish(), timed after a warm-up (below)
#   heap:      the same, sampling the live heap after begin(), after EVERY perform() and before finish()
#   tls-heap:  the bare loop, sampling after every 4096-byte read; reports its own buffer's size
# Live heap = gc.collect(); gc.mem_alloc(), minus the same once all code is loaded. Only the
# package's public API is used; a begin()/perform()/abort() beforehand loads the modules the
# package imports lazily, so that the heap figure is data, not code, and the timing excludes
# first-time imports (modules the package unloads after use, the pipeline's on abort(), are
# kept loaded here; chip.py, unloaded during the OTA, is loaded again, as on a board).
# Prints RESULT {json}.
import gc
import json
import sys
import time

import esp32  # noqa: F401  (the chip: on a board this module is C and uses no GC heap)

mode, url, ca_path = sys.argv[1], sys.argv[2], sys.argv[3]
if mode in ("ota", "heap"):
    import esp_https_ota as ota
with open(ca_path) as f:
    ca_pem = f.read()
cfg = {"http_config": {"url": url, "cert_pem": ca_pem}}
for arg in sys.argv[4:]:
    k, _, v = arg.partition("=")
    cfg[k] = True if v == "true" else int(v)
if url.startswith("http://"):
    cfg["allow_http_insecure_transport"] = True
res = {}
ref = 0


def live():
    gc.collect()
    return gc.mem_alloc() - ref


def tls_loop(sample):
    global ref
    import binascii
    import socket

    scheme, _, rest = url.partition("://")
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    gc.collect()
    ref = gc.mem_alloc()
    t0 = time.ticks_us()
    sock = socket.socket()
    sock.connect(socket.getaddrinfo(host, int(port))[0][-1])
    if scheme == "https":
        import tls

        ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
        ctx.verify_mode = tls.CERT_REQUIRED
        ctx.load_verify_locations(binascii.a2b_base64(ca_pem.split("-----")[2]))
        sock = ctx.wrap_socket(sock, server_hostname=host)
    sock.write(("GET /%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, host)).encode())
    left = -1
    while True:
        line = sock.readline()
        if line in (b"\r\n", b""):
            break
        if line[:15].lower() == b"content-length:":
            left = int(line[15:])
    before = live() if sample else 0
    buf = bytearray(4096)
    own = live() - before if sample else 0  # this loop's own read buffer, as the GC heap counts it
    peak = live() if sample else 0
    total = 0
    while left > 0:
        n = sock.readinto(buf, min(left, 4096))
        if not n:
            break
        left -= n
        total += n
        if sample:
            peak = max(peak, live())
    sock.close()
    res["own_buffer"] = own
    return time.ticks_diff(time.ticks_us(), t0), total, peak


def ota_run(sample):
    global ref
    # Warm-up: load the modules the package imports lazily, so that the heap reference point
    # and the timing below start with the package's code loaded.
    h = ota.begin(cfg)
    ota.perform(h)
    loaded = dict((k, v) for k, v in sys.modules.items() if k.startswith("esp_https_ota."))
    ota.abort(h)  # which unloads the pipeline's modules: put them back, so the figure is data
    sys.modules.update(loaded)
    h = loaded = None
    gc.collect()
    ref = gc.mem_alloc()
    esp32.flash.reset_stats()  # count the OTA's flash work only (the boot wrote otadata)
    t0 = time.ticks_us()
    h = ota.begin(cfg)
    res["begin_us"] = time.ticks_diff(time.ticks_us(), t0)
    peak = live() if sample else 0
    samples = 1
    while ota.perform(h) == ota.ESP_ERR_HTTPS_OTA_IN_PROGRESS:
        if sample:
            peak = max(peak, live())
            samples += 1
    total = ota.get_image_len_read(h)
    t1 = time.ticks_us()
    if sample:  # after the last perform(), which is also right before finish()
        peak = max(peak, live())
        samples += 1
    ota.finish(h)  # set_boot() re-verifies the whole image, as the chip's does
    res["us_with_finish"] = time.ticks_diff(time.ticks_us(), t0)
    res["samples"] = samples
    st = esp32.flash.stats
    res["flash"] = {"erase_sizes": dict((str(k), v) for k, v in st["erase_sizes"].items()),
                    "written_bytes": st["written_bytes"]}
    return time.ticks_diff(t1, t0), total, peak


if mode in ("tls", "tls-heap"):
    us, total, peak = tls_loop(mode == "tls-heap")
else:
    us, total, peak = ota_run(mode == "heap")
res.update({"us": us, "bytes": total, "peak_live": peak})
print("RESULT", json.dumps(res))
