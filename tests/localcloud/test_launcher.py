"""The emulator launcher, its call counter, reset + seeds, and the CLI."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.localcloud import compat
from tests.localcloud.compat.ec2 import DEBIAN_AMI_NAME, DEBIAN_OWNER
from tests.localcloud.emulator import REPO, Emulator, process_alive

pytestmark = pytest.mark.emulator


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_health_lists_every_patch_and_seed(emulator):
    info = emulator.health()
    assert info["status"] == "ok"
    # Instance-mode patches apply only with --instances (tests/localcloud/test_instances.py).
    assert info["patches"] == [p.name for p in compat.all_patches() if not p.instances]
    assert info["instances"] is False
    assert info["seeds"] == [s.name for s in compat.all_seeds()]
    assert info["disabled"] == []
    assert os.environ["PROTEA_ENDPOINT_URL"] == emulator.endpoint
    assert Path(os.environ["PROTEA_LOCALCLOUD_DIR"], "ssh", "id_ed25519.pub").read_text().startswith("ssh-ed25519 ")


def test_call_counter_counts_aws_calls_only(clean_emulator):
    emu = clean_emulator
    assert emu.call_count() == 0
    emu.client("sts").get_caller_identity()
    emu.client("ec2").describe_vpcs()
    # moto's own API and our /_localcloud routes are not AWS calls.
    urllib.request.urlopen(f"{emu.endpoint}/moto-api/config", timeout=10).read()
    emu.health()
    assert emu.call_count() == 2
    emu.reset()
    assert emu.call_count() == 0


def test_failed_calls_are_logged_with_their_action(emulator):
    ec2 = emulator.client("ec2")
    with pytest.raises(ec2.exceptions.ClientError):
        ec2.describe_vpcs(VpcIds=["vpc-0123456789abcdef0"])
    assert "localcloud: ec2@af-south-1 DescribeVpcs -> 400" in emulator.log_path.read_text()


def test_reset_empties_backends_and_reapplies_seed(clean_emulator):
    ec2 = clean_emulator.client("ec2", region="eu-west-1")
    vpc_id = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    clean_emulator.reset()
    assert vpc_id not in [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]]
    for region in ("af-south-1", "us-east-1", "eu-west-1"):
        images = clean_emulator.client("ec2", region=region).describe_images(
            Owners=[DEBIAN_OWNER], Filters=[{"Name": "name", "Values": ["debian-12-amd64-*"]}]
        )["Images"]
        assert [i["Name"] for i in images] == [DEBIAN_AMI_NAME], region
        assert images[0]["Architecture"] == "x86_64"
        assert images[0]["RootDeviceType"] == "ebs"
        assert images[0]["Public"] is True


def test_iam_managed_policies_are_loaded(emulator):
    iam = emulator.client("iam", region="us-east-1")
    pol = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore")["Policy"]
    assert pol["PolicyName"] == "AmazonSSMManagedInstanceCore"


def test_stop_leaves_no_process(tmp_path):
    emu = Emulator(tmp_path).start()
    pid, port = emu.pid, emu.port
    assert process_alive(pid) and _port_open(port)
    emu.stop()
    assert not process_alive(pid)
    assert not _port_open(port)
    assert "localcloud: patches=" in (tmp_path / "emulator.log").read_text()


def test_unknown_disable_name_fails_to_start(tmp_path):
    with pytest.raises(RuntimeError, match="unknown compat patch"):
        Emulator(tmp_path, disable=["no-such-patch"]).start()


def test_disable_via_env(tmp_path, monkeypatch):
    name = compat.all_patches()[0].name
    monkeypatch.setenv("PROTEA_COMPAT_DISABLE", name)
    with Emulator(tmp_path) as emu:
        info = emu.health()
    assert info["disabled"] == [name]
    assert name not in info["patches"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tests.localcloud", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def test_cli_start_summary_stop(tmp_path):
    state = tmp_path / "state"
    started = _cli("start", "--state-dir", str(state))
    assert started.returncode == 0, started.stderr
    endpoint = started.stdout.strip()
    assert started.stdout == endpoint + "\n" and endpoint.startswith("http://127.0.0.1:")
    st = json.loads((state / "emulator.json").read_text())
    assert st["endpoint"] == endpoint and process_alive(st["pid"])
    assert (state / "ssh" / "id_ed25519").stat().st_mode & 0o077 == 0
    assert (state / "ssh" / "id_ed25519.pub").read_text().startswith("ssh-ed25519 ")
    try:
        # A second start reuses the running server.
        assert _cli("start", "--state-dir", str(state)).stdout.strip() == endpoint
        assert _cli("status", "--state-dir", str(state)).returncode == 0
        from tests.localcloud.emulator import client

        ec2 = client(endpoint, "ec2")
        vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24", AvailabilityZone="af-south-1a")["Subnet"]
        summary = _cli("summary", "--state-dir", str(state))
        assert summary.returncode == 0, summary.stderr
        assert vpc in summary.stdout
        assert f"{subnet['SubnetId']}  af-south-1a  10.20.1.0/24" in summary.stdout
    finally:
        stopped = _cli("stop", "--state-dir", str(state))
    assert stopped.returncode == 0
    assert not process_alive(st["pid"])
    assert not (state / "emulator.json").exists()
    assert _cli("status", "--state-dir", str(state)).returncode == 3
