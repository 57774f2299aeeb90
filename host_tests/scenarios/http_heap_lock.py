# MicroPython only: the HTTP client's steady-state reads (Content-Length and chunked bodies)
# run under micropython.heap_lock(), which turns any allocation into a MemoryError.
# usage: http_heap_lock.py URL CA_PEM_PATH
import json
import sys

import micropython
from esp_https_ota.config import http_config
from esp_https_ota.http import HTTPClient
from esp_https_ota.ranges import open_source, run

with open(sys.argv[2]) as f:
    http = HTTPClient(http_config({"url": sys.argv[1], "cert_pem": f.read()}, False))
steps = open_source(http, 0, 0)
body, _ = run(steps, next(steps))  # the body: the source the OTA reads
buf = bytearray(4096)
total = 0
locked_reads = 0
first = body.readinto(buf, len(buf))  # let anything lazy happen once, outside the lock
total += first
failed = None
n = 0  # bound before the lock: a new global would grow the module's dict
while True:
    micropython.heap_lock()
    try:
        n = body.readinto(buf, len(buf))
    except MemoryError:
        n = -1
    micropython.heap_unlock()
    if n < 0:
        failed = total
        break
    if n == 0:
        break
    total += n
    locked_reads += 1
http.close()
print("RESULT", json.dumps({"total": total, "locked_reads": locked_reads, "failed_at": failed}))
