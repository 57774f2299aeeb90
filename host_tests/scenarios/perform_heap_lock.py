# MicroPython only: the steady-state perform() loop under micropython.heap_lock(), which turns
# any allocation into MemoryError. The first and last blocks (head parsing, the tail's partial
# hash) run unlocked; everything between must allocate nothing.
# usage: perform_heap_lock.py URL CA_PEM_PATH [KEY=VALUE config ...]
import json
import sys

import micropython
import esp_https_ota as ota

with open(sys.argv[2]) as f:
    cfg = {"http_config": {"url": sys.argv[1], "cert_pem": f.read()}}
lock_between_ranges = True
image_len = -1
for arg in sys.argv[3:]:
    k, _, v = arg.partition("=")
    if k == "lock_between_ranges":
        lock_between_ranges = v == "true"
        continue
    if k == "image_len":  # for bodies of unknown size (chunked): where the unlocked tail starts
        image_len = int(v)
        continue
    cfg[k] = True if v == "true" else int(v)
range_size = cfg.get("max_http_request_size", 0) if cfg.get("partial_http_download") else 0
ota.event_handler_register(lambda arg, base, event_id, data: None)  # a handler: posting must not allocate either
h = ota.begin(cfg)
size = ota.get_image_size(h)
if size < 0:
    size = image_len
block = cfg.get("write_buffer_size", 4096)
locked = 0
failed_at = None
while True:
    done = ota.get_image_len_read(h)
    near_edge = done < 2 * block or size - done <= 2 * block
    if range_size and not lock_between_ranges and (done % range_size == 0 or done % range_size > range_size - block):
        near_edge = True  # this perform() may send the next Range request: its head allocates
    if near_edge:
        err = ota.perform(h)
    else:
        micropython.heap_lock()
        try:
            err = ota.perform(h)
        except MemoryError:
            err = None
        micropython.heap_unlock()
        if err is None:
            failed_at = ota.get_image_len_read(h)
            break
        locked += 1
    if err != ota.ESP_ERR_HTTPS_OTA_IN_PROGRESS:
        break
ok = failed_at is None
if ok:
    ota.finish(h)
else:
    ota.abort(h)
print("RESULT", json.dumps({"locked_calls": locked, "failed_at": failed_at, "size": size, "finished": ok}))
