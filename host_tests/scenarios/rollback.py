# app_update helpers after an OTA: describe partitions, roll back. usage: rollback.py ACTION
import json
import sys

import esp_https_ota as ota

res = {"running": ota.get_running_partition().info()[4],
       "possible": ota.check_rollback_is_possible(),
       "running_version": ota.get_app_description().version}
try:
    res["other_version"] = ota.get_partition_description(ota.get_next_update_partition()).version
except ota.OTAError as e:
    res["other_error"] = e.code
if sys.argv[1] == "rollback":
    print("RESULT", json.dumps(res))
    try:
        ota.mark_app_invalid_rollback_and_reboot()  # resets: the process ends here on success
    except ota.OTAError as e:
        res["rollback_error"] = e.code
print("RESULT", json.dumps(res))
