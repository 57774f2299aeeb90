"""The local CA and the server certificate, made once and kept in the state directory.

    state_dir/ca.pem, ca.key          the CA a board trusts (its PEM is main.py's cert_pem)
    state_dir/server.pem, server.key  the server's certificate, signed by the CA

EC P-256 keys and ECDSA-SHA256 signatures (what mbedTLS on the board handles well). The CA lives
for ten years and is reused as long as it is readable and not near its end, so a board keeps
trusting the PC across restarts. The server certificate is re-made when the names it must cover
change (a new LAN address), when it is near expiry, or when the CA changed. Keys are written
with mode 0600, every file atomically (a temporary file, then rename).
"""

import datetime
import ipaddress
import os
import socket
from collections import namedtuple
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_DAY = datetime.timedelta(days=1)
CA_DAYS = 3650
SERVER_DAYS = 397  # the longest leaf lifetime browsers accept, should one look at it
RENEW_DAYS = 30  # re-make a certificate this close to its end

# ca_pem: str; paths: Path; ca_created: bool; cert_made: why the server certificate was made
# now ("none stored", "new CA", "near expiry", "names changed"), or None when reused.
Pki = namedtuple("Pki", "ca_pem ca_path cert_path key_path ca_created cert_made")


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _write(path, data, mode):
    """Write `data` to `path` atomically, the new file having permission bits `mode`."""
    tmp = path.with_name(".%s.tmp%d" % (path.name, os.getpid()))
    tmp.unlink(missing_ok=True)  # a leftover could have looser permissions than `mode`
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)  # the umask may have cleared bits of `mode`; never adds any
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _save(cert_path, key_path, cert, key):
    _write(key_path, key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()), 0o600)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _load(cert_path, key_path):
    """(cert, key) from the files, or (None, None) when missing, unreadable or not a pair."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None, None
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if cert.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        return None, None
    return cert, key


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "esp_https_ota_server"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key_usage(ca):
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=ca,
                         crl_sign=ca, encipher_only=False, decipher_only=False)


def _builder(subject, issuer, key, days):
    now = _now()
    return (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _DAY)  # a board's clock may lag a little behind the PC's
            .not_valid_after(now + days * _DAY)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False))


def _make_ca():
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name("esp_https_ota_server CA on %s" % (socket.gethostname() or "this PC"))
    cert = (_builder(subject, subject, key, CA_DAYS)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(ca=True), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def _sans(dns, ips):
    return ([x509.DNSName(d) for d in dns]
            + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips])


def _make_server(ca_cert, ca_key, dns, ips):
    key = ec.generate_private_key(ec.SECP256R1())
    cn = dns[0] if dns else ips[0]
    cert = (_builder(_name(cn), ca_cert.subject, key, SERVER_DAYS)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           False)
            .add_extension(x509.SubjectAlternativeName(_sans(dns, ips)), False)
            .sign(ca_key, hashes.SHA256()))
    return cert, key


def cert_names(cert):
    """(dns_names, ip_addresses) of a certificate's SAN extension, as sorted strings."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return (sorted(san.get_values_for_type(x509.DNSName)),
            sorted(str(a) for a in san.get_values_for_type(x509.IPAddress)))


def _why_remake(cert, ca_cert, dns, ips):
    """Why the stored server certificate cannot be reused, or None when it can."""
    if cert is None:
        return "none stored"
    try:
        cert.verify_directly_issued_by(ca_cert)
    except Exception:  # InvalidSignature, ValueError (issuer name), TypeError
        return "new CA"
    now = _now()
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc - RENEW_DAYS * _DAY:
        return "near expiry"
    if cert_names(cert) != (sorted(dns), sorted(str(ipaddress.ip_address(i)) for i in ips)):
        return "names changed"
    return None


def ensure(state_dir, dns, ips):
    """Make or reuse the CA and a server certificate for exactly these names; return a Pki.

    `dns` and `ips` are lists of strings. Raises OSError when the state directory cannot be
    written."""
    d = Path(state_dir).expanduser()
    if not d.is_dir():
        d.mkdir(mode=0o700, parents=True)
    ca_path, ca_key_path = d / "ca.pem", d / "ca.key"
    cert_path, key_path = d / "server.pem", d / "server.key"

    ca_cert, ca_key = _load(ca_path, ca_key_path)
    ca_created = ca_cert is None or ca_cert.not_valid_after_utc - RENEW_DAYS * _DAY < _now()
    if ca_created:
        ca_cert, ca_key = _make_ca()
        _save(ca_path, ca_key_path, ca_cert, ca_key)

    cert, _ = _load(cert_path, key_path)
    why = _why_remake(cert, ca_cert, dns, ips)
    if why is not None:
        cert, key = _make_server(ca_cert, ca_key, list(dns), list(ips))
        _save(cert_path, key_path, cert, key)
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    return Pki(ca_pem, ca_path, cert_path, key_path, ca_created, why)
