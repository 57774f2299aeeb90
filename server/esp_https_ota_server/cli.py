"""The command line: esp-https-ota-server FILE_OR_DIR [options] (or python -m esp_https_ota_server).

Prints, on stdout, the CA certificate a board must trust (main.py's cert_pem), a main.py
snippet with the URL, and `serving on https://BIND:PORT/`; then logs each request on stderr
until Ctrl-C (or SIGTERM), which ends it with exit status 0.
"""

import argparse
import ipaddress
import os
import signal
import sys

from . import __version__
from .catalog import LATEST
from .server import DEFAULT_STATE_DIR, Server

_MAX_LISTED = 10


def _parser():
    p = argparse.ArgumentParser(
        prog="esp-https-ota-server",
        description="Serve ESP32 firmware over HTTPS for esp_https_ota, with a local CA.")
    p.add_argument("path", metavar="FILE_OR_DIR",
                   help="a firmware image, or a directory whose files are served")
    p.add_argument("--port", type=int, default=8070, help="TCP port (0: any free one; default 8070)")
    p.add_argument("--bind", default="0.0.0.0", help="IPv4 address to listen on (default 0.0.0.0)")
    p.add_argument("--state-dir", default=DEFAULT_STATE_DIR,
                   help="where the CA and server certificate are kept (default %(default)s)")
    p.add_argument("--ca-out", metavar="PATH", help="also write the CA certificate (PEM) here")
    p.add_argument("--hosts", metavar="NAME", nargs="+", action="extend", default=[],
                   help="extra host names or IP addresses for the server certificate "
                        "(several, or comma-separated; after FILE_OR_DIR)")
    p.add_argument("--version", dest="fw_version", metavar="X",
                   help="the version latest.json announces (default: read from the image)")
    return p


def _on_stop_signal(signum, frame):
    raise KeyboardInterrupt


def _out(line=""):
    print(line, flush=True)


def _report(srv, args):
    """What a developer needs to point a board at this server."""
    p, (dns, ips) = srv.pki, srv.names
    names = srv.catalog.names()
    latest = srv.catalog.latest()
    main = latest or (names[0] if names else "firmware.bin")
    if srv.catalog.single:
        what = str(srv.catalog.dir / srv.catalog.single)
    else:
        what = "%s/ (%d file%s)" % (srv.catalog.dir, len(names), "" if len(names) == 1 else "s")
    _out("esp_https_ota_server %s: %s" % (__version__, what))
    _out("CA: %s (%s)" % (p.ca_path, "made now: boards need this new cert_pem"
                          if p.ca_created else "reused"))
    _out("server certificate for: %s (%s)" % (", ".join(dns + ips),
                                              "made now: " + p.cert_made if p.cert_made else "reused"))
    _out()
    ca_name = os.path.basename(args.ca_out) if args.ca_out else "ca.pem"
    _out("cert_pem (the CA certificate; save it on the board as %s):" % ca_name)
    _out(p.ca_pem.rstrip("\n"))
    if args.ca_out:
        _out("(written to %s: mpremote cp %s :%s)" % (args.ca_out, args.ca_out, ca_name))
    _out()
    urls = srv.urls(main)
    # Unindented, so that it pastes into main.py as it is.
    _out("--- main.py (once Wi-Fi is up and the clock is set, e.g. ntptime.settime()) ---")
    _out("import esp_https_ota as ota")
    _out('CA_PEM = open("%s").read()' % ca_name)
    _out('ota.esp_https_ota({"http_config": {"url": "%s", "cert_pem": CA_PEM}})' % urls[0])
    for other in urls[1:]:
        _out("# or the url %s" % other)
    _out("import machine; machine.reset()")
    _out("---")
    for name in names[:_MAX_LISTED]:
        _out("file: %s" % srv.urls(name)[0])
    if len(names) > _MAX_LISTED:
        _out("... and %d more files" % (len(names) - _MAX_LISTED))
    if latest:
        _out("%s: %s (describes %s)" % (LATEST, srv.urls(LATEST)[0], latest))
    bind = ipaddress.ip_address(srv.bind)
    if bind.is_loopback:
        _out("note: bound to %s, only this PC can connect (--bind 0.0.0.0 for boards)" % srv.bind)
    elif bind.is_unspecified and not any(not ipaddress.ip_address(i).is_loopback for i in ips):
        _out("note: no LAN address found; name this PC with --hosts NAME_OR_IP")
    _out("serving on https://%s:%d/ (Ctrl-C stops)" % (srv.bind, srv.port))


def main(argv=None):
    args = _parser().parse_args(argv)
    extra = [h for item in args.hosts for h in item.split(",") if h.strip()]
    try:
        ipaddress.IPv4Address(args.bind)
    except ValueError:
        print("esp-https-ota-server: --bind needs an IPv4 address, not %r" % args.bind,
              file=sys.stderr)
        return 2
    try:
        srv = Server(args.path, port=args.port, bind=args.bind, state_dir=args.state_dir,
                     hosts=extra, version=args.fw_version)
        srv.open()
    except OSError as e:  # no such file, port in use, state directory not writable
        print("esp-https-ota-server: %s" % e, file=sys.stderr)
        return 1
    try:
        if args.ca_out:
            with open(args.ca_out, "w") as f:
                f.write(srv.ca_pem)
        # Ctrl-C and SIGTERM stop it, also when started in the background by a shell that
        # leaves SIGINT ignored in its children (Python then installs no handler of its own).
        signal.signal(signal.SIGINT, _on_stop_signal)
        signal.signal(signal.SIGTERM, _on_stop_signal)
        _report(srv, args)
        srv.serve_forever()
    except KeyboardInterrupt:
        _out("stopped")
    except OSError as e:  # --ca-out not writable
        print("esp-https-ota-server: %s" % e, file=sys.stderr)
        return 1
    finally:
        srv.close()
    return 0
