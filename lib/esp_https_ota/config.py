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


# esp_http_client_config_t fields: those used here, and those accepted but meaningless on
# MicroPython (lengths of Python strings, ESP-IDF event loop and transport plumbing).
_USED_FIELDS = ("url", "cert_pem", "client_cert_pem", "client_key_pem", "username", "password",
                "user_agent", "timeout_ms", "max_redirection_count", "disable_auto_redirect",
                "buffer_size", "skip_cert_common_name_check", "common_name", "keep_alive_enable",
                "is_async", "crt_bundle_attach", "use_global_ca_store")
_IGNORED_FIELDS = ("cert_len", "client_cert_len", "client_key_len", "auth_type", "method",
                   "buffer_size_tx", "user_data", "event_handler", "transport_type",
                   "keep_alive_idle", "keep_alive_interval", "keep_alive_count",
                   "max_authorization_retries", "tls_version", "if_name")


def check_http_config(cfg):
    """Reject unknown or ill-typed esp_http_client_config_t fields, naming the field."""
    if not isinstance(cfg, dict):
        raise OTAError(ESP_ERR_INVALID_ARG, "config field 'http_config' must be a dict (esp_http_client_config_t)")
    for key in cfg:
        if key not in _USED_FIELDS and key not in _IGNORED_FIELDS:
            raise OTAError(ESP_ERR_INVALID_ARG, "unknown http_config field %r" % (key,))
    for key in ("url", "cert_pem", "client_cert_pem", "client_key_pem", "username", "password",
                "user_agent", "common_name"):
        v = cfg.get(key)
        if v is not None and not isinstance(v, (str, bytes)):
            raise OTAError(ESP_ERR_INVALID_ARG, "http_config.%s must be a str, not %s" % (key, type(v).__name__))
    for key in ("timeout_ms", "max_redirection_count", "buffer_size"):
        v = cfg.get(key)
        if v is not None and (not isinstance(v, int) or v < 0):
            raise OTAError(ESP_ERR_INVALID_ARG, "http_config.%s must be a non-negative int, got %r" % (key, v))
    if not cfg.get("url"):
        raise OTAError(ESP_ERR_INVALID_ARG, "http_config.url is required")
    if cfg.get("is_async"):
        raise OTAError(ESP_ERR_INVALID_ARG, "http_config.is_async: esp_https_ota is blocking")
    for key in ("crt_bundle_attach", "use_global_ca_store"):
        if cfg.get(key):
            raise OTAError(ESP_ERR_NOT_SUPPORTED, "http_config.%s: no certificate bundle on MicroPython, give cert_pem" % key)
    if cfg.get("skip_cert_common_name_check"):
        # MicroPython's tls verifies a chain only together with a host name (CERT_REQUIRED
        # needs server_hostname), so the check cannot be skipped without skipping verification.
        raise OTAError(ESP_ERR_NOT_SUPPORTED, "http_config.skip_cert_common_name_check: MicroPython's tls cannot "
                       "verify without a name; set http_config.common_name to the name in the server's certificate")
    if bool(cfg.get("client_cert_pem")) != bool(cfg.get("client_key_pem")):
        raise OTAError(ESP_ERR_INVALID_ARG, "http_config.client_cert_pem and client_key_pem go together")
