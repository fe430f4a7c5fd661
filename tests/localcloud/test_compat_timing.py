"""The delay layer (PROTEA_DELAY_SCALE) and the refusals that make a playbook wait: through boto3
against servers started with the layer on, off, and with its patches disabled."""
from __future__ import annotations

import time

import botocore.exceptions
import pytest

from plugins.callback.progress import USUAL_MINUTES
from tests.localcloud import compat, delays
from tests.localcloud.compat.ec2 import debian_ami_id

pytestmark = pytest.mark.emulator

SCALE = 1.0  # seconds per AWS minute: RDS single-AZ 10 s, image 10 s, load balancer 3 s, NAT 1.5 s, EFS 1.5 s
LAYER = {delays.SCALE_ENV: str(SCALE)}
TIMING = ["timing-rds-creating", "timing-image-pending", "timing-load-balancer-provisioning",
          "timing-efs-mount-target-creating"]


def _network(ec2, second_octet: int) -> tuple[str, list[str]]:
    vpc = ec2.create_vpc(CidrBlock=f"10.{second_octet}.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{second_octet}.{i}.0/24",
                                 AvailabilityZone=f"af-south-1{az}")["Subnet"]["SubnetId"]
               for i, az in ((1, "a"), (2, "b"))]
    return vpc, subnets


def _wait_running(ec2, instance: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while _state(ec2, instance) != "running":
        assert time.monotonic() < deadline, f"{instance} still not running"
        time.sleep(0.1)


def _start_everything(emu) -> tuple[dict, dict]:
    """One of each delayed operation; returns how to read each one's state, and each state as read
    right after its own create call (a busy machine must not let one settle before it is looked at)."""
    ec2, rds, elb, efs = (emu.client(s) for s in ("ec2", "rds", "elbv2", "efs"))
    vpc, subnets = _network(ec2, 61)
    instance = ec2.run_instances(ImageId=debian_ami_id("af-south-1"), MinCount=1, MaxCount=1,
                                 InstanceType="t3.micro", SubnetId=subnets[0])["Instances"][0]["InstanceId"]
    _wait_running(ec2, instance)  # AWS images only a booted instance
    first = {}
    rds.create_db_instance(DBInstanceIdentifier="db", Engine="postgres", DBInstanceClass="db.t3.medium",
                           AllocatedStorage=20, MasterUsername="u", MasterUserPassword="p" * 20)
    readers = {"rds": lambda: rds.describe_db_instances(DBInstanceIdentifier="db")["DBInstances"][0]["DBInstanceStatus"]}
    first["rds"] = readers["rds"]()
    image = ec2.create_image(InstanceId=instance, Name="baked")["ImageId"]
    readers["image"] = lambda: ec2.describe_images(ImageIds=[image])["Images"][0]["State"]
    first["image"] = readers["image"]()
    lb = elb.create_load_balancer(Name="web", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    readers["load balancer"] = lambda: elb.describe_load_balancers(LoadBalancerArns=[lb])["LoadBalancers"][0]["State"]["Code"]
    first["load balancer"] = readers["load balancer"]()
    fs = efs.create_file_system(CreationToken="fs")["FileSystemId"]
    mount = efs.create_mount_target(FileSystemId=fs, SubnetId=subnets[0])["MountTargetId"]
    readers["mount target"] = lambda: efs.describe_mount_targets(MountTargetId=mount)["MountTargets"][0]["LifeCycleState"]
    first["mount target"] = readers["mount target"]()
    return readers, first


def _states(readers: dict) -> dict:
    return {name: read() for name, read in readers.items()}


SETTLED = {"rds": "available", "image": "available", "load balancer": "active", "mount target": "available"}


def test_with_the_layer_each_long_operation_reports_its_in_between_state_for_the_scaled_time(emulator_factory):
    readers, first = _start_everything(emulator_factory(env=LAYER))
    assert first == {"rds": "creating", "image": "pending", "load balancer": "provisioning", "mount target": "creating"}
    # The slowest of them (RDS single-AZ, the image: 10 AWS minutes) settles 10 * SCALE seconds after its create.
    time.sleep(10 * SCALE + 0.5)
    assert _states(readers) == SETTLED


def test_without_the_layer_or_with_its_patches_disabled_everything_is_there_at_once(clean_emulator, emulator_factory):
    assert _start_everything(clean_emulator)[1] == SETTLED
    assert _start_everything(emulator_factory(env=LAYER, disable=TIMING))[1] == SETTLED


def test_the_layer_scales_the_states_the_local_cloud_always_has(emulator_factory):
    emu = emulator_factory(env=LAYER)
    ec2, acm = emu.client("ec2"), emu.client("acm", "us-east-1")
    _, subnets = _network(ec2, 62)
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    started = time.monotonic()
    nat = ec2.create_nat_gateway(SubnetId=subnets[0], AllocationId=eip)["NatGateway"]["NatGatewayId"]

    def nat_state() -> str:
        return ec2.describe_nat_gateways(NatGatewayIds=[nat])["NatGateways"][0]["State"]

    assert nat_state() == "pending"
    cert = acm.request_certificate(DomainName="shop.example.com", ValidationMethod="DNS")["CertificateArn"]

    def cert_state() -> str:
        return acm.describe_certificate(CertificateArn=cert)["Certificate"]["Status"]

    assert cert_state() == "PENDING_VALIDATION"
    time.sleep(max(0.0, USUAL_MINUTES["nat_gateway"] * SCALE + 0.3 - (time.monotonic() - started)))
    assert nat_state() == "available"
    # ACM: 3 min * SCALE, in moto's whole seconds, counted strictly after it.
    time.sleep(max(0.0, USUAL_MINUTES["acm_dns_validation"] * SCALE + 1.2 - (time.monotonic() - started)))
    assert cert_state() == "ISSUED"


def test_an_instance_refresh_stays_in_progress_for_the_scaled_time(emulator_factory):
    emu = emulator_factory(env=LAYER)
    ec2, asg = emu.client("ec2"), emu.client("autoscaling")
    _, subnets = _network(ec2, 63)
    ec2.create_launch_template(LaunchTemplateName="web", LaunchTemplateData={
        "ImageId": debian_ami_id("af-south-1"), "InstanceType": "t3.micro"})
    asg.create_auto_scaling_group(AutoScalingGroupName="web", LaunchTemplate={"LaunchTemplateName": "web"},
                                  MinSize=1, MaxSize=2, DesiredCapacity=1, VPCZoneIdentifier=subnets[0])
    asg.start_instance_refresh(AutoScalingGroupName="web")
    started = time.monotonic()

    def status() -> str:
        return asg.describe_instance_refreshes(AutoScalingGroupName="web")["InstanceRefreshes"][0]["Status"]

    seen = [status(), status(), status()]
    assert seen == ["InProgress"] * 3  # Pending -> InProgress at the first look, then it stays
    time.sleep(max(0.0, USUAL_MINUTES["instance_refresh"] * SCALE + 0.5 - (time.monotonic() - started)))
    assert status() == "Successful"


def test_the_timing_module_applies_after_the_patches_whose_states_it_delays():
    modules = [p.module for p in compat.all_patches()]
    assert modules[-1] == "timing" and set(modules[modules.index("timing"):]) == {"timing"}


def test_a_bad_scale_is_refused_and_off_leaves_the_default(monkeypatch):
    monkeypatch.delenv(delays.SCALE_ENV, raising=False)
    assert delays.seconds("nat_gateway", 3.0) == 3.0 and not delays.on()
    assert delays.seconds("rds_create_multi_az", environ={delays.SCALE_ENV: "6"}) == 90.0
    for bad in ("0", "-1", "fast"):
        with pytest.raises(ValueError, match="PROTEA_DELAY_SCALE.*positive number of seconds per AWS minute"):
            delays.scale({delays.SCALE_ENV: bad})
    with pytest.raises(KeyError):
        delays.seconds("no_such_operation")


# --- what AWS refuses while an operation is still in between ------------------------------------
def _https_listener(elb, lb: str, tg: str, cert: str) -> None:
    elb.create_listener(LoadBalancerArn=lb, Protocol="HTTPS", Port=443, Certificates=[{"CertificateArn": cert}],
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])


def _alb_and_pending_certificate(emu) -> tuple:
    ec2, elb, acm = emu.client("ec2"), emu.client("elbv2"), emu.client("acm")
    vpc, subnets = _network(ec2, 64)
    lb = elb.create_load_balancer(Name="web", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elb.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]["TargetGroupArn"]
    cert = acm.request_certificate(DomainName="shop.example.com", ValidationMethod="DNS")["CertificateArn"]
    return elb, lb, tg, cert


NEVER_ISSUED = {"MOTO_ACM_VALIDATION_WAIT": "3600"}


def test_a_listener_on_a_certificate_not_issued_yet_is_refused(emulator_factory):
    elb, lb, tg, cert = _alb_and_pending_certificate(emulator_factory(env=NEVER_ISSUED))
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        _https_listener(elb, lb, tg, cert)
    assert refused.value.response["Error"]["Code"] == "UnsupportedCertificate"
    assert cert in refused.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as unknown:
        _https_listener(elb, lb, tg, cert[:-4] + "0000")
    assert unknown.value.response["Error"]["Code"] == "CertificateNotFound"
    assert elb.describe_listeners(LoadBalancerArn=lb)["Listeners"] == []


def test_a_listener_on_an_issued_certificate_is_created(clean_emulator):
    elb, lb, tg, cert = _alb_and_pending_certificate(clean_emulator)
    time.sleep(3.2)  # the suite's ACM validation: 2 s
    _https_listener(elb, lb, tg, cert)
    assert [x["Port"] for x in elb.describe_listeners(LoadBalancerArn=lb)["Listeners"]] == [443]


def test_without_the_certificate_patch_moto_takes_a_pending_certificate(emulator_factory):
    emu = emulator_factory(env=NEVER_ISSUED, disable=["elbv2-listener-certificate-issued"])
    elb, lb, tg, cert = _alb_and_pending_certificate(emu)
    _https_listener(elb, lb, tg, cert)
    assert len(elb.describe_listeners(LoadBalancerArn=lb)["Listeners"]) == 1


def _instance(emu):
    """A running instance (moto's run at once: the refusal is shown on a terminated one here; in
    instance mode an instance is `pending` until its container answers, and refused the same way)."""
    ec2 = emu.client("ec2")
    instance = ec2.run_instances(ImageId=debian_ami_id("af-south-1"), MinCount=1, MaxCount=1,
                                 InstanceType="t3.micro")["Instances"][0]["InstanceId"]
    return ec2, instance


def test_an_image_of_a_stopped_instance_is_made_and_of_a_terminated_one_refused(clean_emulator, emulator_factory):
    ec2, instance = _instance(clean_emulator)
    ec2.stop_instances(InstanceIds=[instance])
    assert ec2.create_image(InstanceId=instance, Name="from-stopped")["ImageId"].startswith("ami-")
    ec2.terminate_instances(InstanceIds=[instance])
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        ec2.create_image(InstanceId=instance, Name="from-terminated")
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "not in state 'running' or 'stopping' or 'stopped'" in refused.value.response["Error"]["Message"]
    ec2, instance = _instance(emulator_factory(disable=["ec2-create-image-instance-state"]))
    ec2.terminate_instances(InstanceIds=[instance])
    assert ec2.create_image(InstanceId=instance, Name="moto-takes-it")["ImageId"].startswith("ami-")


def _launch(ec2) -> str:
    return ec2.run_instances(ImageId=debian_ami_id("af-south-1"), MinCount=1, MaxCount=1,
                             InstanceType="t3.micro")["Instances"][0]["InstanceId"]


def _state(ec2, instance: str) -> str:
    return ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]["State"]["Name"]


# An instance pending for 10 s. The address is allocated before the launch, so only the describe
# and the association fall in that window (a loaded CI machine took over 4 s for launch + allocate).
SLOW_BOOT_SCALE = 10.0
SLOW_BOOT = {delays.SCALE_ENV: str(SLOW_BOOT_SCALE)}


def test_an_elastic_ip_waits_for_a_booted_instance(emulator_factory):
    ec2 = emulator_factory(env=SLOW_BOOT).client("ec2")
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    instance = _launch(ec2)
    assert _state(ec2, instance) == "pending"
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        ec2.associate_address(AllocationId=eip, InstanceId=instance)
    assert refused.value.response["Error"]["Code"] == "IncorrectInstanceState"
    assert f"The pending instance '{instance}'" in refused.value.response["Error"]["Message"]
    _wait_running(ec2, instance, timeout=USUAL_MINUTES["ec2_instance"] * SLOW_BOOT_SCALE + 10)
    ec2.associate_address(AllocationId=eip, InstanceId=instance)
    assert ec2.describe_addresses(AllocationIds=[eip])["Addresses"][0]["InstanceId"] == instance


def test_without_the_patches_moto_runs_at_once_and_associates_a_pending_instance(emulator_factory):
    ec2 = emulator_factory(env=LAYER, disable=["timing-ec2-instance-pending"]).client("ec2")
    assert _state(ec2, _launch(ec2)) == "running"
    ec2 = emulator_factory(env=SLOW_BOOT, disable=["ec2-associate-address-instance-state"]).client("ec2")
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    instance = _launch(ec2)
    assert _state(ec2, instance) == "pending"
    ec2.associate_address(AllocationId=eip, InstanceId=instance)


def _endpoint_while_creating(emu) -> tuple[str, object, object]:
    """(status, endpoint) as described right after the create, and the create's own endpoint."""
    rds = emu.client("rds")
    created = rds.create_db_instance(DBInstanceIdentifier="ep", Engine="postgres", DBInstanceClass="db.t3.medium",
                                     AllocatedStorage=20, MasterUsername="u", MasterUserPassword="p" * 20)["DBInstance"]
    described = rds.describe_db_instances(DBInstanceIdentifier="ep")["DBInstances"][0]
    return described["DBInstanceStatus"], described.get("Endpoint"), created.get("Endpoint")


def test_a_database_has_no_endpoint_until_it_is_created(emulator_factory):
    emu = emulator_factory(env=LAYER)
    assert _endpoint_while_creating(emu) == ("creating", None, None)
    time.sleep(10 * SCALE + 0.5)
    ready = emu.client("rds").describe_db_instances(DBInstanceIdentifier="ep")["DBInstances"][0]
    assert ready["DBInstanceStatus"] == "available" and ready["Endpoint"]["Port"] == 5432


def test_without_the_endpoint_patch_moto_gives_a_creating_database_an_endpoint(emulator_factory):
    status, endpoint, created = _endpoint_while_creating(
        emulator_factory(env=LAYER, disable=["rds-no-endpoint-while-creating"]))
    assert status == "creating" and endpoint["Port"] == created["Port"] == 5432
