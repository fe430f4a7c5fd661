"""Instance mode: the instance metadata service (IMDS) and the AWS API endpoints as instances see them.

On AWS an instance reaches http://169.254.169.254 (link-local, never filtered by security groups) for
its identity, user data, tags and its instance role's temporary credentials, and reaches the regional
API endpoints (https://ssm.<region>.amazonaws.com, ...) through its subnet's route to the internet.
Here, inside the emulator process:

* ``MetadataHandler`` answers on ``<gateway>:IMDS_PORT`` of every network; each instance's netns
  DNATs 169.254.169.254:80 there (sgfilter.rules_text ``imds``). It tells instances apart by their
  source address and follows the instance's metadata options as AWS does (EC2 User Guide, "Use the
  Instance Metadata Service to access instance metadata"): ``HttpEndpoint=disabled`` answers
  nothing useful, ``HttpTokens=required`` answers 401 without an IMDSv2 session token (PUT
  /latest/api/token with a TTL of 1-21600 s), tags only with ``InstanceMetadataTags=enabled``.
  Credentials are real STS session credentials of the instance profile's role (moto's AssumeRole),
  so a server with IAM enforcement authorises them against the role's policies.
* ``ApiForwarder`` is TLS on ``<gateway>:443`` with a certificate for ``*.<region>.amazonaws.com``
  from the local cloud's endpoint CA (installed in every instance's trust store, as Amazon's CAs
  are on AWS) and relays each request unchanged (Host, SigV4 headers, body) to the emulator.
"""
from __future__ import annotations

import datetime
import http.client
import http.server
import json
import os
import secrets
import socketserver
import ssl
import threading
import time
from pathlib import Path
from typing import Any, Callable

from tests.localcloud import pki

IMDS_ADDRESS = "169.254.169.254"  # sgfilter.IMDS_ADDRESS
IMDS_PORT = int(os.environ.get("PROTEA_LOCALCLOUD_IMDS_PORT", "8431"))
API_PORT = 443
# The regional endpoints instances resolve to their gateway.
API_SERVICES = ("ssm", "kms", "sts")
TOKEN_TTL_MAX = 21600

Lookup = Callable[[str], Any]  # client ip -> (ec2 backend, moto instance) or None


def api_ca(directory: Path) -> dict[str, Path]:
    """The local cloud's CA for AWS API endpoints (created once): {ca, key}."""
    paths = {"ca": directory / "api-ca.pem", "key": directory / "api-ca.key"}
    pki.make_ca(paths["ca"], paths["key"], {"COMMON_NAME": "Protea local cloud AWS endpoints CA"})
    return paths


def api_server_context(directory: Path, region: str) -> ssl.SSLContext:
    """A server context for *.<region>.amazonaws.com, issued by api_ca (files kept per region)."""
    paths = api_ca(directory)
    cert_path, key_path = directory / f"api-{region}.pem", directory / f"api-{region}.key"
    if not (cert_path.exists() and key_path.exists()):
        cert, key = pki.issue(paths["ca"], paths["key"], [f"*.{region}.amazonaws.com", "sts.amazonaws.com"])
        key_path.write_text(key)
        key_path.chmod(0o600)
        cert_path.write_text(cert)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert_path), str(key_path))
    return ctx


class _ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


# --- the metadata service ------------------------------------------------------------------------
class MetadataService:
    """IMDS for the instances behind one gateway address."""

    def __init__(self, host: str, lookup: Lookup, port: int = IMDS_PORT):
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (instance id, expiry)
        self.credentials: dict[str, dict[str, str]] = {}  # instance id -> IMDS credentials document
        self.lookup = lookup
        self.lock = threading.Lock()
        handler = type("Handler", (MetadataHandler,), {"service": self})
        self.httpd = _ThreadingServer((host, port), handler)
        threading.Thread(target=self.httpd.serve_forever, name=f"imds-{host}", daemon=True).start()

    def shutdown(self) -> None:
        self.httpd.shutdown()

    def server_close(self) -> None:
        self.httpd.server_close()

    def new_token(self, instance_id: str, ttl: int) -> str:
        token = secrets.token_urlsafe(40)
        with self.lock:
            now = time.time()
            self.tokens = {t: v for t, v in self.tokens.items() if v[1] > now}
            self.tokens[token] = (instance_id, now + ttl)
        return token

    def token_valid(self, token: str, instance_id: str) -> bool:
        with self.lock:
            entry = self.tokens.get(token)
        return entry is not None and entry[0] == instance_id and entry[1] > time.time()

    def role_credentials(self, backend: Any, inst: Any) -> tuple[str, dict[str, str]] | None:
        role = instance_role(backend, inst)
        if role is None:
            return None
        with self.lock:
            doc = self.credentials.get(inst.id)
            expiry = datetime.datetime.fromisoformat(doc["Expiration"].replace("Z", "+00:00")) if doc else None
            # AWS hands out new credentials well before the old ones expire.
            if doc is None or doc["RoleArn"] != role.arn or expiry - _now() < datetime.timedelta(minutes=15):
                doc = _assume(backend, role.arn, inst.id)
                self.credentials[inst.id] = doc
        return role.name, {k: v for k, v in doc.items() if k != "RoleArn"}


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _assume(backend: Any, role_arn: str, session: str) -> dict[str, str]:
    from moto.sts.models import sts_backends

    sts = sts_backends[backend.account_id]["global"]
    role = sts.assume_role(region_name=backend.region_name, role_session_name=session, role_arn=role_arn,
                           policy=None, duration=6 * 3600, external_id=None)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return {"Code": "Success", "LastUpdated": _now().strftime(fmt), "Type": "AWS-HMAC",
            "AccessKeyId": role.access_key_id, "SecretAccessKey": role.secret_access_key,
            "Token": role.session_token, "Expiration": role.expiration.strftime(fmt), "RoleArn": role_arn}


def instance_profile(backend: Any, inst: Any) -> Any:
    assoc = getattr(backend, "iam_instance_profile_associations", {}).get(inst.id)
    return getattr(assoc, "iam_instance_profile", None) if assoc is not None else None


def instance_role(backend: Any, inst: Any) -> Any:
    profile = instance_profile(backend, inst)
    roles = list(getattr(profile, "roles", []) or []) if profile is not None else []
    return roles[0] if roles else None


class MetadataHandler(http.server.BaseHTTPRequestHandler):
    service: MetadataService
    server_version = "EC2ws"
    sys_version = ""

    def log_message(self, fmt: str, *args: Any) -> None:
        pass

    def _send(self, code: int, body: str = "", ctype: str = "text/plain", headers: dict[str, str] | None = None) -> None:
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _instance(self) -> Any:
        found = self.service.lookup(self.client_address[0])
        if found is None:
            self._send(404, "no instance at this address")
            return None
        backend, inst = found
        if inst.metadata_options.http_endpoint == "disabled":
            self._send(403, "the instance metadata service is disabled for this instance")
            return None
        return found

    def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
        found = self._instance()
        if found is None:
            return
        _backend, inst = found
        if self.path != "/latest/api/token":
            self._send(405 if self.path.startswith("/latest/") else 404)
            return
        if "X-Forwarded-For" in self.headers:  # AWS refuses token requests that went through a proxy
            self._send(403, "Forbidden")
            return
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= TOKEN_TTL_MAX:
            self._send(400, "Bad Request")
            return
        token = self.service.new_token(inst.id, int(ttl))
        self._send(200, token, headers={"X-aws-ec2-metadata-token-ttl-seconds": ttl})

    def do_GET(self) -> None:  # noqa: N802
        found = self._instance()
        if found is None:
            return
        backend, inst = found
        token = self.headers.get("X-aws-ec2-metadata-token")
        if token is not None and not self.service.token_valid(token, inst.id):
            self._send(401, "Unauthorized")
            return
        if token is None and inst.metadata_options.http_tokens == "required":
            self._send(401, "Unauthorized")
            return
        path = self.path.split("?", 1)[0]
        answer = self._answer(backend, inst, path)
        if answer is None:
            self._send(404, "Not Found")
        else:
            body, ctype = answer
            self._send(200, body, ctype)

    def _answer(self, backend: Any, inst: Any, path: str) -> tuple[str, str] | None:
        region = backend.region_name
        zone = inst.placement or f"{region}a"
        tree: dict[str, Any] = {
            "ami-id": inst.image_id, "instance-id": inst.id, "instance-type": inst.instance_type,
            "local-ipv4": inst.private_ip, "local-hostname": inst.private_dns_name, "hostname": inst.private_dns_name,
            "mac": getattr(getattr(inst, "nics", {}).get(0), "mac_address", "") or "",
            "placement": {"availability-zone": zone, "region": region},
        }
        if getattr(inst, "key_name", None):
            tree["public-keys"] = {"0": {"openssh-key": ""}}
        profile = instance_profile(backend, inst)
        if profile is not None:
            iam: dict[str, Any] = {"info": json.dumps({"Code": "Success", "LastUpdated": _now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                                                       "InstanceProfileArn": profile.arn,
                                                       "InstanceProfileId": profile.id})}
            creds = self.service.role_credentials(backend, inst)
            if creds is not None:
                iam["security-credentials"] = {creds[0]: json.dumps(creds[1], indent=2)}
            tree["iam"] = iam
        if inst.metadata_options.instance_metadata_tags == "enabled":
            tags = {k: v for k, v in backend.tags.get(inst.id, {}).items()}
            tree["tags"] = {"instance": tags}
        if path == "/latest/user-data":
            from tests.localcloud.instances import user_data_text

            data = user_data_text(inst)
            return (data, "application/octet-stream") if data else None
        if path == "/latest/dynamic/instance-identity/document":
            doc = {"accountId": backend.account_id, "architecture": "x86_64", "availabilityZone": zone,
                   "imageId": inst.image_id, "instanceId": inst.id, "instanceType": inst.instance_type,
                   "privateIp": inst.private_ip, "region": region, "version": "2017-09-30",
                   "pendingTime": getattr(inst, "launch_time", "")}
            return json.dumps(doc, indent=2), "application/json"
        if not path.startswith("/latest/meta-data"):
            return None
        node: Any = tree
        for part in [p for p in path[len("/latest/meta-data"):].split("/") if p]:
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        if isinstance(node, dict):
            return "\n".join(k + ("/" if isinstance(v, dict) else "") for k, v in node.items()), "text/plain"
        return str(node), "text/plain"


# --- the API endpoints -----------------------------------------------------------------------------
class ApiForwarder:
    """HTTPS on host:443 for *.<region>.amazonaws.com, relayed to the emulator on loopback."""

    def __init__(self, host: str, region: str, tls_dir: Path, target_port: int, port: int = API_PORT):
        handler = type("Handler", (_ForwardHandler,), {"target_port": target_port})
        self.httpd = _ThreadingServer((host, port), handler)
        ctx = api_server_context(tls_dir, region)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, name=f"api-{host}", daemon=True).start()

    def shutdown(self) -> None:
        self.httpd.shutdown()

    def server_close(self) -> None:
        self.httpd.server_close()


class _ForwardHandler(http.server.BaseHTTPRequestHandler):
    target_port: int
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: Any) -> None:
        pass

    def _relay(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        conn = http.client.HTTPConnection("127.0.0.1", self.target_port, timeout=120)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in ("content-length", "connection", "transfer-encoding", "keep-alive"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        finally:
            conn.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _relay  # noqa: N815
