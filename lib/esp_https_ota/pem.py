# PEM to DER: the board's tls module takes DER certificates, one per load_verify_locations()
# call, and a DER key for load_cert_chain().
from .errors import OTAError, ESP_ERR_INVALID_ARG


def der_blocks(pem, kind, field):
    # The DER bodies of every `-----BEGIN ...<kind>-----` block of `pem` (str or bytes), in
    # order; DER input passes through. ESP_ERR_INVALID_ARG, naming `field`, when there is none.
    import binascii

    if isinstance(pem, str):
        pem = pem.encode()
    if pem[:1] == b"\x30":
        return [bytes(pem)]
    out = []
    i = pem.find(b"-----BEGIN ")
    while i >= 0:
        head_end = pem.find(b"-----", i + 11)
        end = pem.find(b"-----END ", head_end)
        if head_end < 0 or end < 0:
            break
        if kind in pem[i + 11:head_end]:
            body = pem[head_end + 5:end]
            if b":" in body:  # RFC 1421 headers (encrypted keys): not supported
                raise OTAError(ESP_ERR_INVALID_ARG, "%s: encrypted PEM is not supported" % field)
            out.append(binascii.a2b_base64(body))
        i = pem.find(b"-----BEGIN ", end)
    if not out:
        raise OTAError(ESP_ERR_INVALID_ARG, "%s holds no PEM %s" % (field, kind.decode()))
    return out
