# Many whole OTAs in one process, under CPython or the MicroPython unix port.
# usage: ota_repeat.py URL CA_PEM_PATH COUNT [KEY=VALUE config ...]
# Prints RESULT: per OTA whether it succeeded, and the live heap after gc.collect() once it
# returned (MicroPython: gc.mem_alloc() bytes; CPython: sys.getallocatedblocks(), since
# tracemalloc would make the run ten times slower).
import gc
import json
import sys

import esp32
import esp_https_ota as ota


def live():
    gc.collect()
    blocks = getattr(sys, "getallocatedblocks", None)
    return blocks() if blocks else gc.mem_alloc()

url, ca_path, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(ca_path) as f:
    cert = f.read()
extra = {}
for arg in sys.argv[4:]:
    k, _, v = arg.partition("=")
    extra[k] = True if v == "true" else int(v)
results = [None] * count  # made before the first OTA: their growth would look like a leak
heap = [0] * count
target = esp32.Partition(esp32.Partition.RUNNING).get_next_update()
for i in range(count):
    config = {"http_config": {"url": url, "cert_pem": cert}}
    config.update(extra)
    try:
        ota.esp_https_ota(config)
        results[i] = True
    except ota.OTAError as e:
        results[i] = str(e)
    config = None
    heap[i] = live()
print("RESULT", json.dumps({"ok": results, "heap": heap, "boot": esp32.Partition(esp32.Partition.BOOT).info()[4],
                            "target": target.info()[4]}))
