# One OTA: the handle's state machine (esp_https_ota_t in ESP-IDF) and the pipeline
# socket -> write buffer -> validator -> flash that perform() drives.
from micropython import const

from .errors import (
    OTAError, err_to_name, ESP_OK, ESP_FAIL, ESP_ERR_INVALID_ARG, ESP_ERR_INVALID_STATE,
    ESP_ERR_OTA_VALIDATE_FAILED, ESP_ERR_NOT_FOUND, ESP_ERR_HTTPS_OTA_IN_PROGRESS,
    ESP_ERR_INVALID_SIZE, ESP_ERR_OTA_PARTITION_CONFLICT,
)
from .events import post as _post
from . import events as _ev
from . import _kernels
from . import decrypt
from .image import ImageHeader, ImageValidator, check_chip, parse_head, HEAD_LEN, HEADER_LEN

# Handle states, in lifecycle order; every public function checks the one it needs.
_ST_BEGIN = const(1)  # connected, response head read, nothing written
_ST_IN_PROGRESS = const(2)  # header validated, image streaming into flash
_ST_SUCCESS = const(3)  # the whole body received and written
_ST_CLOSED = const(4)  # finished or aborted: the handle is spent
_OSERR_VALIDATE_FAILED = const(-0x1503)  # esp32.Partition.set_boot() on a bad image
_RECV_SIZE = const(4096)  # receive buffer for decrypt_cb's input
_SECTOR = const(4096)

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
        self.decrypt = None  # (decrypt_cb, user_ctx, DecryptArgs, receive buffer) when set
        self.pending = None  # (data, start, end): decrypted bytes not yet in the write buffer
        self.enc_header = 0  # enc_img_header_size: bytes before the image in the encrypted body
        self.resumed = 0  # ota_resumption: image bytes taken from the partition
        self.bounce = None  # for bodies whose reads can end mid-block (see begin())


def _check(h, first, last):
    """The handle's state must lie in [first, last] (a range, so no tuple is built per call)."""
    if not isinstance(h, _Handle):
        raise OTAError(ESP_ERR_INVALID_ARG, "not an esp_https_ota handle: %r" % (h,))
    if not first <= h.state <= last:
        raise OTAError(ESP_ERR_INVALID_STATE, "handle is %s" % (
            "closed (finished or aborted)" if h.state == _ST_CLOSED else "in state %d" % h.state))


def begin(config):
    """esp_https_ota_begin(): connect, send the GET, read the response head; returns a handle.

    Raises OTAError: ESP_ERR_INVALID_ARG (bad config; the message names the field),
    ESP_ERR_INVALID_STATE (an OTA is already open), ESP_ERR_HTTP_* / ESP_FAIL (connection, TLS or
    HTTP status), ESP_ERR_NOT_FOUND (no update partition), ESP_ERR_OTA_PARTITION_CONFLICT (the
    running partition), ESP_ERR_INVALID_SIZE (image larger than the partition)."""
    global _active
    from .config import Config

    cfg = Config(config)
    if _active is not None:
        raise OTAError(ESP_ERR_INVALID_STATE, "another OTA is in progress: finish() or abort() it first")
    from .http import HTTPClient

    _post(_ev.ESP_HTTPS_OTA_START)
    h = _Handle()
    h.partition = _update_partition(cfg.partition)
    h.client = HTTPClient(cfg.http_config, cfg.allow_http)
    try:
        if cfg.http_client_init_cb is not None:
            ret = cfg.http_client_init_cb(h.client)  # may set headers; an esp_err_t other than ESP_OK aborts
            if ret is not None and ret != ESP_OK:
                raise OTAError(ret, "http_client_init_cb returned %s" % err_to_name(ret))
        # Resuming an encrypted image: the body has enc_img_header_size bytes before the image (ESP-IDF's offset).
        skip = cfg.enc_img_header_size if cfg.resume_from and cfg.decrypt_cb is not None else 0
        h.client.get(cfg.range_size, cfg.resume_from + skip)
        _post(_ev.ESP_HTTPS_OTA_CONNECTED)
        from .flash import FlashWriter

        h.writer = FlashWriter(h.partition, cfg.write_buffer_size)
        h.enc_header = cfg.enc_img_header_size
        size = get_image_size(h)
        if size > h.writer.size:
            raise OTAError(ESP_ERR_INVALID_SIZE, "image of %d bytes does not fit the %d-byte update partition %s" % (
                size, h.writer.size, h.partition.info()[4]))
        h.validator = ImageValidator(h.writer.size, size)
        if h.client.size < 0 or cfg.range_size % _SECTOR:
            # Chunked or close-delimited bodies, or odd range sizes, end reads mid-block: such
            # reads go through this buffer (made now, while the heap is whole) instead of a slice.
            h.bounce = bytearray(_SECTOR)
        if cfg.decrypt_cb is not None:
            h.decrypt = (cfg.decrypt_cb, cfg.decrypt_user_ctx, decrypt.DecryptArgs(), bytearray(_RECV_SIZE))
        if cfg.resume_from:
            _resume(h, cfg.resume_from)
        elif cfg.bulk_flash_erase:
            h.writer.erase_all()  # blocks for seconds on a chip: every sector of the partition
    except BaseException:
        h.client.close()
        raise
    _active = h
    return h


def _resume(h, start):
    """ota_resumption: take the image's first `start` bytes from the partition, where an earlier
    OTA wrote them, through the same checks as fresh bytes (header, chip, checksum, SHA-256)."""
    w = h.writer
    block = w.mv[:_SECTOR]
    for off in range(0, start, _SECTOR):
        h.partition.readblocks(off // _SECTOR, block)
        if off == 0:
            h.head = parse_head(block, _SECTOR)
            _verify_head(h)
        h.validator.feed(block, 0, _SECTOR)
        h.validator.hash_block(block, off, _SECTOR)
    w.base = start
    h.resumed = start
    h.state = _ST_IN_PROGRESS


def _update_partition(asked):
    """The partition to write: the one asked for, or the next OTA slot after the running app."""
    import esp32

    running = esp32.Partition(esp32.Partition.RUNNING)
    if asked is None:
        try:
            return running.get_next_update()
        except OSError as e:
            raise OTAError(ESP_ERR_NOT_FOUND, "no OTA update partition (%s): is the firmware built with OTA partitions?" % e)
    info = asked.info()
    if info[0] != esp32.Partition.TYPE_APP:
        raise OTAError(ESP_ERR_INVALID_ARG, "config field 'partition': %s is not an app partition" % info[4])
    if info[2] == running.info()[2]:
        raise OTAError(ESP_ERR_OTA_PARTITION_CONFLICT, "config field 'partition': %s is the running partition" % info[4])
    return asked


def _read_head(h):
    """Gather the image's first HEAD_LEN bytes in the write buffer (not yet written) and parse them."""
    if h.head is not None:
        return
    w = h.writer
    n = h.head_len
    while n < HEAD_LEN:
        if h.decrypt is None:
            got = h.client.readinto(w.buf if n == 0 else w.mv[n:], HEAD_LEN - n)
            if got == 0:
                break
        else:
            out, m = decrypt.receive(h.client, h.decrypt)
            if out is None:
                break
            got = min(m, len(w.buf) - n)
            _kernels.copy_bytes(w.buf, n, out, 0, got)
            if got < m:
                h.pending = (out, got, m)  # decrypted bytes beyond the buffer: written after the checks
        n += got
    h.head_len = n
    h.head = parse_head(w.buf, n)


def get_img_desc(h):
    """esp_https_ota_get_img_desc(): the new image's esp_app_desc_t, read before anything is written.

    Raises OTAError: ESP_ERR_INVALID_STATE after perform() has started writing, ESP_FAIL when
    the image is too short or has no app description."""
    if isinstance(h, _Handle) and h.resumed and h.writer and h.writer.base == h.resumed and h.writer.fill == 0:
        _post(_ev.ESP_HTTPS_OTA_GET_IMG_DESC)  # resumed: read from the partition, as ESP-IDF does
        return h.head[1]
    _check(h, _ST_BEGIN, _ST_BEGIN)
    _post(_ev.ESP_HTTPS_OTA_GET_IMG_DESC)  # posted first, as ESP-IDF does
    _read_head(h)
    return h.head[1]


def _running_chip_id(partition_cls):
    buf = bytearray(HEADER_LEN)
    partition_cls(partition_cls.RUNNING).readblocks(0, buf)
    return ImageHeader(buf).chip_id


def _verify_head(h):
    """The image header against this chip (id and revision), before anything is written."""
    import esp32
    from . import chip

    hdr = h.head[0]
    _post(_ev.ESP_HTTPS_OTA_VERIFY_CHIP_ID, hdr.chip_id)
    _post(_ev.ESP_HTTPS_OTA_VERIFY_CHIP_REVISION, hdr.min_chip_rev_full)
    chip_id = _running_chip_id(esp32.Partition)
    check_chip(hdr, chip_id, chip.revision(chip_id))


def _start_writing(h):
    """Check the image header against this chip, then hand the head bytes to the writer."""
    _read_head(h)
    _verify_head(h)
    h.state = _ST_IN_PROGRESS
    _consume(h, h.head_len)


def _consume(h, n):
    """n new bytes sit in writer.buf at writer.fill: validate them, flush a full buffer."""
    w = h.writer
    h.validator.feed(w.buf, w.fill, n)
    if w.advance(n):
        _flush(h)


def _flush(h):
    """Hash the write buffer's image bytes, write it, report the bytes written so far."""
    w = h.writer
    h.validator.hash_block(w.buf, w.base, w.fill)
    w.flush()
    _post(_ev.ESP_HTTPS_OTA_WRITE_FLASH, w.base)


def _push(h, src, off, end):
    """Copy src[off:end] into the write buffer, validating in the same pass, flushing as it fills."""
    w = h.writer
    while off < end:
        k = min(end - off, w.room())
        h.validator.feed(src, off, k, w.buf, w.fill)
        if w.advance(k):
            _flush(h)
        off += k


def perform(h):
    """esp_https_ota_perform(): move the next block of the image from the server to flash.

    Returns ESP_ERR_HTTPS_OTA_IN_PROGRESS until the whole body is in, then ESP_OK.
    Raises OTAError: ESP_ERR_INVALID_VERSION (image for another chip or revision), ESP_FAIL (no
    image header or app description), ESP_ERR_OTA_VALIDATE_FAILED / ESP_ERR_INVALID_SIZE (image
    does not fit), ESP_ERR_HTTP_* (connection lost, timeout), ESP_ERR_FLASH_OP_FAIL, or the
    error decrypt_cb returned."""
    _check(h, _ST_BEGIN, _ST_SUCCESS)
    if h.state == _ST_SUCCESS:
        return ESP_OK
    if h.state == _ST_BEGIN:
        _start_writing(h)
        return ESP_ERR_HTTPS_OTA_IN_PROGRESS
    w = h.writer
    if h.decrypt is None:
        if w.fill == 0 or h.bounce is None:
            # Straight into the write buffer; only after the head (or a body's odd end) part-filled.
            n = h.client.readinto(w.buf if w.fill == 0 else w.mv[w.fill:], w.room())
            if n:
                _consume(h, n)
                return ESP_ERR_HTTPS_OTA_IN_PROGRESS
        else:
            # A short read (a chunk's end) left the buffer part-filled: through the bounce buffer,
            # copied in by the fused kernel, instead of a slice (which allocates) per chunk.
            n = h.client.readinto(h.bounce, min(w.room(), _SECTOR))
            if n:
                _push(h, h.bounce, 0, n)
                return ESP_ERR_HTTPS_OTA_IN_PROGRESS
    else:
        if h.pending is not None:
            src, off, end = h.pending
            h.pending = None
            _push(h, src, off, end)
            return ESP_ERR_HTTPS_OTA_IN_PROGRESS
        out, m = decrypt.receive(h.client, h.decrypt)
        if out is not None:
            _push(h, out, 0, m)
            return ESP_ERR_HTTPS_OTA_IN_PROGRESS
    _flush(h)
    h.state = _ST_SUCCESS
    return ESP_OK


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
    _check(h, _ST_BEGIN, _ST_SUCCESS)
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
    _check(h, _ST_BEGIN, _ST_SUCCESS)
    _release(h)
    _post(_ev.ESP_HTTPS_OTA_ABORT)
    return ESP_OK


def is_complete_data_received(h):
    """True once the whole response body has been received."""
    _check(h, _ST_BEGIN, _ST_SUCCESS)
    return h.state == _ST_SUCCESS


def get_image_len_read(h):
    """Image bytes received so far (-1 for a closed handle)."""
    if not isinstance(h, _Handle) or h.state == _ST_CLOSED:
        return -1
    if h.state == _ST_BEGIN:
        return h.head_len
    return h.validator.pos


def get_image_size(h):
    """The image's total size (Content-Length or Content-Range, less enc_img_header_size);
    -1 when unknown (chunked, close-delimited) or on failure."""
    if not isinstance(h, _Handle) or h.client is None or h.client.size < 0:
        return -1
    return h.client.size - h.enc_header


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
    try:
        return finish(h)
    except BaseException:
        _post(_ev.ESP_HTTPS_OTA_ABORT)  # finish() already released the handle
        raise
