# ESP-IDF's pre-encrypted OTA hook: received bytes pass through decrypt_cb(args, user_ctx)
# before validation and writing (decrypt_cb_arg_t as an object).
from .errors import OTAError, err_to_name, ESP_OK, ESP_ERR_INVALID_ARG
from .events import post as _post
from . import events as _ev


class DecryptArgs:
    """decrypt_cb_arg_t: decrypt_cb(args, user_ctx) reads data_in/data_in_len and sets data_out
    (bytes-like, may be empty while it gathers input) and data_out_len."""

    def __init__(self):
        self.data_in = None
        self.data_in_len = 0
        self.data_out = None
        self.data_out_len = 0


def _decrypt(state, n):
    """Pass n received bytes through decrypt_cb; return (data_out, its length)."""
    cb, ctx, args, rbuf = state
    args.data_in = rbuf if n == len(rbuf) else memoryview(rbuf)[:n]
    args.data_in_len = n
    args.data_out = None
    args.data_out_len = 0
    _post(_ev.ESP_HTTPS_OTA_DECRYPT_CB)
    ret = cb(args, ctx)
    if ret is not None and ret != ESP_OK:
        raise OTAError(ret, "decrypt_cb returned %s" % err_to_name(ret))
    out = args.data_out
    if out is None:
        return b"", 0
    m = args.data_out_len or len(out)
    if m > len(out):
        raise OTAError(ESP_ERR_INVALID_ARG, "decrypt_cb set data_out_len %d beyond its %d-byte data_out" % (m, len(out)))
    return out, m


def receive(client, state):
    """Read and decrypt the next block of the body: (data_out, length), or (None, 0) at its end.
    state is (decrypt_cb, user_ctx, DecryptArgs, receive buffer)."""
    n = client.readinto(state[3], len(state[3]))
    if n == 0:
        return None, 0
    return _decrypt(state, n)
