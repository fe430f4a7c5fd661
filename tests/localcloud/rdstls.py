"""Instance mode: the local "RDS CA" and the database containers' server certificates.

On AWS every DB instance serves a certificate for its endpoint name, issued by an RDS CA whose
certificates AWS publishes as one bundle (https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem;
Amazon RDS User Guide, "Using SSL/TLS to encrypt a connection to a DB instance":
https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html). Here one CA per local
cloud (``<state dir>/rds-ca/``) stands in for it:

* ``<state dir>/rds-ca/global-bundle.pem``: the bundle, for the host (give it to roles as the RDS CA);
* ``INSTANCE_BUNDLE`` inside every instance (written by the local cloud's cloud-init); NOT in the system
  trust store, as on AWS: a client verifies the database only when it is given the bundle.
"""
from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

INSTANCE_BUNDLE = "/usr/local/share/protea-localcloud/rds-global-bundle.pem"
BUNDLE = "global-bundle.pem"


def ca(directory: Path) -> dict[str, Path]:
    """The local RDS CA (created once): {bundle, key}."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    paths = {"bundle": directory / BUNDLE, "key": directory / "ca.key"}
    if all(p.exists() for p in paths.values()):
        return paths
    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Protea local cloud"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Protea local cloud RDS root CA (stands in for rds-ca-ecc384-g1)")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA384())
    )
    paths["key"].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    paths["key"].chmod(0o600)
    paths["bundle"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return paths


def server_cert(directory: Path, host: str, ips: list[str]) -> tuple[str, str]:
    """(certificate PEM, key PEM) for the DB endpoint ``host`` (and its addresses), issued by the local CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    paths = ca(directory)
    ca_cert = x509.load_pem_x509_certificate(paths["bundle"].read_bytes())
    ca_key = serialization.load_pem_private_key(paths["key"].read_bytes(), password=None)
    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(host)]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),  # type: ignore[arg-type]
                       critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return (cert.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption()).decode())


def force_tls(db: object, rds_backend: object) -> bool:
    """Whether the DB instance's parameter group forces TLS (rds.force_ssl / require_secure_transport = 1).

    A group without the parameter set has the engine default: rds.force_ssl is 1 from PostgreSQL 15 on
    (RDS User Guide, "Requiring an SSL connection to a PostgreSQL DB instance"), require_secure_transport 0.
    """
    engine = str(getattr(db, "engine", "") or "")
    name = "rds.force_ssl" if "postgres" in engine else "require_secure_transport"
    group_name = getattr(db, "db_parameter_group_name", None)
    groups = getattr(rds_backend, "db_parameter_groups", {}) or {}
    group = groups.get(group_name) if group_name else None
    value = None
    if group is not None:
        param = (getattr(group, "parameters", {}) or {}).get(name) or {}
        value = param.get("ParameterValue")
    if value is None:
        if "postgres" in engine:
            major = str(getattr(db, "engine_version", "") or "0").split(".")[0]
            return major.isdigit() and int(major) >= 15
        return False
    return str(value).strip().lower() in ("1", "on", "true")
