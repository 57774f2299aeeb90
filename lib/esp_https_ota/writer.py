# The write side of an OTA, as app_update's esp_ota_begin / esp_ota_write / esp_ota_end: one
# object owns the sector buffer, the image validator and the partition cursor. Bytes come in
# through a window into its buffer (commit) or from another buffer (write), or are taken from
# flash on resume; end() gives the verdict. Nothing else touches its fields.
from micropython import const

from . import _kernels
from .errors import OTAError, forget, ESP_ERR_INVALID_SIZE, ESP_ERR_FLASH_OP_FAIL
from .events import post, ESP_HTTPS_OTA_WRITE_FLASH, ESP_HTTPS_OTA_VERIFY_CHIP_ID, ESP_HTTPS_OTA_VERIFY_CHIP_REVISION
from .image import ImageValidator, HEAD_LEN, app_desc

_BLOCK = const(4096)  # esp32.Partition's block size, the flash erase sector
_BOUNCE = const(1024)  # where reads land while the buffer is part-filled (a slice would allocate)
_IOCTL_BLOCK_COUNT = const(4)
_IOCTL_BLOCK_ERASE = const(6)


class OTAWriter:
    # Streams one image into `partition`, `buffer_size` bytes per erase-and-write.
    #
    # Readers fill window()[0:room()] and call commit(n). The image header, app description and
    # chip are checked once the first HEAD_LEN bytes are in, before anything is written; each
    # buffer is hashed before it is flushed.

    def __init__(self, partition, buffer_size, min_secure_version=-1):
        self._part = partition
        self._min_sv = min_secure_version  # anti_rollback: the running app's secure_version (-1: off)
        self._size = partition.ioctl(_IOCTL_BLOCK_COUNT, 0) * _BLOCK
        self._buf = bytearray(buffer_size)
        self._bounce = bytearray(_BOUNCE)
        mv = memoryview(self._buf)
        self._block = mv[:_BLOCK]  # one sector, for resume
        tail = self._size % buffer_size
        self._last = mv[:tail] if tail else self._buf  # the partition's last, shorter write
        self._erased = False  # after erase_all(), writes never erase
        self._bulk = False  # erase_all() asked: done once the head has passed its checks
        self.restart()

    def restart(self):
        # As new: nothing taken yet (after a resume the flash did not confirm).
        self._fill = 0  # bytes in _buf
        self._base = 0  # partition offset of _buf[0]
        self._v = ImageValidator(self._size)
        self._desc = None  # the AppDesc, once the head is checked

    def expect(self, image_size):
        # The image's size once the server has said it (-1: unknown): refused now if it cannot fit.
        if image_size > self._size:
            raise OTAError(ESP_ERR_INVALID_SIZE, "image of %d bytes does not fit the %d-byte update partition %s" % (
                image_size, self._size, self._part.info()[4]))
        self._v.expect(image_size)

    def erase_all(self):
        # bulk_flash_erase: erase every block of the partition, once the image's head has passed
        # its checks (nothing is erased for an image that is refused).
        if self._desc is None:
            self._bulk = True
            return
        try:
            for b in range(self._size // _BLOCK):
                self._part.ioctl(_IOCTL_BLOCK_ERASE, b)
        except OSError as e:
            raise OTAError(ESP_ERR_FLASH_OP_FAIL, "erasing block %d of the update partition failed (%s)" % (b, e))
        self._erased = True

    def window(self):
        # The buffer to read the next bytes into, at index 0: the sector buffer itself when it
        # is empty (zero-copy), else the small bounce buffer, copied in by commit().
        return self._bounce if self._fill else self._buf

    def room(self):
        # How many bytes window() takes now (never past the sector buffer's end).
        room = len(self._buf) - self._fill
        return room if not self._fill or room < _BOUNCE else _BOUNCE

    def head_missing(self):
        # Bytes still needed before the head (header, app description) can be checked.
        return 0 if self._desc is not None else HEAD_LEN - self._fill

    def commit(self, n):
        # n bytes are in window()[0:n]. True when this flushed a buffer to flash.
        if self._fill:
            return self.write(self._bounce, 0, n)
        if self._desc is not None:
            self._v.feed(self._buf, 0, n)
        return self._took(n)

    def write(self, src, off, n):
        # Take src[off:off+n] (bytes in another buffer): copied in and checked in one pass.
        # True when this flushed a buffer to flash.
        flushed = False
        while n > 0:
            k = len(self._buf) - self._fill
            if k > n:
                k = n
            if self._desc is not None:
                self._v.feed(src, off, k, self._buf, self._fill)
            else:
                _kernels.copy_bytes(self._buf, self._fill, src, off, k)
            flushed = self._took(k) or flushed
            off += k
            n -= k
        return flushed

    def _took(self, n):
        self._fill += n
        if self._desc is None and self._fill >= HEAD_LEN:
            self._check_head()
        if self._fill == len(self._buf):
            self._flush()
            return True
        return False

    def _check_head(self):
        # The one place the image's head is checked: ESP image, app description, then this
        # chip's id and revision (before any byte reaches flash).
        from . import chip

        desc = app_desc(self._buf)
        self._v.feed(self._buf, 0, self._fill)  # the validator parses the image header
        hdr = self._v.header
        post(ESP_HTTPS_OTA_VERIFY_CHIP_ID, hdr.chip_id)
        post(ESP_HTTPS_OTA_VERIFY_CHIP_REVISION, hdr.min_chip_rev_full)
        chip_id = chip.running_id()
        chip.check(hdr, chip_id, chip.revision(chip_id))
        forget("chip")  # checked once per OTA
        if desc.secure_version < self._min_sv:
            from .errors import ESP_ERR_OTA_SMALL_SEC_VER

            raise OTAError(ESP_ERR_OTA_SMALL_SEC_VER, "image secure_version %d is lower than the running app's %d"
                           " (anti_rollback)" % (desc.secure_version, self._min_sv))
        self._desc = desc
        if self._bulk:
            self._bulk = False
            self.erase_all()

    def resume(self, n):
        # Take the image's first n bytes (whole sectors) from the partition, where an earlier
        # OTA wrote them, through the same checks as fresh bytes.
        block = self._block
        for off in range(0, n, _BLOCK):
            self._part.readblocks(off // _BLOCK, block)
            if off == 0:
                self._fill = _BLOCK
                self._check_head()
                self._fill = 0
            else:
                self._v.feed(block, 0, _BLOCK)
            self._v.hash_block(block, off, _BLOCK)
        self._base = n

    def received(self):
        # Image bytes taken so far (resumed ones included).
        return self._v.pos if self._desc is not None else self._fill

    def head(self):
        # The image's AppDesc; ESP_FAIL if the image ended before its head.
        if self._desc is None:
            from .errors import ESP_FAIL

            raise OTAError(ESP_FAIL, "image too short for its header and app description: %d of %d bytes" % (
                self._fill, HEAD_LEN))
        return self._desc

    def flush(self):
        # The stream has ended: write what is buffered.
        self.head()
        if self._fill:
            self._flush()

    def end(self):
        # esp_ota_end: raise ESP_ERR_OTA_VALIDATE_FAILED unless a whole, intact image came in.
        self._v.verdict()

    def _flush(self):
        # Hash the buffer's image bytes, then erase and write it at the cursor.
        buf: "bytearray | memoryview"  # _buf, or _last for the partition's last write
        base, fill, buf = self._base, self._fill, self._buf
        if base + fill > self._size:
            raise OTAError(ESP_ERR_INVALID_SIZE, "image runs past the end of the %d-byte update partition (byte %d)" % (
                self._size, base + fill))
        self._v.hash_block(buf, base, fill)
        if fill < len(buf):
            _kernels.fill_bytes(buf, fill, len(buf) - fill, 0xFF)  # writing 0xFF leaves flash erased
        if base + len(buf) > self._size:
            buf = self._last
        try:
            if self._erased:
                self._part.writeblocks(base // _BLOCK, buf, 0)  # 3 arguments: no erase
            else:
                self._part.writeblocks(base // _BLOCK, buf)  # 2 arguments: erase, then write
        except OSError as e:
            raise OTAError(ESP_ERR_FLASH_OP_FAIL, "flash write at partition offset 0x%x failed (%s)" % (base, e))
        self._base = base + len(self._buf)
        self._fill = 0
        post(ESP_HTTPS_OTA_WRITE_FLASH, self._base)
