"""How close a first site.yml run comes to the time AWS itself needs: the delay-layer benchmark.

    .venv/bin/python -m bench.critical_path [--scale 6]        (from the repository root)

Runs site.yml from nothing twice on fresh instance-mode local clouds, side by side in one run:
once as the suite does (no delay layer), once with the delay layer on (PROTEA_DELAY_SCALE: every
long operation takes AWS's usual minutes times --scale seconds, tests/localcloud/delays.py) and the
roles' poll delays scaled by the same factor. Then

    R = (wall time with delays - wall time without) / (scaled critical path)

where the critical path is the longest chain of AWS operations in OPERATIONS below, with the same
durations the layer injects (plugins/callback/progress.py USUAL_MINUTES). R = 1 is a run that waits
only on the critical path; R = 2, one that waits twice as long. For each operation it also reports,
from the emulator after the delayed run, when it started and how long it sat waiting on nothing:
its start minus the moment the last operation it needs was ready (the run's start for one that
needs none). Writes bench/results/critical_path.json. Not a test: nothing here asserts a time.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._tier import PROFILE_ENV, profile, write  # noqa: E402
from bench.site import INVENTORY  # noqa: E402
from plugins.callback.progress import USUAL_MINUTES  # noqa: E402
from tests.doubles.slack_double import SlackDouble  # noqa: E402
from tests.helpers import run_playbook  # noqa: E402
from tests.localcloud import delays  # noqa: E402
from tests.localcloud.__main__ import ensure_ssh_key  # noqa: E402
from tests.localcloud.emulator import Emulator  # noqa: E402



@dataclass(frozen=True)
class Operation:
    """A long AWS operation of a first run: its usual duration (a USUAL_MINUTES key) and the
    operations whose results it needs before it can start."""
    duration: str
    after: tuple[str, ...] = ()


# A first site.yml run's long operations and what each one needs. Seconds-long steps (VPC, subnets,
# security groups, the hosted zone, the subnet group) count as instant. The image needs no database
# (the image carries no secrets: instances read them at boot); the web instances need the image,
# the load balancer's target group, the database's endpoint and the file system's mount targets;
# the HTTPS listener needs the issued certificate. The distribution's deployment is not here: the
# run does not wait for it (cloudfront_wait: false), nothing in the run consumes it.
OPERATIONS: dict[str, Operation] = {
    "nat_gateways": Operation("nat_gateway"),
    "bastions": Operation("ec2_instance"),
    "database": Operation("rds_create_multi_az"),
    "mount_targets": Operation("efs_mount_targets"),
    "certificate": Operation("acm_dns_validation"),
    "load_balancer": Operation("load_balancer"),
    "build_instance": Operation("ec2_instance", ("nat_gateways", "bastions")),
    "image": Operation("create_image", ("build_instance",)),
    "web_instances": Operation("ec2_instance", ("image", "load_balancer", "certificate", "database",
                                                "mount_targets")),
}


def critical_path(operations: dict[str, Operation], minutes: dict[str, float]) -> tuple[float, list[str]]:
    """The longest chain (AWS minutes) and its operations in order; a cycle or an unknown name is an error."""
    finish: dict[str, tuple[float, list[str]]] = {}

    def visit(name: str, trail: tuple[str, ...]) -> tuple[float, list[str]]:
        if name in trail:
            raise ValueError(f"dependency cycle: {' -> '.join((*trail, name))}")
        if name not in operations:
            raise ValueError(f"{trail[-1] if trail else '?'} needs {name!r}, which is not an operation")
        if name not in finish:
            op = operations[name]
            before = max((visit(dep, (*trail, name)) for dep in op.after), default=(0.0, []), key=lambda x: x[0])
            finish[name] = (before[0] + minutes[op.duration], [*before[1], name])
        return finish[name]

    return max((visit(name, ()) for name in operations), key=lambda x: x[0])


def waited_on_nothing(operations: dict[str, Operation], started: dict[str, float], minutes: dict[str, float],
                      scale: float) -> dict[str, float]:
    """Per operation with a known start (seconds from the run's start): its start minus the moment
    the last operation it needs was ready (start + scaled duration; 0 for none), never below 0."""
    idle = {}
    for name, op in operations.items():
        if name not in started:
            continue
        ready = [started[d] + minutes[operations[d].duration] * scale for d in op.after if d in started]
        idle[name] = round(max(0.0, started[name] - max(ready, default=0.0)), 1)
    return idle


def _seconds(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(timezone.utc).timestamp()


def starts(emu: Emulator) -> dict[str, float]:
    """When each operation started (epoch seconds), from what the emulator reports about the stack."""
    ec2, rds, efs, acm, elb = (emu.client(s) for s in ("ec2", "rds", "efs", "acm", "elbv2"))
    found: dict[str, list[float]] = {}

    def add(name: str, values: list[Any]) -> None:
        found.setdefault(name, []).extend(_seconds(v) for v in values if v)

    add("nat_gateways", [n["CreateTime"] for n in ec2.describe_nat_gateways()["NatGateways"]])
    instances = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    tags = [{t["Key"]: t["Value"] for t in i.get("Tags", [])} for i in instances]
    add("bastions", [i["LaunchTime"] for i, t in zip(instances, tags) if "-bastion-" in t.get("Name", "")])
    add("build_instance", [i["LaunchTime"] for i, t in zip(instances, tags) if t.get("Component") == "builder"])
    add("web_instances", [i["LaunchTime"] for i, t in zip(instances, tags) if "aws:autoscaling:groupName" in t])
    add("database", [d["InstanceCreateTime"] for d in rds.describe_db_instances()["DBInstances"]])
    add("mount_targets", [f["CreationTime"] for f in efs.describe_file_systems()["FileSystems"]])
    add("certificate", [acm.describe_certificate(CertificateArn=c["CertificateArn"])["Certificate"]["CreatedAt"]
                        for c in acm.list_certificates()["CertificateSummaryList"]])
    add("load_balancer", [lb["CreatedTime"] for lb in elb.describe_load_balancers()["LoadBalancers"]])
    add("image", [i["CreationDate"] for i in ec2.describe_images(Owners=["self"])["Images"]])
    return {name: min(values) for name, values in found.items() if values}


# The roles' poll delays (seconds between two looks), scaled like the operations they wait for; their
# values are the roles' defaults (the role is the variable's prefix).
POLL_DELAYS = ("vpc_nat_wait_delay", "bastion_wait_delay", "rds_wait_delay", "acm_wait_delay", "asg_refresh_delay",
               "asg_healthy_delay", "bake_image_wait_delay")


def scaled_polls(scale: float) -> dict[str, int]:
    polls = {}
    for name in POLL_DELAYS:
        defaults = yaml.safe_load((REPO / "roles" / name.split("_")[0] / "defaults/main.yml").read_text())
        polls[name] = max(1, round(int(defaults[name]) * scale / 60))
    return polls


def run_site(scale: float | None, slack: SlackDouble, tmp: str, prefix: str) -> dict[str, Any]:
    env_layer = {delays.SCALE_ENV: str(scale)} if scale else {}
    state = Path(tmp) / prefix
    ensure_ssh_key(state)
    with Emulator(state, instances=True, env=env_layer) as emu:
        env = {**PROFILE_ENV, "PROTEA_LOCALCLOUD_DIR": str(state), "PROTEA_SLACK_WEBHOOK_URL": slack.webhook_url}
        began = time.time()
        start = time.monotonic()
        run = run_playbook("site.yml", endpoint=emu.endpoint, env=env, inventory=INVENTORY, timeout=5400,
                           extra_vars=scaled_polls(scale) if scale else None)
        seconds = round(time.monotonic() - start, 1)
        if run.rc != 0:
            raise SystemExit(run.explain())
        result = {"seconds": seconds, "changed": run.changed, **profile(run.stdout)}
        if scale:
            result["started"] = {k: round(v - began, 1) for k, v in sorted(starts(emu).items())}
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=6.0, help="seconds per AWS minute (default 6)")
    args = parser.parse_args()
    os.environ.setdefault("CONTAINERS_CONF", str(REPO / "tests/containers/containers.conf"))
    for script in ("build-image", "apt-proxy"):  # cached; not timed
        subprocess.run([str(REPO / "tests/containers" / script)], check=True, capture_output=True)
    minutes, path = critical_path(OPERATIONS, USUAL_MINUTES)
    with tempfile.TemporaryDirectory() as tmp, SlackDouble() as slack:
        plain = run_site(None, slack, tmp, "plain")
        delayed = run_site(args.scale, slack, tmp, "delayed")
    scaled_path = minutes * args.scale
    ratio = round((delayed["seconds"] - plain["seconds"]) / scaled_path, 2)
    write("critical_path", {
        "playbook": "site.yml", "scale_seconds_per_aws_minute": args.scale,
        "critical_path": {"operations": path, "aws_minutes": minutes, "scaled_seconds": round(scaled_path, 1)},
        "serial_sum_aws_minutes": sum(USUAL_MINUTES[op.duration] for op in OPERATIONS.values()),
        "runs": {"without_delays": plain, "with_delays": delayed},
        "R": ratio,
        "waited_on_nothing_seconds": waited_on_nothing(OPERATIONS, delayed.get("started", {}), USUAL_MINUTES,
                                                       args.scale),
        "poll_delays": scaled_polls(args.scale),
    })
    print(f"R = {ratio} (critical path {minutes} AWS min = {scaled_path:.0f} s scaled; "
          f"{delayed['seconds']} s with delays, {plain['seconds']} s without)", flush=True)


if __name__ == "__main__":
    main()
