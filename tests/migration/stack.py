"""The migration test's hosts: podman containers named protea-mig-<engine>-*.

legacy  the old box (reference app + nginx + its own database), uploads on local disk
rds     a real database server standing in for RDS (its master user as on RDS)
web     the new stack's web instance (app + nginx) against the stand-in, with the EFS
        stand-in (podman volume protea-mig-<engine>-efs) at /mnt/efs
The legacy box mounts the same volume at /mnt/efs-new, where the migration copies to
(on AWS: the EFS file system mounted on the old box by the efs_mount role).
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IMAGE = "localhost/protea-debian12:latest"
NETWORK = "protea-test"  # tests/containers/apt-proxy creates it; the proxy lives there
CLIENT_CIDR = "10.213.250.0/24"
ENV = dict(os.environ, CONTAINERS_CONF=str(REPO / "tests/containers/containers.conf"))


def sh(*argv: str, stdin: str | None = None, check: bool = True, timeout: int = 600) -> str:
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=ENV, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{argv!r} rc={proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


def podman(*args: str, **kw) -> str:
    return sh("podman", *args, **kw)


def apt_proxy_url() -> str:
    """The shared package proxy (tests/containers/apt-proxy replaces one that no longer answers)."""
    return sh(str(REPO / "tests/containers/apt-proxy"), "up").strip().splitlines()[-1]


@dataclass
class Stack:
    engine: str
    prefix: str = ""
    addresses: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        self.prefix = f"protea-mig-{self.engine}"

    def name(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    @property
    def volume(self) -> str:
        return f"{self.prefix}-efs"

    # --- containers -------------------------------------------------------------------
    def start(self, rds_endpoint: str) -> None:
        self.destroy()
        podman("volume", "create", self.volume)
        self._run("rds")
        self.addresses["rds"] = self._address("rds")
        hosts = ["--add-host", f"{rds_endpoint}:{self.addresses['rds']}"]
        self._run("legacy", "-v", f"{self.volume}:/mnt/efs-new", *hosts)
        self._run("web", "-v", f"{self.volume}:/mnt/efs", *hosts)
        for role in ("legacy", "web"):
            self.addresses[role] = self._address(role)
        for role in ("rds", "legacy", "web"):
            for _ in range(60):
                out = podman("exec", self.name(role), "systemctl", "is-system-running", "--wait", check=False)
                if out.strip() in ("running", "degraded"):
                    break
                time.sleep(1)

    def _run(self, role: str, *extra: str) -> None:
        podman("run", "-d", "--name", self.name(role), "--hostname", self.name(role),
               "--network", NETWORK, "--systemd", "always", *extra, IMAGE, "/sbin/init")

    def _address(self, role: str) -> str:
        out = podman("container", "inspect", "-f", "{{json .NetworkSettings.Networks}}", self.name(role))
        return json.loads(out)[NETWORK]["IPAddress"]

    def destroy(self) -> None:
        for role in ("legacy", "web", "rds"):
            podman("rm", "-f", "-t", "2", self.name(role), check=False)
        podman("volume", "rm", "-f", self.volume, check=False)

    def inventory(self, directory: Path) -> Path:
        """An inventory of the three containers for the playbooks. The legacy box is
        reached over ssh (pipelined, ControlPersist), as a real one is: the migration
        runs there, and a podman exec per task would dominate the cut-over time."""
        directory.mkdir(parents=True, exist_ok=True)
        key = directory / "id_ed25519"
        if not key.exists():
            sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
        podman("exec", "-i", self.name("legacy"), "sh", "-c",
               "mkdir -p -m 700 /root/.ssh && cat > /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys",
               stdin=(directory / "id_ed25519.pub").read_text())
        legacy = {
            "ansible_connection": "ssh", "ansible_host": self.addresses["legacy"], "ansible_user": "root",
            "ansible_ssh_private_key_file": str(key),
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
            "migrate_legacy_address": self.addresses["legacy"],
            "mig_engine": self.engine,
        }
        inv = {
            "all": {"vars": {"ansible_connection": "containers.podman.podman",
                             "ansible_python_interpreter": "/usr/bin/python3"}},
            "legacy": {"hosts": {self.name("legacy"): legacy}},
            "rds": {"hosts": {self.name("rds"): {"mig_engine": self.engine}}},
            # tests/containers/db_tls.yml: the RDS stand-in serves TLS only, for its engine.
            "db_servers": {"hosts": {self.name("rds"): {"db_tls_engines": [self.engine]}}},
            "web": {"hosts": {self.name("web"): {"mig_engine": self.engine}}},
        }
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.prefix}.json"
        path.write_text(json.dumps(inv))
        return path

    # --- data ---------------------------------------------------------------------------
    def sql(self, role: str, statement: str) -> str:
        """Run SQL as the local admin inside a container (stdin, no password on argv)."""
        if self.engine == "postgres":
            argv = ["runuser", "-u", "postgres", "--", "psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", "shopper"]
        else:
            argv = ["mariadb", "-N", "-B", "shopper"]
        return podman("exec", "-i", self.name(role), *argv, stdin=statement)

    def seed(self, rows: int = 3000, files: int = 150) -> None:
        """A few thousand visits in the legacy database and uploaded files on its disk."""
        self.http("legacy", "GET", "/healthz")  # the app creates its schema
        if self.engine == "postgres":
            self.sql("legacy", "INSERT INTO visits (shopper_id, zone, beacon_id) SELECT 'seed' || g, "
                     "'zone' || (g %% 17), 'b' || (g %% 5) FROM generate_series(1, %d) g;" % rows)
        else:
            self.sql("legacy", "INSERT INTO visits (shopper_id, zone, beacon_id) SELECT CONCAT('seed', seq), "
                     "CONCAT('zone', seq %% 17), CONCAT('b', seq %% 5) FROM seq_1_to_%d;" % rows)
        script = (
            "set -e; cd /srv/shopper/uploads; mkdir -p a b/c; "
            f"for i in $(seq 1 {files}); do d=$([ $((i % 3)) = 0 ] && echo a || echo b/c); "
            "head -c $((i * 97 % 5000 + 1)) /dev/urandom > $d/upload-$i.bin; done; "
            "chown -R shopper-app:shopper-app /srv/shopper/uploads; chmod 0600 a/upload-3.bin; "
            "touch -d '2020-01-02 03:04:05' b/c/upload-1.bin"
        )
        podman("exec", self.name("legacy"), "sh", "-c", script)

    def http(self, role: str, method: str, path: str, body: dict | None = None, address: str | None = None):
        url = f"http://{address or self.addresses[role]}{path}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - podman network
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def file_listing(self, role: str, path: str) -> dict[str, str]:
        """{relative path: 'uid gid mode mtime size sha256'} of every file under path."""
        script = (f"cd {path} && find . -type f ! -name '.healthz-*' -printf '%P\\t%U %G %m %T@ %s\\n' | sort; "
                  f"echo ---; find . -type f ! -name '.healthz-*' -print0 | sort -z | xargs -0 -r sha256sum")
        meta, sums = podman("exec", self.name(role), "sh", "-c", script).split("---\n")
        out = dict(line.split("\t") for line in meta.splitlines() if line)
        for line in sums.splitlines():
            digest, rel = line.split(None, 1)
            out[rel[2:]] += " " + digest
        return out


class Writer(threading.Thread):
    """Writes visits continuously to wherever the site's DNS record points.

    Before every request it resolves the record through the emulator's Route 53 (a
    client with no DNS cache), so a switch takes effect on its next write. It records
    every acknowledged (201) write and every refused one, with times.
    """

    def __init__(self, stack: Stack, resolve, tag: str, interval: float = 0.02):
        super().__init__(daemon=True)
        self.stack, self.resolve, self.tag, self.interval = stack, resolve, tag, interval
        self.acked: list[tuple[str, str, float]] = []  # (shopper_id, address, time)
        self.refused: list[tuple[str, float]] = []
        self._halt = threading.Event()
        self.seq = 0

    def run(self) -> None:
        while not self._halt.is_set():
            self.seq += 1
            sid = f"{self.tag}-{self.seq}"
            address = self.resolve()
            try:
                status, _ = self.stack.http("", "POST", "/api/visits",
                                            {"shopper_id": sid, "zone": "live", "beacon_id": "w1"}, address=address)
            except OSError:
                status = 0
            now = time.monotonic()
            if status == 201:
                self.acked.append((sid, address, now))
            else:
                self.refused.append((address, now))
            time.sleep(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(30)

    def downtime(self, new_address: str) -> float | None:
        """First refused write to the first write the new stack accepted (seconds)."""
        if not self.refused:
            return None
        first_refused = self.refused[0][1]
        accepted = [t for _, addr, t in self.acked if addr == new_address and t > first_refused]
        return round(accepted[0] - first_refused, 3) if accepted else None


def extra_vars_file(data: dict) -> str:
    fd, path = tempfile.mkstemp(prefix="protea-mig-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    return path


ZONE = "shopper.example.com"  # the local inventory's protea_domain
SITE = ZONE


def seed_aws(client, engine: str, master_password: str) -> str:
    """The AWS side as the data tier leaves it (in the emulator): the RDS instance, its
    master password in SSM, the EFS file system. Returns the RDS endpoint address.
    client(service) -> a boto3 client for the emulator."""
    rds = client("rds")
    rds.create_db_instance(DBInstanceIdentifier="shopper-local-db", Engine=engine,
                           EngineVersion="15.4" if engine == "postgres" else "10.11.6",
                           DBInstanceClass="db.t3.medium", AllocatedStorage=20, MasterUsername="shopper_admin",
                           MasterUserPassword=master_password, DBName="shopper")
    client("ssm").put_parameter(Name="/shopper/local/rds/master-password", Type="SecureString",
                                Value=master_password, Overwrite=True)
    client("efs").create_file_system(CreationToken="shopper-local-efs", Encrypted=True,
                                     Tags=[{"Key": "Name", "Value": "shopper-local-efs"}])
    return rds.describe_db_instances(DBInstanceIdentifier="shopper-local-db")["DBInstances"][0]["Endpoint"]["Address"]


def seed_dns(client, legacy_address: str) -> None:
    """The site's zone as before the migration: apex and www at the old box, TTL 1 h."""
    r53 = client("route53")
    zone_id = r53.create_hosted_zone(Name=ZONE, CallerReference=f"mig-{time.time()}")["HostedZone"]["Id"]
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": {"Name": name, "Type": "A", "TTL": 3600,
                                                   "ResourceRecords": [{"Value": legacy_address}]}}
        for name in (ZONE, f"www.{ZONE}")]})


def site_records(client) -> dict[str, dict]:
    """{(name, type): record} of the site's apex and www records in the emulator."""
    r53 = client("route53")
    zone_id = [z["Id"] for z in r53.list_hosted_zones()["HostedZones"] if z["Name"] == ZONE + "."][0]
    out = {}
    for rec in r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]:
        if rec["Name"].rstrip(".") in (ZONE, f"www.{ZONE}") and rec["Type"] in ("A", "AAAA"):
            out[(rec["Name"].rstrip("."), rec["Type"])] = rec
    return out
