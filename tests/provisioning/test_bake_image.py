"""playbooks/bake_image.yml against the emulator without instance containers.

Setup converges the network tier (with the bastion), the data tier's RDS and EFS, and the
web tier's ALB and Auto Scaling group; the SES SMTP parameters are put into SSM as test
glue (the ses role needs the edge's DNS zone). Without containers no builder can answer
ssh, which is exactly the failure path: the bake must fail and leave no builder and no
image behind. The version is stable across runs, and an existing image of that version
means no builder is launched at all. (The full bake, ssh through the bastion and the host
roles, runs in the local cloud's end-to-end test.)
"""
from __future__ import annotations

import re

import pytest

from tests.helpers import run_playbook
from tests.provisioning.test_edge_alb_asg import self_signed_cert

pytestmark = pytest.mark.emulator

BAKE = "playbooks/bake_image.yml"
NAME = "shopper-local"
FAST = {"asg_refresh_delay": 1, "asg_healthy_delay": 1, "asg_instance_warmup": 0}
VERSION = re.compile(r"Image (shopper-local-web-([0-9a-f]{12})) (exists|is new)")


def builders(emu, states=("pending", "running", "stopping", "stopped")) -> list[str]:
    res = emu.client("ec2").describe_instances(Filters=[
        {"Name": "tag:Component", "Values": ["builder"]}, {"Name": "tag:Project", "Values": ["shopper"]},
        {"Name": "instance-state-name", "Values": list(states)}])["Reservations"]
    return [i["InstanceId"] for r in res for i in r["Instances"]]


def images(emu) -> list[dict]:
    return emu.client("ec2").describe_images(Owners=["self"], Filters=[
        {"Name": "name", "Values": [f"{NAME}-web-*"]}])["Images"]


@pytest.fixture(scope="module")
def stack(emulator):
    emulator.reset()
    for playbook, tags, extra in (("playbooks/network.yml", None, {}),
                                  ("playbooks/data.yml", "rds,efs", {}),
                                  ("playbooks/edge.yml", "alb,asg", {"alb_certificate_arn": self_signed_cert(emulator)})):
        run = run_playbook(playbook, endpoint=emulator.endpoint, tags=tags, extra_vars={**extra, **FAST})
        assert run.rc == 0, run.explain()
    ssm = emulator.client("ssm")
    ssm.put_parameter(Name="/shopper/local/ses/smtp-credentials", Type="SecureString",
                      Value='{"username": "AKIDBAKETEST", "password": "bake-test-smtp-secret"}')
    ssm.put_parameter(Name="/shopper/local/ses/configuration-set", Value=NAME, Type="String")
    return emulator


@pytest.fixture(scope="module")
def check_runs(stack) -> list:
    """Two --check runs of the bake on the converged stack: the version they report (the same in
    both) is the one test_existing_version_launches_no_builder gives an image."""
    return [run_playbook(BAKE, endpoint=stack.endpoint, check=True, extra_vars=FAST) for _ in range(2)]


def test_check_mode_reports_a_stable_version_and_launches_nothing(stack, check_runs):
    runs = check_runs
    for run in runs:
        assert run.rc == 0, run.explain()
    found = [VERSION.search(" ".join(run.stdout.split())) for run in runs]
    assert all(found), runs[0].explain()
    assert found[0][1] == found[1][1] and found[0][3] == "is new"
    assert builders(stack, ("pending", "running", "stopping", "stopped", "terminated")) == []
    assert images(stack) == []


def test_a_failed_bake_leaves_no_builder(stack):
    run = run_playbook(BAKE, endpoint=stack.endpoint, extra_vars={**FAST, "bake_ssh_timeout": 5})
    assert run.rc != 0
    text = " ".join(run.stdout.split())
    assert re.search(r"TASK \[[a-z.]*bake : Terminate the builder\]", run.stdout), run.explain()
    assert re.search(r"The builder i-[0-9a-f]+ failed", text), run.explain()
    launched = builders(stack, ("pending", "running", "stopping", "stopped", "terminated", "shutting-down"))
    assert len(launched) == 1  # it was launched (in a private subnet, tagged) ...
    inst = stack.client("ec2").describe_instances(InstanceIds=launched)["Reservations"][0]["Instances"][0]
    tags = {t["Key"]: t["Value"] for t in inst["Tags"]}
    assert tags["Component"] == "builder" and tags["Environment"] == "local"
    assert not inst.get("PublicIpAddress")
    assert builders(stack) == []  # ... and is gone
    assert images(stack) == []


def test_existing_version_launches_no_builder(stack, check_runs):
    # The version the --check runs reported (the failed bake in between changed no input of it:
    # the run below finds the image by that name).
    name = VERSION.search(" ".join(check_runs[-1].stdout.split()))[1]
    # An image of that version exists (as a previous bake left it).
    ec2 = stack.client("ec2")
    from tests.localcloud.compat.ec2 import debian_ami_id

    iid = ec2.run_instances(ImageId=debian_ami_id("af-south-1"), MinCount=1, MaxCount=1,
                            InstanceType="t3.micro")["Instances"][0]["InstanceId"]
    ami = ec2.create_image(InstanceId=iid, Name=name, TagSpecifications=[{"ResourceType": "image", "Tags": [
        {"Key": k, "Value": v} for k, v in {"Project": "shopper", "Environment": "local", "ManagedBy": "protea",
                                            "Component": "web-image", "ImageVersion": name[-12:]}.items()]}])["ImageId"]
    ec2.terminate_instances(InstanceIds=[iid])
    launched_before = builders(stack, ("pending", "running", "stopping", "stopped", "terminated", "shutting-down"))

    run = run_playbook(BAKE, endpoint=stack.endpoint, extra_vars=FAST)
    assert run.rc == 0, run.explain()
    assert f"Image {name} exists ({ami}): nothing to bake" in " ".join(run.stdout.split())
    assert builders(stack, ("pending", "running", "stopping", "stopped", "terminated", "shutting-down")) == launched_before
    # ... and the rollout that follows put the group on it.
    group = stack.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[f"{NAME}-web"])["AutoScalingGroups"][0]
    lt = stack.client("ec2").describe_launch_template_versions(
        LaunchTemplateName=f"{NAME}-web", Versions=[group["LaunchTemplate"]["Version"]])["LaunchTemplateVersions"][0]
    assert lt["LaunchTemplateData"]["ImageId"] == ami
