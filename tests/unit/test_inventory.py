"""The aws_ec2 dynamic inventory (inventories/<env>/aws_ec2.yml) against the emulator.

Instances are started through the EC2 API with the tags the bastion/asg roles (and the
bake playbook) put on them; `ansible-inventory` must group them by Component, keep other
projects/environments and stopped instances out, and give each host the address and ssh
settings the playbooks use.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO

ANSIBLE_INVENTORY = REPO / ".venv/bin/ansible-inventory"
LOCAL = ["inventories/common", "inventories/local"]
DYNAMIC = "inventories/local/aws_ec2.yml"


def inventory(sources: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, dict]:
    cmd = [str(ANSIBLE_INVENTORY) if ANSIBLE_INVENTORY.exists() else "ansible-inventory"]
    for src in sources:
        cmd += ["-i", src]
    cmd.append("--list")
    run_env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", **env)
    proc = subprocess.run(cmd, cwd=REPO, env=run_env,
                          capture_output=True, text=True, timeout=300)
    data = json.loads(proc.stdout) if proc.returncode == 0 else {}
    return proc, data


def templated_var(sources: list[str], pattern: str, var: str, env: dict[str, str]) -> dict[str, str]:
    """{host: value} of a variable as tasks see it (ad-hoc debug, json callback)."""
    exe = REPO / ".venv/bin/ansible"
    cmd = [str(exe) if exe.exists() else "ansible", pattern, "-m", "ansible.builtin.debug", "-a", f"var={var}"]
    for src in sources:
        cmd += ["-i", src]
    run_env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
                   ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", **env)
    proc = subprocess.run(cmd, cwd=REPO, env=run_env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The json callback lists one task entry per host under a strategy outside ansible.builtin
    # (ansible.cfg's protea.platform.local_mitogen): merge the entries of the one task.
    hosts = {h: r for task in json.loads(proc.stdout)["plays"][0]["tasks"] for h, r in task["hosts"].items()}
    return {h: r[var] for h, r in hosts.items()}


def plain(value):
    """--list marks strings from the AWS API as unsafe ({"__ansible_unsafe": text})."""
    if isinstance(value, dict) and set(value) == {"__ansible_unsafe"}:
        return value["__ansible_unsafe"]
    return value


def hosts_of(data: dict, group: str) -> set[str]:
    return set(data.get(group, {}).get("hosts", []))


def tags(**kv: str) -> list[dict]:
    return [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in kv.items()]}]


@pytest.fixture
def fleet(clean_emulator):
    """A bastion, two web servers and a builder of shopper/local, plus instances to leave out."""
    from tests.localcloud.compat.ec2 import debian_ami_id

    ec2 = clean_emulator.client("ec2")
    ami = debian_ami_id("af-south-1")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.0.0/20", AvailabilityZone="af-south-1a")["Subnet"]["SubnetId"]
    private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.128.0/20", AvailabilityZone="af-south-1a")["Subnet"]["SubnetId"]
    own = {"Project": "shopper", "Environment": "local", "ManagedBy": "protea"}

    def run(subnet: str, public_ip: bool = False, **kv: str) -> dict:
        return ec2.run_instances(
            ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t3.micro",
            NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "AssociatePublicIpAddress": public_ip}],
            TagSpecifications=tags(**kv),
        )["Instances"][0]

    bastion = run(public, True, Name="shopper-local-bastion-1", Component="bastion", **own)
    web = [run(private, Name="shopper-local-web", Component="asg", **own) for _ in range(2)]
    builder = run(private, Name="shopper-local-builder", Component="builder", **own)
    others = [
        run(private, Name="x", Component="asg", Project="shopper", Environment="staging"),
        run(private, Name="x", Component="asg", Project="other", Environment="local"),
    ]
    stopped = run(private, Name="shopper-local-web", Component="asg", **own)
    ec2.stop_instances(InstanceIds=[stopped["InstanceId"]])
    described = {
        i["InstanceId"]: i
        for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
    }
    return {
        "emu": clean_emulator,
        "bastion": described[bastion["InstanceId"]],
        "web": [described[w["InstanceId"]] for w in web],
        "builder": described[builder["InstanceId"]],
        "excluded": [o["InstanceId"] for o in others] + [stopped["InstanceId"]],
    }


def test_hosts_grouped_by_component_with_addresses_and_ssh(fleet):
    emu = fleet["emu"]
    state = Path(os.environ["PROTEA_LOCALCLOUD_DIR"])
    proc, data = inventory(LOCAL + [DYNAMIC], {"PROTEA_ENDPOINT_URL": emu.endpoint})
    assert proc.returncode == 0, proc.stderr
    bastion, builder = fleet["bastion"], fleet["builder"]
    web_ids = {w["InstanceId"] for w in fleet["web"]}

    assert hosts_of(data, "component_bastion") == {bastion["InstanceId"]}
    assert hosts_of(data, "component_asg") == web_ids
    assert hosts_of(data, "component_builder") == {builder["InstanceId"]}
    assert hosts_of(data, "private") == web_ids | {builder["InstanceId"]}
    listed = set(data["_meta"]["hostvars"]) - {"localhost"}
    assert listed == web_ids | {bastion["InstanceId"], builder["InstanceId"]}
    assert not listed & set(fleet["excluded"])

    hv = {h: {k: plain(v) for k, v in hvars.items()} for h, hvars in data["_meta"]["hostvars"].items()}
    assert bastion.get("PublicIpAddress")
    assert hv[bastion["InstanceId"]]["ansible_host"] == bastion["PublicIpAddress"]
    for inst in fleet["web"] + [builder]:
        assert hv[inst["InstanceId"]]["ansible_host"] == inst["PrivateIpAddress"]
    for host in listed:
        assert hv[host]["ansible_user"] == "admin"
    # Every EC2 host uses the generated ssh config of this environment (templated as a play would).
    resolved = templated_var(LOCAL + [DYNAMIC], "aws_ec2", "ansible_ssh_common_args", {"PROTEA_ENDPOINT_URL": emu.endpoint})
    ssh = f"{state.resolve()}/ssh"
    # Host keys pinned per instance id: a new instance on a reused address is a new file.
    assert resolved == {host: f"-F {ssh}/config -o UserKnownHostsFile={ssh}/known_hosts.d/{host}" for host in listed}
    # The control node keeps its local connection.
    assert hv["localhost"]["ansible_connection"] == "local"


def test_directory_sources_make_no_aws_call(fleet):
    """-i inventories/common -i inventories/local (the tier playbooks' inventory) skips aws_ec2.yml."""
    emu = fleet["emu"]
    before = emu.call_count()
    proc, data = inventory(LOCAL, {"PROTEA_ENDPOINT_URL": emu.endpoint})
    assert proc.returncode == 0, proc.stderr
    assert emu.call_count() == before
    assert set(data["_meta"]["hostvars"]) == {"localhost"}


def test_unreachable_endpoint_only_warns(fleet):
    """No emulator (lint, unit tests, preflight): the dynamic source warns, the rest still loads."""
    from tests.localcloud.emulator import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    proc, data = inventory(LOCAL + [DYNAMIC], {"PROTEA_ENDPOINT_URL": dead})
    assert proc.returncode == 0, proc.stderr
    assert "aws_ec2.yml" in proc.stderr and "Could not connect" in proc.stderr
    assert set(data["_meta"]["hostvars"]) == {"localhost"}


@pytest.mark.parametrize("env", ["local", "staging", "production"])
def test_every_environment_filters_its_own_tags(env):
    """The plugin cannot read inventory variables: its filters must match group_vars."""
    conf = yaml.safe_load((REPO / f"inventories/{env}/aws_ec2.yml").read_text())
    common = yaml.safe_load((REPO / "inventories/common/group_vars/all/protea.yml").read_text())
    own = {}
    for f in sorted((REPO / f"inventories/{env}/group_vars/all").glob("*.yml")):
        own.update(yaml.safe_load(f.read_text()) or {})
    assert conf["plugin"] == "amazon.aws.aws_ec2"
    assert conf["filters"]["tag:Project"] == own.get("protea_project", common["protea_project"])
    assert conf["filters"]["tag:Environment"] == own["protea_environment"]
    assert conf["regions"] == [own.get("protea_region", common["protea_region"])]
    assert conf["filters"]["instance-state-name"] == "running"
    assert ("endpoint_url" in conf) == (env == "local")


def test_an_environment_value_wins_over_a_shared_default_and_the_contract_follows():
    """docs/architecture.md: shared defaults live in inventories/common, each environment's
    inventory is named after it and wins; the stack contract's names follow the winner."""
    env = {"PROTEA_ENDPOINT_URL": "http://127.0.0.1:9"}
    staged = templated_var(["inventories/common", "inventories/staging"], "control", "vpc_cidr", env)
    assert set(staged.values()) == {"10.21.0.0/16"}  # common/group_vars says nothing; the role default is 10.20/16
    names = templated_var(["inventories/common", "inventories/staging"], "control", "protea_names", env)
    assert {n["db"] for n in names.values()} == {"shopper-staging-db"}  # common says production
    region = templated_var(["inventories/common", "inventories/staging"], "control", "protea_region", env)
    assert set(region.values()) == {"af-south-1"}  # not overridden: the shared default stays
