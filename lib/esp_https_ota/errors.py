# ESP-IDF error codes (esp_err.h, esp_ota_ops.h, esp_flash_err.h, esp_http_client.h,
# esp_https_ota.h) with their numeric values, and the one exception the package raises.
from micropython import const

# "name code" pairs in one string, served as the module's constants by __getattr__ (so
# `from .errors import ESP_ERR_NO_MEM` works): 40 globals would each keep a qstr and a dict slot
# in RAM for good, and a name now becomes a qstr only where some module uses it. Reading an
# ESP_ERR_* through __getattr__ allocates a little: modules bind the names once, at import.
ESP_OK = 0  # these two are module globals as well: a callback returns them on every call
ESP_FAIL = -1
_CODES = const(
    " "
    "ESP_OK 0 ESP_FAIL -1 "
    "ESP_ERR_NO_MEM 0x101 ESP_ERR_INVALID_ARG 0x102 ESP_ERR_INVALID_STATE 0x103 ESP_ERR_INVALID_SIZE 0x104 "
    "ESP_ERR_NOT_FOUND 0x105 ESP_ERR_NOT_SUPPORTED 0x106 ESP_ERR_TIMEOUT 0x107 ESP_ERR_INVALID_RESPONSE 0x108 "
    "ESP_ERR_INVALID_CRC 0x109 ESP_ERR_INVALID_VERSION 0x10A "
    "ESP_ERR_OTA_BASE 0x1500 ESP_ERR_OTA_PARTITION_CONFLICT 0x1501 ESP_ERR_OTA_SELECT_INFO_INVALID 0x1502 "
    "ESP_ERR_OTA_VALIDATE_FAILED 0x1503 ESP_ERR_OTA_SMALL_SEC_VER 0x1504 ESP_ERR_OTA_ROLLBACK_FAILED 0x1505 "
    "ESP_ERR_OTA_ROLLBACK_INVALID_STATE 0x1506 "
    "ESP_ERR_FLASH_OP_FAIL 0x6001 ESP_ERR_FLASH_OP_TIMEOUT 0x6002 "
    "ESP_ERR_HTTP_BASE 0x7000 ESP_ERR_HTTP_MAX_REDIRECT 0x7001 ESP_ERR_HTTP_CONNECT 0x7002 "
    "ESP_ERR_HTTP_WRITE_DATA 0x7003 ESP_ERR_HTTP_FETCH_HEADER 0x7004 ESP_ERR_HTTP_INVALID_TRANSPORT 0x7005 "
    "ESP_ERR_HTTP_CONNECTING 0x7006 ESP_ERR_HTTP_EAGAIN 0x7007 ESP_ERR_HTTP_CONNECTION_CLOSED 0x7008 "
    "ESP_ERR_HTTP_NOT_MODIFIED 0x7009 ESP_ERR_HTTP_RANGE_NOT_SATISFIABLE 0x700A "
    "ESP_ERR_HTTP_READ_TIMEOUT 0x700B ESP_ERR_HTTP_INCOMPLETE_DATA 0x700C "
    "ESP_ERR_HTTP_REDIRECT_DOWNGRADE 0x700D "
    "ESP_ERR_HTTPS_OTA_BASE 0x9000 ESP_ERR_HTTPS_OTA_IN_PROGRESS 0x9001 "
)


class OTAError(OSError):
    """Raised by every failing call. `.code` is the ESP-IDF esp_err_t (also `.errno`);
    str() names the code and says what was wrong (field, byte offset or HTTP status)."""

    def __init__(self, code, msg):
        super().__init__(code, msg)
        self.code = code
        self.msg = msg

    def __str__(self):
        return "%s: %s" % (err_to_name(self.code), self.msg)


def __getattr__(name):
    # ESP_OK, ESP_FAIL, ESP_ERR_*: the code after `name` in _CODES.
    at = _CODES.find(" " + name + " ") if name.startswith("ESP_") else -1
    if at < 0:
        raise AttributeError(name)
    start = at + len(name) + 2
    return int(_CODES[start:_CODES.find(" ", start)], 0)


def err_to_name(code):
    """esp_err_to_name(): the constant's name for an error code (the _BASE names are not errors)."""
    end = 0
    while True:
        start = _CODES.find("ESP_", end)
        if start < 0:
            return "UNKNOWN ERROR 0x%x" % code
        mid = _CODES.find(" ", start)
        end = _CODES.find(" ", mid + 1)
        if int(_CODES[mid + 1:end], 0) == code and _CODES[mid - 5:mid] != "_BASE":
            return _CODES[start:mid]


def forget(name):
    # Unload submodule `name` once its work is done: on a board the code of an imported module
    # stays in RAM, and config parsing or the chip check run once per OTA. Imported again if needed.
    import sys

    sys.modules.pop("esp_https_ota." + name, None)
    sys.modules["esp_https_ota"].__dict__.pop(name, None)
