# One OTA through the public API, under CPython or the MicroPython unix port.
# usage: ota_run.py MODE URL CA_PEM_PATH [KEY=VALUE ...]
#   MODE: oneshot | steps | abort (abort after `perform_calls` perform() calls)
#   KEY=VALUE: config fields (ints and true/false parsed), e.g. bulk_flash_erase=true;
#   http.KEY=VALUE sets http_config.KEY, e.g. http.username=ota http.user_agent=...;
#   verify_keys=PATH[,PATH] reads PEM public keys into signature_verify_keys;
#   oom=head|finish raises MemoryError in the image head check (the first perform()) or in
#   finish()'s signature check (reading the running partition), as a board short of heap would;
#   gc_threshold=N sets the application's gc.threshold before the OTA
# Prints `RESULT {json}`: ok, code/name/msg on failure, events, app description, counters, the
# package's modules the OTA imported, and gc.threshold() afterwards.
import builtins
import gc
import json
import sys

import esp32
import esp_https_ota as ota
from scenario_args import options


class _OutOfHeap:
    def __getattr__(self, name):
        raise MemoryError("injected")


def _out_of_heap_reading(label):
    # Reads of partition `label` raise MemoryError from now on.
    read = esp32.Partition.readblocks

    def readblocks(self, *args):
        if self.info()[4] == label:
            raise MemoryError("injected")
        return read(self, *args)

    esp32.Partition.readblocks = readblocks


def main():
    mode, url, ca_path = sys.argv[1], sys.argv[2], sys.argv[3]
    opts = options(sys.argv[4:])
    perform_calls = opts.pop("perform_calls", 5)
    # write_events=last keeps only the latest WRITE_FLASH event (a 16 MiB image posts 4000).
    last_write_only = opts.pop("write_events", None) == "last"
    init_header = opts.pop("init_header", None)  # Name:value set by http_client_init_cb
    init_ret = opts.pop("init_ret", None)  # what http_client_init_cb returns
    decrypt_xor = opts.pop("decrypt_xor", None)  # decrypt_cb undoes XOR with this byte
    decrypt_fail_at = opts.pop("decrypt_fail_at", None)  # decrypt_cb returns ESP_FAIL on this call
    verify_keys = opts.pop("verify_keys", None)  # PATH[,PATH...]: PEM files for signature_verify_keys
    oom = opts.pop("oom", None)
    gc_every = opts.pop("gc_threshold", None)
    if opts.pop("plain_delta", False):  # the delta kernels' plain fallbacks, as without viper
        class _NoNative:
            pass

        sys.modules["esp_https_ota._delta_viper"] = _NoNative()
    delta_base = opts.pop("delta_base_label", None)  # delta_base as the esp32.Partition of this label
    http_config = {"url": url}
    if ca_path != "-":
        with open(ca_path) as f:
            http_config["cert_pem"] = f.read()
    for k in ("timeout_ms", "max_redirection_count", "buffer_size"):
        if k in opts:
            http_config[k] = opts.pop(k)
    for k in [k for k in opts if k.startswith("http.")]:
        http_config[k[5:]] = opts.pop(k)
    bad = opts.pop("bad_handler", False)
    config = {"http_config": http_config}
    config.update(opts)
    if delta_base is not None:
        config["delta_base"] = esp32.Partition(delta_base)
    if verify_keys is not None:
        config["signature_verify_keys"] = []
        for path in str(verify_keys).split(","):
            with open(path) as f:
                config["signature_verify_keys"].append(f.read())
    if init_header is not None or init_ret is not None:
        def init_cb(client):
            if init_header:
                name, _, value = init_header.partition(":")
                client.set_header(name, value)
            return init_ret

        config["http_client_init_cb"] = init_cb

    if decrypt_xor is not None:
        # A toy "pre-encrypted" format: enc_img_header_size bytes of header, then the image
        # XOR decrypt_xor. The callback drops the header (so output length != input length)
        # and holds back each call's last byte until the next (so one call may output nothing).
        state = {"skip": opts.get("enc_img_header_size", 0), "held": b"", "calls": 0}

        def decrypt_cb(args, ctx):
            ctx["calls"] += 1
            if ctx["calls"] == decrypt_fail_at:
                return ota.ESP_FAIL
            data = bytes(args.data_in[:args.data_in_len])
            if ctx["skip"]:
                k = min(ctx["skip"], len(data))
                data = data[k:]
                ctx["skip"] -= k
            data = ctx["held"] + data
            ctx["held"] = data[-1:]
            out = bytearray(data[:-1])
            for i in range(len(out)):
                out[i] ^= decrypt_xor
            args.data_out = out
            args.data_out_len = len(out)
            if args.data_in_len < 4096:  # the body's last block: release what was held
                args.data_out = out + bytes([ctx["held"][0] ^ decrypt_xor]) if ctx["held"] else out
                args.data_out_len = len(args.data_out)
                ctx["held"] = b""
            return ota.ESP_OK

        config["decrypt_cb"] = decrypt_cb
        config["decrypt_user_ctx"] = state

    events = []

    def on_event(arg, base, event_id, data):
        if last_write_only and event_id == ota.ESP_HTTPS_OTA_WRITE_FLASH and events and events[-1][0] == event_id:
            events[-1][1] = data
            return
        events.append([event_id, data])

    ota.event_handler_register(on_event)
    if bad:
        def bad_handler(arg, base, event_id, data):
            raise RuntimeError("handler bug")

        ota.event_handler_register(bad_handler)
    running = esp32.Partition(esp32.Partition.RUNNING)
    res = {"running": running.info()[4], "next": running.get_next_update().info()[4]}
    h = None
    if oom == "head":
        sys.modules["esp_https_ota.chip"] = _OutOfHeap()  # what the head check imports
    esp32.flash.reset_stats()  # the OTA's own flash work (reported as "flash")
    if gc_every is not None:
        gc.threshold(gc_every)
    res["gc_threshold_before"] = gc.threshold()  # (MicroPython keeps it in whole heap blocks)
    imported = set()
    plain_import = builtins.__import__

    def recording_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level:  # the package's own relative imports: ".x" or "from . import x"
            imported.update([name] if name else fromlist or ())
        return plain_import(name, globals, locals, fromlist, level)

    builtins.__import__ = recording_import
    try:
        if mode == "oneshot":
            ota.esp_https_ota(config)
        else:
            h = ota.begin(config)
            res["status"] = ota.get_status_code(h)
            res["size"] = ota.get_image_size(h)
            desc = ota.get_img_desc(h)
            res["desc"] = {"project_name": desc.project_name, "version": desc.version,
                           "idf_ver": desc.idf_ver, "secure_version": desc.secure_version}
            calls = 0
            while True:
                if mode == "abort" and calls >= perform_calls:
                    res["len_read_at_abort"] = ota.get_image_len_read(h)
                    ota.abort(h)
                    break
                err = ota.perform(h)
                calls += 1
                if err != ota.ESP_ERR_HTTPS_OTA_IN_PROGRESS:
                    break
            if mode == "steps":
                res["perform_calls"] = calls
                res["len_read"] = ota.get_image_len_read(h)
                res["written"] = ota.get_image_written(h)  # inflated bytes for a compressed body
                res["complete"] = ota.is_complete_data_received(h)
                if oom == "finish":
                    _out_of_heap_reading(running.info()[4])
                ota.finish(h)
        res["ok"] = True
    except ota.OTAError as e:
        res["ok"] = False
        res["code"] = e.code
        res["name"] = ota.err_to_name(e.code)
        res["msg"] = str(e)
        if h is not None:
            try:
                ota.abort(h)
            except ota.OTAError:
                pass  # finish() already released it
    builtins.__import__ = plain_import
    res["imported"] = sorted(imported)
    res["gc_threshold"] = gc.threshold()
    res["events"] = events
    st = esp32.flash.stats
    res["flash"] = {"erase_calls": st["erase_calls"], "erased_bytes": st["erased_bytes"],
                    "write_calls": st["write_calls"], "written_bytes": st["written_bytes"],
                    "read_calls": st["read_calls"]}
    print("RESULT", json.dumps(res))


main()
