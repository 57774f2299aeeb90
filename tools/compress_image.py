"""Compress an app image for a compressed OTA (esp_https_ota inflates it on the fly, detected by
its zlib or gzip header).

    python tools/compress_image.py IN OUT [--wbits 10..15] [--gzip]

zlib, level 9, with a window of 1 << wbits bytes (default 12: 4 KiB). The board allocates that
window in begin(): on small boards (no PSRAM) use wbits 10-12; 15 (32 KiB) compresses best.
--gzip writes gzip instead (always a 32 KiB window; --wbits does not apply). Prints the ratio.
Serve OUT as it is (no Content-Encoding): the client detects the header.
"""

import argparse
import gzip
import sys
import zlib


def compress(data, wbits=12, use_gzip=False):
    if use_gzip:
        return gzip.compress(data, compresslevel=9, mtime=0)
    c = zlib.compressobj(9, zlib.DEFLATED, wbits, 9)
    return c.compress(data) + c.flush()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--wbits", type=int, default=12, choices=range(9, 16), metavar="9..15",
                    help="zlib window: 1 << wbits bytes (default 12; 10-12 for small boards)")
    ap.add_argument("--gzip", action="store_true", help="gzip format (32 KiB window)")
    args = ap.parse_args(argv)
    with open(args.input, "rb") as f:
        data = f.read()
    if data[:1] != b"\xe9":
        print("warning: %s does not start with the image magic 0xE9" % args.input, file=sys.stderr)
    out = compress(data, args.wbits, args.gzip)
    with open(args.output, "wb") as f:
        f.write(out)
    window = 32768 if args.gzip else 1 << args.wbits
    print("%s: %d -> %d bytes (%.1f%%, %d saved), %s, window %d bytes" % (
        args.output, len(data), len(out), 100.0 * len(out) / len(data), len(data) - len(out),
        "gzip" if args.gzip else "zlib wbits %d" % args.wbits, window))


if __name__ == "__main__":
    main()
