# Port of ESP-IDF's examples/system/ota/advanced_https_ota: begin/perform/finish by hand, skip
# an image that is already running, show progress, and handle rollback on the next boot.
#
# On a board: import advanced_ota; advanced_ota.advanced_ota_example_task(URL, "ca.pem")
# On the unix port (tests): micropython advanced_ota.py URL CA_PEM_FILE
import sys

import machine
import esp_https_ota as ota

TAG = "advanced_https_ota_example"


def validate_image_header(new_app_info):
    """Skip the update when the image is the running firmware. Stock MicroPython builds leave
    version empty, so then the ELF's SHA-256 decides."""
    running = ota.get_app_description()
    print(TAG, "Running firmware version: %r" % running.version)
    if new_app_info.version or running.version:
        same = new_app_info.version == running.version
    else:
        same = new_app_info.app_elf_sha256 == running.app_elf_sha256
    if same:
        print(TAG, "Current running version is the same as a new. We will not continue the update.")
        return False
    return True


def http_client_init_cb(client):
    # Headers the server may need, e.g. a device token, go here.
    client.set_header("Custom-Header", "Value")
    return ota.ESP_OK


def advanced_ota_example_task(url, ca_file):
    print(TAG, "Starting Advanced OTA example")
    with open(ca_file) as f:
        cert = f.read()
    config = {"url": url, "cert_pem": cert, "timeout_ms": 5000, "keep_alive_enable": True}
    ota_config = {"http_config": config, "http_client_init_cb": http_client_init_cb,
                  "partial_http_download": True, "max_http_request_size": 16384}
    try:
        h = ota.begin(ota_config)
    except ota.OTAError as e:
        print(TAG, "ESP HTTPS OTA Begin failed:", e)
        return False
    try:
        app_desc = ota.get_img_desc(h)
        if not validate_image_header(app_desc):
            ota.abort(h)
            return False
        print(TAG, "New firmware version: %r" % app_desc.version)
        size = ota.get_image_size(h)
        shown = -1
        while ota.perform(h) == ota.ESP_ERR_HTTPS_OTA_IN_PROGRESS:
            done = ota.get_image_len_read(h)
            if size > 0 and done * 10 // size != shown:
                shown = done * 10 // size
                print(TAG, "Image bytes read: %d of %d" % (done, size))
        if not ota.is_complete_data_received(h):
            print(TAG, "Complete data was not received.")
            ota.abort(h)
            return False
    except ota.OTAError as e:
        print(TAG, "ESP_HTTPS_OTA upgrade failed:", e)
        ota.abort(h)
        return False
    try:
        ota.finish(h)
    except ota.OTAError as e:
        if e.code == ota.ESP_ERR_OTA_VALIDATE_FAILED:
            print(TAG, "Image validation failed, image is corrupted")
        print(TAG, "ESP_HTTPS_OTA upgrade failed:", e)
        return False
    print(TAG, "ESP_HTTPS_OTA upgrade successful. Rebooting ...")
    machine.reset()


def on_boot():
    """After the reset: a new image is pending verification until it says it works."""
    print(TAG, "Running partition:", ota.get_running_partition().info()[4])
    ota.mark_app_valid_cancel_rollback()
    print(TAG, "App is valid, rollback cancelled successfully")


if __name__ == "__main__":
    if len(sys.argv) >= 3:
        if advanced_ota_example_task(sys.argv[1], sys.argv[2]) is False:
            sys.exit(1)
    else:
        on_boot()
