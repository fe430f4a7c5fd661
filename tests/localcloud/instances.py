"""Instance mode: the emulator's EC2 instances become podman containers.

Runs INSIDE the emulator process (serve.py --instances), as one reconciler thread that reads
moto's backends directly and every ~1 s makes podman match them. Everything it creates is
named ``protea-lc-*`` and labelled ``protea-lc.cloud=<cloud id>`` (a hash of the state dir),
so ``cleanup(cloud_id)`` -- called by ``stop`` from any process -- finds all of it.

Per instance (pending/running in moto):
  * podman network ``protea-lc-<subnet-id>`` per subnet of its VPC (subnet CIDR; subnets whose
    route table has no internet gateway route are ``--internal``), gateway = host at .1;
  * container ``protea-lc-<instance-id>`` from ``localhost/protea-ami:<ami-id>`` (CreateImage
    commits) or the base image, at the instance's private IP, hostname = private DNS name;
  * "cloud-init": user ``admin`` (passwordless sudo, the key pair's public key), apt pointed at
    the package proxy, new ssh host keys per instance, shell user data once (as root);
  * private subnets: TCP 22 from the gateway (.1, i.e. the host) is rejected inside the
    container's netns, so only the VPC (the bastion) reaches sshd;
  * "VPC routing": instances in public subnets also get an interface on each private network of
    their VPC (address from the top of the subnet), so the bastion reaches private hosts;
  * public IP (127.100.0.0/16, compat/instances.py): a TCP forwarder on <public-ip>:22 -> the
    container's sshd, following Elastic IP (re)association;
  * moto reports the instance ``running`` only once its sshd answers.
  * security groups as packet filters (patch instances-security-groups): iptables in the container's
    netns, computed by sgfilter.py from moto's groups, members and prefix lists, re-applied on change;
Shared per VPC: the package proxy (protea-apt-proxy joins every network at .2), a database
container per RDS instance (.3 on every network of its VPC), the SES SMTP double and the
CloudWatch agent package double on every network's gateway address, EFS volumes. The database serves TLS
from a local RDS CA (rdstls.py) and refuses plaintext as its parameter group says (patch instances-rds-tls).
"""
from __future__ import annotations

import fcntl
import hashlib
import http.server
import ipaddress
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import traceback
from functools import partial
from pathlib import Path
from typing import Any

from tests.localcloud import imds, rdstls, sgfilter

REPO = Path(__file__).resolve().parents[2]
PREFIX = "protea-lc-"
LABEL = "protea-lc.cloud"
BASE_IMAGE = os.environ.get("PROTEA_LOCALCLOUD_BASE_IMAGE", "localhost/protea-debian12:latest")
AMI_REPO = "localhost/protea-ami"
APT_PROXY = "protea-apt-proxy"
APT_PROXY_PORT = 3142
APT_PROXY_HOST = "apt-proxy.localcloud.internal"
CWAGENT_HOST = "cloudwatch-agent.localcloud.internal"
CWAGENT_PORT = int(os.environ.get("PROTEA_LOCALCLOUD_CWAGENT_PORT", "8430"))
SMTP_PORT = 587
EFS_PATHS = ("/mnt/efs", "/srv/shared")  # the contract's path and efs_mount's default path
STATE_FILE = "instances.json"

_podman_lock = threading.RLock()


def cloud_id(state_dir: str | Path) -> str:
    return hashlib.sha256(str(Path(state_dir).resolve()).encode()).hexdigest()[:10]


def log(msg: str) -> None:
    print(f"localcloud-instances: {msg}", flush=True)


def podman(*args: str, input: str | None = None, check: bool = True, timeout: float = 120,
           lock: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", str(REPO / "tests/containers/containers.conf"))
    cmd = ["podman", *args]
    ctx = _podman_lock if lock else threading.Lock()
    with ctx:
        res = subprocess.run(cmd, input=input, capture_output=True, text=True, env=env, timeout=timeout)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(shlex.quote(a) for a in cmd[:6])}... rc={res.returncode}: {res.stderr.strip()[-800:]}")
    return res


def cleanup(cid: str) -> None:
    """Remove every container, network, volume and AMI image of cloud ``cid`` (any process)."""
    flt = f"label={LABEL}={cid}"
    ids = podman("ps", "-a", "-q", "--filter", flt, check=False).stdout.split()
    if ids:
        podman("rm", "-f", "-t", "0", *ids, check=False)
    for net in podman("network", "ls", "-q", "--filter", flt, check=False).stdout.split():
        podman("network", "disconnect", "-f", net, APT_PROXY, check=False)
        podman("network", "rm", net, check=False)
    vols = podman("volume", "ls", "-q", "--filter", flt, check=False).stdout.split()
    if vols:
        podman("volume", "rm", "-f", *vols, check=False)
    imgs = podman("images", "-q", "--filter", flt, "--filter", f"reference={AMI_REPO}", check=False).stdout.split()
    if imgs:
        podman("rmi", "-f", *sorted(set(imgs)), check=False)


def _owner_lock_path(cid: str) -> Path:
    return Path(tempfile.gettempdir()) / f"protea-lc-{cid}.lock"


def hold_owner_lock(cid: str) -> Any:
    """Mark cloud ``cid`` as alive for as long as the returned file stays open (this process)."""
    fh = open(_owner_lock_path(cid), "w")  # noqa: SIM115 - held for the process's lifetime
    fcntl.flock(fh, fcntl.LOCK_EX)  # waits while a reaper is removing this id's leftovers
    return fh


def clouds_on_machine() -> set[str]:
    """Cloud ids that own a container or a network on this machine."""
    flt = f"label={LABEL}"
    ids = set(podman("ps", "-a", "--filter", flt, "--format", f'{{{{index .Labels "{LABEL}"}}}}',
                     check=False).stdout.split())
    nets = podman("network", "ls", "-q", "--filter", flt, check=False).stdout.split()
    if nets:
        out = podman("network", "inspect", *nets, check=False).stdout
        ids |= {(n.get("labels") or {}).get(LABEL, "") for n in json.loads(out or "[]")}
    return ids - {""}


def reap_dead_clouds(keep: str = "", among: set[str] | None = None) -> list[str]:
    """Remove the leftovers of clouds whose emulator process is gone (a killed session, a
    crash): their networks hold subnets a new cloud needs, their containers hold addresses.
    A cloud is alive while its process holds its owner lock; ``keep`` is never reaped;
    ``among`` limits the candidates (tests)."""
    reaped = []
    found = clouds_on_machine() if among is None else clouds_on_machine() & among
    for cid in sorted(found - {keep}):
        try:
            with open(_owner_lock_path(cid), "a") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                cleanup(cid)
                fcntl.flock(fh, fcntl.LOCK_UN)
            reaped.append(cid)
        except BlockingIOError:
            continue  # alive: another emulator owns it
    return reaped


# --- moto access -----------------------------------------------------------------------------
def ec2_backends() -> list[Any]:
    from moto.ec2.models import ec2_backends as backends

    out = []
    for account in list(backends.values()):
        out.extend(list(account.values()))
    return out


def find_instance(instance_id: str) -> Any:
    for backend in ec2_backends():
        for inst in list(backend.all_instances()):
            if inst.id == instance_id:
                return inst
    return None


def subnet_is_public(backend: Any, subnet: Any) -> bool:
    tables = list(backend.route_tables.values())
    table = next((t for t in tables if subnet.id in t._associations.values()), None)
    if table is None:
        table = next((t for t in tables if t.vpc_id == subnet.vpc_id and t.main_association_id), None)
    if table is not None:
        for route in table.routes:
            gw = getattr(route, "gateway", None)
            if gw is not None and str(getattr(gw, "id", "")).startswith("igw-"):
                return True
        return False
    return bool(subnet.map_public_ip_on_launch)


def user_data_text(inst: Any) -> str:
    data = inst.user_data
    if isinstance(data, list):  # older moto kept a list
        data = data[0] if data else None
    if data is None:
        return ""
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    if isinstance(data, str):
        return data
    return data.decode()  # moto's Base64EncodedString: the decoded text


def public_key(backend: Any, inst: Any) -> str:
    kp = backend.key_pairs.get(inst.key_name) if inst.key_name else None
    if kp is None:
        return ""
    pub = kp.material_public
    return pub.decode() if isinstance(pub, bytes) else str(pub or "")


def set_state(inst: Any, name: str) -> None:
    codes = {"pending": 0, "running": 16}
    if inst._state.name in ("pending", "running"):
        inst._state.name = name
        inst._state.code = codes[name]


# --- host-side servers -----------------------------------------------------------------------
class Forwarder:
    """<public-ip>:22 -> target:22 (the instance's sshd): the loopback stand-in for a public IP."""

    def __init__(self, listen: str, target: str, port: int = 22):
        self.listen, self.target, self.port = listen, target, port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((listen, port))
        self.sock.listen(16)
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe_pair, args=(client,), daemon=True).start()

    def _pipe_pair(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection((self.target, self.port), timeout=10)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.closed = True
        self.sock.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt: str, *args: Any) -> None:
        log("cloudwatch-agent double: " + fmt % args)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


class IamSecrets(dict):
    """SES double credentials: every IAM access key's secret, read from moto when asked."""

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        from moto.iam.models import iam_backends

        for account in list(iam_backends.values()):
            for backend in list(account.values()):
                for user in list(backend.users.values()):
                    for ak in user.access_keys:
                        if ak.access_key_id == key and ak.status == "Active":
                            return ak.secret_access_key
        return default


class SesPasswords(dict):
    def __init__(self, region: str):
        super().__init__()
        self.region = region

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        from tests.doubles.ses_smtp_double import ses_smtp_password

        secret = IamSecrets().get(key)
        return ses_smtp_password(secret, self.region) if secret else default


# --- the reconciler ----------------------------------------------------------------------------
class Reconciler(threading.Thread):
    def __init__(self, state_dir: str | Path, interval: float = 1.0):
        super().__init__(name="localcloud-instances", daemon=True)
        self.state_dir = Path(state_dir).resolve()
        self.cid = cloud_id(self.state_dir)
        self.interval = interval
        self.lock = threading.RLock()
        self.instances: dict[str, dict[str, Any]] = {}  # instance id -> record
        self.networks: dict[str, dict[str, Any]] = {}   # subnet id -> record
        self.dbs: dict[str, dict[str, Any]] = {}        # db identifier -> record
        self.forwarders: dict[str, Forwarder] = {}      # public ip -> forwarder
        self.gateway_servers: dict[str, list[Any]] = {}  # gateway ip -> [smtp, http]
        self.volumes: set[str] = set()
        self.images: dict[str, str] = {}  # ami id -> image
        self.db_snapshots: dict[str, str] = {}  # DB snapshot id -> committed image of its database container
        self.failures: dict[str, int] = {}
        self.hooks: list[Any] = []  # callables run every tick (instance refresh)
        self.db_builds: dict[str, threading.Thread] = {}
        self._last_written = ""
        self.tls_dir = self.state_dir / "ses-double"
        self.cw_dir = self.state_dir / "cloudwatch-agent-double"
        self.rds_ca_dir = self.state_dir / "rds-ca"
        self.api_tls_dir = self.state_dir / "api-ca"
        # Switched on by the compat patches instances-security-groups / instances-rds-tls (compat/instances.py).
        self.enforce_sgs = False
        self.enforce_db_tls = False
        self.filters: dict[str, str] = {}  # container -> iptables-restore text applied in its netns

    # ---- lifecycle
    def run(self) -> None:
        log(f"reconciler started (cloud {self.cid}, state dir {self.state_dir})")
        self._owner_lock = hold_owner_lock(self.cid)
        cleanup(self.cid)  # leftovers of an earlier run with the same state dir
        for dead in reap_dead_clouds(keep=self.cid):
            log(f"removed the leftovers of cloud {dead} (its emulator is gone)")
        rdstls.ca(self.rds_ca_dir)  # the local RDS CA bundle exists from the start (for roles on the host)
        self._ensure_apt_proxy()
        self._build_cwagent_package()
        while True:
            try:
                self.tick()
            except Exception:  # keep reconciling; the log says what failed
                self._log_once("tick failed:\n" + traceback.format_exc())
            time.sleep(self.interval)

    def _ensure_apt_proxy(self) -> None:
        res = subprocess.run([str(REPO / "tests/containers/apt-proxy"), "up"], capture_output=True, text=True,
                             env={**os.environ, "CONTAINERS_CONF": str(REPO / "tests/containers/containers.conf")})
        log(f"apt proxy: rc={res.returncode} {res.stdout.strip()} {res.stderr.strip()[-300:]}")

    def _build_cwagent_package(self) -> None:
        try:
            subprocess.run([str(REPO / "tests/doubles/cloudwatch_agent_double/build-deb"), str(self.cw_dir), "debian",
                            "amd64"], check=True, capture_output=True, text=True)
        except Exception as exc:
            log(f"cloudwatch agent package double not built: {exc}")

    # ---- one pass
    def tick(self) -> None:
        with self.lock:
            # Databases ready before this pass are in every ready instance's /etc/hosts after it.
            ready_dbs = [rec for rec in self.dbs.values() if rec["phase"] == "ready"]
            wanted: dict[str, tuple[Any, Any]] = {}
            for backend in ec2_backends():
                for inst in list(backend.all_instances()):
                    if inst._state.name in ("pending", "running"):
                        wanted[inst.id] = (backend, inst)
            for iid in list(self.instances):
                if iid not in wanted:
                    self._remove_instance(iid)
            for iid, (backend, inst) in wanted.items():
                rec = self.instances.get(iid)
                try:
                    if rec is None:
                        self._create_instance(backend, inst)
                    elif rec["phase"] != "ready":
                        self._progress(backend, inst, rec)
                    else:
                        self._follow_public_ip(inst, rec)
                        self._sync_hosts(backend, rec)
                except Exception as exc:
                    n = self.failures[iid] = self.failures.get(iid, 0) + 1
                    log(f"{iid}: {exc} (attempt {n})")
                    if n in (3, 10):
                        log(traceback.format_exc())
                    if rec is None and n < 30:
                        podman("rm", "-f", "-t", "0", PREFIX + iid, check=False)
            for db_rec in ready_dbs:
                db_rec["resolvable"] = True
            wanted_vpcs = {inst.vpc_id for _b, inst in wanted.values()}
            phases = [self._reconcile_dbs, self._reconcile_gateways, self._reconcile_filters,
                      lambda: self._gc_networks(wanted_vpcs)]
            phases += [partial(hook, self) for hook in self.hooks]
            for phase in phases + [self._write_state]:
                try:
                    phase()
                except Exception:  # one failing part must not stop the others
                    self._log_once("phase failed:\n" + traceback.format_exc())

    def _log_once(self, text: str) -> None:
        if text != getattr(self, "_last_error", None):
            log(text)
            self._last_error = text

    # ---- networks
    def _ensure_vpc_networks(self, backend: Any, vpc_id: str) -> None:
        for subnet in self._subnets(backend):
            if subnet.vpc_id == vpc_id:
                self._ensure_network(backend, subnet)

    @staticmethod
    def _subnets(backend: Any) -> list[Any]:
        return [s for az in list(backend.subnets.values()) for s in list(az.values())]

    def _ensure_network(self, backend: Any, subnet: Any) -> dict[str, Any]:
        rec = self.networks.get(subnet.id)
        if rec:
            return rec
        cidr = ipaddress.ip_network(subnet.cidr_block)
        public = subnet_is_public(backend, subnet)
        name = PREFIX + subnet.id
        args = ["network", "create", "--subnet", str(cidr), "--label", f"{LABEL}={self.cid}"]
        if not public:
            args.append("--internal")
        if podman("network", "exists", name, check=False).returncode != 0:
            podman(*args, name)
        rec = {
            "name": name, "subnet": subnet.id, "vpc": subnet.vpc_id, "cidr": str(cidr), "public": public,
            "gateway": str(cidr.network_address + 1), "proxy": str(cidr.network_address + 2),
            "db": str(cidr.network_address + 3), "top": int(cidr.broadcast_address) - 1, "extra": {},
            "region": backend.region_name,
        }
        self.networks[subnet.id] = rec
        log(f"network {name} {cidr} {'public' if public else 'internal'}")
        res = podman("network", "connect", "--ip", rec["proxy"], name, APT_PROXY, check=False)
        if res.returncode != 0:
            log(f"apt proxy not connected to {name}: {res.stderr.strip()[-300:]}")
        return rec

    def _vpc_networks(self, vpc_id: str) -> list[dict[str, Any]]:
        return [n for n in self.networks.values() if n["vpc"] == vpc_id]

    def _extra_address(self, net: dict[str, Any], owner: str) -> str:
        if owner not in net["extra"]:
            used = set(net["extra"].values())
            addr = net["top"]
            while str(ipaddress.ip_address(addr)) in used:
                addr -= 1
            net["extra"][owner] = str(ipaddress.ip_address(addr))
        return net["extra"][owner]

    def _gc_networks(self, wanted_vpcs: set[str]) -> None:
        in_use_vpcs = {r["vpc"] for r in self.instances.values()} | wanted_vpcs
        for sid, net in list(self.networks.items()):
            if net["vpc"] in in_use_vpcs:
                continue
            for db in [d for d in self.dbs.values() if d["vpc"] == net["vpc"]]:
                self._remove_db(db["id"])
            self._stop_gateway(net["gateway"])
            podman("network", "disconnect", "-f", net["name"], APT_PROXY, check=False)
            res = podman("network", "rm", net["name"], check=False)
            log(f"network {net['name']} removed rc={res.returncode} {res.stderr.strip()[-200:]}")
            del self.networks[sid]

    # ---- instances
    def _image_for(self, inst: Any) -> str:
        image = f"{AMI_REPO}:{inst.image_id}"
        if podman("image", "exists", image, check=False).returncode == 0:
            return image
        return BASE_IMAGE

    def _hosts(self, net: dict[str, Any], region: str) -> list[str]:
        hosts = [f"{APT_PROXY_HOST}:{net['proxy']}", f"{CWAGENT_HOST}:{net['gateway']}",
                 f"email-smtp.{region}.amazonaws.com:{net['gateway']}", f"sts.amazonaws.com:{net['gateway']}"]
        hosts += [f"{svc}.{region}.amazonaws.com:{net['gateway']}" for svc in imds.API_SERVICES]
        for db in self.dbs.values():
            if db["vpc"] == net["vpc"] and db.get("address"):
                hosts.append(f"{db['address']}:{db.get('net_ips', {}).get(net['name'], net['db'])}")
        hosts += [f"{name}:{addr}" for name, addr in self._efs_names(net)]
        return hosts

    def _efs(self, vpc_id: str, region: str) -> list[tuple[str, str, list[Any]]]:
        """[(fs id, dns name, mount targets)] of file systems with a mount target in the VPC."""
        try:
            from moto.efs.models import efs_backends
        except ImportError:
            return []
        out = []
        for account in list(efs_backends.values()):
            backend = account.get(region) if region in account.keys() else None
            if backend is None:
                continue
            for fs in list(backend.file_systems_by_id.values()):
                mts = [mt for mt in list(backend.mount_targets_by_id.values())
                       if mt.file_system_id == fs.file_system_id and getattr(mt, "_subnet", None) is not None
                       and mt._subnet.vpc_id == vpc_id]
                if mts:
                    out.append((fs.file_system_id, f"{fs.file_system_id}.efs.{region}.amazonaws.com", mts))
        return out

    def _efs_names(self, net: dict[str, Any]) -> list[tuple[str, str]]:
        out = []
        for _fs, name, mts in self._efs(net["vpc"], net["region"]):
            same = [mt for mt in mts if mt.subnet_id == net["subnet"]]
            out.append((name, (same or mts)[0].ip_address))
        return out

    def _create_instance(self, backend: Any, inst: Any) -> None:
        subnet = backend.get_subnet(inst.subnet_id)
        self._ensure_vpc_networks(backend, subnet.vpc_id)
        net = self.networks[subnet.id]
        name = PREFIX + inst.id
        image = self._image_for(inst)
        args = ["run", "-d", "--name", name, "--hostname", inst.private_dns_name, "--label", f"{LABEL}={self.cid}",
                "--label", f"protea-lc.instance={inst.id}", "--network", f"{net['name']}:ip={inst.private_ip}",
                "--cap-add", "NET_ADMIN"]
        if net["public"]:
            for other in self._vpc_networks(subnet.vpc_id):
                if not other["public"]:
                    args += ["--network", f"{other['name']}:ip={self._extra_address(other, inst.id)}"]
        hosts = self._hosts(net, backend.region_name)
        for host in hosts:
            args += ["--add-host", host]
        for fs, _name, _mts in self._efs(subnet.vpc_id, backend.region_name):
            vol = PREFIX + fs
            if vol not in self.volumes:
                if podman("volume", "exists", vol, check=False).returncode != 0:
                    podman("volume", "create", "--label", f"{LABEL}={self.cid}", vol)
                self.volumes.add(vol)
            for path in EFS_PATHS:
                args += ["-v", f"{vol}:{path}"]
        podman("rm", "-f", "-t", "0", name, check=False)
        podman(*args, image)
        self.instances[inst.id] = {
            "container": name, "private_ip": inst.private_ip, "public_ip": None, "image": image,
            "subnet": subnet.id, "vpc": subnet.vpc_id, "region": backend.region_name, "phase": "booting",
            "public": net["public"], "since": time.monotonic(), "hosts": hosts,
        }
        log(f"{inst.id}: container {name} from {image} at {inst.private_ip} on {net['name']}")

    def _progress(self, backend: Any, inst: Any, rec: dict[str, Any]) -> None:
        name = rec["container"]
        if rec["phase"] == "booting":
            res = podman("exec", name, "systemctl", "is-system-running", check=False, timeout=30)
            if res.stdout.strip() not in ("running", "degraded"):
                if time.monotonic() - rec["since"] > 120:
                    raise RuntimeError(f"systemd did not come up: {res.stdout.strip()} {res.stderr.strip()[-200:]}")
                return
            rec["pid"] = podman("inspect", "-f", "{{.State.Pid}}", name).stdout.strip()
            # 169.254.169.254 is on-link on AWS; an --internal network has no default route to carry it
            # to the nat rule that sends it to the metadata service (sgfilter.rules_text imds).
            subprocess.run(["nsenter", "-t", rec["pid"], "-n", "ip", "route", "replace", f"{imds.IMDS_ADDRESS}/32",
                            "via", self.networks[rec["subnet"]]["gateway"]], check=True, capture_output=True, timeout=30)
            self._apply_filter(name, rec["pid"], self._instance_filter(backend, inst, rec))
            podman("exec", "-i", name, "bash", "-s", input=self._init_script(backend, inst), timeout=120)
            rec["phase"] = "sshd"
        if rec["phase"] == "sshd":
            res = podman("exec", name, "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/22 && head -c 4 <&3", check=False,
                         timeout=15)
            if not res.stdout.startswith("SSH-"):
                return
            rec["phase"] = "ready"
            self._follow_public_ip(inst, rec)
            set_state(inst, "running")
            self._register_with_group(backend, inst)
            self.failures.pop(inst.id, None)
            log(f"{inst.id}: ready (sshd answers) after {time.monotonic() - rec['since']:.1f} s")

    @staticmethod
    def _register_with_group(backend: Any, inst: Any) -> None:
        group = backend.tags.get(inst.id, {}).get("aws:autoscaling:groupName")
        if group is None:
            return
        from moto.autoscaling.models import autoscaling_backends

        asg = autoscaling_backends[backend.account_id][backend.region_name]
        if group in asg.autoscaling_groups:
            asg.update_attached_target_groups(group)

    def _ses_ca(self, region: str) -> str:
        from tests.doubles.ses_smtp_double import make_tls

        return make_tls(self.tls_dir / region, region)["ca"].read_text()

    def _init_script(self, backend: Any, inst: Any) -> str:
        key = public_key(backend, inst)
        data = user_data_text(inst)
        # The SES double's test CA joins the system trust store, as Amazon's CAs are in it on AWS.
        ca = self._ses_ca(backend.region_name)
        api_ca = imds.api_ca(self.api_tls_dir)["ca"].read_text()
        rds_bundle = rdstls.ca(self.rds_ca_dir)["bundle"].read_text()
        proxy = f'Acquire::http::Proxy "http://{APT_PROXY_HOST}:{APT_PROXY_PORT}";\n'
        lines = [
            "set -eu",
            "id admin >/dev/null 2>&1 || useradd -m -s /bin/bash -G sudo admin",
            "printf '%s\\n' 'admin ALL=(ALL) NOPASSWD:ALL' >/etc/sudoers.d/90-cloud-init-users",
            "chmod 0440 /etc/sudoers.d/90-cloud-init-users",
            "install -d -m 0700 -o admin -g admin /home/admin/.ssh",
            f"printf '%s\\n' {shlex.quote(key)} >/home/admin/.ssh/authorized_keys",
            "chown admin:admin /home/admin/.ssh/authorized_keys; chmod 0600 /home/admin/.ssh/authorized_keys",
            f"printf '%s' {shlex.quote(proxy)} >/etc/apt/apt.conf.d/00localcloud-proxy",
            f"printf '%s' {shlex.quote(ca)} >/usr/local/share/ca-certificates/protea-localcloud-ses-double.crt",
            f"printf '%s' {shlex.quote(api_ca)} >/usr/local/share/ca-certificates/protea-localcloud-aws-endpoints.crt",
            "update-ca-certificates >/dev/null 2>&1",
            # The RDS CA bundle at a well-known path, NOT in the trust store (rdstls.py).
            f"install -d -m 0755 {shlex.quote(os.path.dirname(rdstls.INSTANCE_BUNDLE))}",
            f"printf '%s' {shlex.quote(rds_bundle)} >{rdstls.INSTANCE_BUNDLE}; chmod 0644 {rdstls.INSTANCE_BUNDLE}",
            "mkdir -p /var/lib/cloud/data /var/lib/cloud/instance",
            f"if [ \"$(cat /var/lib/cloud/data/instance-id 2>/dev/null)\" != {inst.id} ]; then",
            # A new instance (also one from a committed image): its own ssh host keys, as cloud-init does.
            "  rm -f /etc/ssh/ssh_host_*; ssh-keygen -A >/dev/null; systemctl restart ssh",
            f"  echo {inst.id} >/var/lib/cloud/data/instance-id",
        ]
        if data.startswith("#!"):
            lines += [
                "  cat >/var/lib/cloud/instance/user-data.txt <<'PROTEA_LC_USER_DATA'",
                data.rstrip("\n"),
                "PROTEA_LC_USER_DATA",
                "  chmod 0700 /var/lib/cloud/instance/user-data.txt",
                "  systemd-run --quiet --unit protea-lc-user-data --collect sh -c "
                "'/var/lib/cloud/instance/user-data.txt >>/var/log/cloud-init-output.log 2>&1'",
            ]
        lines.append("fi")
        return "\n".join(lines) + "\n"

    def _sync_hosts(self, backend: Any, rec: dict[str, Any]) -> None:
        """Names that appeared after the instance started (a database, a file system) resolve in it too,
        as the VPC's DNS answers for them on AWS."""
        wanted = self._hosts(self.networks[rec["subnet"]], backend.region_name)
        new = [h for h in wanted if h not in rec.get("hosts", [])]
        if not new:
            return
        lines = "".join(f"{h.rsplit(':', 1)[1]}\t{h.rsplit(':', 1)[0]}\n" for h in new)
        podman("exec", "-i", rec["container"], "sh", "-c", "cat >>/etc/hosts", input=lines, timeout=30)
        rec["hosts"] = list(rec.get("hosts", [])) + new
        log(f"{rec['container']}: /etc/hosts += {', '.join(h.rsplit(':', 1)[0] for h in new)}")

    def _follow_public_ip(self, inst: Any, rec: dict[str, Any]) -> None:
        ip = inst.public_ip if rec["public"] else None
        if ip == rec.get("public_ip") and (ip is None or ip in self.forwarders):
            return
        old = rec.get("public_ip")
        if old and old in self.forwarders:
            self.forwarders.pop(old).close()
        rec["public_ip"] = None
        if ip:
            self.forwarders[ip] = Forwarder(ip, rec["private_ip"])
            rec["public_ip"] = ip
            log(f"{inst.id}: {ip}:22 -> {rec['private_ip']}:22")

    def _remove_instance(self, iid: str) -> None:
        rec = self.instances.pop(iid)
        self.filters.pop(rec["container"], None)
        if rec.get("public_ip") in self.forwarders:
            self.forwarders.pop(rec["public_ip"]).close()
        for net in self.networks.values():
            net["extra"].pop(iid, None)
        podman("rm", "-f", "-t", "0", rec["container"], check=False)
        log(f"{iid}: container removed")

    def commit(self, instance_id: str, ami_id: str) -> str | None:
        """CreateImage: the instance's container becomes localhost/protea-ami:<ami id>."""
        with self.lock:
            rec = self.instances.get(instance_id)
            if rec is None:
                return None
            image = f"{AMI_REPO}:{ami_id}"
            podman("commit", "-q", "--change", 'CMD ["/sbin/init"]', rec["container"], image, timeout=600)
            self.images[ami_id] = image
            log(f"{instance_id}: committed as {image}")
            return image

    def forget_image(self, ami_id: str) -> None:
        """DeregisterImage: drop the committed image (containers already running from it keep it)."""
        image = self.images.pop(ami_id, None)
        if image:
            podman("rmi", image, check=False)

    # ---- backups: what a DB snapshot or an EFS recovery point holds (compat instances-backup-data)
    def snapshot_db(self, ident: str, snapshot_id: str) -> str | None:
        """CreateDBSnapshot: the database container, committed (paused, so its files are consistent
        on disk as after a crash: the server recovers from its log when a restore starts it)."""
        with self.lock:
            rec = self.dbs.get(ident)
            if rec is None or rec.get("phase") != "ready":
                return None
            # An image tag allows [A-Za-z0-9_.-] (128 at most); automated snapshots are named "rds:<db>-<time>".
            tag = re.sub(r"[^A-Za-z0-9_.-]", "-", f"dbsnap-{self.cid[:8]}-{snapshot_id}")[:128]
            image = f"{AMI_REPO}:{tag}"
            podman("commit", "-q", "--pause", "--change", 'CMD ["/sbin/init"]', rec["container"], image, timeout=600)
            self.db_snapshots[snapshot_id] = image
            log(f"database {ident}: snapshot {snapshot_id} committed as {image}")
            return image

    def forget_db_snapshot(self, snapshot_id: str) -> None:
        image = self.db_snapshots.pop(snapshot_id, None)
        if image:
            podman("rmi", image, check=False)

    def _volume_path(self, fs_id: str) -> Path | None:
        vol = PREFIX + fs_id
        res = podman("volume", "inspect", "-f", "{{.Mountpoint}}", vol, check=False)
        return Path(res.stdout.strip()) if res.returncode == 0 and res.stdout.strip() else None

    def efs_backup(self, recovery_point: str, fs_id: str) -> None:
        """StartBackupJob of a file system: a copy of its files, kept as the recovery point."""
        src = self._volume_path(fs_id)
        dest = self.state_dir / "recovery-points" / recovery_point.rsplit(":", 1)[-1]
        if src is None:
            return  # no instance ever mounted it: an empty file system
        shutil.copytree(src, dest, symlinks=True, dirs_exist_ok=True)
        log(f"{fs_id}: recovery point {dest.name} ({sum(1 for _ in dest.rglob('*'))} entries)")

    def efs_restore(self, recovery_point: str, fs_id: str, items: list[str], directory: str) -> None:
        """StartRestoreJob of a file system's recovery point into file system ``fs_id``: the items
        (paths from the root; all when empty) under ``directory`` off its root, hierarchy kept."""
        src = self.state_dir / "recovery-points" / recovery_point.rsplit(":", 1)[-1]
        vol = PREFIX + fs_id
        if podman("volume", "exists", vol, check=False).returncode != 0:
            podman("volume", "create", "--label", f"{LABEL}={self.cid}", vol)
            self.volumes.add(vol)
        target = self._volume_path(fs_id)
        if target is None:
            raise RuntimeError(f"no volume for {fs_id}")
        root = target / directory
        root.mkdir(parents=True, exist_ok=True)
        for item in items or ["/"]:
            rel = item.strip("/")
            what = src / rel if rel else src
            if not what.exists():
                continue  # AWS restores what the point holds; a missing item fails the job there (not modelled)
            if what.is_dir():
                shutil.copytree(what, root / rel if rel else root, symlinks=True, dirs_exist_ok=True)
            else:
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(what, root / rel)
        log(f"{fs_id}: restored {items or ['/']} of {src.name} into /{directory}")

    # ---- databases (RDS)
    def _reconcile_dbs(self) -> None:
        try:
            from moto.rds.models import rds_backends
        except ImportError:
            return
        seen = set()
        for account in list(rds_backends.values()):
            for region, backend in list(account.items()):
                for db in list(backend.databases.values()):
                    group = getattr(db, "db_subnet_group", None)
                    if group is None:
                        continue
                    nets = self._vpc_networks(group.vpc_id)
                    if not nets:
                        continue
                    seen.add(db.db_instance_identifier)
                    rec = self.dbs.get(db.db_instance_identifier)
                    if rec is None:
                        self._create_db(db, group.vpc_id, nets, region, backend)
                    elif rec["phase"] == "ready":
                        rec["db"] = db
                        self._apply_db_config(db, rec, backend)
                        self._apply_db_credentials(db, rec)
        for ident in list(self.dbs):
            if ident not in seen:
                self._remove_db(ident)

    def _db_image(self, family: str) -> str | None:
        base_id = podman("image", "inspect", "-f", "{{.Id}}", BASE_IMAGE).stdout.strip()[:12]
        image = f"localhost/protea-lc-{family}:{base_id}"
        if podman("image", "exists", image, check=False).returncode == 0:
            return image
        t = self.db_builds.get(image)
        if t is None or not t.is_alive():
            t = threading.Thread(target=self._build_db_image, args=(family, image), daemon=True)
            self.db_builds[image] = t
            t.start()
        return None

    def _build_db_image(self, family: str, image: str) -> None:
        pkgs = "postgresql" if family == "postgres" else "mariadb-server"
        proxy = subprocess.run([str(REPO / "tests/containers/apt-proxy"), "url"], capture_output=True, text=True).stdout.strip()
        name = f"{PREFIX}build-{family}-{os.getpid()}"
        script = (
            f"echo 'Acquire::http::Proxy \"{proxy}\";' >/etc/apt/apt.conf.d/00proxy && apt-get update -qq && "
            f"DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends {pkgs} >/dev/null && "
            "rm /etc/apt/apt.conf.d/00proxy && apt-get clean && rm -rf /var/lib/apt/lists/*"
        )
        log(f"building {image} ({pkgs} through the apt proxy)")
        try:
            podman("rm", "-f", name, check=False, lock=False)
            podman("run", "--name", name, "--label", f"{LABEL}={self.cid}", "--network", "protea-test", BASE_IMAGE,
                   "bash", "-c", script, timeout=900, lock=False)
            podman("commit", "-q", "--change", 'CMD ["/sbin/init"]', name, image, timeout=300, lock=False)
            log(f"built {image}")
        except Exception as exc:
            log(f"building {image} failed: {exc}")
        finally:
            podman("rm", "-f", name, check=False, lock=False)

    def _create_db(self, db: Any, vpc_id: str, nets: list[dict[str, Any]], region: str, rds: Any) -> None:
        ident = db.db_instance_identifier
        family = "postgres" if "postgres" in db.engine else "mariadb"
        # Restored from a DB snapshot (compat instances-backup-data): the snapshot's disk.
        snapshot = self.db_snapshots.get(getattr(db, "_lc_from_snapshot", None) or "")
        image = snapshot or self._db_image(family)
        if image is None:
            return  # building; next tick
        name = f"{PREFIX}db-{ident}"
        # A host name has at most 64 bytes (the kernel refuses longer ones); an RDS endpoint may be longer.
        hostname = db.address if len(db.address) <= 63 else db.address.split(".", 1)[0][:63]
        args = ["create", "--name", name, "--hostname", hostname, "--label", f"{LABEL}={self.cid}"]
        for net in nets:
            args += ["--network", f"{net['name']}:ip={self._db_address(net, ident)}"]
        podman("rm", "-f", "-t", "0", name, check=False)
        podman(*args, image)
        if snapshot:
            # The snapshot was taken of a running server: its lock file names a PID that another process of
            # the new container may hold, and PostgreSQL would then refuse to start. The data recovers from
            # the server's log, as after a crash (as RDS restores a snapshot of a running instance).
            root = Path(podman("mount", name).stdout.strip())
            for stale in root.glob("var/lib/postgresql/*/main/postmaster.pid"):
                stale.unlink()
            podman("unmount", name, check=False)
        podman("start", name)
        rec = {"id": ident, "container": name, "vpc": vpc_id, "address": db.address, "port": db.port,
               "engine": db.engine, "family": family, "phase": "booting", "ips": [self._db_address(n, ident) for n in nets],
               "net_ips": {n["name"]: self._db_address(n, ident) for n in nets},
               "applied": None, "config": None, "region": region, "account": rds.account_id, "db": db}
        self.dbs[ident] = rec
        try:
            rec["pid"] = podman("inspect", "-f", "{{.State.Pid}}", name).stdout.strip()
            self._reconcile_filters()  # the DB's security groups before it listens
            self._wait_boot(name)
            self._apply_db_config(db, rec, rds)
            self._apply_db_credentials(db, rec)
            rec["phase"] = "ready"
            log(f"database {ident}: {db.engine} container {name} at {rec['ips']} as {db.address}:{db.port}")
        except Exception as exc:
            log(f"database {ident}: setup failed: {exc}")
            rec["phase"] = "failed"

    def _db_address(self, net: dict[str, Any], ident: str) -> str:
        """The first database of a VPC at .3, further ones from .200 downwards (instances count up from .4)."""
        taken = {d.get("net_ips", {}).get(net["name"]) for k, d in self.dbs.items() if k != ident}
        mine = self.dbs.get(ident, {}).get("net_ips", {}).get(net["name"])
        if mine:
            return mine
        if net["db"] not in taken:
            return net["db"]
        base = ipaddress.ip_network(net["cidr"]).network_address
        n = 200
        while str(base + n) in taken:
            n -= 1
        return str(base + n)

    @staticmethod
    def _db_credentials(db: Any) -> tuple[str, str, str]:
        # moto keeps the password write-only (its getter raises); the emulator reads the stored value.
        password = db.__dict__.get("_master_user_password") or ""
        return db.master_username or "", password, db.db_name or ""

    def _apply_db_credentials(self, db: Any, rec: dict[str, Any]) -> None:
        """Master user, password and database as the DB instance has them (again after ModifyDBInstance)."""
        user, password, dbname = self._db_credentials(db)
        digest = hashlib.sha256(f"{user}\0{password}\0{dbname}".encode()).hexdigest()
        if rec.get("applied") == digest:
            return
        port = int(db.port)
        if rec["family"] == "postgres":
            create_db = (f"SELECT 'CREATE DATABASE {_ident(dbname)} OWNER {_ident(user)}' WHERE NOT EXISTS "
                         f"(SELECT FROM pg_database WHERE datname = {_lit(dbname)})\\gexec\n") if dbname else ""
            script = (
                "set -e\n"
                f"runuser -u postgres -- psql -p {port} -v ON_ERROR_STOP=1 -q <<'SQL'\n"
                f"SELECT 'CREATE ROLE {_ident(user)} LOGIN SUPERUSER' WHERE NOT EXISTS "
                f"(SELECT FROM pg_roles WHERE rolname = {_lit(user)})\\gexec\n"
                f"ALTER ROLE {_ident(user)} PASSWORD {_lit(password)};\n{create_db}SQL\n"
            )
        else:
            script = (
                "set -e\n"
                "mariadb <<'SQL'\n"
                f"CREATE USER IF NOT EXISTS {_lit(user, mysql=True)}@'%' IDENTIFIED BY {_lit(password, mysql=True)};\n"
                f"ALTER USER {_lit(user, mysql=True)}@'%' IDENTIFIED BY {_lit(password, mysql=True)};\n"
                f"GRANT ALL PRIVILEGES ON *.* TO {_lit(user, mysql=True)}@'%' WITH GRANT OPTION;\n"
                + (f"CREATE DATABASE IF NOT EXISTS `{dbname}`;\n" if dbname else "")
                + "SQL\n"
            )
        # On stdin: the password never appears in a process argument.
        podman("exec", "-i", rec["container"], "bash", "-s", input=script, timeout=120)
        rec["applied"] = digest

    def _apply_db_config(self, db: Any, rec: dict[str, Any], rds: Any) -> None:
        """Port, TLS (a server certificate for the endpoint from the local RDS CA) and, as the DB parameter
        group says, plaintext refused: rds.force_ssl=1 -> hostssl-only pg_hba; require_secure_transport=1."""
        port = int(db.port)
        tls = self.enforce_db_tls
        force = tls and rdstls.force_tls(db, rds)
        want = (port, tls, force, rec["address"])
        if rec.get("config") == want:
            return
        files: dict[str, str] = {}
        if tls and not rec.get("tls"):
            rec["tls"] = rdstls.server_cert(self.rds_ca_dir, rec["address"], rec["ips"])
        cert, key = rec.get("tls") or ("", "")
        bundle = rdstls.ca(self.rds_ca_dir)["bundle"].read_text() if tls else ""
        if rec["family"] == "postgres":
            d = "/etc/postgresql/protea-tls"
            conf = f"listen_addresses = '*'\nport = {port}\n"
            if tls:
                conf += f"ssl = on\nssl_cert_file = '{d}/server.crt'\nssl_key_file = '{d}/server.key'\n"
            hba = ("local all all peer\nhost all all 127.0.0.1/32 scram-sha-256\n"
                   f"{'hostssl' if force else 'host'} all all 0.0.0.0/0 scram-sha-256\n")
            files = {"$conf/conf.d/protea.conf": conf, "$conf/pg_hba.conf": hba}
            owner, restart = "postgres", "systemctl restart postgresql@$v-main"
            # The cluster's version directory (protea-tls, made below, sits beside it).
            head = "v=$(ls /etc/postgresql | grep -E '^[0-9]+$' | head -n1)\nconf=/etc/postgresql/$v/main\n"
        else:
            d = "/etc/mysql/protea-tls"
            conf = f"[mysqld]\nbind-address = 0.0.0.0\nport = {port}\n"
            if tls:
                conf += f"ssl_cert = {d}/server.crt\nssl_key = {d}/server.key\nssl_ca = {d}/ca.pem\n"
            conf += f"require_secure_transport = {'ON' if force else 'OFF'}\n"
            files = {"/etc/mysql/mariadb.conf.d/99-protea.cnf": conf}
            owner, restart, head = "mysql", "systemctl restart mariadb", ""
        if tls:
            files.update({f"{d}/server.crt": cert, f"{d}/server.key": key, f"{d}/ca.pem": bundle})
        lines = ["set -e", head.rstrip("\n"), f"install -d -m 0750 -o {owner} -g {owner} {d}"]
        for i, (path, text) in enumerate(files.items()):
            lines += [f"cat >{path} <<'PROTEA_LC_{i}'", text.rstrip("\n"), f"PROTEA_LC_{i}"]
        lines += [f"chown {owner}:{owner} {d}/* 2>/dev/null || true", f"chmod 0600 {d}/server.key 2>/dev/null || true",
                  restart]
        podman("exec", "-i", rec["container"], "bash", "-s", input="\n".join(lines) + "\n", timeout=120)
        rec["config"] = want
        log(f"database {rec['id']}: port {port}, TLS {'on' if tls else 'off'}, plaintext "
            f"{'refused' if force else 'accepted'}")

    # ---- security groups as packet filters (sgfilter.py computes the rules)
    def _reconcile_filters(self) -> None:
        worlds: dict[tuple[str, str], sgfilter.World] = {}
        backends = {(b.account_id, b.region_name): b for b in ec2_backends()}

        def world(account: str, region: str) -> sgfilter.World:
            if (account, region) not in worlds:
                worlds[(account, region)] = self._world(backends[(account, region)])
            return worlds[(account, region)]

        for iid, rec in list(self.instances.items()):
            if not rec.get("pid"):
                continue
            found = next(((b, i) for b in backends.values() for i in list(b.all_instances()) if i.id == iid), None)
            if found is None:
                continue
            backend, inst = found
            world(backend.account_id, backend.region_name)
            self._apply_filter(rec["container"], rec["pid"], self._instance_filter(backend, inst, rec, worlds))
        for rec in list(self.dbs.values()):
            if not rec.get("pid") or (rec["account"], rec["region"]) not in backends:
                continue
            w = world(rec["account"], rec["region"])
            nets = self._vpc_networks(rec["vpc"])
            text = sgfilter.rules_text(self._db_groups(backends[(rec["account"], rec["region"])], rec), w,
                                       gateways=[n["gateway"] for n in nets], enforce=self.enforce_sgs)
            self._apply_filter(rec["container"], rec["pid"], text)

    @staticmethod
    def _db_groups(backend: Any, rec: dict[str, Any]) -> list[str]:
        # A DB instance without VPC security groups gets the VPC's default group, as on AWS.
        ids = list(getattr(rec["db"], "vpc_security_group_ids", None) or [])
        if not ids:
            default = backend.get_default_security_group(rec["vpc"])
            ids = [default.id] if default is not None else []
        return ids

    @staticmethod
    def _instance_groups(inst: Any) -> list[str]:
        ids: set[str] = set()
        for eni in list(inst.nics.values()):
            ids |= {getattr(g, "id", g) for g in eni.group_set}
        return sorted(ids)

    def _world(self, backend: Any) -> sgfilter.World:
        """Groups, their members' private IPs and the prefix lists of one EC2 backend (account + region)."""
        w = sgfilter.World()
        for vpc_groups in list(backend.groups.values()):
            for group in list(vpc_groups.values()):
                w.groups[group.id] = sgfilter.from_moto_group(group)
        for pl in list(getattr(backend, "managed_prefix_lists", {}).values()):
            entries = pl.entries.get(pl.version) or (list(pl.entries.values())[-1] if pl.entries else [])
            w.prefix_lists[pl.id] = [e["Cidr"] for e in entries if e.get("Cidr")]

        def add(groups: Any, ips: Any) -> None:
            for g in groups:
                w.members.setdefault(getattr(g, "id", g), set()).update(ip for ip in ips if ip)

        for eni in list(backend.enis.values()):  # every ENI: instances, mount targets, ...
            ips = [eni.private_ip_address] + [a.get("PrivateIpAddress") if isinstance(a, dict) else a
                                              for a in (eni.private_ip_addresses or [])]
            add(eni.group_set, ips)
        for iid, rec in self.instances.items():  # the bastion's interfaces on the private networks
            inst = find_instance(iid)
            extra = [n["extra"][iid] for n in self.networks.values() if iid in n["extra"]]
            if inst is not None and extra:
                add(self._instance_groups(inst), extra)
        for rec in self.dbs.values():  # the database container: .3 on every network of its VPC
            if rec["region"] == backend.region_name and rec["account"] == backend.account_id:
                add(self._db_groups(backend, rec), rec["ips"])
        try:  # the ALB: its traffic and health checks come from the host, the networks' gateways
            from moto.elbv2.models import elbv2_backends

            elbv2 = elbv2_backends[backend.account_id][backend.region_name]
            for lb in list(elbv2.load_balancers.values()):
                gws = [n["gateway"] for n in self._vpc_networks(lb.vpc_id)]
                add(lb.security_groups or [], gws)
        except (ImportError, KeyError):
            pass
        return w

    def _instance_filter(self, backend: Any, inst: Any, rec: dict[str, Any],
                         worlds: dict[tuple[str, str], sgfilter.World] | None = None) -> str:
        key = (backend.account_id, backend.region_name)
        w = (worlds or {}).get(key) or self._world(backend)
        net = self.networks[rec["subnet"]]
        nets = [net] + [n for n in self.networks.values() if inst.id in n["extra"]]
        endpoints = []
        for n in nets:
            endpoints += [sgfilter.Endpoint(n["proxy"], APT_PROXY_PORT, 80, "package mirror (apt proxy)"),
                          sgfilter.Endpoint(n["gateway"], SMTP_PORT, SMTP_PORT, "SES SMTP"),
                          sgfilter.Endpoint(n["gateway"], CWAGENT_PORT, 443, "CloudWatch agent package (S3)"),
                          sgfilter.Endpoint(n["gateway"], imds.API_PORT, 443, "AWS API endpoints (SSM, KMS, STS)")]
        forwarded = [(net["gateway"], 22, "127.0.0.1")] if rec["public"] else []
        return sgfilter.rules_text(self._instance_groups(inst), w, gateways=[n["gateway"] for n in nets],
                                   endpoints=endpoints, forwarded=forwarded, enforce=self.enforce_sgs,
                                   reject_ssh_from=[] if rec["public"] else [net["gateway"]],
                                   imds=(net["gateway"], imds.IMDS_PORT))

    def _apply_filter(self, container: str, pid: str, text: str) -> None:
        """Swap the container's filter table in one iptables-restore, only when the rules changed."""
        if self.filters.get(container) == text:
            return
        res = subprocess.run(["nsenter", "-t", pid, "-n", "iptables-restore"], input=text, capture_output=True,
                             text=True, timeout=30)
        if res.returncode != 0:
            raise RuntimeError(f"{container}: iptables-restore rc={res.returncode}: {res.stderr.strip()[-500:]}")
        self.filters[container] = text
        n = text.count(" -j ACCEPT")
        log(f"{container}: packet filter {'updated' if self.enforce_sgs else '(security groups off)'}: "
            f"{n} accept rules")

    def _wait_boot(self, name: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = podman("exec", name, "systemctl", "is-system-running", check=False, timeout=30).stdout.strip()
            if out in ("running", "degraded"):
                return
            time.sleep(0.5)
        raise RuntimeError(f"{name}: systemd did not come up")

    def _remove_db(self, ident: str) -> None:
        rec = self.dbs.pop(ident)
        self.filters.pop(rec["container"], None)
        podman("rm", "-f", "-t", "0", rec["container"], check=False)
        log(f"database {ident}: container removed")

    # ---- doubles on the gateways
    def _reconcile_gateways(self) -> None:
        for net in list(self.networks.values()):
            gw = net["gateway"]
            if gw in self.gateway_servers or not any(r["vpc"] == net["vpc"] for r in self.instances.values()):
                continue
            if not _local_address(gw):
                continue  # the bridge gets its address with the first container
            servers: list[Any] = []
            try:
                from tests.doubles.ses_smtp_double import SesSmtpDouble

                smtp = SesSmtpDouble(host=gw, port=SMTP_PORT, region=net["region"], credentials={},
                                     tls_dir=self.tls_dir / net["region"], store=self.state_dir / "ses-double")
                smtp._expected = SesPasswords(net["region"])  # keys created after start count too
                smtp.start()
                servers.append(smtp)
            except Exception as exc:
                log(f"SES double on {gw}:{SMTP_PORT} not started: {exc}")
            try:
                httpd = _Server((gw, CWAGENT_PORT), partial(_QuietHandler, directory=str(self.cw_dir)))
                threading.Thread(target=httpd.serve_forever, daemon=True).start()
                servers.append(httpd)
            except Exception as exc:
                log(f"cloudwatch agent double on {gw}:{CWAGENT_PORT} not started: {exc}")
            try:
                servers.append(imds.MetadataService(gw, self.instance_at))
            except Exception as exc:
                log(f"instance metadata service on {gw}:{imds.IMDS_PORT} not started: {exc}")
            try:
                servers.append(imds.ApiForwarder(gw, net["region"], self.api_tls_dir, int(os.environ["MOTO_PORT"])))
            except Exception as exc:
                log(f"AWS API endpoints on {gw}:{imds.API_PORT} not started: {exc}")
            self.gateway_servers[gw] = servers
            log(f"doubles on {gw}: SES SMTP :{SMTP_PORT}, cloudwatch agent package :{CWAGENT_PORT}, "
                f"IMDS :{imds.IMDS_PORT}, AWS APIs :{imds.API_PORT}")

    def instance_at(self, ip: str) -> tuple[Any, Any] | None:
        """(ec2 backend, moto instance) of the instance that has address ``ip`` (for IMDS)."""
        # No self.lock: a tick holds it through podman calls, longer than an IMDS client waits.
        iid = next((i for i, r in list(self.instances.items()) if r["private_ip"] == ip), None)
        if iid is None:
            iid = next((i for n in list(self.networks.values()) for i, a in list(n["extra"].items()) if a == ip), None)
        if iid is None:
            return None
        for backend in ec2_backends():
            for inst in list(backend.all_instances()):
                if inst.id == iid:
                    return backend, inst
        return None

    def _stop_gateway(self, gw: str) -> None:
        for server in self.gateway_servers.pop(gw, []):
            try:
                if hasattr(server, "shutdown"):
                    server.shutdown()
                    server.server_close()
                else:
                    server.stop()
            except Exception as exc:
                log(f"stopping a double on {gw}: {exc}")

    # ---- state file
    def snapshot(self) -> dict[str, Any]:
        return {
            "cloud": self.cid,
            "instances": {
                iid: {k: r[k] for k in ("container", "private_ip", "public_ip", "image", "subnet", "vpc", "phase")}
                for iid, r in self.instances.items()
            },
            "networks": {sid: {k: n[k] for k in ("name", "vpc", "cidr", "public", "gateway", "proxy")}
                         for sid, n in self.networks.items()},
            "databases": {k: {x: d[x] for x in ("container", "address", "port", "engine", "ips", "phase")}
                          for k, d in self.dbs.items()},
            "images": dict(self.images),
            "doubles": {
                "ses_smtp": {"port": SMTP_PORT, "hosts": sorted(self.gateway_servers),
                             "store": str(self.state_dir / "ses-double" / "messages.jsonl"),
                             "ca": {r: str(self.tls_dir / r / "ses-double-ca.pem")
                                    for r in sorted({n["region"] for n in self.networks.values()})}},
                "cloudwatch_agent": {"port": CWAGENT_PORT,
                                     "url": f"http://{CWAGENT_HOST}:{CWAGENT_PORT}/debian/amd64/latest/amazon-cloudwatch-agent.deb"},
                "apt_proxy": {"host": APT_PROXY_HOST, "port": APT_PROXY_PORT},
                "rds_ca": {"bundle": str(self.rds_ca_dir / rdstls.BUNDLE), "instance_path": rdstls.INSTANCE_BUNDLE},
            },
            "security_groups": "enforced" if self.enforce_sgs else "off",
        }

    def _write_state(self) -> None:
        text = json.dumps(self.snapshot(), indent=2, sort_keys=True) + "\n"
        if text != self._last_written:
            tmp = self.state_dir / (STATE_FILE + ".tmp")
            tmp.write_text(text)
            tmp.replace(self.state_dir / STATE_FILE)
            self._last_written = text


def _local_address(ip: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((ip, 0))
            return True
        except OSError:
            return False


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str, mysql: bool = False) -> str:
    v = value.replace("'", "''")
    if mysql:
        v = v.replace("\\", "\\\\")
    return f"'{v}'"


RECONCILER: Reconciler | None = None  # set by serve.py in instance mode
