# Fetch one image with the package's HTTP client, under CPython or the MicroPython unix port.
# usage: http_fetch.py SPEC_JSON
#   SPEC: {"http_config": {...}, "ca_file": path, "client_cert_file": path, "client_key_file": path,
#          "range_size": N, "headers": {name: value}, "allow_http": bool, "init_ret": code}
# Prints RESULT: status, size, nbytes, sha256 (hex), requests, or code/name/msg on failure.
import binascii
import hashlib
import json
import sys
import time

from esp_https_ota import OTAError, err_to_name
from esp_https_ota.config import http_config
from esp_https_ota.http import HTTPClient
from esp_https_ota.ranges import open_source, run


def read_file(path):
    with open(path) as f:
        return f.read()


def main():
    spec = json.loads(sys.argv[1])
    cfg = spec.get("http_config", {})
    for key, field in (("ca_file", "cert_pem"), ("client_cert_file", "client_cert_pem"),
                       ("client_key_file", "client_key_pem")):
        if key in spec:
            cfg[field] = read_file(spec[key])
    res = {}
    t0 = time.ticks_ms() if hasattr(time, "ticks_ms") else int(time.time() * 1000)
    client = None
    try:
        client = HTTPClient(http_config(cfg, spec.get("allow_http", False)))
        for name, value in spec.get("headers", {}).items():
            client.set_header(name, value)
        steps = open_source(client, 0, spec.get("range_size", 0))
        source, res["size"] = run(steps, next(steps))
        res["status"] = client.status
        buf = bytearray(4096)
        sha = hashlib.sha256()
        total = 0
        while True:
            n = source.readinto(buf, len(buf))
            if n == 0:
                break
            sha.update(buf if n == len(buf) else memoryview(buf)[:n])
            total += n
        res["nbytes"] = total
        res["sha256"] = binascii.hexlify(sha.digest()).decode()
        res["complete"] = client.body.ended
        res["ok"] = True
    except OTAError as e:
        res["ok"] = False
        res["code"] = e.code
        res["name"] = err_to_name(e.code)
        res["msg"] = str(e)
    t1 = time.ticks_ms() if hasattr(time, "ticks_ms") else int(time.time() * 1000)
    res["elapsed_ms"] = t1 - t0
    if client is not None:
        res["last_status"] = client.status
        res["requests"] = client.requests
        res["url"] = client.url
        client.close()
    print("RESULT", json.dumps(res))


main()
