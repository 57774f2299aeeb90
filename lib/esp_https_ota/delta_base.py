# The base of a delta patch (delta.py): which partition it is (delta_base, else the running
# app), and, for a patch with esp_delta_ota's header, that it holds the image the patch was made
# for: an intact app image whose appended SHA-256 is the header's; what kind of detools patch it
# is; and the stage put in the pipeline (pipeline.py). Loaded only in begin(), forgotten after.
from micropython import const

from .delta import DeltaStage, hex_of, _fail
from .errors import OTAError, forget, ESP_ERR_INVALID_ARG, ESP_ERR_NOT_SUPPORTED, ESP_ERR_OTA_PARTITION_CONFLICT

MAGIC = const(b"\x10\xde\xcd\xfc")  # esp_delta_ota's header: 0xfccdde10, little-endian


def build(h, cfg, b0, b1, bare, state):
    # The delta stage on the base partition as OTA h's source, new (b0, b1 peeked) or resumed from
    # `state`; its state goes with the saved progress, when there is any (no inflate before it).
    base = base_partition(cfg.base, h.partition)
    try:
        h.source = DeltaStage(h.source, base, b0, b1, bare, state)
    except OTAError:
        if state is not None:  # a state that cannot be resumed must not stop every later begin()
            h.progress.clear()
        raise
    finally:
        forget("delta_base")  # this module's checks run once, in begin()
    if state is None:
        h.writer.expect(h.source.size)
    if h.progress is not None:
        h.progress.track(h.source)


def base_partition(given, update):
    # delta_base as an esp32.Partition (a label names one; None: the running app), checked.
    import esp32

    if given is None:
        return esp32.Partition(esp32.Partition.RUNNING)
    if isinstance(given, str):
        try:
            given = esp32.Partition(given)
        except OSError:
            given = None
    if not hasattr(given, "readblocks") or given.info()[0] != esp32.Partition.TYPE_APP:
        raise OTAError(ESP_ERR_INVALID_ARG, "config field delta_base must be an app partition or its label")
    if given.info()[2] == update.info()[2]:
        raise OTAError(ESP_ERR_OTA_PARTITION_CONFLICT, "config field delta_base is the partition being written")
    return given


def check_base(base, digest, buf):
    # The base partition must hold an intact app image whose appended SHA-256 is `digest`.
    from .image import ImageValidator

    info, bs = base.info(), base.ioctl(5, 0)
    label, limit = info[4], info[3]
    v = ImageValidator(limit)
    off = 0
    while off + len(buf) <= limit and (v.image_len < 0 or off < v.image_len):
        base.readblocks(off // bs, buf, off % bs)
        v.feed(buf, 0, len(buf))
        v.hash_block(buf, off, len(buf))
        off += len(buf)
    try:
        v.verdict()
    except OTAError as e:
        _fail("base %s does not hold an intact app image: %s" % (label, e.msg))
    if not v.hash_appended:
        _fail("base %s has no appended SHA-256 to check the patch's against" % label)
    if v.digest() != digest:
        _fail("is for another base: made for SHA-256 %s, the base %s has %s" % (hex_of(digest), label, hex_of(v.digest())))


def check_header(hdr, base, buf):
    # esp_delta_ota's 64-byte header: its magic, then the base's SHA-256 (returned), checked.
    if hdr[:4] != MAGIC:
        _fail("header magic is %s, not esp_delta_ota's 10decdfc" % hex_of(hdr[:4]))
    digest = bytes(hdr[4:36])
    check_base(base, digest, buf)
    return digest


def check_kind(b, at):
    # detools' header byte `b` (at patch byte `at`): its compression, if the board can apply it.
    kind, compression = b >> 4 & 7, b & 15
    if kind or compression not in (0, 4):
        _fail("byte %d (0x%02x) is a detools %s patch compressed with %s: only sequential patches compressed"
              " with none or heatshrink are supported (tools/make_patch.py)" % (
                  at, b, _name("sequential in-place hdiffpatch", kind),
                  _name("none lzma crle bz2 heatshrink zstd lz4", compression)), ESP_ERR_NOT_SUPPORTED)
    return compression


def _name(names, i):
    n = names.split()
    return n[i] if i < len(n) else "unknown (%d)" % i
