# The end of finish(), loaded only then (the download's code has left RAM by now): the image's
# signature, for a signed image, then the boot partition, which changes only here.
from micropython import const

from .errors import OTAError, ESP_FAIL, ESP_ERR_NO_MEM, ESP_ERR_OTA_VALIDATE_FAILED
from .events import post, ESP_HTTPS_OTA_UPDATE_BOOT_PARTITION, ESP_HTTPS_OTA_FINISH

_OSERR_VALIDATE_FAILED = const(-0x1503)  # esp32.Partition.set_boot() on a bad image


def boot(partition, written, keys):
    # Check the `written`-byte image in `partition` against the signature_verify_keys `keys`
    # (signature.py), then make it the boot partition and post the events.
    try:
        from .signature import check

        check(partition, written, keys)
    except MemoryError:
        raise OTAError(ESP_ERR_NO_MEM, "finish() ran out of heap checking for a signature: boot partition unchanged")
    try:
        partition.set_boot()
    except OSError as e:
        if e.args and e.args[0] == _OSERR_VALIDATE_FAILED:
            raise OTAError(ESP_ERR_OTA_VALIDATE_FAILED, "the bootloader's check of the written image failed")
        raise OTAError(ESP_FAIL, "setting the boot partition failed (%s)" % e)
    post(ESP_HTTPS_OTA_UPDATE_BOOT_PARTITION, partition.info()[1])
    post(ESP_HTTPS_OTA_FINISH)
