# Device side of bench/delta.py: the delta stage alone (lib/esp_https_ota/delta.py), fed a patch
# from RAM, its base the running partition of the simulated flash ($ESP32_FLASH), its output
# drained in 4096-byte reads as the writer's window takes it. MicroPython unix port.
# usage: delta_job.py PATCH_PATH IMAGE_SIZE [plain]     (plain: without the viper kernels)
# Prints RESULT {us (patch applied), check_us (begin(): header and base check), heap (bytes the
# stage keeps: gc.mem_free() before minus after building it, collected), reads (base reads while
# applying), check_reads (base reads of the check), bytes}.
import gc
import json
import sys
import time

import esp32

if len(sys.argv) > 3 and sys.argv[3] == "plain":
    sys.modules["esp_https_ota._delta_viper"] = object()  # from-import fails: the plain fallbacks
from esp_https_ota.delta import DeltaStage
import esp_https_ota.delta_base  # noqa: F401  (code loaded before the heap is measured)
import esp_https_ota.heatshrink  # noqa: F401
import esp_https_ota.image  # noqa: F401

with open(sys.argv[1], "rb") as f:
    data = f.read()
expect = int(sys.argv[2])


class Mem:  # a source of the pipeline's contract, from RAM, past the 2 bytes begin() peeked
    def __init__(self, b):
        self.b = memoryview(b)
        self.p = 2

    def readinto(self, buf, n):
        k = len(self.b) - self.p
        if k > n:
            k = n
        buf[:k] = self.b[self.p:self.p + k]
        self.p += k
        return k


base = esp32.Partition(esp32.Partition.RUNNING)
out = bytearray(4096)
gc.collect()
free = gc.mem_free()
stats = esp32.flash.stats
esp32.flash.reset_stats()
t0 = time.ticks_us()
st = DeltaStage(Mem(data), base, data[0], data[1], data[:2] != b"\x10\xde")
check_us = time.ticks_diff(time.ticks_us(), t0)
check_reads = stats["read_calls"]
gc.collect()
heap = free - gc.mem_free()
esp32.flash.reset_stats()
t0 = time.ticks_us()
total = 0
while True:
    n = st.readinto(out, 4096)
    if not n:
        break
    total += n
us = time.ticks_diff(time.ticks_us(), t0)
assert total == expect, (total, expect)
print("RESULT", json.dumps({"us": us, "check_us": check_us, "heap": heap, "reads": stats["read_calls"],
                            "check_reads": check_reads, "bytes": total}))
