# One OTA's pipeline, built in begin(): the request (with the saved progress when the package
# keeps it, progress.py), the source it answers with, the stages the config asks for, and where
# the writer starts.
from .errors import OTAError, err_to_name, ESP_OK
from .events import post, ESP_HTTPS_OTA_CONNECTED
from .ranges import open_source


def build(h, cfg):
    """Send the request; set h.source (the last stage), h.size and h.resumed (bytes in flash)."""
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
        h.source, size = h.progress.open(h.client, h.writer, cfg)
        h.resumed = h.progress.resumed
    else:  # ESP-IDF's form; resuming an encrypted image, the body has enc_img_header_size more bytes
        skip = cfg.enc_header if cfg.resume_from and cfg.decrypt_cb is not None else 0
        h.source, size = open_source(h.client, cfg.resume_from + skip, cfg.range_size)
        post(ESP_HTTPS_OTA_CONNECTED)
        h.writer.expect(size - cfg.enc_header if size >= 0 else -1)
        if cfg.resume_from:
            h.writer.resume(cfg.resume_from)
            h.resumed = cfg.resume_from
    h.size = size - cfg.enc_header if size >= 0 else -1
    h.writer.expect(h.size)
    if cfg.decrypt_cb is not None:
        from .decrypt import DecryptStage

        h.source = DecryptStage(h.source, cfg.decrypt_cb, cfg.decrypt_ctx)
    if not h.resumed and cfg.bulk_erase:
        h.writer.erase_all()  # blocks for seconds on a chip: every sector of the partition
