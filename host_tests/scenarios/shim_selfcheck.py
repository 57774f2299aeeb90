# Exercises the esp32 shim's Partition API the way code on a board uses it, under CPython or
# the MicroPython unix port, and prints `RESULT {json}` with what it saw. Needs $ESP32_FLASH
# made by flashsim.create_flash(..., app_image=<a valid ESP32 app>) (ota_0 runs).
# Under MicroPython it also checks that the OTA hot path allocates nothing (heap_lock).
import json
import sys

import esp32
import machine
import micropython

P = esp32.Partition
res = {}


def err(fn, *args):
    """The exception fn(*args) raises, as [class name, first arg], or None."""
    try:
        fn(*args)
    except Exception as e:
        name = "OSError" if isinstance(e, OSError) else type(e).__name__  # not FileNotFoundError
        return [name, e.args[0] if e.args else None]
    return None


def labels(parts):
    return [p.info()[4] for p in parts]


def counters():
    st = P.flash.stats
    return [st["erase_calls"], st["erased_bytes"], st["write_calls"], st["written_bytes"]]


def heap_lock_bites():
    # negative control: under heap_lock() an allocation must fail, or the check proves nothing
    micropython.heap_lock()
    try:
        bytearray(16)
        bites = False
    except MemoryError:
        bites = True
    micropython.heap_unlock()
    return bites


def zero_alloc(part, buf, big):
    # The calls esp_https_ota's perform() loop makes, between heap_lock() and heap_unlock().
    # Everything used here exists already; a MemoryError means the shim allocated.
    failed = None
    fl = P.flash
    addr = part.info()[2] + 0x100000
    fl.erase(addr, 0x20000)
    micropython.heap_lock()
    try:
        failed = "writeblocks2"
        part.writeblocks(1, buf)
        failed = "ioctl6"
        part.ioctl(6, 2)
        failed = "writeblocks3"
        part.writeblocks(2, buf, 0)
        failed = "readblocks"
        part.readblocks(1, buf)
        failed = "readblocks_offset"
        part.readblocks(0, buf, 16)
        failed = "writeblocks2_64k"
        part.writeblocks(16, big)
        failed = "ioctl4"
        part.ioctl(4, 0)
        # the simulator underneath, directly: erase / write / read of 4096 and 65536 bytes
        failed = "flash.erase4096"
        fl.erase(addr, 4096)
        failed = "flash.erase65536"
        fl.erase(addr, 65536)
        failed = "flash.write4096"
        fl.write(addr, buf)
        failed = "flash.write65536_unaligned"
        fl.write(addr + 4096 + 16, big)
        failed = "flash.read65536"
        fl.read(addr, big)
        failed = "flash.read4096"
        fl.read(addr, buf)
        fl.strict = False
        failed = "flash.write4096_nonstrict_over_data"
        fl.write(addr, buf)
        fl.strict = True
        failed = None
    except MemoryError:
        pass
    micropython.heap_unlock()
    return failed


def main():
    running = P(P.RUNNING)
    nxt = running.get_next_update()
    res["running"] = running.info()[4]
    res["boot"] = P(P.BOOT).info()[4]
    res["next"] = nxt.info()[4]
    res["next_of_next"] = nxt.get_next_update().info()[4]
    res["info"] = list(running.info())
    res["repr"] = repr(running)
    res["eq"] = [running == P("ota_0"), running == nxt]
    res["find_app"] = labels(P.find())
    res["find_data"] = labels(P.find(P.TYPE_DATA))
    res["find_ota1"] = labels(P.find(P.TYPE_APP, 0x11))
    res["find_label"] = labels(P.find(P.TYPE_DATA, label="nvs"))
    res["data_by_label"] = P("otadata").info()[:2]
    res["unknown_label"] = err(P, "nope")
    res["ioctl"] = [nxt.ioctl(1, 0), nxt.ioctl(2, 0), nxt.ioctl(3, 0), nxt.ioctl(4, 0), nxt.ioctl(5, 0)]
    nblocks = nxt.ioctl(4, 0)
    res["ioctl6_past_end"] = err(nxt.ioctl, 6, nblocks)
    res["ioctl6_last"] = nxt.ioctl(6, nblocks - 1)

    buf = bytearray(4096)
    for i in range(4096):
        buf[i] = i & 0xFF
    back = bytearray(4096)
    c0 = counters()
    nxt.writeblocks(0, buf)  # 2 args: erases block 0, then writes
    c1 = counters()
    nxt.writeblocks(0, buf)  # again: fine, the 2-arg form erases first
    nxt.readblocks(0, back)
    res["wb2_twice_ok"] = back == buf
    res["wb2_counts"] = [c1[i] - c0[i] for i in range(4)]
    c2 = counters()
    res["wb3_unerased"] = err(nxt.writeblocks, 0, buf, 0)  # 3 args never erase: strict error
    res["wb3_counts"] = [counters()[0] - c2[0]]
    nxt.ioctl(6, 0)
    nxt.writeblocks(0, buf, 0)
    nxt.readblocks(0, back)
    res["wb3_after_erase_ok"] = back == buf
    small = bytearray(8)
    nxt.readblocks(0, small, 100)
    res["rb_offset"] = list(small)
    nxt.readblocks(1, small, 4)
    res["rb_erased"] = list(small)
    res["rb_past_end"] = err(nxt.readblocks, nblocks, small)
    res["rb_beyond"] = err(nxt.readblocks, nblocks + 1, small)
    res["wb2_unaligned_len"] = err(nxt.writeblocks, 3, bytearray(100))
    res["wb3_partial"] = err(nxt.writeblocks, 3, bytearray(b"\x00\x01\x02"), 10)
    nxt.readblocks(3, small, 8)
    res["wb3_partial_data"] = list(small)

    # set_boot on a partition that does not hold a valid image: OSError(-5379), boot unchanged
    res["set_boot_bad"] = err(nxt.set_boot)
    res["boot_after_bad"] = P(P.BOOT).info()[4]
    res["mark_valid"] = err(P.mark_app_valid_cancel_rollback)

    # block_size below the erase sector: the port's read-erase-rewrite path
    p512 = P(nxt.info()[4], 512)
    res["bs512_ioctl"] = [p512.ioctl(4, 0), p512.ioctl(5, 0), p512.ioctl(6, 0)]
    nxt.writeblocks(4, buf)
    p512.writeblocks(8 * 4 + 1, bytearray(512))  # zero bytes 512..1023 of block 4
    nxt.readblocks(4, back)
    res["bs512_kept"] = [back[0:512] == buf[0:512], back[512:1024] == bytearray(512),
                         back[1024:] == buf[1024:]]

    nvs = esp32.NVS("selfcheck")
    nvs.set_i32("n", -7)
    nvs.set_blob("b", b"abc")
    blob = bytearray(8)
    res["nvs"] = [nvs.get_i32("n"), nvs.get_blob("b", blob), bytes(blob[:3]).decode(),
                  err(nvs.get_i32, "missing"), err(nvs.get_blob, "b", bytearray(2))]
    nvs.erase_key("n")
    res["nvs_erased"] = err(nvs.get_i32, "n")
    nvs.commit()

    if sys.implementation.name == "micropython":
        import gc

        gc.collect()  # a 64 KB block needs an unfragmented 256 KB heap
        big = bytearray(65536)
        P.flash.reset_stats()
        res["heap_lock_bites"] = heap_lock_bites()
        res["zero_alloc_failed_at"] = zero_alloc(nxt, buf, big)
        res["zero_alloc_stats"] = counters()
    res["machine"] = [len(machine.unique_id()), machine.freq()]
    print("RESULT", json.dumps(res))
    machine.reset()  # ends the process with status 0, as a reset ends the program on a board
    print("after reset")  # never printed


main()
