# Port of ESP-IDF's examples/system/ota/simple_ota_example: one call does the whole OTA, an
# event handler logs progress, and the board restarts into the new firmware.
#
# On a board: Wi-Fi up and the clock set first (see README), the CA in ca.pem, then
#   import simple_ota; simple_ota.simple_ota_task("https://fw.example.com/app.bin", "ca.pem")
# On the unix port (tests): micropython simple_ota.py URL CA_PEM_FILE
import sys

import machine
import esp_https_ota as ota

TAG = "simple_ota_example"


def event_handler(arg, event_base, event_id, event_data):
    if event_base != ota.ESP_HTTPS_OTA_EVENT:
        return
    if event_id == ota.ESP_HTTPS_OTA_START:
        print(TAG, "OTA started")
    elif event_id == ota.ESP_HTTPS_OTA_CONNECTED:
        print(TAG, "Connected to server")
    elif event_id == ota.ESP_HTTPS_OTA_GET_IMG_DESC:
        print(TAG, "Reading Image Description")
    elif event_id == ota.ESP_HTTPS_OTA_VERIFY_CHIP_ID:
        print(TAG, "Verifying chip id of new image: %d" % event_data)
    elif event_id == ota.ESP_HTTPS_OTA_VERIFY_CHIP_REVISION:
        print(TAG, "Verifying chip revision of new image: %d" % event_data)
    elif event_id == ota.ESP_HTTPS_OTA_DECRYPT_CB:
        print(TAG, "Callback to decrypt function")
    elif event_id == ota.ESP_HTTPS_OTA_WRITE_FLASH:
        pass  # ESP_LOGD in the C example: too chatty for the console
    elif event_id == ota.ESP_HTTPS_OTA_UPDATE_BOOT_PARTITION:
        print(TAG, "Boot partition updated. Next Partition: %d" % event_data)
    elif event_id == ota.ESP_HTTPS_OTA_FINISH:
        print(TAG, "OTA finish")
    elif event_id == ota.ESP_HTTPS_OTA_ABORT:
        print(TAG, "OTA abort")


def simple_ota_task(url, ca_file):
    print(TAG, "Starting OTA example task")
    with open(ca_file) as f:
        server_cert_pem = f.read()
    config = {"url": url, "cert_pem": server_cert_pem, "keep_alive_enable": True}
    ota_config = {"http_config": config}
    print(TAG, "Attempting to download update from %s" % config["url"])
    ota.event_handler_register(event_handler)
    try:
        ota.esp_https_ota(ota_config)
    except ota.OTAError as e:
        print(TAG, "Firmware upgrade failed:", e)
        return False
    print(TAG, "OTA Succeed, Rebooting...")
    machine.reset()


if __name__ == "__main__" and len(sys.argv) >= 3:
    if simple_ota_task(sys.argv[1], sys.argv[2]) is False:
        sys.exit(1)
