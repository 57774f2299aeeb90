# Writes a stream into an esp32.Partition one whole buffer at a time: the buffer's blocks are
# erased just before they are written (or all at once up front), never written unerased.
from micropython import const

from . import _kernels
from .errors import OTAError, ESP_ERR_INVALID_ARG, ESP_ERR_INVALID_SIZE, ESP_ERR_FLASH_OP_FAIL

_BLOCK = const(4096)  # esp32.Partition's default block size; the flash erase sector
_IOCTL_BLOCK_COUNT = const(4)
_IOCTL_BLOCK_ERASE = const(6)


class FlashWriter:
    """`buf` is filled by the caller (`room()` bytes free at `fill`), then `advance(n)`;
    `flush()` writes the buffer at partition offset `base` and moves on."""

    def __init__(self, partition, buffer_size=_BLOCK):
        if buffer_size < _BLOCK or buffer_size % _BLOCK:
            raise OTAError(ESP_ERR_INVALID_ARG, "write_buffer_size must be a multiple of %d, not %d" % (_BLOCK, buffer_size))
        self.part = partition
        self.size = partition.ioctl(_IOCTL_BLOCK_COUNT, 0) * _BLOCK
        self.buf = bytearray(buffer_size)
        self.mv = memoryview(self.buf)
        self.fill = 0
        self.base = 0  # partition offset of buf[0]
        self.erased = False  # True after erase_all(): writes then never erase

    def erase_all(self, length=-1):
        """Erase the partition (or its first `length` bytes) now, block by block."""
        blocks = (self.size if length < 0 else length + _BLOCK - 1) // _BLOCK
        try:
            for b in range(blocks):
                self.part.ioctl(_IOCTL_BLOCK_ERASE, b)
        except OSError as e:
            raise OTAError(ESP_ERR_FLASH_OP_FAIL, "erasing block %d of the update partition failed (%s)" % (b, e))
        self.erased = True

    def room(self):
        return len(self.buf) - self.fill

    def advance(self, n):
        """n more bytes are in buf at fill; True when the buffer is full and must be flushed."""
        self.fill += n
        return self.fill == len(self.buf)

    def flush(self):
        """Write buf[0:fill] at `base` (the rest of the buffer as erased 0xFF) and start anew."""
        fill = self.fill
        if fill == 0:
            return
        if self.base + fill > self.size:
            raise OTAError(ESP_ERR_INVALID_SIZE, "image runs past the end of the %d-byte update partition (byte %d)" % (
                self.size, self.base + fill))
        size = len(self.buf)
        if fill < size:
            _kernels.fill_bytes(self.buf, fill, size - fill, 0xFF)  # writing 0xFF leaves flash erased
        buf = self.buf if self.base + size <= self.size else self.mv[:self.size - self.base]
        try:
            if self.erased:
                self.part.writeblocks(self.base // _BLOCK, buf, 0)  # 3 arguments: no erase
            else:
                self.part.writeblocks(self.base // _BLOCK, buf)  # 2 arguments: erase, then write
        except OSError as e:
            raise OTAError(ESP_ERR_FLASH_OP_FAIL, "flash write at partition offset 0x%x failed (%s)" % (self.base, e))
        self.base += size
        self.fill = 0
