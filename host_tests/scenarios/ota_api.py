# The API's state machine and config checks, case by case, in one process.
# usage: ota_api.py URL CA_PEM_PATH
# Prints RESULT {case: [code or 0, message]}.
import json
import sys

import esp32
import esp_https_ota as ota

URL, CA = sys.argv[1], sys.argv[2]
with open(CA) as f:
    CA_PEM = f.read()


def cfg(**extra):
    c = {"http_config": {"url": URL, "cert_pem": CA_PEM}}
    c.update(extra)
    return c


def run(case):
    try:
        case()
        return [0, ""]
    except ota.OTAError as e:
        return [e.code, str(e)]


def begin_written():
    h = ota.begin(cfg())
    ota.perform(h)  # header checked, first bytes handed to the writer
    ota.perform(h)
    return h


def finished():
    h = ota.begin(cfg())
    while ota.perform(h) == ota.ESP_ERR_HTTPS_OTA_IN_PROGRESS:
        pass
    ota.finish(h)
    return h


def aborted():
    h = ota.begin(cfg())
    ota.abort(h)
    return h


def second_begin():
    h = ota.begin(cfg())
    try:
        ota.begin(cfg())
    finally:
        ota.abort(h)


def begin_after_failed_oneshot():
    try:
        ota.esp_https_ota(cfg(http_config={"url": URL.replace("app.bin", "missing.bin"), "cert_pem": CA_PEM}))
    except ota.OTAError:
        pass
    ota.abort(ota.begin(cfg()))  # nothing left open by the failed one-shot


def get_img_desc_after_write():
    h = begin_written()
    try:
        ota.get_img_desc(h)
    finally:
        ota.abort(h)


running = esp32.Partition(esp32.Partition.RUNNING)
results = {}
state_cases = {
    "perform_after_finish": lambda: ota.perform(finished()),
    "finish_after_abort": lambda: ota.finish(aborted()),
    "abort_after_finish": lambda: ota.abort(finished()),
    "perform_after_abort": lambda: ota.perform(aborted()),
    "get_img_desc_after_write": get_img_desc_after_write,
    "second_begin_while_open": second_begin,
    "begin_after_failed_oneshot": begin_after_failed_oneshot,
    "perform_not_a_handle": lambda: ota.perform(object()),
}
config_cases = {
    "unknown_field": lambda: ota.begin(cfg(no_such_field=1)),
    "http_config_missing": lambda: ota.begin({}),
    "http_config_not_dict": lambda: ota.begin({"http_config": "https://x"}),
    "config_not_dict": lambda: ota.begin([1]),
    "bulk_flash_erase_not_bool": lambda: ota.begin(cfg(bulk_flash_erase="yes")),
    "max_http_request_size_negative": lambda: ota.begin(cfg(max_http_request_size=-1)),
    "http_client_init_cb_not_callable": lambda: ota.begin(cfg(http_client_init_cb=5)),
    "decrypt_cb_not_callable": lambda: ota.begin(cfg(decrypt_cb="x")),
    "enc_img_header_size_str": lambda: ota.begin(cfg(enc_img_header_size="16")),
    "write_buffer_size_odd": lambda: ota.begin(cfg(write_buffer_size=1000)),
    "write_buffer_size_huge": lambda: ota.begin(cfg(write_buffer_size=1 << 40)),
    "partition_str": lambda: ota.begin(cfg(partition="ota_1")),
    "partition_running": lambda: ota.begin(cfg(partition=running)),
    "partition_data": lambda: ota.begin(cfg(partition=esp32.Partition("nvs"))),
    "partition_final_copy": lambda: ota.begin(cfg(partition={"staging": running.get_next_update(), "finalize_with_copy": True})),
    "ota_resumption_from_zero": lambda: ota.abort(ota.begin(cfg(ota_resumption=True, ota_image_bytes_written=0))),
    "url_missing": lambda: ota.begin({"http_config": {"cert_pem": CA_PEM}}),
    "http_config_unknown_field": lambda: ota.begin({"http_config": {"url": URL, "cert_pem": CA_PEM, "colour": 1}}),
    # found by test_fuzz.py: keys that are not str, and bytes where text is needed
    "key_not_str": lambda: ota.begin({"http_config": {"url": URL, "cert_pem": CA_PEM, 7: 1}}),
    "user_agent_bytes": lambda: ota.begin({"http_config": {"url": URL, "cert_pem": CA_PEM, "user_agent": b"ua"}}),
    "username_bytes": lambda: ota.begin({"http_config": {"url": URL, "cert_pem": CA_PEM, "username": b"u"}}),
}
for name, case in state_cases.items():
    results[name] = run(case)
for name, case in config_cases.items():
    results[name] = run(case)

# Accepted fields that mean nothing here, and the partition as ESP-IDF's struct: a whole OTA works.
def accepted():
    h = ota.begin(cfg(buffer_caps=4, partition={"staging": running.get_next_update()}, ota_image_bytes_written=0))
    ota.abort(h)


results["accepted_fields"] = run(accepted)
# Counters on spent handles are -1, as in ESP-IDF.
h = finished()
results["counters_after_finish"] = [ota.get_image_len_read(h), ota.get_image_size(h), ota.get_status_code(h)]
print("RESULT", json.dumps(results))
