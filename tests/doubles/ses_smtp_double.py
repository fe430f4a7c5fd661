"""SES SMTP double: a real SMTP server that behaves like email-smtp.<region>.amazonaws.com.

A test double, not SES: it speaks real SMTP (aiosmtpd) and enforces what the
relay must get right against the real endpoint:
  * STARTTLS before anything else (MAIL before TLS -> 530; AUTH is neither
    advertised nor accepted before TLS -> 538), with a certificate for
    email-smtp.<region>.amazonaws.com issued by a test CA made at test time;
  * AUTH PLAIN/LOGIN with an access key id as user name and the SES SMTP v4
    password derived (plugins/filter/ses.py) from that key's secret for THIS
    region; anything else -> 535;
  * optional verified sender domains (SES rejects unverified senders with 554);
  * optional known configuration sets: a message whose X-SES-CONFIGURATION-SET
    header names another set is rejected with 554, as SES does for a set that does
    not exist (ConfigurationSetDoesNotExist), and so is one naming two sets.
Accepted messages are appended to <store>/messages.jsonl (one JSON object per
message: mail_from, rcpt_tos, auth_user, tls, tls_version, peer, ehlo, data,
headers - [[name, value], ...] in order, as parsed from data - and
configuration_set, the header's value or null).

Run as a process (molecule prepare starts it, destroy stops it):
  python -m tests.doubles.ses_smtp_double tls --dir DIR --region R
  python -m tests.doubles.ses_smtp_double serve --host IP --port 587 --region R \
      --tls-dir DIR --store DIR --credentials-file FILE [--verified-domain D]... \
      [--configuration-set NAME]...
The credentials file is JSON {"AKIA...": "<secret access key>"}: secrets never go on argv.
"""
from __future__ import annotations

import argparse
import datetime
import email.parser
import email.policy
import importlib.util
import ipaddress
import json
import os
import re
import signal
import ssl
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

_REPO = Path(__file__).resolve().parents[2]
_ACCESS_KEY_ID = re.compile(r"^(AKIA|ASIA)[A-Z0-9]{12,124}$")
CONFIGURATION_SET_HEADER = "X-SES-CONFIGURATION-SET"


def parse_headers(data: str) -> list[list[str]]:
    """The message's header fields in order, [[name, unfolded value], ...]."""
    message = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(data)
    return [[name, re.sub(r"\r?\n[ \t]+", " ", str(value)).strip()] for name, value in message.items()]


def _load_filter():
    # The double checks against the same derivation the roles use (tested separately
    # against published vectors), loaded by path so it needs no Ansible.
    spec = importlib.util.spec_from_file_location("protea_filter_ses", _REPO / "plugins/filter/ses.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.ses_smtp_password


ses_smtp_password = _load_filter()


def endpoint_name(region: str) -> str:
    return f"email-smtp.{region}.amazonaws.com"


def make_tls(directory: str | os.PathLike, region: str, extra_ips: tuple[str, ...] = ()) -> dict[str, Path]:
    """Create a test CA and a server certificate for the SES SMTP endpoint of region.

    Returns paths {ca, cert, key}. Idempotent: existing files are kept.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = {"ca": d / "ses-double-ca.pem", "cert": d / "ses-double-server.pem", "key": d / "ses-double-server.key"}
    if all(p.exists() for p in paths.values()):
        return paths
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Protea SES SMTP double test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    host = endpoint_name(region)
    sans = [x509.DNSName(host)] + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in extra_ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    paths["key"].chmod(0o600)
    return paths


class _Handler:
    def __init__(self, store: Path, verified_domains: tuple[str, ...], configuration_sets: tuple[str, ...] = ()):
        self.store = store
        self.verified = tuple(d.lower() for d in verified_domains)
        self.configuration_sets = tuple(configuration_sets)
        self.lock = threading.Lock()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        domain = address.rpartition("@")[2].lower()
        if self.verified and domain not in self.verified:
            # Real SES: "554 Message rejected: Email address is not verified."
            return "554 Message rejected: Email address is not verified. (SES double)"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        data = envelope.content.decode("utf-8", "replace")
        headers = parse_headers(data)
        sets = [value for name, value in headers if name.upper() == CONFIGURATION_SET_HEADER]
        if self.configuration_sets and sets:
            if len(sets) > 1:
                return "554 Message rejected: more than one configuration set header. (SES double)"
            if sets[0] not in self.configuration_sets:
                # SES: ConfigurationSetDoesNotExist.
                return f"554 Configuration set does not exist: Configuration set <{sets[0]}> does not exist. (SES double)"
        tls = session.ssl or {}
        ssl_obj = tls.get("ssl_object")
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "auth_user": session.auth_data.login.decode() if session.authenticated else None,
            "tls": bool(session.ssl),
            "tls_version": ssl_obj.version() if ssl_obj else None,
            "peer": session.peer[0] if session.peer else None,
            "ehlo": session.host_name,
            "data": data,
            "headers": headers,
            "configuration_set": sets[0] if len(sets) == 1 else None,
        }
        with self.lock, open(self.store / "messages.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        # Real SES answers with the message id it assigned.
        return "250 Ok 0100000000000000-00000000-0000-0000-0000-000000000000-000000 (SES double)"


class SesSmtpDouble:
    """The SES SMTP double on host:port. Use as a context manager or start()/stop()."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        region: str,
        credentials: dict[str, str],
        tls_dir: str | os.PathLike,
        store: str | os.PathLike,
        verified_domains: tuple[str, ...] = (),
        configuration_sets: tuple[str, ...] = (),
    ):
        self.host, self.port, self.region = host, port, region
        self.store = Path(store)
        self.store.mkdir(parents=True, exist_ok=True)
        # Expected password per access key id, for this region only.
        self._expected = {kid: ses_smtp_password(secret, region) for kid, secret in credentials.items()}
        self.tls = make_tls(tls_dir, region)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.tls["cert"], self.tls["key"])
        self.controller = Controller(
            _Handler(self.store, verified_domains, configuration_sets),
            hostname=host,
            port=port,
            server_hostname=endpoint_name(region),
            ident="SimpleEmailService (SES double)",
            tls_context=ctx,
            require_starttls=True,
            auth_required=True,
            auth_require_tls=True,
            authenticator=self._authenticate,
        )

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if mechanism not in ("PLAIN", "LOGIN") or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        want = self._expected.get(user)
        ok = bool(_ACCESS_KEY_ID.match(user)) and want is not None and password == want
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def messages(self) -> list[dict]:
        path = self.store / "messages.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]

    def start(self) -> "SesSmtpDouble":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="ses_smtp_double", description="SES SMTP double (tests only)")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tls", help="create the test CA and server certificate")
    t.add_argument("--dir", required=True)
    t.add_argument("--region", required=True)
    s = sub.add_parser("serve", help="run the double until SIGTERM")
    s.add_argument("--host", required=True)
    s.add_argument("--port", type=int, default=587)
    s.add_argument("--region", required=True)
    s.add_argument("--tls-dir", required=True)
    s.add_argument("--store", required=True)
    s.add_argument("--credentials-file", required=True, help='JSON {"AKIA...": "secret"}')
    s.add_argument("--verified-domain", action="append", default=[])
    s.add_argument("--configuration-set", action="append", default=[],
                   help="a configuration set that exists (others are refused); none given: any")
    s.add_argument("--pidfile")
    a = p.parse_args(argv)
    if a.cmd == "tls":
        for name, path in make_tls(a.dir, a.region).items():
            print(f"{name}={path}")
        return 0
    creds = json.loads(Path(a.credentials_file).read_text(encoding="utf-8"))
    double = SesSmtpDouble(
        host=a.host, port=a.port, region=a.region, credentials=creds, tls_dir=a.tls_dir, store=a.store,
        verified_domains=tuple(a.verified_domain), configuration_sets=tuple(a.configuration_set),
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    double.start()
    if a.pidfile:
        Path(a.pidfile).write_text(f"{os.getpid()}\n", encoding="utf-8")
    print(f"ses-smtp-double: listening on {a.host}:{a.port} as {endpoint_name(a.region)}", flush=True)
    stop.wait()
    double.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
