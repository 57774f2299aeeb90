# The byte kernels of the download loop: the native (viper) ones where the port has a native
# emitter, else the plain ones (_plain.py, loaded only then). NATIVE says which.

try:
    from ._viper import copy_xor, xor_bytes, copy_bytes, fill_bytes

    NATIVE = True
except (ImportError, SyntaxError, ValueError, NameError):
    # No native emitter (SyntaxError), an .mpy for another arch (ValueError), or no viper shim.
    from ._plain import copy_xor, xor_bytes, copy_bytes, fill_bytes

    NATIVE = False
