"""The collection on the oldest ansible-core it supports (meta/runtime.yml requires_ansible).

The suite's own venv runs the ansible-core of requirements.txt; this file runs the same checkout
under ansible-core 2.19.4 from a venv of its own (tests/oldest_core.py: ansible-core 2.19.4 and
requirements.txt's runtime Python packages at their pins, cached in
${PROTEA_CACHE_DIR:-~/.cache/protea}/venv-ansible-core-2.19.4, built with pip on first use).
That venv holds no collections: amazon.aws, community.aws and the rest come from the main venv's
bundled ansible_collections (the ansible package of requirements.txt), through
ANSIBLE_COLLECTIONS_PATH = the checkout's ./collections (this collection), then the main venv's
site-packages. So only ansible-core is older; ansible.cfg is the repository's, with its strategy
protea.platform.local_mitogen and its stdout callback protea.platform.progress.

Under 2.19.4: --syntax-check of site.yml and every playbook; playbooks/cost.yml (no AWS call)
and its report; the progress callback's wait line and Mitogen's one interpreter for a local play; a
playbook of several local plays completing (2.19.0-2.19.3 hung there, so 2.19.4 is the oldest supported);
preflight refusing bad input before any AWS call; the network tier (project modules and filters,
amazon.aws modules) converged on the emulator, verified through boto3, and converged again with
changed=0.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests import oldest_core
from tests.helpers import REPO, PlaybookRun, run_playbook

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

PREFIX = "shopper-local"
PROJECT_FILTER = [{"Name": "tag:Project", "Values": ["shopper"]}, {"Name": "tag:Environment", "Values": ["local"]}]


@pytest.fixture(scope="module")
def old_bin() -> Path:
    return oldest_core.ensure_venv()


@pytest.fixture(scope="module")
def old_env(old_bin) -> dict:
    return {"ANSIBLE_COLLECTIONS_PATH": oldest_core.collections_path(), "VIRTUAL_ENV": str(old_bin.parent)}


def _run(old_bin: Path, old_env: dict, *argv: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """A command of the old venv, with ansible.cfg's strategy and callback (no override from the environment)."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", **old_env)
    for name in ("ANSIBLE_STRATEGY", "ANSIBLE_STDOUT_CALLBACK"):
        env.pop(name, None)
    env["PATH"] = f"{old_bin}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run([str(old_bin / argv[0]), *argv[1:]], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_the_oldest_core_is_the_one_meta_runtime_names():
    assert oldest_core.requires_ansible() == f">={oldest_core.OLDEST}"


def test_the_venv_runs_ansible_core_2_19_4_with_the_main_venvs_collections(old_bin, old_env):
    out = _run(old_bin, old_env, "ansible", "--version")
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[0]
    assert first.startswith(f"ansible [core {oldest_core.OLDEST}]"), out.stdout
    location = re.search(r"ansible python module location = (\S+)", out.stdout)[1]
    assert Path(location).is_relative_to(old_bin.parent), out.stdout
    listed = _run(old_bin, old_env, "ansible-galaxy", "collection", "list", "amazon.aws", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    paths = json.loads(listed.stdout)
    main_site = Path(oldest_core.collections_path().split(":")[1]).resolve()
    assert [p for p, c in paths.items() if "amazon.aws" in c] == [str(main_site / "ansible_collections")], paths


def test_site_and_every_playbook_pass_syntax_check(old_bin, old_env):
    books = ["site.yml", *sorted(str(p.relative_to(REPO)) for p in (REPO / "playbooks").glob("*.yml"))]
    out = _run(old_bin, old_env, "ansible-playbook", "-i", "inventories/common", "-i", "inventories/local",
               "--syntax-check", *books)
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.findall(r"^playbook: (\S+)$", out.stdout, re.M) == books, out.stdout
    assert "ERROR" not in out.stderr, out.stderr


def test_cost_playbook(old_bin, old_env, tmp_path):
    # No emulator: an endpoint on a closed port would fail any AWS call.
    report = tmp_path / "cost.txt"
    run = run_playbook("playbooks/cost.yml", endpoint="http://127.0.0.1:9", bin_dir=old_bin, env=old_env,
                       extra_vars={"cost_report_path": str(report), "vpc_nat_gateway_mode": "single"}, timeout=300)
    assert run.rc == 0, run.explain()
    text = report.read_text()
    assert text.startswith("Monthly estimate, af-south-1 (Africa (Cape Town))"), text
    assert "NAT gateways (single)" in text and "total per month" in text
    assert "Monthly estimate, af-south-1" in run.stdout
    assert run.recap["localhost"]["failed"] == 0, run.explain()


# A local play: two tasks printing their parent's pid (one parent under Mitogen, one per task under
# the stock linear strategy, tests/unit/test_strategy.py), then a wait the progress callback words.
PLAY = [{"name": "local", "hosts": "control", "gather_facts": False, "tasks": [
    *({"name": f"parent pid {n}", "ansible.builtin.command": "sh -c 'echo $PPID'", "changed_when": False,
       "register": f"pid{n}"} for n in (1, 2)),
    {"ansible.builtin.debug": {"msg": "PIDS {{ [pid1.stdout, pid2.stdout] | to_json }}"}},
    {"name": "Wait until the database is available", "ansible.builtin.set_fact": {"status": "creating"},
     "until": False, "retries": 1, "delay": 0, "ignore_errors": True},
]}]


def _local_hosts(old_bin: Path, tmp_path: Path) -> Path:
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"control": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": str(old_bin / "python")}}}}))
    return tmp_path / "hosts.yml"


def test_strategy_and_callback_of_ansible_cfg(old_bin, old_env, tmp_path):
    (tmp_path / "play.yml").write_text(yaml.safe_dump(PLAY, sort_keys=False))
    hosts = _local_hosts(old_bin, tmp_path)
    out = _run(old_bin, old_env, "ansible-playbook", "-i", str(hosts), str(tmp_path / "play.yml"))
    assert out.returncode == 0, out.stdout + out.stderr
    pids = json.loads(re.search(r"PIDS (\[.*?\])", out.stdout.replace("'", ""))[1])
    assert len(set(pids)) == 1, out.stdout  # Mitogen kept one interpreter
    assert "does not support Ansible version" not in out.stdout + out.stderr  # requires_ansible holds
    assert re.search(r"^Waiting: \[localhost\]: Wait until the database is available - creating, \d+:\d\d"
                     r" \(attempt 1 of 2\)$", out.stdout, re.M), out.stdout
    assert "FAILED - RETRYING" not in out.stdout


# Four local plays of a command each. Under 2.19.0 with Mitogen a later play hung at its first task in
# 4 of 5 runs (a result reached the previous play's results thread; 2.19.1-2.19.3 likewise, and 2.19.0
# hung the two-play network.yml once under linear too); three runs here would all have to slip through.
PLAYS = [{"name": f"play {n}", "hosts": "control", "gather_facts": False,
          "tasks": [{"ansible.builtin.command": "true", "changed_when": False}]} for n in range(4)]


def test_a_playbook_of_several_local_plays_completes(old_bin, old_env, tmp_path):
    (tmp_path / "plays.yml").write_text(yaml.safe_dump(PLAYS, sort_keys=False))
    hosts = _local_hosts(old_bin, tmp_path)
    for attempt in range(3):
        try:
            out = _run(old_bin, old_env, "ansible-playbook", "-i", str(hosts), str(tmp_path / "plays.yml"), timeout=60)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"run {attempt + 1} of a four-play playbook hung under {oldest_core.OLDEST}: {exc.stdout!r}")
        assert out.returncode == 0, out.stdout + out.stderr
        assert out.stdout.count("PLAY [play ") == 4, out.stdout


# --- on the emulator ---------------------------------------------------------------------------
def test_preflight_refuses_bad_input_before_any_aws_call(emulator, old_bin, old_env):
    before = emulator.call_count()
    # The network tier's playbook: its stack role (next after preflight) describes the VPCs first thing.
    run = run_playbook("playbooks/network.yml", endpoint=emulator.endpoint, bin_dir=old_bin, env=old_env,
                       extra_vars={"vpc_cidr": "10.20.1.0/16"}, timeout=300)
    out = " ".join((run.stdout + run.stderr).split())
    assert run.rc != 0, run.explain()
    assert "Preflight found 1 configuration problem(s); no AWS call was made." in out, run.explain()
    assert "vpc_cidr '10.20.1.0/16' is not a valid IPv4 CIDR (host bits set: did you mean 10.20.0.0/16?)" in out
    assert run.recap["localhost"]["failed"] == 1 and "TASK [protea.platform.stack" not in run.stdout, run.explain()
    assert emulator.call_count() == before


@pytest.fixture(scope="module")
def network(emulator, old_bin, old_env) -> tuple[PlaybookRun, PlaybookRun]:
    emulator.reset()
    first = run_playbook("playbooks/network.yml", endpoint=emulator.endpoint, bin_dir=old_bin, env=old_env)
    assert first.rc == 0, first.explain()
    second = run_playbook("playbooks/network.yml", endpoint=emulator.endpoint, bin_dir=old_bin, env=old_env)
    return first, second


def test_network_tier_converges_then_changes_nothing(network):
    first, second = network
    assert first.changed > 0 and first.failed == 0, first.explain()
    assert second.rc == 0, second.explain()
    assert second.recap["localhost"]["changed"] == 0, second.explain()


def test_network_tier_built_as_planned(emulator, network):
    ec2 = emulator.client("ec2")
    vpcs = ec2.describe_vpcs(Filters=PROJECT_FILTER)["Vpcs"]
    assert [v["CidrBlock"] for v in vpcs] == ["10.20.0.0/16"]
    vpc_id = vpcs[0]["VpcId"]
    # The subnet plan (filter protea.platform.subnet_plan), through amazon.aws.ec2_vpc_subnet.
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    assert sorted((s["AvailabilityZone"], s["CidrBlock"]) for s in subnets) == [
        ("af-south-1a", "10.20.0.0/20"), ("af-south-1a", "10.20.128.0/20"),
        ("af-south-1b", "10.20.144.0/20"), ("af-south-1b", "10.20.16.0/20")]
    # The project module protea.platform.vpc_flow_log.
    logs = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"]
    assert [(f["TrafficType"], f["LogDestinationType"]) for f in logs] == [("ALL", "cloud-watch-logs")]
    # The ALB group admits CloudFront's origin-facing prefix list only (protea.platform.ec2_managed_prefix_list_info).
    groups = {g["GroupName"]: g for g in ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]}
    names = {p["PrefixListId"]: p["PrefixListName"] for p in ec2.describe_managed_prefix_lists()["PrefixLists"]}
    alb_in = groups[f"{PREFIX}-alb"]["IpPermissions"]
    assert [(p["FromPort"], [names[x["PrefixListId"]] for x in p["PrefixListIds"]], p["IpRanges"]) for p in alb_in] == [
        (443, ["com.amazonaws.global.cloudfront.origin-facing"], [])]
    # One bastion per AZ (amazon.aws.ec2_instance), IMDSv2 required.
    bastions = [i for r in ec2.describe_instances(Filters=PROJECT_FILTER + [
        {"Name": "tag:Component", "Values": ["bastion"]},
        {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"] for i in r["Instances"]]
    assert sorted(i["Placement"]["AvailabilityZone"] for i in bastions) == ["af-south-1a", "af-south-1b"]
    assert {i["MetadataOptions"]["HttpTokens"] for i in bastions} == {"required"}
