# One OTA through the public API with the power-loss shim armed (or not: a clean run that counts
# the flash ops). Under CPython or the MicroPython unix port.
# usage: power_cut.py URL CA_PEM_PATH [KEY=VALUE ...]
#   KEY=VALUE: config fields (ints and true/false parsed), e.g. partial_http_download=true, plus
#     decrypt_xor=N    decrypt_cb undoes XOR N after dropping enc_img_header_size header bytes
#     progress=PATH    after each ESP_HTTPS_OTA_WRITE_FLASH event the byte count is saved in PATH
#                      (what an app keeps in NVS for ota_resumption's ota_image_bytes_written)
# The cut itself is set by the environment (ESP32_FLASH_CUT, _SEED, _AFTER; see shims/esp32.py):
# the process then dies inside a flash op and prints no RESULT. A run that completes prints
# `RESULT {json}`: ok, code/msg on failure, ops (erase + write calls since the chip booted),
# running (the partition this boot runs), write_events.
import json
import sys

import esp32
import esp_https_ota as ota
from scenario_args import options


def save_progress(path, n):
    f = open(path, "w")
    f.write(str(n))
    f.close()


def main():
    url, ca_path = sys.argv[1], sys.argv[2]
    opts = options(sys.argv[3:])
    xor = opts.pop("decrypt_xor", None)
    progress = opts.pop("progress", None)
    with open(ca_path) as f:
        config = {"http_config": {"url": url, "cert_pem": f.read()}}
    config.update(opts)
    if xor is not None:
        def decrypt_cb(args, ctx):
            n = args.data_in_len
            k = ctx[0] if ctx[0] < n else n  # the toy format's header: dropped
            ctx[0] -= k
            data = args.data_in
            out = bytearray(n - k)
            for i in range(n - k):
                out[i] = data[k + i] ^ xor
            args.data_out = out
            args.data_out_len = n - k
            return ota.ESP_OK

        config["decrypt_cb"] = decrypt_cb
        config["decrypt_user_ctx"] = [opts.get("enc_img_header_size", 0)]
    writes = [0]

    def on_event(arg, base, event_id, data):
        if event_id == ota.ESP_HTTPS_OTA_WRITE_FLASH:
            writes[0] += 1
            if progress:
                save_progress(progress, data)

    ota.event_handler_register(on_event)
    res = {"running": esp32.Partition(esp32.Partition.RUNNING).info()[4]}
    try:
        ota.esp_https_ota(config)
        res["ok"] = True
    except ota.OTAError as e:
        res["ok"] = False
        res["code"] = e.code
        res["msg"] = str(e)
    res["ops"] = esp32.flash.ops
    res["write_events"] = writes[0]
    print("RESULT", json.dumps(res))


main()
