# perform() called again after it raised (an application that retries the loop), then abort().
# usage: perform_after_error.py URL CA_PEM_PATH
# Prints RESULT {"first": [code, msg], "again": [code or exception name, msg], "boot": label}.
import json
import sys

import esp32
import esp_https_ota as ota


def outcome(fn, *args):
    try:
        return [fn(*args), ""]
    except ota.OTAError as e:
        return [e.code, str(e)]
    except Exception as e:  # anything else is the bug this scenario looks for
        return [type(e).__name__, str(e)]


with open(sys.argv[2]) as f:
    ca = f.read()
h = ota.begin({"http_config": {"url": sys.argv[1], "cert_pem": ca}})
first = [ota.ESP_ERR_HTTPS_OTA_IN_PROGRESS, ""]
while first[0] == ota.ESP_ERR_HTTPS_OTA_IN_PROGRESS:
    first = outcome(ota.perform, h)
again = outcome(ota.perform, h)
aborted = outcome(ota.abort, h)
print("RESULT " + json.dumps({"first": first, "again": again, "abort": aborted,
                              "boot": esp32.Partition(esp32.Partition.BOOT).info()[4]}))
