# esp_https_ota.url case by case, in one process.
# usage: url_check.py CASES_FILE, a JSON file (the unix port's json.loads crashes on some long argv
# strings: read from a file instead), holding
#   {"resolve": [[base, ref], ...], "split": [url, ...], "strip": [url, ...], "redact": [url, ...]}
# Prints RESULT with the same keys: per case ["ok", value] or ["err", code, str(error)].
import json
import sys

from esp_https_ota import url
from esp_https_ota.errors import OTAError


def run(fn, *args):
    try:
        return ["ok", fn(*args)]
    except OTAError as e:
        return ["err", e.code, str(e)]


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    fns = {"resolve": url.resolve, "split": url.split, "redact": url.redact}
    out = {}
    for key in ("resolve", "split", "redact"):
        got = []
        for case in cases[key]:
            got.append(run(fns[key], *case) if key == "resolve" else run(fns[key], case))
        out[key] = got
    print("RESULT", json.dumps(out))


main()
