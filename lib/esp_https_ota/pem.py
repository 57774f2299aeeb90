# PEM to DER: the board's tls module takes DER certificates, one per load_verify_locations()
# call, and DER keys for load_cert_chain().
from .errors import OTAError, ESP_ERR_INVALID_ARG


def _blocks(pem, kind):
    """The base64-decoded bodies of every `-----BEGIN <kind>-----` block, in order."""
    import binascii

    out = []
    i = pem.find(b"-----BEGIN ")
    while i >= 0:
        head_end = pem.find(b"-----", i + 11)
        label = pem[i + 11:head_end]
        end = pem.find(b"-----END ", head_end)
        if head_end < 0 or end < 0:
            break
        if kind in label:
            body = pem[head_end + 5:end]
            if b":" in body:  # RFC 1421 headers (encrypted keys): not supported
                raise OTAError(ESP_ERR_INVALID_ARG, "encrypted PEM %s is not supported" % label.decode())
            out.append(binascii.a2b_base64(body))
        i = pem.find(b"-----BEGIN ", end)
    return out


def der_certificates(pem, field):
    """Every certificate of a PEM bundle (str or bytes) as DER; DER input passes through."""
    if isinstance(pem, str):
        pem = pem.encode()
    if pem[:1] == b"\x30":
        return [bytes(pem)]
    ders = _blocks(pem, b"CERTIFICATE")
    if not ders:
        raise OTAError(ESP_ERR_INVALID_ARG, "%s holds no PEM certificate" % field)
    return ders


def der_private_key(pem):
    """A PEM private key (PKCS#8, EC or RSA) as DER; DER input passes through."""
    if isinstance(pem, str):
        pem = pem.encode()
    if pem[:1] == b"\x30":
        return bytes(pem)
    ders = _blocks(pem, b"PRIVATE KEY")
    if not ders:
        raise OTAError(ESP_ERR_INVALID_ARG, "http_config.client_key_pem holds no PEM private key")
    return ders[0]
