# esp_https_ota_config_t and its http_config (esp_http_client_config_t), checked once into
# objects with named fields: no other module reads the dicts. Errors name the field.
from micropython import const

from .errors import OTAError, ESP_ERR_INVALID_ARG, ESP_ERR_NOT_SUPPORTED, ESP_ERR_NOT_FOUND, ESP_ERR_OTA_PARTITION_CONFLICT

_DEFAULT_REQUEST_SIZE = const(65536)  # max_http_request_size 0 with partial_http_download
_BLOCK = const(4096)
_DEFAULT_TIMEOUT_MS = const(5000)
_DEFAULT_INFLATE_WINDOW = const(32768)  # max_inflate_window: deflate's largest (wbits 15, gzip)
_DEFAULT_MAX_REDIRECT = const(10)
_MIN_HEADER_LINE = const(1024)

# Each table lists its fields by kind, the kind being the group's index: anything, dict, callable,
# bool, int >= 0, str, str or bytes (PEM), and accepted with no meaning on MicroPython.
# allow_http_insecure_transport, write_buffer_size, ota_resumption_keep_on_abort, anti_rollback,
# signature_verify_keys, max_inflate_window, delta_patch, delta_base and http_config.accept_encoding are this
# package's additions.
_ANY = const(0)
_DICT = const(1)
_CALLABLE = const(2)
_BOOL = const(3)
_INT = const(4)
_STR = const(5)
_PEM = const(6)
_IGNORED = const(7)
_OTA_FIELDS = const((
    "decrypt_user_ctx partition signature_verify_keys delta_base", "http_config", "http_client_init_cb decrypt_cb",
    "bulk_flash_erase partial_http_download ota_resumption ota_resumption_keep_on_abort allow_http_insecure_transport"
    " anti_rollback delta_patch",
    "max_http_request_size buffer_caps ota_image_bytes_written enc_img_header_size write_buffer_size max_inflate_window",
))
_HTTP_FIELDS = const((
    "disable_auto_redirect skip_cert_common_name_check keep_alive_enable is_async crt_bundle_attach use_global_ca_store",
    "", "", "", "timeout_ms max_redirection_count buffer_size", "url username password user_agent common_name accept_encoding",
    "cert_pem client_cert_pem client_key_pem",
    "cert_len client_cert_len client_key_len auth_type method buffer_size_tx user_data event_handler transport_type"
    " keep_alive_idle keep_alive_interval keep_alive_count max_authorization_retries tls_version if_name",
))


def _fail(name, msg, code=ESP_ERR_INVALID_ARG):
    raise OTAError(code, "config field %s %s" % (name, msg))


def _checked(d, table, path):
    # d's fields against `table` (see above), `path` naming d ("" or "http_config."); returns d.get.
    if not isinstance(d, dict):
        _fail(path[:-1] if path else "config", "must be a dict")
    for key in d:
        kind = -1
        for i in range(len(table)):
            if key in table[i].split():
                kind = i
        v = d[key]
        name = path + str(key)  # a key need not be a str
        if kind < 0:
            _fail(name, "is unknown")
        elif v is None or kind == _ANY or kind == _IGNORED:
            continue
        if kind == _INT and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            _fail(name, "must be an int >= 0, not %r" % (v,))
        if (kind == _BOOL and not isinstance(v, bool) or kind == _CALLABLE and not callable(v)
                or kind == _STR and not isinstance(v, str)
                or kind == _PEM and not isinstance(v, (str, bytes)) or kind == _DICT and not isinstance(v, dict)):
            _fail(name, "has the wrong type: %r" % (v,))
    return d.get


class HTTPConfig:
    # The http_config fields the HTTP client uses, with esp_http_client's defaults. Fields
    # only, no methods, so that this module can be unloaded once the config is parsed.

    # Declared for the type checker (MicroPython compiles no code for them); set by http_config().
    url: str  # without userinfo
    dest: "tuple[str, str, int]"  # (scheme, host, port) of the first request
    target: str  # its request-target
    auth_host: str  # the host credentials may go to
    credentials: "str | None"  # "user:password" for Basic auth
    timeout_ms: int
    max_redirects: int  # -1: redirects not followed
    line_limit: int
    user_agent: str
    keepalive: bool
    verify_name: "str | None"  # common_name, checked instead of the URL's host
    cert_pem: "str | bytes | None"
    client_cert: "str | bytes | None"
    client_key: "str | bytes | None"
    accept_encoding: "str | None"  # "gzip": sent as Accept-Encoding


def http_config(d, allow_http):
    # The http_config dict checked into an HTTPConfig.
    from .url import split

    cfg = HTTPConfig()
    get = _checked(d, _HTTP_FIELDS, "http_config.")
    url = get("url")
    if not url:
        _fail("http_config.url", "is required")
    scheme, cfg.auth_host, port, target, userinfo = split(url)
    cfg.dest = (scheme, cfg.auth_host, port)  # where the first request goes, and its target
    cfg.target = target
    if scheme == "http" and not allow_http:
        _fail("http_config.url", "is plain http://: set allow_http_insecure_transport to permit it")
    user, password = get("username"), get("password")
    if userinfo:
        url = url.replace(userinfo + "@", "", 1)  # kept out of requests and messages
        if user is None:
            user, _, password = userinfo.partition(":")
    cfg.url = url
    cfg.credentials = None if user is None else user + ":" + (password or "")
    cfg.timeout_ms = get("timeout_ms") or _DEFAULT_TIMEOUT_MS
    cfg.max_redirects = -1 if get("disable_auto_redirect") else (get("max_redirection_count") or _DEFAULT_MAX_REDIRECT)
    cfg.line_limit = max(get("buffer_size") or 0, _MIN_HEADER_LINE)
    cfg.user_agent = get("user_agent") or "esp_https_ota-micropython"
    if "\r" in cfg.user_agent or "\n" in cfg.user_agent:
        _fail("http_config.user_agent", "contains CR or LF (header injection)")
    if scheme == "http" and cfg.credentials:
        _fail("http_config.username", "credentials are never sent over plain http")
    cfg.keepalive = bool(get("keep_alive_enable"))
    cfg.verify_name = get("common_name")  # checked instead of the URL's host
    cfg.cert_pem = get("cert_pem")
    cfg.client_cert = get("client_cert_pem")
    cfg.client_key = get("client_key_pem")
    cfg.accept_encoding = get("accept_encoding")
    if cfg.accept_encoding is not None and cfg.accept_encoding != "gzip":
        _fail("http_config.accept_encoding", "must be \"gzip\" (or left out), not %r" % (cfg.accept_encoding,))
    _tls(cfg, get, scheme)
    return cfg


def _tls(cfg, get, scheme):
    # The server and client certificates; the http_config fields MicroPython's tls cannot
    # honour, refused by name.
    if scheme == "https" and not cfg.cert_pem:
        _fail("http_config.cert_pem", "is required for https (server verification)")
    if bool(cfg.client_cert) != bool(cfg.client_key):
        _fail("http_config.client_cert_pem", "and client_key_pem go together")
    if get("is_async"):
        _fail("http_config.is_async", "must be false: esp_https_ota is blocking")
    for key in ("crt_bundle_attach", "use_global_ca_store"):
        if get(key):
            _fail("http_config." + key, "is not supported: no certificate bundle, give cert_pem", ESP_ERR_NOT_SUPPORTED)
    if get("skip_cert_common_name_check"):
        # MicroPython's tls verifies a chain only together with a host name (CERT_REQUIRED
        # needs server_hostname): skipping the name check would skip verification.
        _fail("http_config.skip_cert_common_name_check", "is not supported: MicroPython's tls cannot verify"
              " without a name; set http_config.common_name to the certificate's name", ESP_ERR_NOT_SUPPORTED)


class Config:
    # esp_https_ota_config_t, checked by parse(), with ESP-IDF's defaults filled in. Fields only,
    # as HTTPConfig: a method would keep this module's code alive for as long as the OTA runs.

    http: HTTPConfig
    init_cb: "object"  # http_client_init_cb
    bulk_erase: bool
    range_size: int  # bytes per Range request; 0: one request
    resume_from: int  # ESP-IDF's ota_image_bytes_written, in whole 4 KiB sectors
    auto_resume: bool  # ota_resumption alone: the package keeps the progress (progress.py)
    keep_on_abort: bool
    decrypt_cb: "object"
    decrypt_ctx: "object"
    enc_header: int
    max_window: int  # max_inflate_window
    buffer_size: int  # write_buffer_size
    verify_keys: "list | tuple | None"  # signature_verify_keys, PEM
    min_secure_version: int  # -1: no anti_rollback
    partition: "object"  # the esp32.Partition to write
    # delta_patch, delta_base: under names interned anyway (a new name is a runtime qstr on every OTA)
    kind: int  # the body: 0 detected (image, zlib/gzip, esp_delta_ota patch), 1 a bare detools patch
    base: "object"  # delta_base, the partition a delta patch applies to; None: the running app


def parse(config):
    # The config dict checked into a Config.
    cfg = Config()
    get = _checked(config, _OTA_FIELDS, "")
    if get("http_config") is None:
        _fail("http_config", "is required")
    cfg.http = http_config(config["http_config"], bool(get("allow_http_insecure_transport")))
    cfg.init_cb = get("http_client_init_cb")
    cfg.bulk_erase = bool(get("bulk_flash_erase"))
    _ranges(cfg, get)
    cfg.decrypt_cb = get("decrypt_cb")
    cfg.decrypt_ctx = get("decrypt_user_ctx")
    cfg.enc_header = get("enc_img_header_size") or 0
    # A compressed image's window (1 << wbits bytes, allocated in begin()) may be at most this.
    cfg.max_window = get("max_inflate_window")
    if cfg.max_window is None:
        cfg.max_window = _DEFAULT_INFLATE_WINDOW
    cfg.buffer_size = get("write_buffer_size") or _BLOCK
    if cfg.buffer_size % _BLOCK:
        _fail("write_buffer_size", "must be a multiple of %d, not %d" % (_BLOCK, cfg.buffer_size))
    keys = get("signature_verify_keys")
    if keys is not None and (not isinstance(keys, (list, tuple)) or not all(isinstance(k, (str, bytes)) for k in keys)):
        _fail("signature_verify_keys", "must be a list of PEM public keys (str or bytes)")
    cfg.verify_keys = keys
    cfg.min_secure_version = -1  # anti_rollback: a new image's secure_version may not be lower
    if get("anti_rollback"):
        from .ota_ops import get_app_description

        cfg.min_secure_version = get_app_description().secure_version
    partition = update_partition(get("partition"))
    if cfg.buffer_size > partition.info()[3]:
        _fail("write_buffer_size", "of %d bytes is larger than the update partition" % cfg.buffer_size)
    cfg.partition = partition
    cfg.kind = 1 if get("delta_patch") else 0
    cfg.base = get("delta_base")
    if cfg.kind and cfg.resume_from:  # its byte offsets are the patch's, not the image's
        _fail("ota_image_bytes_written", "cannot resume a delta patch: use ota_resumption alone", ESP_ERR_NOT_SUPPORTED)
    return cfg


def _ranges(cfg, get):
    # partial_http_download and ota_resumption: the Range requests and where the download starts.
    cfg.range_size = 0
    if get("partial_http_download"):
        cfg.range_size = get("max_http_request_size") or _DEFAULT_REQUEST_SIZE
    # Resume after whole 4 KiB sectors only: a partly written sector may be torn.
    cfg.resume_from = 0
    # ota_resumption alone: the package keeps the progress in NVS (progress.py); with
    # ota_image_bytes_written, ESP-IDF's form: the application says where to go on.
    cfg.auto_resume = bool(get("ota_resumption")) and get("ota_image_bytes_written") is None
    cfg.keep_on_abort = bool(get("ota_resumption_keep_on_abort"))
    if get("ota_resumption"):
        cfg.resume_from = (get("ota_image_bytes_written") or 0) // _BLOCK * _BLOCK


def update_partition(partition):
    # The partition to write: the one asked for (an esp32.Partition, or ESP-IDF's
    # {"staging": ..., "final": ..., "finalize_with_copy": ...}), else the next OTA slot.
    import esp32

    running = esp32.Partition(esp32.Partition.RUNNING)
    if isinstance(partition, dict):
        _checked(partition, ("staging final finalize_with_copy",), "partition.")  # kind 0: anything
        final = partition.get("final")
        if partition.get("finalize_with_copy") or final is not None and final != partition.get("staging"):
            _fail("partition", "with a final partition other than staging (copy after download) is not supported",
                  ESP_ERR_NOT_SUPPORTED)
        partition = partition.get("staging")
    if partition is None:
        try:
            return running.get_next_update()
        except OSError as e:
            raise OTAError(ESP_ERR_NOT_FOUND, "no OTA update partition (%s): is the firmware built with OTA partitions?" % e)
    if not hasattr(partition, "info") or not hasattr(partition, "writeblocks"):
        _fail("partition", "must be an esp32.Partition, not %r" % (partition,))
    info = partition.info()
    if info[0] != esp32.Partition.TYPE_APP:
        _fail("partition", "%s is not an app partition" % info[4])
    if info[2] == running.info()[2]:
        _fail("partition", "%s is the running partition" % info[4], ESP_ERR_OTA_PARTITION_CONFLICT)
    return partition
