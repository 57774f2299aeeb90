# MicroPython only: every perform() call from the first write to ESP_OK runs under
# micropython.heap_lock(), which turns any allocation into MemoryError. Only begin() and the
# first perform() (which reads and checks the image head) run unlocked.
# usage: perform_heap_lock.py URL CA_PEM_PATH [KEY=VALUE config ...]
#   decrypt_xor=K  a decrypt_cb that undoes XOR K in place into one preallocated buffer and drops
#                  enc_img_header_size bytes first (a callback that itself allocates nothing)
import json
import sys

import esp32
import micropython
import esp_https_ota as ota

with open(sys.argv[2]) as f:
    cfg = {"http_config": {"url": sys.argv[1], "cert_pem": f.read()}}
xor = None
for arg in sys.argv[3:]:
    k, _, v = arg.partition("=")
    if k == "decrypt_xor":
        xor = int(v)
        continue
    cfg[k] = True if v == "true" else int(v)

if xor is not None:
    state = {"skip": cfg.get("enc_img_header_size", 0), "out": bytearray(4096)}

    def decrypt_cb(args, ctx):
        n = args.data_in_len
        src = args.data_in
        out = ctx["out"]
        skip = ctx["skip"]
        if skip > n:
            skip = n
        ctx["skip"] -= skip
        for i in range(skip, n):
            out[i - skip] = src[i] ^ xor
        args.data_out = out
        args.data_out_len = n - skip
        return ota.ESP_OK

    cfg["decrypt_cb"] = decrypt_cb
    cfg["decrypt_user_ctx"] = state

ota.event_handler_register(lambda arg, base, event_id, data: None)  # posting must not allocate either
h = ota.begin(cfg)
commits_after_begin = esp32.NVS.commits  # the shim's count: ota_resumption commits progress in perform()
err = ota.perform(h)  # the head: read, parsed and checked
locked = 0
failed_at = None
while err == ota.ESP_ERR_HTTPS_OTA_IN_PROGRESS:
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
ok = failed_at is None and err == ota.ESP_OK
if ok:
    ota.finish(h)
else:
    ota.abort(h)
print("RESULT", json.dumps({"locked_calls": locked, "failed_at": failed_at, "finished": ok,
                            "nvs_commits_in_perform": esp32.NVS.commits - commits_after_begin}))
