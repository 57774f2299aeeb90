# esp_https_ota.should_update() of each image file against the running app (the shim's flash).
# usage: policy_check.py IMAGE [IMAGE ...]
# Prints RESULT {"verdicts": [[should_update(desc), should_update(desc, force=True)], ...]}.
import json
import sys

import esp_https_ota as ota
from esp_https_ota.image import HEAD_LEN, app_desc

verdicts = []
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        desc = app_desc(f.read(HEAD_LEN))
    verdicts.append([ota.should_update(desc), ota.should_update(desc, force=True)])
print("RESULT " + json.dumps({"verdicts": verdicts}))
