# Feed one image file through esp_https_ota.image the way the download loop does, under CPython
# or the MicroPython unix port, and report what the package makes of it (test_image.py compares
# that with esptool, computed on CPython).
# usage: image_check.py PATH [KEY=VALUE ...]
#   splits=1,7,4096,r5   feed() call sizes, one run each; rN: pseudo-random sizes from seed N
#   mode=block|direct    block: copy into a 4096-byte buffer, feed it there and call hash_block()
#                        on every full buffer and on the last partial one (as lib's writer does);
#                        direct: feed from the file's own buffer, hash_block() on each fed chunk
#   kernels=native,plain which kernel sets to run (plain: esp_https_ota.(_plain.copy_xor, _plain.xor_bytes, _plain.copy_bytes, _plain.fill_bytes) patched in)
#   prefix=N             use only the first N bytes of the file
#   stream_len=known     pass the data length as ImageValidator's stream_len (default -1)
#   max_len=N            ImageValidator's max_len (default 16 MB, ESP-IDF's partition limit)
#   chip=ID,REV          also run check_chip(header, ID, REV)
#   trace=1              also walk the segments as the validator reads them
# Prints `RESULT {json}`.
import json
import struct
import sys
from binascii import hexlify

from esp_https_ota import _kernels, _plain, chip, image
from esp_https_ota.errors import OTAError

BLOCK = 4096
DONE = 6  # the validator's final streaming state (white box)
NATIVE_KERNELS = (_kernels.copy_xor, _kernels.xor_bytes, _kernels.copy_bytes, _kernels.fill_bytes)


def use_kernels(name):
    """Point the package's kernel slots at the native (viper) or the plain functions."""
    k = NATIVE_KERNELS if name == "native" else (_plain.copy_xor, _plain.xor_bytes, _plain.copy_bytes, _plain.fill_bytes)
    _kernels.copy_xor, _kernels.xor_bytes, _kernels.copy_bytes, _kernels.fill_bytes = k


def split_sizes(spec, total):
    """The feed() call sizes for one run (a generator: a list of 600,000 ones would not fit a
    small heap): a fixed size, or 'rN' for seeded pseudo-random sizes (a plain LCG, so CPython
    and MicroPython make the same sequence)."""
    left = total
    if spec[0] != "r":
        size = int(spec)
        while left > 0:
            yield size if size < left else left
            left -= size
        return
    x = int(spec[1:]) * 7919 + 1
    while left > 0:
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        # Mostly small sizes (they cross every boundary), now and then a large one.
        size = 1 + (x >> 4) % (9000 if x & 7 == 0 else 40)
        if size > left:
            size = left
        yield size
        left -= size


def error_dict(e):
    if isinstance(e, OTAError):
        return {"ok": False, "code": e.code, "msg": e.msg, "type": "OTAError"}
    return {"ok": False, "code": None, "msg": str(e), "type": type(e).__name__}


def feed(data, sizes, mode="block", max_len=1 << 24, stream_len=-1):
    """Run one ImageValidator over data in feed() calls of the given sizes; a result dict.
    Any exception other than OTAError is reported with its type, not raised."""
    v = image.ImageValidator(max_len, stream_len)
    res = {"stage": "feed"}
    try:
        pos = 0
        if mode == "block":
            buf = bytearray(BLOCK)
            fill = 0
            base = 0
            for size in sizes:
                while size > 0:
                    k = size if size < BLOCK - fill else BLOCK - fill
                    buf[fill:fill + k] = data[pos:pos + k]
                    v.feed(buf, fill, k)
                    fill += k
                    pos += k
                    size -= k
                    if fill == BLOCK:
                        v.hash_block(buf, base, fill)
                        base += fill
                        fill = 0
            if fill:
                v.hash_block(buf, base, fill)
        else:
            for size in sizes:
                v.feed(data, pos, size)
                v.hash_block(data[pos:pos + size], pos, size)
                pos += size
        res["stage"] = "verdict"
        v.verdict()
        res["ok"] = True
        res["code"] = None
        res["msg"] = ""
        res["type"] = None
        res["stage"] = None
    except Exception as e:  # noqa: BLE001  (the test asserts the type)
        res.update(error_dict(e))
    res["pos"] = v.pos
    res["image_len"] = v.image_len
    res["checksum"] = v.checksum
    res["computed"] = v._acc  # the running XOR checksum (private: compared across kernels)
    res["hash_appended"] = v.hash_appended
    res["done"] = v._state == DONE
    return res


def trace_segments(data, max_len=1 << 24):
    """[[load_addr, data_offset, data_len], ...] as the validator itself reads the segment
    headers: bytes go in one at a time outside segment data, and after each byte that
    completes a segment header the header is in the validator's scratch buffer (white box:
    uses the private _segs_left and _buf)."""
    v = image.ImageValidator(max_len)
    segs = []
    pos = 0
    n = len(data)
    try:
        while pos < n and v._state != DONE:
            left = v._segs_left
            v.feed(data, pos, 1)
            pos += 1
            if v._segs_left < left:
                addr, length = struct.unpack_from("<II", v._buf, 0)
                segs.append([addr, pos, length])
                k = min(length, n - pos)
                v.feed(data, pos, k)
                pos += k
    except OTAError as e:
        return segs, error_dict(e)
    return segs, None


def header_dict(data):
    if len(data) < 24:  # esp_image_header_t
        return None
    h = image.ImageHeader(data)
    return {
        "magic": h.magic, "segment_count": h.segment_count, "chip_id": h.chip_id,
        "min_chip_rev_full": h.min_chip_rev_full, "max_chip_rev_full": h.max_chip_rev_full,
        "hash_appended": h.hash_appended,
    }


def head_dict(data):
    """The head check on the first bytes, gathered in a 4096-byte buffer as the writer does."""
    buf = bytearray(BLOCK)
    n = min(len(data), image.HEAD_LEN)
    buf[0:n] = data[0:n]
    try:
        if n < image.HEAD_LEN:  # the writer's own check (OTAWriter.head())
            raise OTAError(-1, "image too short for its header and app description: %d of %d bytes" % (n, image.HEAD_LEN))
        desc = image.app_desc(buf)
    except Exception as e:  # noqa: BLE001
        return error_dict(e)
    hdr = image.ImageHeader(buf)
    return {
        "ok": True, "segment_count": hdr.segment_count, "chip_id": hdr.chip_id,
        "desc": {
            "magic_word": desc.magic_word, "secure_version": desc.secure_version,
            "version": desc.version, "project_name": desc.project_name, "time": desc.time,
            "date": desc.date, "idf_ver": desc.idf_ver,
            "app_elf_sha256": hexlify(bytes(desc.app_elf_sha256)).decode(),
            "min_efuse_blk_rev_full": desc.min_efuse_blk_rev_full,
            "max_efuse_blk_rev_full": desc.max_efuse_blk_rev_full,
            "mmu_page_size": desc.mmu_page_size,
        },
    }


def chip_dict(data, chip_id, rev):
    try:
        chip.check(image.ImageHeader(data), chip_id, rev)
    except Exception as e:  # noqa: BLE001
        return error_dict(e)
    return {"ok": True, "code": None, "msg": "", "type": None}


def main():
    path = sys.argv[1]
    opts = {}
    for arg in sys.argv[2:]:
        k, v = arg.split("=", 1)
        opts[k] = v
    with open(path, "rb") as f:
        data = f.read()
    if "prefix" in opts:
        data = data[:int(opts["prefix"])]
    max_len = int(opts.get("max_len", 1 << 24))
    stream_len = len(data) if opts.get("stream_len") == "known" else -1
    mode = opts.get("mode", "block")
    out = {
        "len": len(data), "native": _kernels.NATIVE,
        "header": header_dict(data), "head": head_dict(data), "runs": [],
    }
    if "chip" in opts:
        cid, rev = opts["chip"].split(",")
        out["chip"] = chip_dict(data, int(cid), int(rev))
    if opts.get("trace") == "1":
        out["segments"], out["trace_error"] = trace_segments(data, max_len)
    for kern in opts.get("kernels", "native").split(","):
        use_kernels(kern)
        for spec in opts.get("splits", "4096").split(","):
            r = feed(data, split_sizes(spec, len(data)), mode, max_len, stream_len)
            r["split"] = spec
            r["kernels"] = kern
            out["runs"].append(r)
    use_kernels("native")
    print("RESULT", json.dumps(out))


if __name__ == "__main__":
    main()
