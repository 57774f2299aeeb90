"""Write a delta patch from OLD.bin (the firmware a board runs) to NEW.bin, and print the sizes.

    .venv/bin/python tools/make_patch.py OLD.bin NEW.bin [-o PATCH] [--compression heatshrink|none]
                                         [--bare] [--zlib WBITS]

The patch is a detools sequential patch (bsdiff; heatshrink compression by default, window 2^8
and lookahead 2^7, as esp_delta_ota decodes), behind esp_delta_ota's 64-byte header as its
patch generator writes it: the magic 0xfccdde10 (little-endian), the SHA-256 the base image
carries at its end (esptool's "Validation hash"; the board checks it against the running app),
and 28 zero bytes. --bare leaves the header out (a plain detools patch, which needs
`delta_patch: True` on the board). The patch is applied back with detools before it is written:
a patch that does not rebuild NEW.bin byte for byte is never written. --zlib WBITS writes a
`none` patch zlib-compressed with a 2^WBITS-byte window (the board inflates it first, allocating
that window; 10 suits boards without PSRAM): the smallest download, but one that is not resumed.
"""

import argparse
import io
import sys
import zlib
from pathlib import Path

import detools
from esptool.bin_image import LoadFirmwareImage

MAGIC = 0xFCCDDE10  # esp_delta_ota: echo -n "esp_delta_ota" | sha256sum, first 4 bytes
HEADER_LEN = 64
DIGEST_LEN = 32
CHIPS = {0: "esp32", 2: "esp32s2", 5: "esp32c3", 9: "esp32s3", 12: "esp32c2", 13: "esp32c6", 16: "esp32h2"}


def base_digest(image):
    """The SHA-256 appended to an ESP-IDF app image, as esptool reads it."""
    chip = CHIPS.get(int.from_bytes(image[12:14], "little"), "esp32")
    fw = LoadFirmwareImage(chip, image)
    if not fw.append_digest or fw.stored_digest is None:
        raise SystemExit("the base image carries no SHA-256 (hash_appended is 0): esp_delta_ota cannot check it")
    return fw.stored_digest


def make_patch(old, new, compression="heatshrink", bare=False):
    """(patch bytes, detools part's size); checked by applying it back."""
    out = io.BytesIO()
    detools.create_patch(io.BytesIO(old), io.BytesIO(new), out, compression=compression,
                         heatshrink_window_sz2=8, heatshrink_lookahead_sz2=7)
    body = out.getvalue()
    rebuilt = io.BytesIO()
    detools.apply_patch(io.BytesIO(old), io.BytesIO(body), rebuilt)
    if rebuilt.getvalue() != new:
        raise SystemExit("detools could not rebuild NEW from the patch: not written")
    if bare:
        return body, len(body)
    header = MAGIC.to_bytes(4, "little") + base_digest(old) + bytes(HEADER_LEN - 4 - DIGEST_LEN)
    return header + body, len(body)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("-o", "--output", type=Path)
    ap.add_argument("--compression", choices=("heatshrink", "none"), default="heatshrink")
    ap.add_argument("--bare", action="store_true", help="no esp_delta_ota header")
    ap.add_argument("--zlib", type=int, choices=range(9, 16), metavar="WBITS",
                    help="a none patch, zlib-compressed with this window (9..15)")
    args = ap.parse_args(argv)
    old, new = args.old.read_bytes(), args.new.read_bytes()
    patch, _ = make_patch(old, new, "none" if args.zlib else args.compression, args.bare)
    if args.zlib:
        z = zlib.compressobj(9, zlib.DEFLATED, args.zlib)
        patch = z.compress(patch) + z.flush()
    out = args.output or args.new.with_suffix(".patch")
    out.write_bytes(patch)
    print("%s: %d bytes, a patch from %s (%d bytes) to %s (%d bytes): %.1f%% of the new image" % (
        out, len(patch), args.old.name, len(old), args.new.name, len(new), 100.0 * len(patch) / len(new)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
