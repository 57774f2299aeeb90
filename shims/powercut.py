"""flashsim's power-loss mode, loaded only when a cut is armed (Flash.power_cut(), or
ESP32_FLASH_CUT in shims/esp32.py), so that the heap figures of `make bench` do not carry it.

At the armed erase or write the operation is torn, as when a board's power fails: a torn write
programs only a prefix of its bytes (a multiple of 4, chosen from the seed, shorter than the
write); a torn erase clears a prefix of its sectors, then a prefix of the next sector's bytes
reads 0xFF and the rest keeps the old data. With after=True the operation completes and the
power fails right after it. Death is SIGKILL, so no finally block, except clause or atexit
handler runs: the parent sees exit status -9 and a "POWERCUT op=N ..." line on stderr.
"""

import binascii
import os
import sys

SECTOR_SIZE = 4096


def cut_random(seed, op, salt, n):
    """A number in [0, n) from (seed, op, salt): the same tear on both interpreters."""
    if n <= 1:
        return 0
    h = binascii.crc32(("%d/%d/%s" % (seed, op, salt)).encode()) & 0xFFFFFFFF
    return h % n


def torn_erase(fl, addr, length):
    full = cut_random(fl._cut_seed, fl.ops, "sectors", length // SECTOR_SIZE)
    part = cut_random(fl._cut_seed, fl.ops, "bytes", SECTOR_SIZE // 4) * 4
    f = fl._f
    for i in range(full):
        f.seek(addr + i * SECTOR_SIZE)
        f.write(fl._ff)
    if part:
        f.seek(addr + full * SECTOR_SIZE)
        f.write(fl._ff[:part])
    die(fl, "erase 0x%x+0x%x torn: %d whole sectors then %d bytes erased" % (addr, length, full, part))


def torn_write(fl, addr, data):
    n = len(data)
    if fl.strict:
        old = bytearray(n)
        fl._f.seek(addr)
        fl._f.readinto(old)
        if old != b"\xff" * n:
            fl._refuse(addr, data)  # a bug in the code under test, cut or not
    keep = cut_random(fl._cut_seed, fl.ops, "bytes", n // 4) * 4
    if keep:
        fl._write_any(addr, bytes(data[:keep]), keep)
    die(fl, "write 0x%x+%d torn: %d bytes programmed" % (addr, n, keep))


def die(fl, what):
    """Stop the process now. CPython: os.kill(own pid, SIGKILL). The MicroPython unix port has
    no os.kill, os._exit, os.getpid or ffi, and sys.exit() raises SystemExit (which finally
    blocks see), so it asks the shell: os.system("kill -9 $PPID"), where the shell's parent is
    this process; system() never returns."""
    sys.stderr.write("POWERCUT op=%d %s\n" % (fl.ops, what))
    try:
        sys.stderr.flush()
    except AttributeError:
        pass
    if hasattr(os, "kill") and hasattr(os, "getpid"):
        os.kill(os.getpid(), 9)
    else:
        os.system("kill -9 $PPID")
    while True:  # not reached: SIGKILL cannot be caught
        pass
