# begin()'s own code, loaded by begin() and unloaded once it returns (handle.py keeps the rest):
# the imports in the order that needs the least heap, the config, the buffers, the client and the
# pipeline, as a generator of the requests to make.
import gc
from micropython import const

from .errors import OTAError, forget, ESP_ERR_NO_MEM
from .events import post, ESP_HTTPS_OTA_START

_COMPILE_GC_EVERY = const(4096)  # gc.threshold while begin() imports its modules


def begin(config, claim, release):
    # A generator of the requests to make, (client, start, last): handle.begin() makes them
    # blocking, aio.py awaits them. Returns the handle, made by claim(partition, writer);
    # release(h) gives back what a failed begin() held.
    gc.collect()  # from .py, each import below compiles: start from a heap with no garbage
    h = cfg = None
    every = gc.threshold()
    try:  # on any failure (MemoryError and a cancelled task included) the connection and the modules loaded go
        # From .py every import compiles, and a compile leaves its code scattered through the heap.
        # Collecting every 4 KiB allocated meanwhile lets the compiler reuse its own garbage first,
        # and this order needs the least heap (bench/heap.py, both interpreters): the writer's code
        # into the whole heap; the config, whose code is then unloaded; into the room that leaves,
        # the blocks that must be contiguous (write buffer, TLS context); then the HTTP code.
        gc.threshold(_COMPILE_GC_EVERY)
        try:
            from .writer import OTAWriter

            gc.collect()
            cfg = _parse(config)
            post(ESP_HTTPS_OTA_START)
            h = claim(cfg.partition, OTAWriter(cfg.partition, cfg.buffer_size, cfg.min_secure_version))
            tls = None
            if cfg.http.dest[0] == "https":
                from .transport import tls_context

                tls = tls_context(cfg.http)
            gc.collect()
            from .http import HTTPClient

            h.client = HTTPClient(cfg.http, tls)
            from .pipeline import build
        finally:
            gc.threshold(every)  # the application's setting again, before the first request
        yield from build(h, cfg)
    except BaseException as e:
        release(h)
        if isinstance(e, MemoryError):  # as ESP-IDF's failed malloc, once what begin() held is given back
            raise OTAError(ESP_ERR_NO_MEM, "begin() ran out of heap (write_buffer_size %d)" % cfg.buffer_size
                           if cfg else "begin() ran out of heap loading its code")
        raise
    for name in ("pipeline", "ranges", "transport"):  # done with (or, a RangeSource keeps ranges.py
        forget(name)  # alive; a reconnect imports transport.py again)
    return h


def _parse(config):
    # config.parse(), whose code (and url.py's) then leaves RAM before the buffers are made: the
    # Config it returns has fields only, and no reference to the parser outlives this call.
    from .config import parse

    cfg = parse(config)
    forget("config")
    forget("url")
    return cfg
