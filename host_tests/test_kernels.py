"""The viper kernels give the same results as the plain fallback, under both interpreters."""

from conftest import run_scenario


def test_native_kernels_match_plain_fallback(interp):
    res = run_scenario(interp, "kernels_check.py")
    assert res["native"] is True  # the viper version is in use (CPython runs it through the shim)
    assert res["cases"] == 9 * 9 * 12
    assert res["bad"] == []
