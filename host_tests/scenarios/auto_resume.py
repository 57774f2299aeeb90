# One OTA with ota_resumption and no ota_image_bytes_written: the package keeps the progress in
# NVS. Each process is one boot of the board; ESP32_FLASH_CUT cuts the power (see shims/esp32.py).
# usage: auto_resume.py MODE URL CA_PEM_PATH [KEY=VALUE ...]
#   MODE: oneshot | steps (begin, get_img_desc, perform until done, finish) | twice (a one-shot,
#   and after it fails a second one-shot in the same process) | abort (abort() after
#   perform_calls perform() calls)
#   KEY=VALUE: config fields (ints and true/false parsed), e.g. partial_http_download=true;
#   decrypt_xor=N with enc_img_header_size=H: a toy XOR decrypt_cb that drops the H-byte header
#   (which starts b"ENC-") when the body begins with it: a resumed body begins past it.
# Writes "W <bytes>" to stderr at each WRITE_FLASH (it survives a power cut); prints
# RESULT {ok, code, msg, writes, len_after_begin, version, nvs: {done, meta (hex)}, commits}.
import json
import sys

import esp32
import esp_https_ota as ota
from scenario_args import options

mode, url, ca_path = sys.argv[1], sys.argv[2], sys.argv[3]
opts = options(sys.argv[4:])
perform_calls = opts.pop("perform_calls", 3)
xor = opts.pop("decrypt_xor", None)
with open(ca_path) as f:
    config = {"http_config": {"url": url, "cert_pem": f.read()}, "ota_resumption": True}
config.update(opts)
if xor is not None:
    state = {"skip": opts.get("enc_img_header_size", 0), "first": True}

    def decrypt_cb(args, ctx):
        data = bytes(args.data_in[:args.data_in_len])
        if state["first"]:
            state["first"] = False
            if data[:4] != b"ENC-":
                state["skip"] = 0
        if state["skip"]:  # the toy header: dropped
            k = min(state["skip"], len(data))
            state["skip"] -= k
            data = data[k:]
        args.data_out = bytes(b ^ xor for b in data)
        args.data_out_len = len(args.data_out)
        return ota.ESP_OK

    config["decrypt_cb"] = decrypt_cb

writes = []


def on_event(arg, base, event_id, data):
    if event_id == ota.ESP_HTTPS_OTA_WRITE_FLASH:
        writes.append(data)
        sys.stderr.write("W %d\n" % data)


ota.event_handler_register(on_event)
res = {"ok": True, "code": 0, "msg": ""}
try:
    if mode == "oneshot":
        ota.esp_https_ota(config)
    elif mode == "twice":
        try:
            ota.esp_https_ota(config)
        except ota.OTAError as e:
            res["first"] = [e.code, str(e)]
            ota.esp_https_ota(config)
    else:
        h = ota.begin(config)
        res["len_after_begin"] = ota.get_image_len_read(h)
        res["version"] = ota.get_img_desc(h).version
        calls = 0
        while ota.perform(h) == ota.ESP_ERR_HTTPS_OTA_IN_PROGRESS:
            calls += 1
            if mode == "abort" and calls == perform_calls:
                break
        if mode == "abort":
            ota.abort(h)
        else:
            ota.finish(h)
except ota.OTAError as e:
    res = {"ok": False, "code": e.code, "msg": str(e), "first": res.get("first")}
nvs = esp32.NVS("esp_https_ota")
saved = {}
try:
    saved["done"] = nvs.get_i32("done")
    buf = bytearray(1024)
    saved["meta"] = bytes(buf[:nvs.get_blob("meta", buf)]).hex()
except OSError:
    pass
res.update(writes=writes, nvs=saved, commits=esp32.NVS.commits,
           boot=esp32.Partition(esp32.Partition.BOOT).info()[4])
print("RESULT " + json.dumps(res))
