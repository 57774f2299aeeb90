# Whether a new image is worth installing, for main.py: not the running app, and not older.
# Loaded on first use of esp_https_ota.should_update.


def should_update(desc, force=False):
    """True when `desc` (an AppDesc, e.g. from get_img_desc()) should replace the running app.

    False when it is the running app: the same version, or, when both versions are empty (stock
    MicroPython builds leave it so), the same app_elf_sha256; and False when its version is older,
    compared as dotted numbers ("v1.10.2" is newer than "1.9"). Versions whose numbers are equal
    but whose text differs ("1.2.0-rc1", "1.2.0"), or that have no numbers, are other builds: True.
    `force`: always True."""
    if force:
        return True
    from .ota_ops import get_app_description

    cur = get_app_description()
    if not desc.version and not cur.version:
        return desc.app_elf_sha256 != cur.app_elf_sha256
    if desc.version == cur.version:
        return False
    new, old = _numbers(desc.version), _numbers(cur.version)
    if new is None or old is None or new == old:
        return True  # not comparable as numbers, or only the text after them differs
    return new > old


def _numbers(version):
    # (1, 10, 2) from "v1.10.2-dev": the leading dotted decimal numbers, or None.
    v = version[1:] if version[:1] in ("v", "V") else version
    out = []
    for part in v.split("."):
        digits = 0
        while digits < len(part) and "0" <= part[digits] <= "9":
            digits += 1
        if not digits:
            break
        out.append(int(part[:digits]))
        if digits < len(part):  # "2-dev": the numbers end here
            break
    return tuple(out) if out else None
