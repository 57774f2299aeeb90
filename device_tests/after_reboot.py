# Run after the reset that follows an OTA: shows which partition booted and its app
# description, then marks the new firmware valid so the bootloader keeps it (rollback).
import esp32
from esp_https_ota.image import AppDesc, HEADER_LEN, SEGMENT_HEADER_LEN, APP_DESC_LEN

running = esp32.Partition(esp32.Partition.RUNNING)
buf = bytearray(HEADER_LEN + SEGMENT_HEADER_LEN + APP_DESC_LEN)
running.readblocks(0, buf)
desc = AppDesc(buf, HEADER_LEN + SEGMENT_HEADER_LEN)
print("booted", running.info()[4], "- project %r version %r" % (desc.project_name, desc.version))
esp32.Partition.mark_app_valid_cancel_rollback()
print("marked valid: rollback cancelled")
