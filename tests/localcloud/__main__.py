"""The local cloud's command line.

    python -m tests.localcloud start   --state-dir DIR [--port N] [--disable a,b] [--instances]
    python -m tests.localcloud stop    --state-dir DIR
    python -m tests.localcloud status  --state-dir DIR
    python -m tests.localcloud summary --state-dir DIR [--region R]
    python -m tests.localcloud patches [--update-readme]

start runs the emulator detached, writes DIR/emulator.json (pid, port, endpoint) and
DIR/emulator.log, creates DIR/ssh/id_ed25519{,.pub} for the local bastions if missing, and
prints only the endpoint URL on stdout (scripts capture it). If an emulator recorded in DIR
is still healthy, start prints its endpoint and leaves it running. --instances (or
PROTEA_LOCALCLOUD_INSTANCES=1) turns on instance mode (instances become podman containers,
DIR/instances.json lists them); stop then removes every container/network/volume it made.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.localcloud.emulator import DEFAULT_REGION, Emulator, client, health, process_alive, terminate

STATE_FILE = "emulator.json"


def _state(state_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((state_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None


def _is_our_server(st: dict[str, Any]) -> bool:
    """The recorded pid is still our server (not a reused pid): check its command line."""
    if not process_alive(st["pid"]):
        return False
    try:
        argv = Path(f"/proc/{st['pid']}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"tests.localcloud.serve" in argv and str(st["port"]).encode() in argv


def _running(state_dir: Path) -> dict[str, Any] | None:
    """The recorded emulator, if its process is ours and answers as that process."""
    st = _state(state_dir)
    if not st or not _is_our_server(st):
        return None
    info = health(st["endpoint"], timeout=60)
    return st if info and info.get("pid") == st["pid"] else None


def ensure_ssh_key(state_dir: Path) -> Path:
    key = state_dir / "ssh" / "id_ed25519"
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "protea-localcloud", "-f", str(key)],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
    return key


def cmd_start(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    ensure_ssh_key(state_dir)
    instances = bool(args.instances or os.environ.get("PROTEA_LOCALCLOUD_INSTANCES") == "1")
    st = _running(state_dir)
    if st:
        if bool(st.get("instances")) != instances:
            print(f"local cloud: the emulator in {state_dir} runs {'with' if st.get('instances') else 'without'} "
                  f"--instances; stop it first: python -m tests.localcloud stop --state-dir {args.state_dir}",
                  file=sys.stderr)
            return 2
        print(st["endpoint"])
        return 0
    disable = [n for n in (args.disable or "").split(",") if n]
    emu = Emulator(state_dir, disable=disable, port=args.port, detach=True, instances=instances).start()
    st = {
        "pid": emu.pid,
        "port": emu.port,
        "endpoint": emu.endpoint,
        "log": str(emu.log_path),
        "patches": emu.info.get("patches", []),
        "disabled": disable,
        "instances": instances,
    }
    (state_dir / STATE_FILE).write_text(json.dumps(st, indent=2) + "\n")
    print(emu.endpoint)
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).resolve()
    st = _state(state_dir)
    if st and _is_our_server(st):
        # Only the process recorded by our own start, checked to still be our server.
        terminate(st["pid"])
    if st and st.get("instances"):
        from tests.localcloud.instances import cleanup, cloud_id

        cleanup(cloud_id(state_dir))
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    st = _running(Path(args.state_dir).resolve())
    if not st:
        print("stopped")
        return 3
    print(f"running pid={st['pid']} endpoint={st['endpoint']}")
    return 0


def _safe(fn: Any, default: Any) -> Any:
    try:
        return fn()
    except Exception:  # a service moto lacks or that has nothing in it
        return default


def _name(tags: list[dict[str, str]] | None) -> str:
    return next((t["Value"] for t in tags or [] if t["Key"] == "Name"), "-")


def summary_lines(endpoint: str, region: str) -> list[str]:
    ec2 = client(endpoint, "ec2", region)
    out: list[str] = [f"Local cloud at {endpoint}, region {region}"]
    vpcs = [v for v in _safe(lambda: ec2.describe_vpcs()["Vpcs"], []) if not v.get("IsDefault")]
    out.append(f"VPCs ({len(vpcs)}):")
    for v in vpcs:
        out.append(f"  {v['VpcId']}  {v['CidrBlock']}  {_name(v.get('Tags'))}")
    vpc_ids = {v["VpcId"] for v in vpcs}
    subnets = [s for s in _safe(lambda: ec2.describe_subnets()["Subnets"], []) if s["VpcId"] in vpc_ids]
    out.append(f"Subnets ({len(subnets)}):")
    for s in sorted(subnets, key=lambda s: (s["VpcId"], s["CidrBlock"])):
        out.append(f"  {s['SubnetId']}  {s['AvailabilityZone']}  {s['CidrBlock']}  {_name(s.get('Tags'))}")
    nats = [n for n in _safe(lambda: ec2.describe_nat_gateways()["NatGateways"], []) if n.get("State") != "deleted"]
    out.append(f"NAT gateways ({len(nats)}):")
    for n in nats:
        eips = ",".join(a.get("PublicIp", "") for a in n.get("NatGatewayAddresses", []))
        out.append(f"  {n['NatGatewayId']}  {n['SubnetId']}  {n.get('State')}  {eips}  {_name(n.get('Tags'))}")
    sgs = [g for g in _safe(lambda: ec2.describe_security_groups()["SecurityGroups"], []) if g.get("VpcId") in vpc_ids]
    out.append(f"Security groups ({len(sgs)}):")
    for g in sgs:
        out.append(f"  {g['GroupId']}  {g['GroupName']}  in:{len(g.get('IpPermissions', []))} rules")
    reservations = _safe(lambda: ec2.describe_instances()["Reservations"], [])
    instances = [i for r in reservations for i in r["Instances"] if i["State"]["Name"] != "terminated"]
    out.append(f"Instances ({len(instances)}):")
    for i in instances:
        out.append(
            f"  {i['InstanceId']}  {i['State']['Name']}  {i.get('PrivateIpAddress', '-')}  "
            f"{i.get('PublicIpAddress', '-')}  {i.get('SubnetId', '-')}  {_name(i.get('Tags'))}"
        )
    # The rest only if present.
    rds = _safe(lambda: client(endpoint, "rds", region).describe_db_instances()["DBInstances"], [])
    for d in rds:
        ep = d.get("Endpoint", {})
        out.append(f"RDS {d['DBInstanceIdentifier']}: {ep.get('Address')}:{ep.get('Port')} multi-az={d.get('MultiAZ')}")
    efs = _safe(lambda: client(endpoint, "efs", region).describe_file_systems()["FileSystems"], [])
    for f in efs:
        out.append(f"EFS {f['FileSystemId']} {f.get('Name', '')} encrypted={f.get('Encrypted')}")
    lbs = _safe(lambda: client(endpoint, "elbv2", region).describe_load_balancers()["LoadBalancers"], [])
    for lb in lbs:
        out.append(f"ALB {lb['LoadBalancerName']}: {lb['DNSName']}")
    dists = _safe(
        lambda: client(endpoint, "cloudfront", "us-east-1").list_distributions()["DistributionList"].get("Items", []),
        [],
    )
    for d in dists:
        out.append(f"CloudFront {d['Id']}: {d['DomainName']}")
    topics = _safe(lambda: client(endpoint, "sns", region).list_topics()["Topics"], [])
    for t in topics:
        out.append(f"SNS {t['TopicArn']}")
    return out


def cmd_summary(args: argparse.Namespace) -> int:
    endpoint = args.endpoint
    if not endpoint:
        st = _running(Path(args.state_dir).resolve())
        if not st:
            print("local cloud: emulator not running", file=sys.stderr)
            return 3
        endpoint = st["endpoint"]
    print("\n".join(summary_lines(endpoint, args.region)))
    if not args.endpoint:
        print("\n".join(instance_lines(Path(args.state_dir).resolve())))
    return 0


def instance_lines(state_dir: Path) -> list[str]:
    """Instance mode: the containers behind the instances (DIR/instances.json)."""
    try:
        st = json.loads((state_dir / "instances.json").read_text())
    except (OSError, ValueError):
        return []
    out = [f"Instance containers ({len(st.get('instances', {}))}):"]
    for iid, r in sorted(st.get("instances", {}).items()):
        ssh = f"ssh admin@{r['public_ip']}" if r.get("public_ip") else "via the bastion"
        out.append(f"  {iid}  {r['container']}  {r['private_ip']}  {r.get('public_ip') or '-'}  {r['image']}  {r['phase']}  ({ssh})")
    for ident, d in sorted(st.get("databases", {}).items()):
        out.append(f"  database {ident}: {d['engine']} container {d['container']} at {','.join(d['ips'])} ({d['phase']})")
    doubles = st.get("doubles", {})
    if doubles.get("ses_smtp", {}).get("hosts"):
        out.append(f"  SES SMTP double on {','.join(doubles['ses_smtp']['hosts'])}:587, mail in {doubles['ses_smtp']['store']}")
    return out


README = Path(__file__).resolve().parent / "README.md"
TABLE_START = "<!-- compat-table:start (generated: python -m tests.localcloud patches --update-readme) -->"
TABLE_END = "<!-- compat-table:end -->"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def patches_table() -> str:
    """The README's compat table, generated from the PATCHES metadata (one source of truth)."""
    from tests.localcloud import compat

    rows = ["| patch | API | what moto does | what AWS does | doc |", "|---|---|---|---|---|"]
    for p in compat.all_patches():
        mode = ", instance mode only" if p.instances else ""
        rows.append(
            f"| `{p.name}` ({p.module}{mode}) | {_cell(p.api)} | {_cell(p.moto_does)} | {_cell(p.aws_does)} | {_cell(p.doc)} |"
        )
    rows.append("")
    rows.append("Seed data (loaded at start and after every reset):")
    rows.append("")
    for sd in compat.all_seeds():
        rows.append(f"- `{sd.name}` ({sd.module}): {_cell(sd.doc)}")
    return "\n".join(rows)


def readme_with_table(text: str) -> str:
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    return f"{head}{TABLE_START}\n{patches_table()}\n{TABLE_END}{tail}"


def cmd_patches(args: argparse.Namespace) -> int:
    if args.update_readme:
        README.write_text(readme_with_table(README.read_text()))
    else:
        print(patches_table())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.localcloud", description="Protea's local AWS emulator")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, fn in (("start", cmd_start), ("stop", cmd_stop), ("status", cmd_status), ("summary", cmd_summary), ("patches", cmd_patches)):
        p = sub.add_parser(name)
        p.add_argument("--state-dir", default=".localcloud")
        p.set_defaults(fn=fn)
        if name == "start":
            p.add_argument("--port", type=int, default=None)
            p.add_argument("--disable", default="", help="comma-separated compat patch names to leave out")
            p.add_argument("--instances", action="store_true", help="materialise instances as podman containers")
        if name == "patches":
            p.add_argument("--update-readme", action="store_true", help="rewrite the table in tests/localcloud/README.md")
        if name == "summary":
            p.add_argument("--region", default=DEFAULT_REGION)
            p.add_argument("--endpoint", default=None, help="summarise this endpoint instead of DIR's emulator")
    args = parser.parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())
