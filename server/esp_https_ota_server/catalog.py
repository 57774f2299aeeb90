"""What the server offers: the file it was given, or each file directly inside the directory
it was given, and /latest.json, all as Resources with a strong ETag and a Last-Modified date.

A request names a file by one plain path component: anything with a slash (after percent
decoding), a backslash, a NUL or a leading dot is not found, so nothing outside the directory
and nothing in its subdirectories is served. A symlink placed in the directory is followed.

/latest.json describes the newest `.bin` (by modification time) that is an ESP-IDF app image,
or the newest `.bin` of all when none is (with a single file: that file):

    {"version": "1.2.3", "size": 601808, "sha256": "<hex>", "url": "https://host:port/app.bin"}

The version is --version, else esp_app_desc_t.version read from the image (null when the file
has no app description). A file in the directory named latest.json is served as it is instead.
"""

import hashlib
import io
import json
import mimetypes
import os
import struct
import threading
from collections import namedtuple
from pathlib import Path
from urllib.parse import quote

LATEST = "latest.json"

# esp_image_header_t (24 bytes) and the first segment's header (8) precede esp_app_desc_t.
_IMAGE_MAGIC = 0xE9
_APP_DESC_OFFSET = 24 + 8
_APP_DESC_MAGIC = 0xABCD5432
_VERSION_OFFSET = _APP_DESC_OFFSET + 16  # after magic_word, secure_version, reserv1[2]
_VERSION_LEN = 32
_HASH_CHUNK = 1 << 20

# body: a binary file object at offset 0, closed by whoever serves it; mtime: POSIX seconds.
Resource = namedtuple("Resource", "name size etag mtime content_type body")


def app_version(head):
    """esp_app_desc_t.version of an image that starts with `head` (at least 80 bytes), or None
    when it is not an ESP-IDF app image. Stock MicroPython builds give ''."""
    if len(head) < _VERSION_OFFSET + _VERSION_LEN or head[0] != _IMAGE_MAGIC:
        return None
    if struct.unpack_from("<I", head, _APP_DESC_OFFSET)[0] != _APP_DESC_MAGIC:
        return None
    field = head[_VERSION_OFFSET:_VERSION_OFFSET + _VERSION_LEN]
    return field.split(b"\0", 1)[0].decode("utf-8", "replace")


def valid_name(name):
    """Whether a decoded request path (less its leading slash) names a file directly inside."""
    return bool(name) and not name.startswith(".") and not any(c in name for c in "/\\\0")


class Catalog:
    """The served files. `path` is a file or a directory; raises FileNotFoundError otherwise."""

    def __init__(self, path, version=None):
        p = Path(path).expanduser().absolute()
        if p.is_dir():
            self.dir, self.single = p, None
        elif p.is_file():
            self.dir, self.single = p.parent, p.name
        else:
            raise FileNotFoundError("no such file or directory: %s" % path)
        self.version = version
        self._digests = {}  # (dev, inode, size, mtime_ns) -> SHA-256 hex digest
        self._lock = threading.Lock()

    def names(self):
        """The names of the served files (not latest.json unless it is a real file), sorted."""
        if self.single is not None:
            return [self.single] if (self.dir / self.single).is_file() else []
        try:
            entries = os.listdir(self.dir)
        except OSError:
            return []
        return sorted(n for n in entries if valid_name(n) and (self.dir / n).is_file())

    def _path(self, name):
        if not valid_name(name) or (self.single is not None and name != self.single):
            return None
        p = self.dir / name
        return p if p.is_file() else None

    def latest(self):
        """The name of the file /latest.json describes, or None when there is none."""
        if self.single is not None:
            return self.single if self._path(self.single) else None
        bins = [n for n in self.names() if n.lower().endswith(".bin")]
        apps = [n for n in bins if self._version_of(self.dir / n) is not None]
        newest = None
        for n in apps or bins:
            try:
                key = (os.stat(self.dir / n).st_mtime_ns, n)
            except OSError:
                continue
            if newest is None or key > newest:
                newest = key
        return newest and newest[1]

    def open(self, name, base_url):
        """The Resource `name` refers to, opened, or None (not found). `base_url` ("https://
        host:port", from the request) is where latest.json says the file is."""
        path = self._path(name)
        if path is None:
            return self._latest_json(base_url) if name == LATEST else None
        try:
            f = open(path, "rb")
        except OSError:
            return None
        try:
            st = os.fstat(f.fileno())
            digest = self._sha256(f, st)
        except BaseException:
            f.close()
            raise
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return Resource(name, st.st_size, '"%s"' % digest, st.st_mtime, ctype, f)

    def _sha256(self, f, st):
        """SHA-256 of the open file `f`, cached while the file keeps its inode, size and mtime;
        leaves `f` at offset 0."""
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            digest = self._digests.get(key)
        if digest is None:
            h = hashlib.sha256()
            while True:
                chunk = f.read(_HASH_CHUNK)
                if not chunk:
                    break
                h.update(chunk)
            digest = h.hexdigest()
            with self._lock:
                self._digests[key] = digest
            f.seek(0)
        return digest

    def _version_of(self, path):
        try:
            with open(path, "rb") as f:
                return app_version(f.read(_VERSION_OFFSET + _VERSION_LEN))
        except OSError:
            return None

    def _latest_json(self, base_url):
        name = self.latest()
        res = name and self.open(name, base_url)
        if not res:
            return None
        with res.body:
            version = self.version
            if version is None:
                version = app_version(res.body.read(_VERSION_OFFSET + _VERSION_LEN))
        doc = {"version": version, "size": res.size, "sha256": res.etag.strip('"'),
               "url": "%s/%s" % (base_url, quote(name))}
        body = (json.dumps(doc, indent=1) + "\n").encode()
        etag = '"%s"' % hashlib.sha256(body).hexdigest()
        return Resource(LATEST, len(body), etag, res.mtime, "application/json", io.BytesIO(body))
