# Automatic resume: with ota_resumption and no ota_image_bytes_written, the package keeps the
# progress of an OTA in NVS itself (what ESP-IDF leaves to the application), and the next begin()
# continues with Range plus If-Range, or starts over from byte 0 when anything differs.
#
# NVS namespace "esp_https_ota": "meta", a blob written once per download (b"EHO1", the body size
# and the partition's address as two little-endian u32, then the requested URL, the validator, a
# strong ETag or else Last-Modified, and the final URL after redirects, joined by "\n"), and "done", an
# i32: image bytes in flash, a whole write buffer, committed at most once per 64 KiB written. "done"
# is erased before "meta" changes, so a cut in between leaves nothing to resume, never a mismatch.
# A delta patch (delta.py) also keeps "delta", its stage's state at that count (DeltaStage.save:
# where in the patch to go on, and the decoder's state), set just before "done", and "dsize", its
# length; the resume then continues from the patch byte the state names.
import struct
from micropython import const

from .errors import OTAError, ESP_ERR_HTTP_RANGE_NOT_SATISFIABLE
from .events import post, event_handler_register, event_handler_unregister, ESP_HTTPS_OTA_CONNECTED, \
    ESP_HTTPS_OTA_WRITE_FLASH
from .ranges import open_source

NAMESPACE = "esp_https_ota"
_STEP = const(65536)
_SECTOR = const(4096)
_META_MAX = const(1024)  # a longer final URL (a signed CDN link) is cut: it is only a record
_MAGIC = b"EHO1"


class Progress:
    # The saved progress for one begin(): what may be resumed (start, validator, size), and from
    # open() on the recording of the new progress through the writer's WRITE_FLASH events.

    def __init__(self, url, partition):
        import esp32

        self._nvs = esp32.NVS(NAMESPACE)
        self._url = url
        self._addr = partition.info()[2]
        self._handler = self._on_event  # one bound method: registered and unregistered as itself
        self._next = -1  # "done" is committed once WRITE_FLASH reaches this (-1: not recording)
        self.start = 0  # image bytes a resume would take from flash (whole sectors), 0: none
        self.validator = None
        self.size = -1
        self.resumed = 0  # what open() resumed
        self._body = 0  # the body byte a resume starts at: self.start, or the delta state's
        self.state = None  # a delta stage's saved state, to resume (until open() says otherwise)
        self._stage = None  # the delta stage whose state is saved with each "done"
        self._load()

    def _load(self):
        buf = bytearray(_META_MAX)
        try:
            n = self._nvs.get_blob("meta", buf)
            done = self._nvs.get_i32("done")
        except OSError:  # nothing saved (ESP_ERR_NVS_NOT_FOUND), or not readable: start over
            return
        rec = _parse(bytes(buf[:n]))
        if rec is None:  # not ours or garbled
            return
        size, addr, url, validator = rec
        if url != self._url or addr != self._addr or not validator or done <= 0 or done % _SECTOR:
            return
        self._body = done
        state = self._delta_state()
        if state is not None:  # saved just before "done": its count is the same or (a cut between) later
            d, self._body, image_size = struct.unpack_from("<III", state, 4)
            if d < done or d % _SECTOR or d >= image_size:
                return
            self.state, done = state, d
        elif done >= size:
            return
        self.start, self.validator, self.size = done, validator, size

    def _delta_state(self):
        try:
            n = self._nvs.get_i32("dsize")
            if not 16 <= n <= _META_MAX * 2:
                return None
            state = bytearray(n)
            if self._nvs.get_blob("delta", state) == n and state[:4] == b"EHD1":
                return state
        except OSError:
            pass
        return None

    def open(self, client, writer, cfg):
        # A generator (see ranges.py) of the first request: from self.start when the server still
        # has that image and the flash re-check agrees, else from byte 0. Posts CONNECTED;
        # returns (source, body size).
        skip = cfg.enc_header if cfg.decrypt_cb is not None else 0  # the body starts with it
        client.want_validator = True
        n = self.start
        if n:
            client.set_header("If-Range", self.validator)
            src = None
            try:
                src, total = yield from open_source(client, self._body + skip, cfg.range_size, True)
            except OTAError as e:
                if e.code != ESP_ERR_HTTP_RANGE_NOT_SATISFIABLE:  # 416: the image shrank
                    raise
            if src is not None:
                post(ESP_HTTPS_OTA_CONNECTED)
                if not src.start:  # 200: changed (or Range ignored), and it comes whole from byte 0
                    self.state = None
                    self._record(client, total, 0)
                    return src, total
                image = total - skip if self.state is None else struct.unpack_from("<I", self.state, 12)[0]
                if total == self.size and _validator(client) == self.validator and self._resume(writer, image, n):
                    self._record(client, total, n)
                    return src, total
            client.close()
            client.delete_header("If-Range")
        self.state = None
        src, total = yield from open_source(client, 0, cfg.range_size, True)
        if not n:
            post(ESP_HTTPS_OTA_CONNECTED)
        self._record(client, total, 0)
        return src, total

    def _resume(self, writer, image_size, n):
        # Take the first n image bytes from flash through the writer's checks; False (and the
        # writer as new) when the flash does not hold the start of this image.
        try:
            writer.expect(image_size)
            writer.resume(n)
        except OTAError:
            writer.restart()
            return False
        self.resumed = n
        return True

    def _record(self, client, total, n):
        # Save what a later begin() needs, then commit "done" as WRITE_FLASH passes each 64 KiB.
        v = _validator(client)
        client.want_validator = False
        if v is None or total < 0:  # nothing to resume against: keep no progress
            self.clear()
            return
        if n == 0:
            meta = (_MAGIC + struct.pack("<II", total, self._addr)
                    + "\n".join((self._url, v, client.url)).encode())[:_META_MAX]
            self.clear()
            self._nvs.set_blob("meta", meta)
            self._nvs.set_i32("done", 0)
            self._nvs.commit()
        self._next = n - n % _STEP + _STEP
        event_handler_register(self._handler)
        client.set_header("If-Range", v)  # later Range requests: fail if the image changes meanwhile
        client.ready()  # built now: the requests perform() sends allocate nothing

    def track(self, stage):
        # Save `stage`'s state (a DeltaStage) with each "done": into the resumed state's buffer,
        # or one made now, in begin().
        self._stage = stage
        n = stage.state_size()
        if self.state is None or len(self.state) != n:
            self.state = bytearray(n)
        self._nvs.set_i32("dsize", n)  # committed with the first "done"

    def _on_event(self, arg, base, event_id, data):
        if event_id == ESP_HTTPS_OTA_WRITE_FLASH and 0 <= self._next <= data:
            if self._stage is not None:
                self._stage.save(self.state)
                self._nvs.set_blob("delta", self.state)
            self._nvs.set_i32("done", data)
            self._nvs.commit()  # durable only now, as on the chip
            self._next = data - data % _STEP + _STEP

    def clear(self):
        for key in ("done", "delta", "dsize", "meta"):  # "done" first: never a count without its meta
            try:
                self._nvs.erase_key(key)
            except OSError:
                pass
        self._nvs.commit()

    def close(self, keep):
        # The OTA is over (keep: it may be resumed later, else the progress is erased).
        event_handler_unregister(self._handler)
        self._next = -1
        if not keep:
            self.clear()


def _validator(client):
    # The response's strong ETag, else its Last-Modified date, else None (weak ETags cannot
    # make a Range conditional: RFC 9110 13.1.5).
    etag = client.etag
    if etag and not etag.startswith("W/"):
        return etag
    return client.last_modified or None


def _parse(blob):
    # (size, partition address, url, validator) from a "meta" blob, or None.
    if len(blob) < 12 or blob[:4] != _MAGIC:
        return None
    size, addr = struct.unpack("<II", blob[4:12])
    try:
        parts = blob[12:].decode().split("\n")
    except UnicodeError:
        return None
    if len(parts) != 3:
        return None
    return size, addr, parts[0], parts[1]
