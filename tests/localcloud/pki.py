"""Instance mode: the local cloud's small certificate authorities (RDS CA, AWS endpoints CA).

``make_ca`` creates a self-signed EC root once (kept as PEM files, key 0600); ``issue`` signs a
server certificate for DNS names and addresses with it. rdstls.py and imds.py name their own.
"""
from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path


def make_ca(cert: Path, key: Path, subject: dict[str, str], curve: str = "SECP256R1", days: int = 365) -> None:
    """A self-signed CA at cert/key, unless both files exist. subject: {COMMON_NAME: ..., ...} (NameOID names)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    if cert.exists() and key.exists():
        return
    cert.parent.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    private = ec.generate_private_key(getattr(ec, curve)())
    name = x509.Name([x509.NameAttribute(getattr(NameOID, k), v) for k, v in subject.items()])
    digest = hashes.SHA384() if curve == "SECP384R1" else hashes.SHA256()
    built = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(private.public_key()), critical=False)
        .sign(private, digest)
    )
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    key.chmod(0o600)
    cert.write_bytes(built.public_bytes(serialization.Encoding.PEM))


def issue(ca_cert: Path, ca_key: Path, names: list[str], ips: list[str] = (), days: int = 90) -> tuple[str, str]:
    """(certificate PEM, key PEM) for a server named ``names[0]`` (all names and ``ips`` as SANs)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    issuer = x509.load_pem_x509_certificate(ca_cert.read_bytes())
    signer = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
    now = datetime.datetime.now(datetime.timezone.utc)
    private = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    # X.509 limits a common name to 64 characters; a longer name (a long RDS endpoint) is in the SANs,
    # which is what clients verify the host against.
    common_name = names[0] if len(names[0]) <= 64 else names[0].split(".", 1)[0][:64]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    built = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(issuer.subject).public_key(private.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),  # type: ignore[arg-type]
                       critical=False)
        .sign(signer, hashes.SHA256())  # type: ignore[arg-type]
    )
    return (built.public_bytes(serialization.Encoding.PEM).decode(),
            private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()).decode())
