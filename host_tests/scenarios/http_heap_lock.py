# MicroPython only: the HTTP client's steady-state reads (Content-Length and chunked bodies)
# run under micropython.heap_lock(), which turns any allocation into a MemoryError.
# usage: http_heap_lock.py URL CA_PEM_PATH
import json
import sys

import micropython
from esp_https_ota.http import HTTPClient

with open(sys.argv[2]) as f:
    client = HTTPClient({"url": sys.argv[1], "cert_pem": f.read()})
client.get()
buf = bytearray(4096)
total = 0
locked_reads = 0
first = client.readinto(buf, len(buf))  # let anything lazy happen once, outside the lock
total += first
failed = None
while True:
    micropython.heap_lock()
    try:
        n = client.readinto(buf, len(buf))
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
client.close()
print("RESULT", json.dumps({"total": total, "locked_reads": locked_reads, "failed_at": failed}))
