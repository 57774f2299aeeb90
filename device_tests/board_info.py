# What `make deploy` / `make device-test` need to know about a board before installing: the
# running and next update partitions, and the mpy version and native arch its firmware loads.
# Prints one line: BOARD {...} (json). Plain MicroPython: runs on a board and on the unix port.
import json
import sys

import esp32

running = esp32.Partition(esp32.Partition.RUNNING)
try:
    update = running.get_next_update().info()[4]
except OSError:  # no OTA data or no other app partition: the firmware is not an OTA variant
    update = None
mpy = getattr(sys.implementation, "_mpy", 0)
print("BOARD " + json.dumps({
    "running": running.info()[4], "update": update, "mpy": mpy & 0xFF, "mpy_sub": (mpy >> 8) & 3,
    "arch": mpy >> 10, "version": sys.version, "machine": getattr(sys.implementation, "_machine", sys.platform),
}))
