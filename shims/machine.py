# Stand-in for the `machine` functions an OTA script uses, for the host (CPython and the
# MicroPython unix port). On MicroPython the port's own `machine` (idle, mem8, ...) is pulled
# in first, the documented way of extending a built-in module, and then partly overridden.
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
