# esp_https_ota for MicroPython: ESP-IDF's esp_https_ota API (the esp_https_ota_ prefix dropped).
# Data flows one way: socket -> update-partition buffer -> validator -> flash.
from micropython import const

from .errors import *  # noqa: F401,F403  (ESP_OK, ESP_ERR_*, OTAError, err_to_name)
from .errors import (
    OTAError, err_to_name, ESP_OK, ESP_FAIL, ESP_ERR_INVALID_ARG, ESP_ERR_INVALID_STATE, ESP_ERR_INVALID_VERSION,
    ESP_ERR_NOT_SUPPORTED, ESP_ERR_OTA_VALIDATE_FAILED, ESP_ERR_NOT_FOUND, ESP_ERR_HTTPS_OTA_IN_PROGRESS,
    ESP_ERR_INVALID_SIZE,
)
from .events import *  # noqa: F401,F403  (ESP_HTTPS_OTA_* ids, event_handler_register/unregister)
from .events import post as _post
from . import events as _ev
from .image import AppDesc, ImageHeader, ImageValidator, check_chip, parse_head, HEAD_LEN, HEADER_LEN

__version__ = "0.1.0"

# Handle states, in lifecycle order; every public function checks the one it needs.
_ST_BEGIN = const(1)  # connected, response head read, nothing written
_ST_IN_PROGRESS = const(2)  # header validated, image streaming into flash
_ST_SUCCESS = const(3)  # the whole body received and written
_ST_CLOSED = const(4)  # finished or aborted: the handle is spent
_OSERR_VALIDATE_FAILED = const(-0x1503)  # esp32.Partition.set_boot() on a bad image

_CONFIG_FIELDS = ("http_config", "http_client_init_cb", "bulk_flash_erase", "partial_http_download",
                  "max_http_request_size", "buffer_caps", "decrypt_cb", "decrypt_user_ctx",
                  "enc_img_header_size", "partition", "allow_http_insecure_transport", "write_buffer_size")
_NOT_YET = ("decrypt_cb",)  # accepted names that this version cannot do yet
_DEFAULT_REQUEST_SIZE = const(65536)  # max_http_request_size 0 with partial_http_download

_active = None  # the open handle: one OTA at a time, as the flash can take only one


class _Handle:
    """esp_https_ota_handle_t: private state of one OTA."""

    def __init__(self):
        self.state = _ST_BEGIN
        self.client = None
        self.partition = None
        self.writer = None
        self.validator = None
        self.head = None  # (ImageHeader, AppDesc) once the first HEAD_LEN bytes are in
        self.head_len = 0  # image bytes waiting in writer.buf before the first write


def _check(h, *states):
    if not isinstance(h, _Handle):
        raise OTAError(ESP_ERR_INVALID_ARG, "not an esp_https_ota handle: %r" % (h,))
    if h.state not in states:
        raise OTAError(ESP_ERR_INVALID_STATE, "handle is %s" % (
            "closed (finished or aborted)" if h.state == _ST_CLOSED else "in state %d" % h.state))


def _check_config(config):
    if not isinstance(config, dict):
        raise OTAError(ESP_ERR_INVALID_ARG, "config must be a dict (esp_https_ota_config_t)")
    for key in config:
        if key not in _CONFIG_FIELDS:
            raise OTAError(ESP_ERR_INVALID_ARG, "unknown config field %r" % (key,))
    for key in _NOT_YET:
        if config.get(key):
            raise OTAError(ESP_ERR_NOT_SUPPORTED, "config field %r is not supported yet" % key)
    size = config.get("max_http_request_size")
    if size is not None and (not isinstance(size, int) or size < 0):
        raise OTAError(ESP_ERR_INVALID_ARG, "config field 'max_http_request_size' must be a non-negative int, got %r" % (size,))
    return config.get("http_config")


def begin(config):
    """esp_https_ota_begin(): connect, send the GET, read the response head; returns a handle.

    Raises OTAError: ESP_ERR_INVALID_ARG (bad config), ESP_ERR_INVALID_STATE (an OTA is
    already open), ESP_ERR_HTTP_* / ESP_FAIL (connection, TLS or HTTP status), ESP_ERR_NOT_FOUND
    (no update partition)."""
    global _active
    http_config = _check_config(config)
    if _active is not None:
        raise OTAError(ESP_ERR_INVALID_STATE, "another OTA is in progress: finish() or abort() it first")
    from .http import HTTPClient
    import esp32

    _post(_ev.ESP_HTTPS_OTA_START)
    h = _Handle()
    try:
        h.partition = config.get("partition") or esp32.Partition(esp32.Partition.RUNNING).get_next_update()
    except OSError as e:
        raise OTAError(ESP_ERR_NOT_FOUND, "no OTA update partition (%s): is the firmware built with OTA partitions?" % e)
    h.client = HTTPClient(http_config, bool(config.get("allow_http_insecure_transport")))
    try:
        init_cb = config.get("http_client_init_cb")
        if init_cb is not None:
            ret = init_cb(h.client)  # may set headers; an esp_err_t other than ESP_OK aborts
            if ret is not None and ret != ESP_OK:
                raise OTAError(ret, "http_client_init_cb returned %s" % err_to_name(ret))
        range_size = 0
        if config.get("partial_http_download"):
            range_size = config.get("max_http_request_size") or _DEFAULT_REQUEST_SIZE
        h.client.get(range_size)
        _post(_ev.ESP_HTTPS_OTA_CONNECTED)
        from .flash import FlashWriter

        h.writer = FlashWriter(h.partition, config.get("write_buffer_size") or 4096)
        if h.client.size > h.writer.size:
            raise OTAError(ESP_ERR_INVALID_SIZE, "image of %d bytes does not fit the %d-byte update partition %s" % (
                h.client.size, h.writer.size, h.partition.info()[4]))
        h.validator = ImageValidator(h.writer.size, h.client.size)
        if config.get("bulk_flash_erase"):
            h.writer.erase_all()
    except BaseException:
        h.client.close()
        raise
    _active = h
    return h


def _read_head(h):
    """Read the image's first HEAD_LEN bytes into the write buffer and parse them."""
    if h.head is not None:
        return
    buf = h.writer.buf
    n = h.head_len
    while n < HEAD_LEN:
        got = h.client.readinto(buf if n == 0 else h.writer.mv[n:], HEAD_LEN - n)
        if got == 0:
            break
        n += got
    h.head_len = n
    h.head = parse_head(buf, n)


def get_img_desc(h):
    """esp_https_ota_get_img_desc(): the new image's esp_app_desc_t, read before anything is written.

    Raises OTAError: ESP_ERR_INVALID_STATE after perform() has started writing, ESP_FAIL when
    the image is too short or has no app description."""
    _check(h, _ST_BEGIN)
    _read_head(h)
    _post(_ev.ESP_HTTPS_OTA_GET_IMG_DESC)
    return h.head[1]


def _running_chip_id(partition_cls):
    buf = bytearray(HEADER_LEN)
    partition_cls(partition_cls.RUNNING).readblocks(0, buf)
    return ImageHeader(buf).chip_id


def _start_writing(h):
    """Check the image header against this chip, then hand the head bytes to the writer."""
    import esp32

    from . import chip

    _read_head(h)
    hdr = h.head[0]
    _post(_ev.ESP_HTTPS_OTA_VERIFY_CHIP_ID, hdr.chip_id)
    _post(_ev.ESP_HTTPS_OTA_VERIFY_CHIP_REVISION, hdr.min_chip_rev_full)
    chip_id = _running_chip_id(esp32.Partition)
    check_chip(hdr, chip_id, chip.revision(chip_id))
    h.state = _ST_IN_PROGRESS
    _consume(h, h.head_len)


def _consume(h, n):
    """n new bytes sit in writer.buf at writer.fill: validate them, flush a full buffer."""
    w = h.writer
    h.validator.feed(w.buf, w.fill, n)
    if w.advance(n):
        h.validator.hash_block(w.buf, w.base, w.fill)
        w.flush()
        _post(_ev.ESP_HTTPS_OTA_WRITE_FLASH, w.base)


def perform(h):
    """esp_https_ota_perform(): move the next block of the image from the server to flash.

    Returns ESP_ERR_HTTPS_OTA_IN_PROGRESS until the whole body is in, then ESP_OK.
    Raises OTAError: ESP_ERR_INVALID_VERSION (image for another chip), ESP_FAIL (no image
    header), ESP_ERR_OTA_VALIDATE_FAILED / ESP_ERR_INVALID_SIZE (image does not fit),
    ESP_ERR_HTTP_* (connection lost, timeout), ESP_ERR_FLASH_OP_FAIL."""
    _check(h, _ST_BEGIN, _ST_IN_PROGRESS, _ST_SUCCESS)
    if h.state == _ST_SUCCESS:
        return ESP_OK
    if h.state == _ST_BEGIN:
        _start_writing(h)
        return ESP_ERR_HTTPS_OTA_IN_PROGRESS
    w = h.writer
    room = w.room()
    n = h.client.readinto(w.buf if w.fill == 0 else w.mv[w.fill:], room)
    if n == 0:
        h.validator.hash_block(w.buf, w.base, w.fill)
        w.flush()
        _post(_ev.ESP_HTTPS_OTA_WRITE_FLASH, w.base)
        h.state = _ST_SUCCESS
        return ESP_OK
    _consume(h, n)
    return ESP_ERR_HTTPS_OTA_IN_PROGRESS


def _release(h):
    global _active
    if h.client is not None:
        h.client.close()
    h.client = None
    h.writer = None  # drop the buffers now: the next OTA (or the app) wants the heap
    h.state = _ST_CLOSED
    if _active is h:
        _active = None


def finish(h):
    """esp_https_ota_finish(): validate the received image and make it the boot partition.

    The boot partition changes only here, only after the whole image arrived and matched.
    Raises OTAError: ESP_ERR_INVALID_STATE (handle closed), ESP_ERR_OTA_VALIDATE_FAILED
    (incomplete or corrupt image; the boot partition is left as it was)."""
    _check(h, _ST_BEGIN, _ST_IN_PROGRESS, _ST_SUCCESS)
    try:
        if h.client is not None:
            h.client.close()  # as ESP-IDF: the connection (and its TLS buffers) go before set_boot
        if h.state != _ST_SUCCESS:
            got = h.validator.pos if h.validator else 0
            raise OTAError(ESP_ERR_OTA_VALIDATE_FAILED, "finish() before the whole image was received (%d bytes so far)" % got)
        h.writer = None  # set_boot() reads the image back: give it the heap
        h.validator.verdict()
        try:
            h.partition.set_boot()
        except OSError as e:
            code = e.args[0] if e.args else 0
            if code == _OSERR_VALIDATE_FAILED:
                raise OTAError(ESP_ERR_OTA_VALIDATE_FAILED, "the bootloader's check of the written image failed")
            raise OTAError(ESP_FAIL, "setting the boot partition failed (%s)" % e)
        _post(_ev.ESP_HTTPS_OTA_UPDATE_BOOT_PARTITION, h.partition.info()[1])
        _post(_ev.ESP_HTTPS_OTA_FINISH)
    finally:
        _release(h)
    return ESP_OK


def abort(h):
    """esp_https_ota_abort(): stop, close the connection, leave the boot partition untouched.

    Raises OTAError ESP_ERR_INVALID_STATE if the handle was already finished or aborted."""
    _check(h, _ST_BEGIN, _ST_IN_PROGRESS, _ST_SUCCESS)
    _release(h)
    _post(_ev.ESP_HTTPS_OTA_ABORT)
    return ESP_OK


def is_complete_data_received(h):
    """True once the whole response body has been received."""
    _check(h, _ST_BEGIN, _ST_IN_PROGRESS, _ST_SUCCESS)
    return h.state == _ST_SUCCESS


def get_image_len_read(h):
    """Image bytes received so far (-1 for a closed handle)."""
    if not isinstance(h, _Handle) or h.state == _ST_CLOSED:
        return -1
    if h.state == _ST_BEGIN:
        return h.head_len
    return h.validator.pos


def get_image_size(h):
    """The image's total size from Content-Length; -1 when unknown (chunked) or on failure."""
    if not isinstance(h, _Handle) or h.client is None:
        return -1
    return h.client.size


def get_status_code(h):
    """The HTTP status of the last response; -1 on failure."""
    if not isinstance(h, _Handle) or h.client is None:
        return -1
    return h.client.status


def esp_https_ota(config):
    """esp_https_ota(): the whole OTA in one call (begin, perform until done, finish).

    On success the next boot runs the new image (call machine.reset()). On any failure the
    OTA is aborted, the boot partition is untouched, and the OTAError is raised again."""
    h = begin(config)
    try:
        while perform(h) == ESP_ERR_HTTPS_OTA_IN_PROGRESS:
            pass
        if not is_complete_data_received(h):
            raise OTAError(ESP_FAIL, "the server ended the body before the whole image")
    except BaseException:
        abort(h)
        raise
    return finish(h)
