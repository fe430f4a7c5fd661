"""Start, query and stop the local AWS emulator (moto server + compat layer) as a subprocess."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterable

from tests.localcloud import delays

REPO = Path(__file__).resolve().parents[2]
DEFAULT_REGION = "af-south-1"
# The DNS double's switch file in the state dir (tests/doubles/dns_double.py: {"name_servers": [...]} or {"drop": true}).
DNS_DOUBLE_SWITCH = "dns-double.json"
FAKE_CREDS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _http(method: str, url: str, timeout: float = 120.0, body: dict[str, Any] | None = None) -> Any:
    # Generous: a reset of a full emulator on a loaded 2-core CI box can take many seconds.
    data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
    req = urllib.request.Request(url, method=method, data=data)
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback only
        body = resp.read()
    return json.loads(body) if body else None


def health(endpoint: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """The server's /_localcloud/health document, or None when it does not answer."""
    try:
        return _http("GET", f"{endpoint}/_localcloud/health", timeout=timeout)
    except (OSError, urllib.error.URLError, ValueError):
        return None


def arm_crash(endpoint: str, pid: int, after: int = 1, action: str | None = None) -> dict[str, Any]:
    """Have the emulator SIGKILL process group `pid` (and its descendants) right after it served the
    `after`-th mutating call from now (counting only `action` calls when given); see serve.py."""
    return _http("POST", f"{endpoint}/_localcloud/crash", body={"pid": pid, "after": after, "action": action})


def crash_state(endpoint: str, disarm: bool = False) -> dict[str, Any]:
    """{"armed": ... or None, "fired": "service Action" or None}; disarm=True also disarms."""
    return _http("DELETE" if disarm else "GET", f"{endpoint}/_localcloud/crash")


def mutations(endpoint: str) -> list[str]:
    """The mutating calls served since start/reset, in order ("ec2@us-east-1 CreateVpc", ...)."""
    return list(_http("GET", f"{endpoint}/_localcloud/mutations")["mutations"])


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def terminate(pid: int, grace: float = 10.0) -> None:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Emulator:
    """One moto server subprocess on a free loopback port.

    Emulator(log_dir).start() ... .stop(); also a context manager.
    disable: compat patch/seed names to leave out (tests that prove a patch matters).
    env: extra environment for the server (e.g. MOTO_ACM_VALIDATION_WAIT).
    detach: start in its own session so it outlives this Python process (the CLI).
    instances: instance mode -- every instance becomes a podman container (instances.py);
        stop() then removes every container/network/volume/image of this cloud.
    """

    def __init__(
        self,
        log_dir: str | Path,
        *,
        disable: Iterable[str] = (),
        env: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        detach: bool = False,
        start_timeout: float = 180.0,
        instances: bool = False,
    ):
        self.instances = instances
        self.log_dir = Path(log_dir)
        self.disable = list(disable)
        self.env = dict(env or {})
        self.host = host
        self.port = port
        self.detach = detach
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None
        self.log_path = self.log_dir / "emulator.log"
        self.info: dict[str, Any] = {}

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> "Emulator":
        self.log_dir.mkdir(parents=True, exist_ok=True)
        last_error = ""
        for _attempt in range(3):  # the free port may be taken between probe and bind
            port = self.port or free_port(self.host)
            if self._spawn(port):
                self.port = port
                return self
            last_error = self.log_path.read_text(errors="replace")[-3000:]
            if self.port:
                break
        raise RuntimeError(f"emulator did not become healthy; log {self.log_path}:\n{last_error}")

    def _spawn(self, port: int) -> bool:
        env = dict(os.environ)
        # ACM certificates turn ISSUED after this many seconds (moto's default, 60, would
        # make every edge-tier converge wait a minute); env= or the caller's environment wins.
        env.setdefault("MOTO_ACM_VALIDATION_WAIT", "2")
        env.update(self.env)
        if delays.scale(env) is not None and "MOTO_ACM_VALIDATION_WAIT" not in self.env:
            # The delay layer: DNS validation takes AWS's usual time, scaled (moto counts whole seconds).
            env["MOTO_ACM_VALIDATION_WAIT"] = str(max(1, round(delays.seconds("acm_dns_validation", environ=env))))
        env["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
        env["PYTHONUNBUFFERED"] = "1"
        env.setdefault("CONTAINERS_CONF", str(REPO / "tests/containers/containers.conf"))
        env.pop("PROTEA_LOCALCLOUD_INSTANCES", None)  # instance mode only when asked for here
        cmd = [sys.executable, "-m", "tests.localcloud.serve", "--port", str(port), "--host", self.host,
               "--state-dir", str(self.log_dir.resolve())]
        if self.instances:
            cmd += ["--instances"]
        if self.disable:
            cmd += ["--disable", ",".join(self.disable)]
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        try:
            self.proc = subprocess.Popen(
                cmd,
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=self.detach,
            )
        finally:
            log.close()
        endpoint = f"http://{self.host}:{port}"
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            info = health(endpoint, timeout=1.0)
            if info and info.get("pid") == self.proc.pid:
                self.info = info
                return True
            time.sleep(0.1)
        self.proc.kill()
        self.proc.wait()
        return False

    def stop(self) -> None:
        if self.proc is None:
            return
        terminate(self.proc.pid)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        if self.instances:
            from tests.localcloud.instances import cleanup, cloud_id

            cleanup(cloud_id(self.log_dir))

    def instances_state(self) -> dict[str, Any]:
        """Instance mode: DIR/instances.json as the reconciler last wrote it ({} before)."""
        try:
            return json.loads((self.log_dir / "instances.json").read_text())
        except (OSError, ValueError):
            return {}

    @property
    def dns_double(self) -> tuple[str, int]:
        """The DNS double's (host, port): NS answers from Route 53's public hosted zones."""
        return self.info["dns_double"]["host"], int(self.info["dns_double"]["port"])

    def dns_double_switch(self, name_servers: list[str] | None = None, drop: bool = False) -> None:
        """Make the DNS double answer other name servers (a domain not delegated yet) or nothing (a
        timeout); no arguments: the hosted zones' own name servers again (delegated)."""
        switch = self.log_dir / DNS_DOUBLE_SWITCH
        switch.write_text(json.dumps({"name_servers": list(name_servers or []), "drop": drop}))

    def __enter__(self) -> "Emulator":
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- queries -----------------------------------------------------------------
    def reset(self) -> None:
        """moto's reset (all backends emptied), then the seeds are loaded again and the call counter zeroed."""
        _http("POST", f"{self.endpoint}/moto-api/reset")

    def call_count(self) -> int:
        """AWS API requests served since start/reset (moto-api and /_localcloud routes excluded)."""
        return int(_http("GET", f"{self.endpoint}/_localcloud/calls")["calls"])

    def health(self) -> dict[str, Any] | None:
        return health(self.endpoint)

    def client(self, service: str, region: str = DEFAULT_REGION, **kwargs: Any) -> Any:
        return client(self.endpoint, service, region, **kwargs)

    def env_vars(self, region: str = DEFAULT_REGION) -> dict[str, str]:
        """Environment for a process (ansible-playbook, AWS CLI) that should talk to this emulator."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "PROTEA_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": FAKE_CREDS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": FAKE_CREDS["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": region,
        }


def client(endpoint: str, service: str, region: str = DEFAULT_REGION, **kwargs: Any) -> Any:
    """A boto3 client for ``service`` pointed at the emulator, with fake credentials."""
    import boto3
    from botocore.config import Config

    # Long read timeout rather than retries: a retried non-idempotent call (CreateX) would
    # create twice, and the emulator is slow only when the machine is busy.
    kwargs.setdefault(
        "config", Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=180)
    )
    return boto3.session.Session().client(
        service, region_name=region, endpoint_url=endpoint, **FAKE_CREDS, **kwargs
    )
