# KEY=VALUE arguments of the OTA scenarios (ota_run.py, power_cut.py): ints and true/false parsed.


def parse_value(v):
    if v in ("true", "false"):
        return v == "true"
    try:
        return int(v)
    except ValueError:
        return v


def options(args):
    opts = {}
    for arg in args:
        k, _, v = arg.partition("=")
        opts[k] = parse_value(v)
    return opts
