# The base of a delta patch (delta.py): which partition it is (delta_base, else the running
# app), and, for a patch with esp_delta_ota's header, that it holds the image the patch was made
# for: an intact app image whose appended SHA-256 is the header's. Loaded only then.
from .delta import hex_of, _fail
from .errors import OTAError, ESP_ERR_INVALID_ARG, ESP_ERR_OTA_PARTITION_CONFLICT


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

    label, limit, bs = base.info()[4], base.info()[3], base.ioctl(5, 0)
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
