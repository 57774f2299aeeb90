# esp_https_ota for MicroPython: ESP-IDF's esp_https_ota API (the esp_https_ota_ prefix dropped).
# This module is the public API and the one-call OTA: the OTA itself lives in handle.py; app_update's helpers
# (ota_ops.py) and DecryptArgs load on first use, so an application pays RAM only for what it uses.
from micropython import const

from .errors import OTAError, err_to_name, ESP_OK, ESP_FAIL, ESP_ERR_HTTPS_OTA_IN_PROGRESS  # noqa: F401  (more: __getattr__)
from .events import *  # noqa: F401,F403  (ESP_HTTPS_OTA_* ids, event_handler_register/unregister)
from .handle import (  # noqa: F401
    begin, perform, finish, abort, get_img_desc, get_image_len_read, get_image_size,
    get_image_written, get_status_code, is_complete_data_received,
)

__version__ = "0.1.0"

_LAZY = const((  # (submodule, names it provides)
    ("ota_ops", ("get_running_partition", "get_next_update_partition", "get_partition_description",
                 "get_app_description", "mark_app_valid_cancel_rollback", "check_rollback_is_possible",
                 "mark_app_invalid_rollback_and_reboot")),
    ("decrypt", ("DecryptArgs",)),
    ("image", ("AppDesc",)),
    ("policy", ("should_update",)),
    ("aio", ("async_https_ota",)),
))


def __getattr__(name):
    import sys

    if name.startswith("ESP_"):  # ESP_OK, ESP_FAIL, ESP_ERR_*: from errors' table
        return getattr(sys.modules["esp_https_ota.errors"], name)
    module = name  # `from . import x` of a submodule not yet loaded comes here too
    for lazy, names in _LAZY:
        if name in names:
            module = lazy
    try:
        __import__("esp_https_ota." + module)
    except ImportError:
        raise AttributeError(name)
    found = sys.modules["esp_https_ota." + module]
    return found if module == name else getattr(found, name)


def esp_https_ota(config):
    """esp_https_ota(): the whole OTA in one call (begin, perform until done, finish). On success
    the next boot runs the new image (call machine.reset()); on any failure the OTA is aborted,
    the boot partition is untouched, and the OTAError is raised again."""
    h = begin(config)
    try:
        while perform(h) == ESP_ERR_HTTPS_OTA_IN_PROGRESS:
            pass
    except BaseException:
        abort(h)
        raise
    try:
        return finish(h)
    except BaseException:
        post(ESP_HTTPS_OTA_ABORT)  # finish() already released the handle
        raise
