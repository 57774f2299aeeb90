"""A developer update server for esp_https_ota: serves a firmware file (or a build directory)
over HTTPS with a local CA, so a board on the LAN can update from the PC it was built on.

    python -m esp_https_ota_server build/firmware.bin      # or: esp-https-ota-server DIR

From Python (tests, tools):

    from esp_https_ota_server import Server
    with Server("build/", port=0, state_dir=tmp) as srv:   # bind="127.0.0.1" by default
        srv.url("app.bin")        # "https://localhost:PORT/app.bin"
        srv.ca_pem, srv.port

Modules: `pki` (the CA and the server certificate), `hosts` (the names the certificate covers),
`catalog` (what is served, ETag, latest.json), `ranges` (Range and the conditional headers),
`handler` (one HTTP exchange), `server` (`Server`), `cli` (the command line).
"""

__version__ = "0.1.0"

from .server import Server  # noqa: E402  (after __version__, which cli.py imports)
__all__ = ["Server", "__version__"]
