# esp_https_ota_config_t as a dict: every field of current ESP-IDF, checked by name and type.
# Errors name the field; fields that cannot mean anything on MicroPython are accepted as such.
from micropython import const

from .errors import OTAError, ESP_ERR_INVALID_ARG, ESP_ERR_NOT_SUPPORTED

_DEFAULT_REQUEST_SIZE = const(65536)  # max_http_request_size 0 with partial_http_download
_BLOCK = const(4096)

# field: the check its value must pass ("bool", "int", "callable", "any")
_FIELDS = {
    "http_config": "dict",
    "http_client_init_cb": "callable",
    "bulk_flash_erase": "bool",
    "partial_http_download": "bool",
    "max_http_request_size": "int",
    "buffer_caps": "int",  # heap capabilities: MicroPython has one GC heap, so no meaning here
    "ota_resumption": "bool",
    "ota_image_bytes_written": "int",
    "decrypt_cb": "callable",
    "decrypt_user_ctx": "any",
    "enc_img_header_size": "int",
    "partition": "any",
    # MicroPython additions, named to say what they do:
    "allow_http_insecure_transport": "bool",  # permit plain http:// (ESP-IDF: CONFIG_ESP_HTTPS_OTA_ALLOW_HTTP)
    "write_buffer_size": "int",  # bytes gathered per erase-and-write (a multiple of 4096)
}


def _fail(field, why):
    raise OTAError(ESP_ERR_INVALID_ARG, "config field %r %s" % (field, why))


class Config:
    """The checked configuration, with ESP-IDF's defaults filled in."""

    def __init__(self, config):
        if not isinstance(config, dict):
            raise OTAError(ESP_ERR_INVALID_ARG, "config must be a dict (esp_https_ota_config_t)")
        for key in config:
            kind = _FIELDS.get(key)
            if kind is None:
                _fail(key, "is not an esp_https_ota_config_t field")
            value = config[key]
            if value is None or kind == "any":
                continue
            if kind == "bool" and not isinstance(value, bool):
                _fail(key, "must be True or False, not %r" % (value,))
            if kind == "int" and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                _fail(key, "must be a non-negative int, not %r" % (value,))
            if kind == "callable" and not callable(value):
                _fail(key, "must be callable")
            if kind == "dict" and not isinstance(value, dict):
                _fail(key, "must be a dict (esp_http_client_config_t)")
        get = config.get
        self.http_config = get("http_config")
        if self.http_config is None:
            _fail("http_config", "is required")
        self.http_client_init_cb = get("http_client_init_cb")
        self.bulk_flash_erase = bool(get("bulk_flash_erase"))
        self.range_size = 0
        if get("partial_http_download"):
            self.range_size = get("max_http_request_size") or _DEFAULT_REQUEST_SIZE
        # Resume after the bytes already written (whole 4 KiB sectors only: a partly written
        # sector's tail was never written or may be torn).
        self.resume_from = 0
        if get("ota_resumption"):
            self.resume_from = (get("ota_image_bytes_written") or 0) // _BLOCK * _BLOCK
        self.decrypt_cb = get("decrypt_cb")
        self.decrypt_user_ctx = get("decrypt_user_ctx")
        self.enc_img_header_size = get("enc_img_header_size") or 0
        self.allow_http = bool(get("allow_http_insecure_transport"))
        self.write_buffer_size = get("write_buffer_size") or _BLOCK
        if self.write_buffer_size % _BLOCK:
            _fail("write_buffer_size", "must be a multiple of %d, not %d" % (_BLOCK, self.write_buffer_size))
        self.partition = _staging_partition(get("partition"))


def _staging_partition(value):
    """The update partition asked for: an esp32.Partition, or ESP-IDF's {"staging": ..., "final": ...}."""
    if value is None:
        return None
    if isinstance(value, dict):
        for key in value:
            if key not in ("staging", "final", "finalize_with_copy"):
                _fail("partition", "has no field %r (staging, final, finalize_with_copy)" % (key,))
        if value.get("finalize_with_copy") or (value.get("final") is not None and value.get("final") != value.get("staging")):
            raise OTAError(ESP_ERR_NOT_SUPPORTED, "config field 'partition': a final partition other than staging "
                           "(copy after download) is not supported")
        value = value.get("staging")
        if value is None:
            return None
    if not hasattr(value, "info") or not hasattr(value, "writeblocks"):
        _fail("partition", "must be an esp32.Partition, not %r" % (value,))
    return value
