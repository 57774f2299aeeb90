# Fuzz harness, under CPython (in process, from test_fuzz.py's hypothesis tests) and as a script
# under both interpreters (replaying a JSON list of inputs that test_fuzz.py generated).
# usage: fuzz_replay.py CASES.json   (image cases name their base image file by path)
# Every input goes through one of four targets, each of which may end only in success or in
# OTAError; anything else is reported with its exception type:
#   http    a response (head, then body: Content-Length, chunked or close-delimited) served by a
#           fake stream in the given pieces, through HTTPClient.request() and body.readinto()
#   config  a config dict through config.parse (esp_https_ota_config_t and http_config checks)
#   image   image bytes through writer.OTAWriter (head, chip, validator, flash) into a partition
#           wrapper that records every write and erase (each must lie inside the partition)
# Prints `RESULT {json}`: per-target counts and the outcome of every case.
import json
import sys

import esp_https_ota.http as http_mod
from esp_https_ota import transport
from esp_https_ota.errors import OTAError, ESP_ERR_HTTP_CONNECT

BLOCK = 4096
READ_CAP = 1 << 16  # a fuzzed body is read up to this many bytes


class FakeStream:
    """A TLS socket as the board's blocking stream: readinto(buf, n) returns once n bytes are
    in or the input has ended, readline(limit) stops after LF or `limit` bytes. The bytes
    arrive in `pieces` (the peer's send() calls); once they are used up the stream ends as
    `end` says: "eof" (peer closed: 0 bytes), "timeout" (OSError 110), "reset" (OSError 104)."""

    def __init__(self, pieces, end="eof"):
        self._pieces = [bytes(p) for p in pieces if len(p)]
        self._i = 0  # current piece
        self._off = 0  # offset in it
        self._end = end
        self.sent = 0
        self.closed = False

    def _more(self):
        """The rest of the current piece (empty at the end); raises at the end if `end` says so."""
        while self._i < len(self._pieces):
            p = self._pieces[self._i]
            if self._off < len(p):
                return p
            self._i += 1
            self._off = 0
        if self._end == "timeout":
            raise OSError(110, "ETIMEDOUT")
        if self._end == "reset":
            raise OSError(104, "ECONNRESET")
        return b""

    def readinto(self, buf, n=-1):
        if n < 0 or n > len(buf):
            n = len(buf)
        got = 0
        while got < n:
            p = self._more()
            if not p:
                break
            k = len(p) - self._off
            if k > n - got:
                k = n - got
            buf[got:got + k] = p[self._off:self._off + k]
            self._off += k
            got += k
        return got

    def readline(self, limit=-1):
        out = bytearray()
        while limit < 0 or len(out) < limit:
            p = self._more()
            if not p:
                break
            ch = p[self._off]
            self._off += 1
            out.append(ch)
            if ch == 10:
                break
        return bytes(out)

    def write(self, buf, off=0, n=-1):
        if self.closed:
            raise OSError(32, "EPIPE")
        k = len(buf) - off if n < 0 else n
        self.sent += k
        return k

    def close(self):
        self.closed = True


class FakeNet:
    """transport.connect / tls_context stand-ins: the first connection gets the fuzzed stream,
    later ones (after a redirect, or a close) get an empty stream, and after `limit` connections
    the connection fails, as an unreachable server does. Nothing touches the network."""

    def __init__(self, pieces, end, limit=4):
        self.pieces = pieces
        self.end = end
        self.limit = limit
        self.connects = 0
        self.hosts = []

    def connect(self, host, port, cfg, tls_ctx):
        self.connects += 1
        self.hosts.append(host)
        if self.connects > self.limit:
            raise OTAError(ESP_ERR_HTTP_CONNECT, "fake: no more connections")
        if self.connects == 1:
            return FakeStream(self.pieces, self.end)
        return FakeStream([], "eof")

    def tls_context(self, cfg):
        return None


def install(net):
    """Point the package's transport at `net`; returns what to restore."""
    saved = (transport.connect, transport.tls_context)
    transport.connect = net.connect
    transport.tls_context = net.tls_context
    return saved


def restore(saved):
    transport.connect, transport.tls_context = saved


def outcome(e):
    """[type name, code] of an exception: the code for OTAError, the message otherwise."""
    if isinstance(e, OTAError):
        return ["OTAError", e.code]
    return [type(e).__name__, str(e)[:200]]


def http_client(url="http://127.0.0.1:1/fw.bin", **fields):
    from esp_https_ota import config

    d = {"url": url}
    d.update(fields)
    return http_mod.HTTPClient(config.http_config(d, True))


def run_http(pieces, end="eof", reads=(1024,), start=-1, **fields):
    """Serve `pieces` as the whole response; request, then read the body with readinto() calls
    of the sizes in `reads` (cycled). ["ok", status, body] or outcome(e)."""
    net = FakeNet(pieces, end)
    saved = install(net)
    try:
        c = http_client(**fields)
        status = c.request(start)
        body = bytearray()
        buf = bytearray(max(reads))
        i = 0
        while len(body) < READ_CAP:
            n = reads[i % len(reads)]
            i += 1
            got = c.body.readinto(buf, n)
            if got < 0 or got > n:
                return ["BadCount", got]
            if got == 0:
                break
            body += buf[:got]
        return ["ok", status, bytes(body)]
    except Exception as e:
        return outcome(e)
    finally:
        restore(saved)


class RecordingPartition:
    """An esp32.Partition wrapper that records every write and erase as (offset, length) and
    counts those that do not lie inside the partition (they are still refused, not done)."""

    def __init__(self, part):
        self._p = part
        self.size = part.info()[3]
        self.ops = []
        self.outside = []

    def info(self):
        return self._p.info()

    def _note(self, off, n):
        self.ops.append((off, n))
        if off < 0 or n < 0 or off + n > self.size:
            self.outside.append((off, n))
            raise OSError(22, "write outside the partition")

    def ioctl(self, cmd, arg):
        if cmd == 6:  # BLOCK_ERASE
            self._note(arg * BLOCK, BLOCK)
        return self._p.ioctl(cmd, arg)

    def readblocks(self, block, buf, off=0):
        return self._p.readblocks(block, buf, off)

    def writeblocks(self, block, buf, off=None):
        self._note(block * BLOCK + (off or 0), len(buf))
        if off is None:
            return self._p.writeblocks(block, buf)
        return self._p.writeblocks(block, buf, off)

    def set_boot(self):
        raise OSError(1, "fuzz: set_boot is not called by the writer")


def run_image(data, part, sizes=(4096,), buffer_size=BLOCK, known_len=True):
    """Stream `data` through an OTAWriter into `part` as perform() does (the head first, then
    window/room/commit), in reads of the sizes in `sizes` (cycled, capped by room()); flush,
    then the verdict. ["ok", version, project_name, bytes taken] or outcome(e)."""
    from esp_https_ota.writer import OTAWriter

    try:
        w = OTAWriter(part, buffer_size)
        w.expect(len(data) if known_len else -1)
        pos = i = 0
        total = len(data)
        while pos < total:
            n = sizes[i % len(sizes)]
            i += 1
            room = w.room()
            miss = w.head_missing()
            if miss > 0 and miss < room:
                room = miss
            if n > room:
                n = room
            if n > total - pos:
                n = total - pos
            win = w.window()
            win[0:n] = data[pos:pos + n]
            w.commit(n)
            pos += n
        desc = w.head()
        w.flush()
        w.end()
        return ["ok", desc.version, desc.project_name, w.received()]
    except Exception as e:
        return outcome(e)


# -- config values in JSON: {"$b": hex} bytes, {"$cb": name} a callable, {"$part": label} an
# esp32.Partition, {"$d": [[key, value], ...]} a dict whose keys are not all str
def _cb_none(*args):
    return None


def _cb_ok(*args):
    return 0


def _cb_fail(*args):
    return -1


def _cb_connect(*args):
    return 0x7002


CALLBACKS = {"none": _cb_none, "ok": _cb_ok, "fail": _cb_fail, "connect": _cb_connect}


def decode(v):
    import binascii

    if isinstance(v, list):
        return [decode(x) for x in v]
    if isinstance(v, dict):
        if len(v) == 1:
            for k in v:
                if k == "$b":
                    return binascii.unhexlify(v[k])
                if k == "$cb":
                    return CALLBACKS[v[k]]
                if k == "$part":
                    import esp32

                    return esp32.Partition(v[k])
                if k == "$d":
                    out = {}
                    for kv in v[k]:
                        key = decode(kv[0])
                        out[tuple(key) if isinstance(key, list) else key] = decode(kv[1])
                    return out
        out = {}
        for k in v:
            out[k] = decode(v[k])
        return out
    return v


def run_config(cfg):
    """config.parse(cfg): ["ok", range_size, resume_from, buffer_size] or outcome(e)."""
    from esp_https_ota import config

    try:
        c = config.parse(cfg)
        return ["ok", c.range_size, c.resume_from, c.buffer_size]
    except Exception as e:
        return outcome(e)


def main():
    import binascii

    with open(sys.argv[1]) as f:
        cases = json.load(f)
    bases = {}
    counts = {}
    results = []
    unexpected = []
    outside = 0
    part = None
    for i, case in enumerate(cases):
        kind = case["kind"]
        counts[kind] = counts.get(kind, 0) + 1
        if kind == "http":
            pieces = [binascii.unhexlify(p) for p in case["pieces"]]
            r = run_http(pieces, case["end"], case["reads"])
            if r[0] == "ok":
                r = ["ok", r[1], len(r[2]), binascii.hexlify(r[2][:64]).decode()]
        elif kind == "config":
            r = run_config(decode(case["config"]))
        elif kind == "image":
            name = case["base"]
            if name not in bases:
                with open(name, "rb") as f:
                    bases[name] = f.read()
            data = bytearray(bases[name])
            for off, val in case["set"]:
                data[off] = val
            data = data[:case["cut"]] + binascii.unhexlify(case["extra"])
            if part is None:
                import esp32

                part = RecordingPartition(esp32.Partition("ota_1"))
            r = run_image(data, part, case["sizes"], case["buffer_size"], case["known_len"])
            outside += len(part.outside)
            part.outside = []
            part.ops = []
            data = None
        else:
            r = ["UnknownKind", kind]
        if r[0] not in ("ok", "OTAError"):
            unexpected.append([i, kind, r])
        results.append(r)
    print("RESULT " + json.dumps({"counts": counts, "results": results, "unexpected": unexpected,
                                  "outside": outside, "impl": sys.implementation.name}))


if __name__ == "__main__":
    main()
