# esp_https_ota.url case by case, in one process.
# usage: url_check.py CASES_JSON, where CASES_JSON is
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


cases = json.loads(sys.argv[1])
out = {
    "resolve": [run(url.resolve, base, ref) for base, ref in cases["resolve"]],
    "split": [run(url.split, u) for u in cases["split"]],
    "strip": [run(url.strip_fragment, u) for u in cases["strip"]],
    "redact": [run(url.redact, u) for u in cases["redact"]],
}
print("RESULT", json.dumps(out))
