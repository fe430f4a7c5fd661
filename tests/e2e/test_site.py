"""End to end on the local cloud: site.yml from nothing, then the platform is used as a
customer would use it, through the bastion only.

One local cloud (emulator with instances materialised as podman containers) for the
module; the tests run in file order and build on each other (the last one rolls out a new
image). Everything is checked from outside the playbook: boto3 against the emulator, ssh
through the bastion into the containers, the SES SMTP and Slack doubles' own records.
"""
from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from tests.doubles.slack_double import SlackDouble
from tests.helpers import REPO, run_playbook
from tests.localcloud.__main__ import ensure_ssh_key
from tests.localcloud.emulator import Emulator

pytestmark = [pytest.mark.e2e, pytest.mark.containers, pytest.mark.slow]

PROJECT, ENV = "shopper", "local"
# As ansible.cfg names them (run_playbook's default leaves out the dynamic inventory).
# Straight to the instances, whatever proxy the environment names.
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
INVENTORY = ["inventories/common", "inventories/local", "inventories/local/aws_ec2.yml"]


class Stack:
    """The running local cloud plus what the tests need to reach into it."""

    def __init__(self, emu: Emulator, state: Path, slack: SlackDouble):
        self.emu, self.state, self.slack = emu, state, slack
        self.env = {"PROTEA_LOCALCLOUD_DIR": str(state), "PROTEA_SLACK_WEBHOOK_URL": slack.webhook_url}
        self.ssh_config = state / "e2e-ssh-config"

    def site(self, **extra) -> "object":
        return run_playbook("site.yml", endpoint=self.emu.endpoint, env=self.env, extra_vars=extra or None,
                            inventory=INVENTORY, timeout=3600)

    # -- what the emulator says --------------------------------------------------------
    def instances(self, component: str) -> list[dict]:
        pages = self.emu.client("ec2").get_paginator("describe_instances").paginate(Filters=[
            {"Name": "tag:Project", "Values": [PROJECT]},
            {"Name": "tag:Environment", "Values": [ENV]},
            {"Name": "tag:Component", "Values": [component]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ])
        return [i for page in pages for r in page["Reservations"] for i in r["Instances"]]

    def asg(self) -> dict:
        groups = self.emu.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
        mine = [g for g in groups if g["AutoScalingGroupName"].startswith(f"{PROJECT}-{ENV}")]
        assert len(mine) == 1, [g["AutoScalingGroupName"] for g in groups]
        return mine[0]

    def web_ips(self) -> list[str]:
        ids = [i["InstanceId"] for i in self.asg()["Instances"] if i["LifecycleState"] == "InService"]
        reservations = self.emu.client("ec2").describe_instances(InstanceIds=ids)["Reservations"]
        return [i["PrivateIpAddress"] for r in reservations for i in r["Instances"]]

    # -- ssh, written here from what the emulator reports (not the playbook's file) ----
    def write_ssh_config(self) -> None:
        bastion = self.instances("bastion")[0]
        key = self.state / "ssh/id_ed25519"
        known = self.state / "e2e-known-hosts"
        common = (f"  User admin\n  IdentityFile {key}\n  IdentitiesOnly yes\n"
                  f"  StrictHostKeyChecking accept-new\n  UserKnownHostsFile {known}\n"
                  "  ConnectTimeout 10\n  BatchMode yes\n")
        self.ssh_config.write_text(
            f"Host bastion\n  HostName {bastion['PublicIpAddress']}\n{common}\n"
            f"Host direct-*\n{common}\n"
            f"Host 10.*\n  ProxyJump bastion\n{common}")

    def ssh(self, host: str, command: str, check: bool = True, timeout: int = 60) -> subprocess.CompletedProcess:
        run = subprocess.run(["ssh", "-F", str(self.ssh_config), host, command], capture_output=True, text=True,
                             timeout=timeout)
        if check:
            assert run.returncode == 0, f"ssh {host} {command!r}: rc={run.returncode}\n{run.stdout}\n{run.stderr}"
        return run

    def http(self, ip: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        """curl on the instance itself (through nginx, as the ALB would reach it)."""
        data = f"-H 'Content-Type: application/json' -d '{json.dumps(body)}'" if body is not None else ""
        out = self.ssh(ip, f"curl -s -o /tmp/e2e-body -w '%{{http_code}}' -X {method} {data} "
                           f"http://127.0.0.1{path}; echo; cat /tmp/e2e-body").stdout
        status, _, payload = out.partition("\n")
        return int(status), json.loads(payload or "{}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    for script in ("build-image", "apt-proxy"):  # cached: no-ops when present
        subprocess.run([str(REPO / "tests/containers" / script)], check=True, capture_output=True, timeout=1800)
    state = tmp_path_factory.mktemp("e2e-localcloud")
    ensure_ssh_key(state)
    with Emulator(state, instances=True) as emu, SlackDouble() as slack:
        st = Stack(emu, state, slack)
        run = st.site()
        assert run.rc == 0, run.explain()
        st.first_run = run
        st.write_ssh_config()
        yield st


def test_site_built_the_platform(stack: Stack) -> None:
    assert stack.first_run.changed > 0
    assert stack.instances("bastion"), "no running bastion"
    group = stack.asg()
    in_service = [i for i in group["Instances"] if i["LifecycleState"] == "InService"]
    assert len(in_service) >= group["MinSize"] >= 2
    images = stack.emu.client("ec2").describe_images(Owners=["self"])["Images"]
    baked = {i["ImageId"] for i in images}
    lt = group["LaunchTemplate"]
    version = stack.emu.client("ec2").describe_launch_template_versions(
        LaunchTemplateId=lt["LaunchTemplateId"], Versions=[str(lt["Version"])])["LaunchTemplateVersions"][0]
    assert version["LaunchTemplateData"]["ImageId"] in baked, "the group does not run a baked image"
    assert not stack.instances("builder"), "a builder instance was left behind"


def test_private_instances_only_through_the_bastion(stack: Stack) -> None:
    ip = stack.web_ips()[0]
    # `direct-*` has no ProxyJump: ssh straight from this host to the private address.
    direct = subprocess.run(["ssh", "-F", str(stack.ssh_config), "-o", f"HostName={ip}", f"direct-{ip}", "true"],
                            capture_output=True, text=True, timeout=30)
    assert direct.returncode != 0, "a private instance accepted ssh from outside the VPC"
    via = stack.ssh(ip, "hostname -I")
    assert ip in via.stdout.split()


def test_every_web_instance_is_healthy(stack: Stack) -> None:
    ips = stack.web_ips()
    assert len(ips) >= 2
    for ip in ips:
        status, body = stack.http(ip, "GET", "/healthz")
        assert status == 200, (ip, body)
        assert body["checks"]["db"] == "ok" and body["checks"]["efs"] == "ok", (ip, body)


def test_a_visit_through_one_instance_is_read_through_another(stack: Stack) -> None:
    first, second = stack.web_ips()[:2]
    zone = f"e2e-{uuid.uuid4().hex[:8]}"
    status, _ = stack.http(first, "POST", "/api/visits", {"shopper_id": "s-1", "zone": zone, "beacon_id": "b-1"})
    assert status == 201
    status, body = stack.http(second, "GET", f"/api/zones/{zone}/visits")
    assert (status, body["visits"]) == (200, 1)


def test_mail_from_an_instance_reaches_the_ses_double_authenticated(stack: Stack) -> None:
    ip = stack.web_ips()[0]
    token = uuid.uuid4().hex
    stack.ssh(ip, f"printf 'Subject: e2e {token}\\n\\nhello\\n' | /usr/sbin/sendmail -f noreply@{PROJECT}.example "
                  "ops@ops.example")
    store = Path(stack.emu.instances_state()["doubles"]["ses_smtp"]["store"])
    found: list[dict] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        lines = store.read_text().splitlines() if store.exists() else []
        found = [json.loads(line) for line in lines if token in line]
        if found:
            break
        time.sleep(2)
    assert found, "the message never reached the SES SMTP double"
    assert found[0]["tls"] and found[0]["auth_user"].startswith("AKIA")


def test_an_alarm_reaches_the_slack_double(stack: Stack) -> None:
    cw = stack.emu.client("cloudwatch")
    alarms = cw.describe_alarms(AlarmNamePrefix=f"{PROJECT}-{ENV}")["MetricAlarms"]
    assert alarms
    alarm = alarms[0]
    before = len(stack.slack.messages)
    cw.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue="ALARM", StateReason="e2e: forced")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(stack.slack.messages) == before:
        time.sleep(1)
    assert len(stack.slack.messages) > before, "no Slack message for the alarm"
    assert alarm["AlarmName"] in json.dumps(stack.slack.messages[-1])


def test_second_site_run_changes_nothing(stack: Stack) -> None:
    run = stack.site()
    assert run.rc == 0, run.explain()
    assert run.changed == 0, run.explain()


def test_new_image_rolls_out_with_minimum_healthy_throughout(stack: Stack) -> None:
    group = stack.asg()
    old_ids = {i["InstanceId"] for i in group["Instances"]}
    samples: list[int] = []
    stop = threading.Event()

    def poll() -> None:
        # Counts the instances of the group answering /healthz 200, as the ALB would see them.
        while not stop.is_set():
            healthy = 0
            for ip in stack.web_ips():
                try:
                    with DIRECT.open(f"http://{ip}/healthz", timeout=3) as answer:
                        healthy += answer.status == 200
                except OSError:  # refused, timed out, or an HTTP error status
                    pass
            samples.append(healthy)
            time.sleep(1)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        run = stack.site(bake_release="e2e-2")
    finally:
        stop.set()
        poller.join(30)
    assert run.rc == 0, run.explain()
    new_ids = {i["InstanceId"] for i in stack.asg()["Instances"]}
    assert new_ids and not new_ids & old_ids, "the instances were not replaced"
    assert len(samples) > 5
    assert min(samples) >= group["MinSize"], samples
