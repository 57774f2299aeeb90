# A whole OTA the way main.py on a board does it: check the clock, download, validate,
# switch the boot partition, reset. Runs unchanged on an ESP32 (after Wi-Fi is up, e.g. in
# boot.py) and, in `make test` / `make demo`, on the MicroPython unix port with the shims.
#
# On a board put the URL and the CA certificate in ota_config.json:
#   {"url": "https://fw.example.com/app.bin", "cert_pem_file": "ca.pem"}
# On the unix port: micropython ota_main.py URL CA_PEM_FILE
import sys
import time

import esp32
import machine
import esp_https_ota as ota


def load_settings():
    if len(sys.argv) >= 3:
        return sys.argv[1], sys.argv[2]
    import json

    with open("ota_config.json") as f:
        cfg = json.load(f)
    return cfg["url"], cfg["cert_pem_file"]


def set_clock():
    # mbedTLS checks certificate dates against the RTC: an unset clock (year 2000) makes
    # every certificate "not yet valid". Boards get the time from NTP first.
    if time.localtime()[0] >= 2024:
        return
    try:
        import ntptime

        ntptime.settime()
    except (ImportError, OSError) as e:
        print("warning: could not set the clock (%s); TLS may reject the certificate" % e)


def main():
    url, ca_file = load_settings()
    with open(ca_file) as f:
        ca_pem = f.read()
    set_clock()
    running = esp32.Partition(esp32.Partition.RUNNING)
    print("running from", running.info()[4], "- updating from", url)

    h = ota.begin({"http_config": {"url": url, "cert_pem": ca_pem}})
    try:
        desc = ota.get_img_desc(h)
        print("new firmware: project %r version %r, IDF %s, built %s %s" % (
            desc.project_name, desc.version, desc.idf_ver, desc.date, desc.time))
        size = ota.get_image_size(h)
        shown = -1
        while ota.perform(h) == ota.ESP_ERR_HTTPS_OTA_IN_PROGRESS:
            done = ota.get_image_len_read(h)
            pct = done * 100 // size if size > 0 else -1
            if pct // 10 != shown // 10:
                shown = pct
                print("  %7d / %d bytes (%d%%)" % (done, size, pct))
        if not ota.is_complete_data_received(h):
            raise ota.OTAError(ota.ESP_FAIL, "download incomplete")
        total = ota.get_image_len_read(h)
    except BaseException:
        ota.abort(h)
        raise
    ota.finish(h)
    boot = esp32.Partition(esp32.Partition.BOOT)
    print("OTA OK: %d bytes; next boot runs %s" % (total, boot.info()[4]))
    print("resetting")
    machine.reset()


main()
