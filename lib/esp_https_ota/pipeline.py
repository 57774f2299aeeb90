# One OTA's pipeline, built in begin(): the request (with the saved progress when the package
# keeps it, progress.py), the source it answers with, the stages the config asks for (decrypt_cb)
# or the body needs, detected here (inflate for a zlib or gzip body; delta for esp_delta_ota's
# header or with delta_patch, after inflate if both), and where the writer starts.
# A compressed body is never resumed: the inflater's state at a byte offset cannot be rebuilt, so
# the package's own resume keeps no progress for it (from byte 0 each time), and ESP-IDF's form
# (ota_image_bytes_written) is refused for a Content-Encoding body; a zlib/gzip *file* resumed that
# way cannot be told from a plain one at its offset and fails the image checks (boot untouched).
# A delta patch is resumed from the stage's own saved state (delta.py, progress.py).
from .errors import OTAError, err_to_name, ESP_OK, ESP_ERR_NOT_SUPPORTED, ESP_ERR_OTA_VALIDATE_FAILED
from .events import post, ESP_HTTPS_OTA_CONNECTED
from .ranges import open_source


def build(h, cfg):
    # A generator of the requests to make (see ranges.py): sets h.source (the last stage),
    # h.size and h.resumed (bytes in flash).
    if cfg.init_cb is not None:
        ret = cfg.init_cb(h.client)  # may set headers; an esp_err_t other than ESP_OK aborts
        if ret is not None and ret != ESP_OK:
            raise OTAError(ret, "http_client_init_cb returned %s" % err_to_name(ret))
    h.keep_on_abort = cfg.keep_on_abort
    if cfg.verify_keys:  # parsed once, now: a bad key is refused before the download
        from .pubkey import parse_pem

        h.verify_keys = [parse_pem(k) for k in cfg.verify_keys]
    if cfg.auto_resume:  # the package's own progress: resumed (re-checked from flash) or from 0
        from .progress import Progress

        h.progress = Progress(cfg.http.url, h.partition)
        h.source, size = yield from h.progress.open(h.client, h.writer, cfg)
        h.resumed = h.progress.resumed
    else:  # ESP-IDF's form; resuming an encrypted image, the body has enc_img_header_size more bytes
        skip = cfg.enc_header if cfg.resume_from and cfg.decrypt_cb is not None else 0
        h.source, size = yield from open_source(h.client, cfg.resume_from + skip, cfg.range_size)
        post(ESP_HTTPS_OTA_CONNECTED)
        if cfg.resume_from and h.client.encoding:  # its inflater's state at a byte offset is lost
            raise OTAError(ESP_ERR_NOT_SUPPORTED, "ota_resumption of a compressed image (Content-Encoding):"
                           " start it again from byte 0")
    h.size = size - cfg.enc_header if size >= 0 else -1
    state = h.progress.state if h.resumed and h.progress is not None else None  # a delta patch's, resumed
    if state is None:  # (a resumed delta: progress.open() gave the writer the image's size)
        h.writer.expect(h.size)  # before a resume, which feeds the validator the bytes in flash
    if not cfg.auto_resume and cfg.resume_from:  # (progress.open() has resumed already)
        h.writer.resume(cfg.resume_from)
        h.resumed = cfg.resume_from
    if cfg.decrypt_cb is not None:
        from .decrypt import DecryptStage

        h.source = DecryptStage(h.source, cfg.decrypt_cb, cfg.decrypt_ctx)
    if state is not None:
        from . import delta_base

        delta_base.build(h, cfg, 0, 0, False, state)
    elif not h.resumed:
        _detect(h, cfg)
    if not h.resumed and cfg.bulk_erase:
        h.writer.erase_all()  # blocks for seconds on a chip: every sector of the partition


def window(data):
    # The window a body starting with bytes data[0], data[1] needs: 1 << (CINFO + 8) for a zlib
    # header (CM 8, CINFO <= 7, FCHECK valid), 32 KiB for gzip (1f 8b); 0: not compressed.
    b0, b1 = data[0], data[1]
    if b0 == 0x1F and b1 == 0x8B:
        return 32768
    if b0 & 0x0F == 8 and b0 >> 4 <= 7 and (b0 * 256 + b1) % 31 == 0:
        return 1 << ((b0 >> 4) + 8)
    return 0


def _detect(h, cfg):
    # Peek the body's first 2 bytes: a zlib or gzip header instead of the image magic 0xE9 puts
    # the inflate stage (inflate.py, loaded only then) in the chain, its window allocated now,
    # before anything is erased, and its first 2 bytes are peeked in turn; then esp_delta_ota's
    # magic (or delta_patch) puts the delta stage (delta.py) last. Else the 2 bytes go to the
    # writer as they are. (No helper functions here: each name would be a qstr on every OTA.)
    c, one, b = h.client, bytearray(1), [0, 0]
    size = -1
    while size:
        k = 0
        while k < 2 and h.source.readinto(one, 1):
            b[k] = one[0]
            k += 1
        if size > 0:  # these were the inflated stream's
            break
        if c.encoding < 0:
            raise OTAError(ESP_ERR_NOT_SUPPORTED, "the server sent a Content-Encoding other than gzip or deflate")
        size = window(b) if k == 2 else 0
        if not size and c.encoding:
            raise OTAError(ESP_ERR_OTA_VALIDATE_FAILED, "the body has a Content-Encoding but no zlib or gzip header")
        if size > cfg.max_window:
            raise OTAError(ESP_ERR_NOT_SUPPORTED, "the compressed image needs a %d-byte window, more than"
                           " max_inflate_window %d: recompress it with a smaller one (tools/compress_image.py"
                           " --wbits)" % (size, cfg.max_window))
        if size:
            from .inflate import InflateStage

            h.source = InflateStage(h.source, b[0], b[1], size)
            h.writer.expect(-1)  # the body's size is the compressed one: the image's is not known
            if h.progress is not None:  # no resume of a compressed body (see progress.py): from 0 each time
                h.progress.close(False)
                h.progress = None
    headed = k == 2 and b[0] == 0x10 and b[1] == 0xDE  # esp_delta_ota's magic, 0xfccdde10 LE
    if headed or k == 2 and cfg.kind:
        from . import delta_base  # (forgotten once the stage is built)

        delta_base.build(h, cfg, b[0], b[1], not headed, None)
        return
    for i in range(k):
        one[0] = b[i]
        h.writer.write(one, 0, 1)
