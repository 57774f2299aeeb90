# The byte kernels of the download loop: the native (viper) ones where the port has a native
# emitter, else the plain ones (_plain.py, loaded only then). NATIVE says which. put() and
# put_int() write a request's Range line in place (http.py).

try:
    from ._viper import copy_xor, xor_bytes, copy_bytes, fill_bytes

    NATIVE = True
except (ImportError, SyntaxError, ValueError, NameError):
    # No native emitter (SyntaxError), an .mpy for another arch (ValueError), or no viper shim.
    from ._plain import copy_xor, xor_bytes, copy_bytes, fill_bytes

    NATIVE = False


def put(buf, off, data):
    # data's bytes at buf[off:]; the index after them.
    copy_bytes(buf, off, data, 0, len(data))
    return off + len(data)


def put_int(buf, off, value):
    # value's decimal digits at buf[off:]; the index after them.
    end = off + 1
    v = value
    while v >= 10:
        v //= 10
        end += 1
    i = end
    while i > off:
        i -= 1
        buf[i] = 48 + value % 10
        value //= 10
    return end
