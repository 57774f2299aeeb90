# The esp32 shim's NVS across resets: one process is one boot.
# usage: nvs_commit.py set VALUE [commit] | show
# Prints RESULT {"value": the i32 under key "k" of namespace "t", or null when missing}.
import json
import sys

import esp32

nvs = esp32.NVS("t")
if sys.argv[1] == "set":
    nvs.set_i32("k", int(sys.argv[2]))
    if sys.argv[3:] == ["commit"]:
        nvs.commit()
try:
    value = nvs.get_i32("k")
except OSError:
    value = None
print("RESULT " + json.dumps({"value": value}))
