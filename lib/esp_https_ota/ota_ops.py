# The app_update helpers ESP-IDF users call next to esp_https_ota (esp_ota_ops.h), on top of
# MicroPython's esp32.Partition: running/next partitions, app descriptions, rollback.
from .errors import (OTAError, ESP_ERR_NOT_FOUND, ESP_ERR_OTA_ROLLBACK_FAILED)
from .image import HEAD_LEN, app_desc


def get_running_partition():
    import esp32

    return esp32.Partition(esp32.Partition.RUNNING)


def get_next_update_partition():
    return get_running_partition().get_next_update()


def get_partition_description(partition):
    """esp_ota_get_partition_description(): the AppDesc of the app in `partition`.

    Raises OTAError ESP_ERR_NOT_FOUND if it holds no app image with an app description."""
    buf = bytearray(HEAD_LEN)
    partition.readblocks(0, buf)
    try:
        return app_desc(buf)
    except OTAError as e:
        raise OTAError(ESP_ERR_NOT_FOUND, "no app in partition %s: %s" % (partition.info()[4], e.msg))


def get_app_description():
    """esp_app_get_description(): the running app's AppDesc (stock MicroPython leaves
    version and project_name empty; app_elf_sha256 still identifies the build)."""
    return get_partition_description(get_running_partition())


def mark_app_valid_cancel_rollback():
    """esp_ota_mark_app_valid_cancel_rollback(): keep the running app after this boot."""
    import esp32

    esp32.Partition.mark_app_valid_cancel_rollback()


def check_rollback_is_possible():
    """esp_ota_check_rollback_is_possible(): another OTA slot holds an app to go back to."""
    try:
        get_partition_description(get_next_update_partition())
        return True
    except (OTAError, OSError):
        return False


def mark_app_invalid_rollback_and_reboot():
    """esp_ota_mark_app_invalid_rollback_and_reboot(): boot the other app now.

    Raises OTAError ESP_ERR_OTA_ROLLBACK_FAILED (and stays running) if there is none."""
    other = get_next_update_partition()
    if not check_rollback_is_possible():
        raise OTAError(ESP_ERR_OTA_ROLLBACK_FAILED, "no app in %s to roll back to" % other.info()[4])
    try:
        other.set_boot()  # re-validates the image
    except OSError as e:
        raise OTAError(ESP_ERR_OTA_ROLLBACK_FAILED, "the app in %s is not bootable (%s)" % (other.info()[4], e))
    import machine

    machine.reset()

