# Run after the reset that follows an OTA: shows which partition booted and its app
# description, then marks the new firmware valid so the bootloader keeps it (rollback).
import esp32
import esp_https_ota as ota

running = esp32.Partition(esp32.Partition.RUNNING)
desc = ota.get_app_description()  # esp_app_get_description(): the running app's
print("booted", running.info()[4], "- project %r version %r" % (desc.project_name, desc.version))
ota.mark_app_valid_cancel_rollback()
print("marked valid: rollback cancelled")
