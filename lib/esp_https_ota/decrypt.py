# ESP-IDF's pre-encrypted OTA hook as a pipeline stage: a source whose bytes are the upstream
# body's, passed through decrypt_cb(args, user_ctx) (decrypt_cb_arg_t as an object). Output the
# callback gives beyond what the reader asked for waits here for the next read.
from micropython import const

from . import _kernels
from .errors import OTAError, err_to_name, ESP_OK, ESP_ERR_INVALID_ARG
from .events import post, ESP_HTTPS_OTA_DECRYPT_CB

_RECV_SIZE = const(4096)


class DecryptArgs:
    """decrypt_cb_arg_t: decrypt_cb(args, user_ctx) reads data_in[:data_in_len] and sets data_out
    (bytes-like, may be empty while it gathers input) and data_out_len."""

    def __init__(self):
        self.data_in = None
        self.data_in_len = 0
        self.data_out = None
        self.data_out_len = 0


class DecryptStage:
    def __init__(self, upstream, cb, ctx):
        self._up = upstream
        self._cb = cb
        self._ctx = ctx
        self._args = DecryptArgs()
        self._in = bytearray(_RECV_SIZE)
        self._out = None  # decrypt_cb's last data_out, served from _pos to _end
        self._pos = self._end = 0

    def readinto(self, buf, n):
        while self._pos == self._end:
            if not self._decrypt_next():
                return 0
        k = self._end - self._pos
        if k > n:
            k = n
        _kernels.copy_bytes(buf, 0, self._out, self._pos, k)
        self._pos += k
        return k

    def _decrypt_next(self):
        # Read the next block of the body through decrypt_cb; False at the body's end.
        n = self._up.readinto(self._in, _RECV_SIZE)
        if n == 0:
            return False
        args = self._args
        args.data_in = self._in  # as C's pointer: only its first data_in_len bytes are this call's
        args.data_in_len = n
        args.data_out = None
        args.data_out_len = 0
        post(ESP_HTTPS_OTA_DECRYPT_CB)
        ret = self._cb(args, self._ctx)
        if ret is not None and ret != ESP_OK:
            raise OTAError(ret, "decrypt_cb returned %s" % err_to_name(ret))
        out = args.data_out
        m = 0 if out is None else args.data_out_len or len(out)
        if out is not None and m > len(out):
            raise OTAError(ESP_ERR_INVALID_ARG, "decrypt_cb set data_out_len %d beyond its %d-byte data_out" % (m, len(out)))
        self._out, self._pos, self._end = out, 0, m
        return True
