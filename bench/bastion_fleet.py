"""A remote play against 1 and against 10 instances through one bastion, with the bastion hop
multiplexed (ssh_jump's ControlMaster, the default), without (ssh_jump_control_persist: ""), and
multiplexed under Mitogen's own strategy (mitogen_linear from the mitogen package: one Python per host
for the whole play instead of one per task; the platform's ssh plays keep the stock strategy, see
plugins/strategy/local_mitogen.py, so this setting measures what adopting it for them would give).

    .venv/bin/python -m bench.bastion_fleet [rounds]   (from the repository root; default 2 rounds)

One instance-mode local cloud: a bastion with a public address and 10 private instances (containers),
the platform's security-group shape (ssh to the bastion from the admin range, to the instances from
the bastion's group only). Each round runs bench/reference/fleet_play.yml (the ssh_jump role, then the
host play; no AWS call: the bastion's address is given) for every (hosts, multiplexing) pair, alternating the
order, each run cold: a fresh Ansible control directory and no bastion session left from the run
before. Writes bench/results/bastion_fleet.json: the wall seconds of each run, their medians, the
ratios 10 hosts / 1 host per setting, multiplexed / not and Mitogen / stock per fleet size, the sessions (logins)
each run held open on the bastion's sshd, and the machine's busy CPU seconds per run (controller and
containers share its cores: divided by the cores, the time the run needs even with no waiting), split into
the containers' share (podman's cgroup: the instances' sshd and modules, which on AWS run on the instances'
own CPUs) and the rest (the controller). Not a test: nothing here asserts a time.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._tier import write  # noqa: E402
from tests.helpers import ssh_connections_to  # noqa: E402
from tests.localcloud.__main__ import ensure_ssh_key  # noqa: E402
from tests.localcloud.compat.ec2 import debian_ami_id  # noqa: E402
from tests.localcloud.emulator import Emulator  # noqa: E402

REGION = "af-south-1"
FLEET = 10
PLAY = "bench/reference/fleet_play.yml"
# Per setting: ssh_jump_control_persist, and the strategy (None: ansible.cfg's). In this order (warm-ups).
SETTINGS = {"multiplexed": ("60s", None), "per_host": ("", None), "mitogen": ("60s", "mitogen_linear")}
CONTAINERS_ENV = {**os.environ, "CONTAINERS_CONF": str(REPO / "tests/containers/containers.conf")}


def wait_for(what: str, fn, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not fn():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(2)


def build_cloud(emu: Emulator, state: Path) -> tuple[str, list[str]]:
    """(bastion public address, private addresses)."""
    ec2 = emu.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.232.0.0/16")["Vpc"]["VpcId"]
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.232.0.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
    private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.232.128.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=rt, SubnetId=public)
    ec2.import_key_pair(KeyName="admin", PublicKeyMaterial=(state / "ssh" / "id_ed25519.pub").read_bytes())
    sg = {k: ec2.create_security_group(GroupName=f"fleet-{k}", Description=k, VpcId=vpc)["GroupId"] for k in ("bastion", "web")}
    ec2.authorize_security_group_ingress(GroupId=sg["bastion"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "127.0.0.1/32"}]}])
    ec2.authorize_security_group_ingress(GroupId=sg["web"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "UserIdGroupPairs": [{"GroupId": sg["bastion"]}]}])
    ami = debian_ami_id(REGION)
    bastion = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, KeyName="admin", SubnetId=public,
                                InstanceType="t3.micro", SecurityGroupIds=[sg["bastion"]])["Instances"][0]["InstanceId"]
    launched = ec2.run_instances(ImageId=ami, MinCount=FLEET, MaxCount=FLEET, KeyName="admin", SubnetId=private,
                                 InstanceType="t3.micro", SecurityGroupIds=[sg["web"]])["Instances"]
    hosts = [i["InstanceId"] for i in launched]

    def described() -> list[dict]:
        return [i for r in ec2.describe_instances(InstanceIds=[bastion, *hosts])["Reservations"] for i in r["Instances"]]

    wait_for("the instances to run", lambda: all(i["State"]["Name"] == "running" for i in described()))
    # An Elastic IP goes to a running instance (as the bastion role does it).
    ec2.associate_address(AllocationId=ec2.allocate_address(Domain="vpc")["AllocationId"], InstanceId=bastion)
    by_id = {i["InstanceId"]: i for i in described()}
    return by_id[bastion]["PublicIpAddress"], [by_id[h]["PrivateIpAddress"] for h in hosts]


def ssh_jump_vars(state: Path, bastion: str, persist: str) -> dict:
    """The ssh_jump role's variables for this setting (a directory per persist value; no AWS call: addresses given)."""
    return {"protea_project": "fleet", "protea_environment": "bench", "ssh_jump_dir": str(state / f"ssh-{persist or 'off'}"),
            "protea_tags": {"Project": "fleet", "Environment": "bench"},
            "ssh_jump_identity_file": str(state / "ssh" / "id_ed25519"), "ssh_jump_bastion_addresses": [bastion],
            "ssh_jump_private_cidrs": ["10.232.0.0/16"], "ssh_jump_control_persist": persist}


def busy_cpu_seconds() -> float:
    """CPU seconds this machine (controller and every container: one kernel) has spent busy so far."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def containers_cpu_seconds() -> float | None:
    """CPU seconds every podman container (the instances, their sshd and modules) has used so far, from
    podman's parent cgroup (cgroupfs manager: v1 cpuacct or v2 cpu.stat); None where neither exists."""
    v1 = Path("/sys/fs/cgroup/cpuacct/libpod_parent/cpuacct.usage")
    if v1.exists():
        return int(v1.read_text()) / 1e9
    v2 = Path("/sys/fs/cgroup/libpod_parent/cpu.stat")
    if v2.exists():
        return int(v2.read_text().split()[1]) / 1e6
    return None


def strategy_env(strategy: str | None) -> dict:
    if not strategy:
        return {}
    import ansible_mitogen  # pylint: disable=import-outside-toplevel  (only for this setting)
    return {"ANSIBLE_STRATEGY": strategy,
            "ANSIBLE_STRATEGY_PLUGINS": str(Path(ansible_mitogen.__file__).parent / "plugins/strategy")}


def one_run(state: Path, jump: dict, hosts: list[str], bastion: str, strategy: str | None = None) -> dict:
    config = Path(jump["ssh_jump_dir"]) / "config"
    with tempfile.TemporaryDirectory(dir=state) as tmp:
        inventory = Path(tmp) / "fleet.ini"
        inventory.write_text(
            f"[control]\nlocalhost ansible_connection=local ansible_python_interpreter={sys.executable}\n[fleet]\n"
            + "".join(f"{ip} ansible_user=admin ansible_ssh_common_args='-F {config} "
                      f"-o UserKnownHostsFile={config.parent}/known_hosts.d/{ip}'\n" for ip in hosts))
        (Path(tmp) / "vars.json").write_text(json.dumps(jump))
        env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
               "ANSIBLE_SSH_CONTROL_PATH_DIR": str(Path(tmp) / "cp"), **strategy_env(strategy)}
        pods, cpu, start = containers_cpu_seconds(), busy_cpu_seconds(), time.monotonic()
        run = subprocess.run([str(REPO / ".venv/bin/ansible-playbook"), "-i", str(inventory),
                              "-e", f"@{Path(tmp) / 'vars.json'}", PLAY], cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=1800)
        seconds = round(time.monotonic() - start, 2)
        cpu = busy_cpu_seconds() - cpu
        pods = None if pods is None else containers_cpu_seconds() - pods
        if run.returncode != 0:
            raise SystemExit(f"the fleet play failed:\n{run.stdout[-3000:]}\n{run.stderr[-2000:]}")
        # Read while the run's hops are still open (Ansible's ControlPersist): each connection is a login.
        sessions = sum(ssh_connections_to(bastion).values())
        # Cold for the next run: no bastion session and no Ansible hop left open.
        subprocess.run(["ssh", "-F", str(config), "-O", "exit", bastion], capture_output=True, timeout=30)
        for sock in (Path(tmp) / "cp").glob("*"):
            subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "x"], capture_output=True, timeout=30)
    # The wall time if the run were bound only by CPU: its busy seconds spread over every core.
    # Split: the containers stand for instances, which on AWS bring their own CPUs; here they share the
    # controller's cores. The rest is the controller (ansible-playbook, its workers, ssh) and the emulator.
    return {"seconds": seconds, "bastion_sessions": sessions, "busy_cpu_seconds": round(cpu, 1),
            "cpu_bound_seconds": round(cpu / (os.cpu_count() or 1), 2),
            "containers_cpu_seconds": None if pods is None else round(pods, 1),
            "controller_cpu_seconds": None if pods is None else round(cpu - pods, 1)}


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    subprocess.run([str(REPO / "tests/containers/build-image")], check=True, capture_output=True, env=CONTAINERS_ENV)
    with tempfile.TemporaryDirectory(prefix="fleet-") as tmp:
        state = Path(tmp)
        ensure_ssh_key(state)
        with Emulator(state, instances=True) as emu:
            bastion, hosts = build_cloud(emu, state)
            configs = {name: ssh_jump_vars(state, bastion, persist) for name, (persist, _) in SETTINGS.items()}
            # Host keys recorded once per config (accept-new), outside the timed runs. Mitogen's ssh passes
            # StrictHostKeyChecking=yes over the config's accept-new, so it shares the multiplexed
            # setting's directory, whose keys that setting's warm-up run recorded first.
            for name, jump in configs.items():
                one_run(state, jump, hosts, bastion, SETTINGS[name][1])
            pairs = [(name, n) for name in SETTINGS for n in (1, FLEET)]
            runs: dict[str, list[dict]] = {f"{name}/{n}": [] for name, n in pairs}
            for r in range(rounds):
                for name, n in (pairs if r % 2 == 0 else list(reversed(pairs))):
                    result = one_run(state, configs[name], hosts[:n], bastion, SETTINGS[name][1])
                    runs[f"{name}/{n}"].append(result)
                    print(name, n, result, flush=True)
    median = {k: round(statistics.median(x["seconds"] for x in v), 2) for k, v in runs.items()}
    cpu_bound = {k: round(statistics.median(x["cpu_bound_seconds"] for x in v), 2) for k, v in runs.items()}
    split = {k: {part: round(statistics.median(x[f"{part}_cpu_seconds"] for x in v), 2) for part in ("containers", "controller")}
             for k, v in runs.items() if all(x["containers_cpu_seconds"] is not None for x in v)}
    write("bastion_fleet", {
        "command": ".venv/bin/python -m bench.bastion_fleet", "play": PLAY, "fleet": FLEET, "rounds": rounds,
        "runs": runs, "median_seconds": median, "median_cpu_bound_seconds": cpu_bound,
        "median_cpu_seconds_by_side": split,
        # What one more instance costs the containers (its sshd, the facts and the five modules).
        "containers_cpu_seconds_per_added_host": {
            name: round((split[f"{name}/{FLEET}"]["containers"] - split[f"{name}/1"]["containers"]) / (FLEET - 1), 2)
            for name in SETTINGS if f"{name}/1" in split and f"{name}/{FLEET}" in split},
        "ratio_10_to_1": {name: round(median[f"{name}/{FLEET}"] / median[f"{name}/1"], 3) for name in SETTINGS},
        "ratio_multiplexed_to_per_host": {n: round(median[f"multiplexed/{n}"] / median[f"per_host/{n}"], 3)
                                          for n in (1, FLEET)},
        "ratio_mitogen_to_multiplexed": {n: round(median[f"mitogen/{n}"] / median[f"multiplexed/{n}"], 3)
                                         for n in (1, FLEET)},
    })


if __name__ == "__main__":
    main()
