# Many OTAs in one process, each against a fault, under CPython or the MicroPython unix port.
# usage: ota_faults.py CASES.json PASSES
#   PASSES: how often the whole list runs; every pass is reported (pass 1 warms up: code paths
#   run for the first time load modules and intern names that stay, as they would on a board)
#   CASES.json: [{"url": ..., "ca": PEM path, "opts": {config fields}, "http": {http_config
#   fields}}, ...]
# For each case: esp_https_ota(config), then what a test needs to judge that it failed safely:
# the code and message; otadata's bytes, the boot partition and the running partition's bytes
# compared with before; open file descriptors (sockets) before begin() and after the call; the
# live heap after gc.collect() before begin() (the next case's figure is this one's "after"). Prints `CASE {json}` for each as it ends (nothing
# piles up in the heap), then `RESULT {json}` with the count and the running partition.
import gc
import hashlib
import json
import os
import sys

import esp32
import esp_https_ota as ota

OTADATA, OTADATA_LEN = 0xD000, 0x2000
RUNNING_CHECKED = 64 * 1024  # the running app's first bytes (the test images are smaller)


def live():
    gc.collect()
    blocks = getattr(sys, "getallocatedblocks", None)
    return blocks() if blocks else gc.mem_alloc()


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def otadata():
    buf = bytearray(OTADATA_LEN)
    esp32.flash.read(OTADATA, buf)
    return hashlib.sha256(buf).digest()


def running_bytes(part):
    h = hashlib.sha256()
    buf = bytearray(4096)
    for block in range(RUNNING_CHECKED // 4096):
        part.readblocks(block, buf)
        h.update(buf)
    return h.digest()


def boot_label():
    return esp32.Partition(esp32.Partition.BOOT).info()[4]


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    cas = {}
    running = esp32.Partition(esp32.Partition.RUNNING)
    otadata()
    for case in cases:  # the CAs are read before the first figure
        if case["ca"] not in cas:
            with open(case["ca"]) as f:
                cas[case["ca"]] = f.read()
    count = 0
    start = live()
    retained = []  # after each pass: what all its OTAs (and those before) left behind
    for _ in range(int(sys.argv[2])):
        for case in cases:
            count += 1
            run(case, cas, running)
        case = None
        retained.append(live() - start)
    cases = None
    print("RESULT " + json.dumps({"count": count, "running": running.info()[4], "heap_end": live(),
                                  "retained": retained}))


def run(case, cas, running):
    """One case; prints `CASE {json}` (printed at once: results do not pile up in the heap)."""
    http = {"url": case["url"], "cert_pem": cas[case["ca"]]}
    http.update(case.get("http", {}))
    config = {"http_config": http}
    config.update(case.get("opts", {}))
    before = (otadata(), boot_label(), running_bytes(running))
    fds, heap = open_fds(), live()
    res = {"ok": True, "code": 0, "msg": ""}
    try:
        ota.esp_https_ota(config)
    except ota.OTAError as e:
        res = {"ok": False, "code": e.code, "msg": str(e)}
    except Exception as e:  # reported, and the test fails on it
        res = {"ok": False, "code": None, "msg": "%s: %s" % (type(e).__name__, e)}
    config = http = None
    res["heap"] = heap  # compared with the next case's (or heap_end): nothing of this one is left then
    res["fds"] = [fds, open_fds()]
    res["otadata_same"] = otadata() == before[0]
    res["boot"] = [before[1], boot_label()]
    res["running_same"] = running_bytes(running) == before[2]
    print("CASE " + json.dumps(res))


main()
