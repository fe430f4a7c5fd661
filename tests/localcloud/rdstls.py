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

from pathlib import Path

from tests.localcloud import pki

INSTANCE_BUNDLE = "/usr/local/share/protea-localcloud/rds-global-bundle.pem"
BUNDLE = "global-bundle.pem"


def ca(directory: Path) -> dict[str, Path]:
    """The local RDS CA (created once): {bundle, key}."""
    paths = {"bundle": directory / BUNDLE, "key": directory / "ca.key"}
    pki.make_ca(paths["bundle"], paths["key"], {
        "COUNTRY_NAME": "US", "ORGANIZATION_NAME": "Protea local cloud",
        "COMMON_NAME": "Protea local cloud RDS root CA (stands in for rds-ca-ecc384-g1)"}, curve="SECP384R1")
    return paths


def server_cert(directory: Path, host: str, ips: list[str]) -> tuple[str, str]:
    """(certificate PEM, key PEM) for the DB endpoint ``host`` (and its addresses), issued by the local CA."""
    paths = ca(directory)
    return pki.issue(paths["bundle"], paths["key"], [host], ips)


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
