"""Image selection and rollout (roles/asg, playbooks/rollout.yml) against the emulator.

Setup converges the network tier (vpc, security_groups) and the web tier's ALB and group
(edge.yml --tags alb,asg, with a self-signed certificate imported as test glue), then
registers "baked" images through the EC2 API with the tags playbooks/bake_image.yml puts on
them. Asserted through boto3: the group waits without instances on the distribution image;
rollout.yml gives it the newest baked image and its size (no refresh: nothing to replace), a later
bake with a launch-before-terminate refresh; a later provision run
keeps the baked image (changed=0); a named version rolls back; an unknown version fails.
"""
from __future__ import annotations

import time

import pytest

from tests.crash import duplicates
from tests.helpers import run_playbook
from tests.localcloud.compat.ec2 import debian_ami_id
from tests.provisioning.test_edge_alb_asg import bake, self_signed_cert

pytestmark = pytest.mark.emulator

EDGE = "playbooks/edge.yml"
NETWORK = "playbooks/network.yml"
ROLLOUT = "playbooks/rollout.yml"
WEB = "shopper-local-web"
FAST = {"asg_refresh_delay": 1, "asg_healthy_delay": 1, "asg_instance_warmup": 0}


def lt_image(emu) -> tuple[str, str]:
    """(image id of the version the group runs, that version)."""
    group = emu.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[WEB])["AutoScalingGroups"][0]
    version = group["LaunchTemplate"]["Version"]
    data = emu.client("ec2").describe_launch_template_versions(
        LaunchTemplateName=WEB, Versions=[version])["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    return data["ImageId"], version


@pytest.fixture(scope="module")
def web(emulator):
    emulator.reset()
    net = run_playbook(NETWORK, endpoint=emulator.endpoint, tags="vpc,security_groups")
    assert net.rc == 0, net.explain()
    extra = {"alb_certificate_arn": self_signed_cert(emulator), **FAST}
    first = run_playbook(EDGE, endpoint=emulator.endpoint, extra_vars=extra, tags="alb,asg")
    assert first.rc == 0, first.explain()
    return {"emu": emulator, "extra": extra, "first": first}


def test_rollout_moves_to_newest_baked_image_and_provision_keeps_it(web):
    emu, extra = web["emu"], web["extra"]
    assert lt_image(emu)[0] == debian_ami_id("af-south-1")  # nothing baked yet

    v1 = bake(emu, "v1")
    bake(emu, "v9", Environment="staging")  # another environment's image: never chosen
    run = run_playbook(ROLLOUT, endpoint=emu.endpoint, extra_vars=FAST)
    assert run.rc == 0, run.explain()
    image, version = lt_image(emu)
    assert image == v1 and version == "2"
    # The group waited without instances for its first web server image: it launches from it, with
    # no instance refresh (nothing to replace) and no instance ever from the distribution's image.
    asg = emu.client("autoscaling")
    assert asg.describe_instance_refreshes(AutoScalingGroupName=WEB)["InstanceRefreshes"] == []
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[WEB])["AutoScalingGroups"][0]
    assert (group["MinSize"], group["DesiredCapacity"]) == (2, 2)
    launched = emu.client("ec2").describe_instances(Filters=[
        {"Name": "tag:aws:autoscaling:groupName", "Values": [WEB]}])["Reservations"]
    assert {i["ImageId"] for r in launched for i in r["Instances"]} == {v1}

    # The tier playbook (as site.yml runs it again) keeps the baked image: no change at all.
    again = run_playbook(EDGE, endpoint=emu.endpoint, extra_vars=extra, tags="alb,asg")
    assert again.rc == 0 and again.changed == 0, again.explain()
    assert lt_image(emu) == (v1, "2")
    # rollout.yml with nothing new: no version, no refresh.
    noop = run_playbook(ROLLOUT, endpoint=emu.endpoint, extra_vars=FAST)
    assert noop.rc == 0 and noop.changed == 0, noop.explain()
    assert emu.client("autoscaling").describe_instance_refreshes(AutoScalingGroupName=WEB)["InstanceRefreshes"] == []


def test_named_version_rolls_back_and_unknown_version_fails(web):
    emu = web["emu"]
    if lt_image(emu)[0] == debian_ami_id("af-south-1"):  # run alone (-k): nothing rolled out yet
        bake(emu, "v1")
        run = run_playbook(ROLLOUT, endpoint=emu.endpoint, extra_vars=FAST)  # newest first
        assert run.rc == 0, run.explain()
    # (In file order the group already runs the newest, v1: the test above proved it, and that a
    # rollout with nothing new changes nothing.)
    newest_before = lt_image(emu)[0]
    v2 = bake(emu, "v2")
    check = run_playbook(ROLLOUT, endpoint=emu.endpoint, extra_vars=FAST, check=True)
    assert check.rc == 0, check.explain()
    assert lt_image(emu)[0] == newest_before  # --check changes nothing
    # Crash-safe re-runs: this rollout is killed (SIGKILL) right after AWS started the instance
    # refresh; the re-run finishes it without a second refresh or a surplus instance.
    refreshes_before = len(emu.client("autoscaling").describe_instance_refreshes(
        AutoScalingGroupName=WEB)["InstanceRefreshes"])
    killed = run_playbook(ROLLOUT, endpoint=emu.endpoint, extra_vars=FAST, crash_action="StartInstanceRefresh")
    assert killed.rc == -9 and killed.crashed_at.endswith(" StartInstanceRefresh"), killed.explain()
    run = run_playbook(ROLLOUT, endpoint=emu.endpoint, extra_vars=FAST)
    assert run.rc == 0, run.explain()
    assert lt_image(emu)[0] == v2
    refreshes = emu.client("autoscaling").describe_instance_refreshes(AutoScalingGroupName=WEB)["InstanceRefreshes"]
    assert len(refreshes) == refreshes_before + 1 and refreshes[0]["Status"] == "Successful", refreshes
    # Launch before terminate.
    assert (refreshes[0]["Preferences"]["MinHealthyPercentage"], refreshes[0]["Preferences"]["MaxHealthyPercentage"]) \
        == (100, 200)
    assert duplicates(emu.endpoint, ["af-south-1"]) == []

    back = run_playbook(ROLLOUT, endpoint=emu.endpoint, extra_vars={**FAST, "rollout_image_version": "v1"})
    assert back.rc == 0, back.explain()
    v1 = emu.client("ec2").describe_images(Filters=[{"Name": "tag:ImageVersion", "Values": ["v1"]},
                                                    {"Name": "tag:Environment", "Values": ["local"]}])["Images"]
    assert lt_image(emu)[0] == v1[0]["ImageId"]

    missing = run_playbook(ROLLOUT, endpoint=emu.endpoint, extra_vars={**FAST, "rollout_image_version": "nope"})
    assert missing.rc != 0
    assert "No image baked with ImageVersion nope" in " ".join(missing.stdout.split()), missing.explain()
    assert lt_image(emu)[0] == v1[0]["ImageId"]


def _versions(emu, env: str = "local") -> dict[str, dict]:
    images = emu.client("ec2").describe_images(Owners=["self"], Filters=[
        {"Name": "tag:Environment", "Values": [env]}, {"Name": "tag:Component", "Values": ["web-image"]}])["Images"]
    return {{t["Key"]: t["Value"] for t in i["Tags"]}["ImageVersion"]: i for i in images}


def test_rollout_prunes_old_images_but_never_one_in_use(web):
    emu = web["emu"]
    ec2 = emu.client("ec2")
    assert lt_image(emu)[0] == _versions(emu)["v1"]["ImageId"]  # rolled back above: the oldest is in use
    bake(emu, "v3")
    time.sleep(1.1)  # creation dates a second apart: v4 is the newest
    bake(emu, "v4")
    before = _versions(emu)
    doomed = [before[v]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"] for v in ("v2", "v3")]
    extra = {**FAST, "rollout_image_version": "v1", "asg_keep_images": 1}
    run = run_playbook(ROLLOUT, endpoint=emu.endpoint, extra_vars=extra)
    assert run.rc == 0, run.explain()
    # Kept: the newest (v4) and the one the group runs (v1); another environment's images untouched.
    assert sorted(_versions(emu)) == ["v1", "v4"]
    assert sorted(_versions(emu, "staging")) == ["v9"]
    assert ec2.describe_snapshots(Filters=[{"Name": "snapshot-id", "Values": doomed}])["Snapshots"] == []
    again = run_playbook(ROLLOUT, endpoint=emu.endpoint, extra_vars=extra)
    assert again.rc == 0 and again.changed == 0, again.explain()
