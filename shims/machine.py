# Stand-in for the `machine` functions an OTA script uses, for the host (CPython and the
# MicroPython unix port). On MicroPython the port's own `machine` (idle, mem8, ...) is pulled
# in first, the documented way of extending a built-in module, and then partly overridden.
import os
import sys

if sys.implementation.name == "micropython":
    _path = sys.path
    sys.path = ()
    try:
        from machine import *  # noqa: F401,F403  the built-in module
    finally:
        sys.path = _path
        del _path

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5

_freq_hz = 160000000


def reset():
    """A hard reset: on the host, the process ends (the next process boots the flash again)."""
    print("machine.reset()")
    sys.exit(0)


def reset_cause():
    return PWRON_RESET


def unique_id():
    return b"\x24\x0a\xc4\x00\x01\x02"  # an Espressif OUI-style MAC


def freq(hz=None):
    global _freq_hz
    if hz is None:
        return _freq_hz
    _freq_hz = hz


class _Mem32:
    """The eFuse words chip.revision() reads, for the simulated ESP32 (chip id 0).

    The revision (major * 100 + minor) is $ESP32_CHIP_REVISION, default 300 (v3.0) as in
    flashsim; every other address reads 0 (the unix port's own mem32 would read process memory)."""

    def __getitem__(self, addr):
        major, minor = divmod(int(os.getenv("ESP32_CHIP_REVISION") or 300), 100)
        eco = {0: 0, 1: 1, 2: 3, 3: 7}.get(major, 0)
        if addr == 0x3FF5A00C:  # EFUSE_BLK0_RDATA3: rd_chip_ver_rev1
            return (eco & 1) << 15
        if addr == 0x3FF5A014:  # EFUSE_BLK0_RDATA5: rd_chip_ver_rev2, wafer minor
            return (((eco >> 1) & 1) << 20) | ((minor & 3) << 24)
        if addr == 0x3FF6607C:  # SYSCON_DATE: bit 31
            return ((eco >> 2) & 1) << 31
        return 0


mem32 = _Mem32()
