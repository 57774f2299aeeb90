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
for arg in sys.argv[3:]:
    k, _, v = arg.partition("=")
    cfg[k] = True if v == "true" else int(v)
ota.event_handler_register(lambda arg, base, event_id, data: None)  # a handler: posting must not allocate either
h = ota.begin(cfg)
size = ota.get_image_size(h)
block = cfg.get("write_buffer_size", 4096)
locked = 0
failed_at = None
while True:
    near_edge = ota.get_image_len_read(h) < 2 * block or size - ota.get_image_len_read(h) <= 2 * block
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
