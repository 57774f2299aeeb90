# One OTA: the handle's state machine (esp_https_ota_t in ESP-IDF) and the pipeline it drives,
# source (HTTP body or Range loop) -> stages (decrypt_cb) -> writer (buffer, validator, flash).
import gc
from micropython import const

from .errors import (
    OTAError, forget, ESP_OK, ESP_ERR_NO_MEM, ESP_ERR_INVALID_ARG, ESP_ERR_INVALID_STATE,
    ESP_ERR_OTA_VALIDATE_FAILED, ESP_ERR_HTTPS_OTA_IN_PROGRESS,
)
from .events import post, ESP_HTTPS_OTA_GET_IMG_DESC, ESP_HTTPS_OTA_ABORT

# Handle states, in lifecycle order; every public function checks the one it needs.
_ST_BEGIN = const(1)  # connected, response head read, nothing written
_ST_IN_PROGRESS = const(2)  # image head checked, image streaming into flash
_ST_SUCCESS = const(3)  # the whole body received and written
_ST_CLOSED = const(4)  # finished or aborted: the handle is spent

_active = None  # the open handle: one OTA at a time, as the flash can take only one
# begin() imports these; they leave RAM with the handle, so an app carrying on after an OTA has
# the heap it had before (the byte kernels stay: a viper module's native code is never freed).
# One string, not a tuple: its names are not interned (a qstr each) until the module is loaded.
_PIPELINE = const("writer image chip http status response body transport ranges decrypt inflate pem url progress pipeline"
                  " start verdict signature pubkey rsa ecdsa delta delta_base heatshrink _delta_plain")


class _Handle:
    # esp_https_ota_handle_t: private state of one OTA.

    def __init__(self, partition, writer):
        self.state = _ST_BEGIN
        self.partition = partition
        self.writer = writer
        self.client = None
        self.source = None  # the last stage of the pipeline: what perform() reads
        self.size = -1  # get_image_size()
        self.resumed = 0  # ota_resumption: image bytes taken from the partition
        self.progress = None  # progress.Progress when the package keeps the progress (NVS)
        self.failed = 0  # the error of the last perform() that raised
        self.keep_on_abort = False  # ota_resumption_keep_on_abort
        self.verify_keys = None  # signature_verify_keys


def _check(h, start, end):
    # The handle's state must lie in [start, end] (a range, so no tuple is built per call).
    if not isinstance(h, _Handle):
        raise OTAError(ESP_ERR_INVALID_ARG, "not an esp_https_ota handle: %r" % (h,))
    if not start <= h.state <= end:
        raise OTAError(ESP_ERR_INVALID_STATE, "handle is %s" % (
            "closed (finished or aborted)" if h.state == _ST_CLOSED else "in state %d" % h.state))


def begin(config):
    """esp_https_ota_begin(): connect, send the GET, read the response head; returns a handle.
    Raises OTAError: ESP_ERR_INVALID_ARG (bad config; the message names the field),
    ESP_ERR_INVALID_STATE (an OTA is already open), ESP_ERR_HTTP_* / ESP_FAIL (connection, TLS or
    HTTP status), ESP_ERR_NOT_FOUND (no update partition), ESP_ERR_OTA_PARTITION_CONFLICT (the
    running partition), ESP_ERR_INVALID_SIZE (image larger than the partition)."""
    steps = _begin(config)
    need = next(steps)  # up to the first request: the config, the buffers, the client, pipeline.py
    from .ranges import run  # (loaded by then)

    return run(steps, need)


def _begin(config):
    # begin() as a generator of the requests to make (start.py, whose code is in RAM only while
    # begin() runs); returns the handle.
    if _active is not None:
        raise OTAError(ESP_ERR_INVALID_STATE, "another OTA is in progress: finish() or abort() it first")
    try:
        from . import start
    except MemoryError:
        raise OTAError(ESP_ERR_NO_MEM, "begin() ran out of heap loading its code")
    h = yield from start.begin(config, claim, _release)
    forget("start")
    if h.resumed:
        h.state = _ST_IN_PROGRESS
    return h


def claim(partition, writer):
    # The handle of the OTA begin() is opening, the only one open.
    global _active
    h = _active = _Handle(partition, writer)
    return h


def _read_head(h):
    # Read the image's first bytes into the writer until it has checked the head.
    w = h.writer
    try:
        while w.head_missing() > 0:
            n = h.source.readinto(w.window(), min(w.room(), w.head_missing()))
            if n == 0:
                break
            w.commit(n)
    except MemoryError:  # the head check imports chip.py and parses the app description
        raise OTAError(ESP_ERR_NO_MEM, "ran out of heap checking the image head: nothing written")
    return w.head()


def get_img_desc(h):
    """esp_https_ota_get_img_desc(): the new image's esp_app_desc_t, read before anything is
    written (after a resumed begin(), from the partition).

    Raises OTAError: ESP_ERR_INVALID_STATE after perform() has started writing, ESP_FAIL when
    the image is too short or has no app description, ESP_ERR_INVALID_VERSION (another chip)."""
    if isinstance(h, _Handle) and h.resumed and h.state == _ST_IN_PROGRESS and h.writer.received() == h.resumed:
        post(ESP_HTTPS_OTA_GET_IMG_DESC)
        return h.writer.head()
    _check(h, _ST_BEGIN, _ST_BEGIN)
    post(ESP_HTTPS_OTA_GET_IMG_DESC)  # posted first, as ESP-IDF does
    return _read_head(h)


def perform(h):
    """esp_https_ota_perform(): move the next block of the image from the server to flash.

    Returns ESP_ERR_HTTPS_OTA_IN_PROGRESS until the whole body is in, then ESP_OK.
    Raises OTAError: ESP_ERR_INVALID_VERSION (image for another chip or revision), ESP_FAIL (no
    image header or app description), ESP_ERR_OTA_VALIDATE_FAILED / ESP_ERR_INVALID_SIZE (image
    does not fit), ESP_ERR_HTTP_* (connection lost, timeout), ESP_ERR_FLASH_OP_FAIL, or the
    error decrypt_cb returned."""
    return _perform(h, -1)


def _perform(h, limit):
    # perform(), taking at most `limit` image bytes from the source (aio.py: what is read ahead;
    # -1: no limit).
    _check(h, _ST_BEGIN, _ST_SUCCESS)
    if h.state == _ST_SUCCESS:
        return ESP_OK
    w = h.writer
    if h.state == _ST_BEGIN:
        _read_head(h)  # the head is checked against this chip before anything is written
        h.state = _ST_IN_PROGRESS
        return ESP_ERR_HTTPS_OTA_IN_PROGRESS
    src = h.source
    try:
        while True:  # the one path: source -> the writer's window, until a flush, a short read or the end
            room = w.room()
            room = limit if 0 < limit < room else room
            n = src.readinto(w.window(), room)
            if n == 0:
                w.flush()
                h.state = _ST_SUCCESS
                return ESP_OK
            limit -= n
            if w.commit(n) or n < room or not limit:
                return ESP_ERR_HTTPS_OTA_IN_PROGRESS
    except OTAError as e:
        h.failed = e.code
        if e.code >> 12 != 7:  # not ESP_ERR_HTTP_*: the message already names its offset
            raise
        raise OTAError(e.code, "%s, after %d image bytes" % (e.msg, w.received()))


def _release(h, keep=True):
    # Give back what the handle holds; `keep`: leave saved progress for a later resume.
    global _active
    if h is not None:  # None: begin() failed before the handle was made
        if h.client is not None:
            h.client.close()
        if h.progress is not None:
            h.progress.close(keep)
        h.client = h.source = h.writer = None  # drop the buffers now: the app wants the heap back
        h.state = _ST_CLOSED
        if _active is h:
            _active = None
    for name in _PIPELINE.split():
        forget(name)


def finish(h):
    """esp_https_ota_finish(): validate the received image and make it the boot partition.
    The boot partition changes only here, only after the whole image arrived and matched.
    Raises OTAError: ESP_ERR_INVALID_STATE (handle closed), ESP_ERR_OTA_VALIDATE_FAILED
    (incomplete or corrupt image; the boot partition is left as it was)."""
    _check(h, _ST_BEGIN, _ST_SUCCESS)
    try:
        h.client.close()  # as ESP-IDF: the connection (and its TLS buffers) go before set_boot
        if h.state != _ST_SUCCESS:
            raise OTAError(ESP_ERR_OTA_VALIDATE_FAILED, "finish() before the whole image was received (%d bytes so far)" % (
                h.writer.received()))
        h.writer.end()
        written = h.writer.received()
        h.writer = h.source = h.client = None  # the signature check and set_boot() read the image back
        for name in _PIPELINE.split():  # the download's code leaves RAM first: give them the heap
            forget(name)
        gc.collect()
        try:
            from .verdict import boot
        except MemoryError:
            raise OTAError(ESP_ERR_NO_MEM, "finish() ran out of heap loading its code: boot partition unchanged")
        boot(h.partition, written, h.verify_keys)  # the signature check, then set_boot()
    finally:
        _release(h, False)  # done, or an image that failed its checks: nothing to resume
    return ESP_OK


def abort(h):
    """esp_https_ota_abort(): stop, close the connection, leave the boot partition untouched.
    Raises OTAError ESP_ERR_INVALID_STATE if the handle was already finished or aborted."""
    # Saved progress goes, unless the OTA stopped because the link failed (ESP_ERR_HTTP_*: the
    # next begin() continues) or the config keeps it (ota_resumption_keep_on_abort).
    return _abort(h, isinstance(h, _Handle) and (h.failed >> 12 == 7 or h.keep_on_abort))


def _abort(h, keep):
    # abort(); `keep`: leave the saved progress (aio.py: a cancelled task keeps it).
    _check(h, _ST_BEGIN, _ST_SUCCESS)
    _release(h, keep)
    post(ESP_HTTPS_OTA_ABORT)
    return ESP_OK


def is_complete_data_received(h):  # True once the whole body is in
    _check(h, _ST_BEGIN, _ST_SUCCESS)
    return h.state == _ST_SUCCESS


def get_image_len_read(h):
    """Image bytes so far (after a resumed begin(), the resumed ones); -1 before the first
    perform() (as ESP-IDF) or for a closed handle."""
    return h.writer.received() if isinstance(h, _Handle) and _ST_BEGIN < h.state < _ST_CLOSED else -1


def get_image_size(h):
    """The image's total size (Content-Length or Content-Range, less enc_img_header_size);
    -1 when unknown (chunked, close-delimited) or for a closed handle."""
    return h.size if isinstance(h, _Handle) and h.state != _ST_CLOSED else -1


def get_image_written(h):  # image bytes taken, inflated ones for a compressed body (as WRITE_FLASH); -1: closed
    return h.writer.received() if isinstance(h, _Handle) and h.state != _ST_CLOSED else -1


def get_status_code(h):  # the last response's HTTP status; -1 for a closed handle
    return h.client.status if isinstance(h, _Handle) and h.client is not None else -1
