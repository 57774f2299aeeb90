# esp_https_ota for MicroPython: ESP-IDF's esp_https_ota API (the esp_https_ota_ prefix dropped).
# This module is the public API only: the OTA itself lives in handle.py.
from .errors import *  # noqa: F401,F403  (ESP_OK, ESP_ERR_*, OTAError, err_to_name)
from .events import *  # noqa: F401,F403  (ESP_HTTPS_OTA_* ids, event_handler_register/unregister)
from .handle import (  # noqa: F401
    begin, perform, finish, abort, esp_https_ota, get_img_desc, get_image_len_read, get_image_size,
    get_status_code, is_complete_data_received,
)
from .decrypt import DecryptArgs  # noqa: F401
from .image import AppDesc  # noqa: F401
from .ota_ops import (  # noqa: F401  app_update's helpers, by their ESP-IDF names
    get_running_partition, get_next_update_partition, get_partition_description, get_app_description,
    mark_app_valid_cancel_rollback, check_rollback_is_possible, mark_app_invalid_rollback_and_reboot,
)

__version__ = "0.1.0"
