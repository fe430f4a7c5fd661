"""Instance mode: instances are real podman containers (tests/localcloud/instances.py).

One instance-mode emulator for the module (VPC 10.231.0.0/16: a public and a private subnet, a
bastion with a public IP, a private host); everything is checked from outside: boto3 against the
emulator, ssh from the host, podman inspect/exec.
Select with ``-m localcloud_instances``.
"""
from __future__ import annotations

import base64
import ipaddress
import json
import os
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import botocore.exceptions
import pytest

from tests.localcloud.__main__ import ensure_ssh_key
from tests.localcloud.compat.ec2 import debian_ami_id
from tests.localcloud.emulator import REPO, Emulator

pytestmark = [pytest.mark.localcloud_instances, pytest.mark.containers, pytest.mark.emulator]

REGION = "af-south-1"
ACCOUNT = "123456789012"  # moto's default account
INSTANCE_PATCHES = ["instances-public-ip-loopback", "instances-pending-until-ssh", "instances-create-image-commit",
                    "instances-target-health-probe", "instances-rolling-refresh", "instances-security-groups",
                    "instances-rds-tls", "instances-rds-creating-until-reachable", "instances-backup-data"]
HTTP_USER_DATA = """#!/bin/sh
mkdir -p /srv/www && echo ok >/srv/www/health
exec python3 -m http.server 8080 --directory /srv/www
"""


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "CONTAINERS_CONF": str(REPO / "tests/containers/containers.conf")}
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check, env=env)


def wait_for(what: str, fn: Callable[[], Any], timeout: float = 180, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


class Cloud:
    def __init__(self, emu: Emulator, state: Path):
        self.emu, self.state = emu, state
        self.ec2 = emu.client("ec2")
        self.key = state / "ssh" / "id_ed25519"

    def instance(self, iid: str) -> dict[str, Any]:
        return self.ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]

    def wait_running(self, *ids: str) -> list[dict[str, Any]]:
        wait_for(f"{ids} running", lambda: all(self.instance(i)["State"]["Name"] == "running" for i in ids))
        return [self.instance(i) for i in ids]

    def ssh_config(self, bastion_ip: str) -> Path:
        known = self.state / "known_hosts"
        common = (f"  User admin\n  IdentityFile {self.key}\n  IdentitiesOnly yes\n"
                  f"  StrictHostKeyChecking accept-new\n  UserKnownHostsFile {known}\n  ConnectTimeout 10\n"
                  "  BatchMode yes\n  LogLevel ERROR\n")
        cfg = self.state / "ssh_config"
        cfg.write_text(f"Host bastion\n  HostName {bastion_ip}\n{common}\nHost 10.231.*\n  ProxyJump bastion\n{common}")
        return cfg

    def ssh(self, cfg: Path, host: str, command: str) -> subprocess.CompletedProcess:
        return subprocess.run(["ssh", "-F", str(cfg), host, command], capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    subprocess.run([str(REPO / "tests/containers/build-image")], check=True, capture_output=True,
                   env={**os.environ, "CONTAINERS_CONF": str(REPO / "tests/containers/containers.conf")})
    state = tmp_path_factory.mktemp("lc-instances")
    ensure_ssh_key(state)
    emu = Emulator(state, instances=True).start()
    try:
        c = Cloud(emu, state)
        ec2 = c.ec2
        vpc = ec2.create_vpc(CidrBlock="10.231.0.0/16")["Vpc"]["VpcId"]
        c.public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.231.0.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
        c.private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.231.128.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        ec2.associate_route_table(RouteTableId=rt, SubnetId=c.public)
        ec2.import_key_pair(KeyName="admin", PublicKeyMaterial=(state / "ssh" / "id_ed25519.pub").read_bytes())
        c.vpc, c.ami = vpc, debian_ami_id(REGION)
        # The platform's groups: every host below is filtered by them (compat instances-security-groups).
        c.sg = {k: ec2.create_security_group(GroupName=f"lc-{k}", Description=k, VpcId=vpc)["GroupId"]
                for k in ("alb", "bastion", "web", "db", "other")}

        def allow(group: str, port: int, **source: Any) -> None:
            ec2.authorize_security_group_ingress(GroupId=c.sg[group], IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, **source}])

        allow("bastion", 22, IpRanges=[{"CidrIp": "127.0.0.1/32"}])  # the admin range (protea_admin_cidrs)
        allow("web", 22, UserIdGroupPairs=[{"GroupId": c.sg["bastion"]}])
        allow("web", 8080, UserIdGroupPairs=[{"GroupId": c.sg["alb"]}])
        allow("other", 22, UserIdGroupPairs=[{"GroupId": c.sg["bastion"]}])
        for port in (5432, 3306):
            allow("db", port, UserIdGroupPairs=[{"GroupId": c.sg["web"]}])
        public_b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.231.1.0/24", AvailabilityZone=f"{REGION}b")["Subnet"]["SubnetId"]
        ec2.associate_route_table(RouteTableId=rt, SubnetId=public_b)
        # The ALB's group is what web hosts admit; its health checks come from the host (the gateways).
        c.emu.client("elbv2").create_load_balancer(Name="lc-alb", Subnets=[c.public, public_b],
                                                   SecurityGroups=[c.sg["alb"]], Scheme="internet-facing")
        bastion = ec2.run_instances(ImageId=c.ami, MinCount=1, MaxCount=1, KeyName="admin", SubnetId=c.public,
                                    InstanceType="t3.micro", SecurityGroupIds=[c.sg["bastion"]])["Instances"][0]
        host = ec2.run_instances(ImageId=c.ami, MinCount=1, MaxCount=1, KeyName="admin", SubnetId=c.private,
                                 SecurityGroupIds=[c.sg["web"]],
                                 UserData="#!/bin/sh\necho from-user-data >/root/user-data-ran\n")["Instances"][0]
        c.launch_states = (bastion["State"]["Name"], host["State"]["Name"])
        c.first_described = [c.instance(i["InstanceId"])["State"]["Name"] for i in (bastion, host)]
        # An Elastic IP for the still pending bastion: AWS refuses it (ec2-associate-address-instance-state).
        eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
        try:
            ec2.associate_address(AllocationId=eip, InstanceId=bastion["InstanceId"])
            c.early_association = "associated"
        except botocore.exceptions.ClientError as refused:
            c.early_association = refused.response["Error"]["Code"]
        _, c.host = c.wait_running(bastion["InstanceId"], host["InstanceId"])
        ec2.associate_address(AllocationId=eip, InstanceId=bastion["InstanceId"])
        c.bastion = c.instance(bastion["InstanceId"])
        # The address carries traffic a moment later (the reconciler follows the association).
        wait_for("the Elastic IP forwarded to the bastion", lambda: c.emu.instances_state()["instances"][
            bastion["InstanceId"]]["public_ip"] == c.bastion["PublicIpAddress"])
        c.cfg = c.ssh_config(c.bastion["PublicIpAddress"])
        yield c
    finally:
        cid = None
        try:
            from tests.localcloud.instances import cloud_id

            cid = cloud_id(state)
        finally:
            emu.stop()
        leftovers = podman("ps", "-a", "-q", "--filter", f"label=protea-lc.cloud={cid}").stdout.split()
        assert not leftovers, f"stop left containers behind: {leftovers}"


def test_instances_become_containers_at_their_addresses(cloud: Cloud) -> None:
    assert cloud.launch_states == ("pending", "pending")
    assert cloud.first_described == ["pending", "pending"], "running only once sshd answers"
    assert cloud.early_association == "IncorrectInstanceState", "an Elastic IP only once it runs"
    pub = cloud.bastion["PublicIpAddress"]
    assert ipaddress.ip_address(pub) in ipaddress.ip_network("127.100.0.0/16")
    for inst in (cloud.bastion, cloud.host):
        info = json.loads(podman("inspect", f"protea-lc-{inst['InstanceId']}").stdout)[0]
        assert info["State"]["Running"]
        nets = info["NetworkSettings"]["Networks"]
        assert nets[f"protea-lc-{inst['SubnetId']}"]["IPAddress"] == inst["PrivateIpAddress"]
        assert int(inst["PrivateIpAddress"].rsplit(".", 1)[1]) >= 4, "AWS reserves .0-.3"
        assert info["Config"]["Hostname"] == inst["PrivateDnsName"]
    net = json.loads(podman("network", "inspect", f"protea-lc-{cloud.private}").stdout)[0]
    assert net["internal"] is True and net["subnets"][0]["subnet"] == "10.231.128.0/24"
    state = cloud.emu.instances_state()
    assert state["instances"][cloud.bastion["InstanceId"]]["public_ip"] == pub
    assert state["instances"][cloud.host["InstanceId"]]["private_ip"] == cloud.host["PrivateIpAddress"]


def test_bastion_answers_ssh_at_its_public_ip(cloud: Cloud) -> None:
    res = cloud.ssh(cloud.cfg, "bastion", "id -un; sudo -n id -u; cat ~/.ssh/authorized_keys")
    assert res.returncode == 0, res.stderr
    user, uid, key = res.stdout.splitlines()[:3]
    assert (user, uid) == ("admin", "0")
    assert key.split()[:2] == (cloud.key.with_suffix(".pub").read_text().split()[:2])


def test_private_host_only_through_the_bastion(cloud: Cloud) -> None:
    ip = cloud.host["PrivateIpAddress"]
    direct = subprocess.run(["ssh", "-i", str(cloud.key), "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
                             "-o", "StrictHostKeyChecking=no", "-o", f"UserKnownHostsFile={os.devnull}",
                             f"admin@{ip}", "true"], capture_output=True, text=True, timeout=60)
    assert direct.returncode == 255 and "refused" in direct.stderr, direct.stderr
    via = cloud.ssh(cloud.cfg, ip, "hostname -f; sudo -n cat /root/user-data-ran")
    assert via.returncode == 0, via.stderr
    assert via.stdout.split() == [cloud.host["PrivateDnsName"], "from-user-data"]


def test_private_host_installs_packages_through_the_proxy(cloud: Cloud) -> None:
    res = cloud.ssh(cloud.cfg, cloud.host["PrivateIpAddress"],
                    "cat /etc/apt/apt.conf.d/00localcloud-proxy; sudo -n apt-get update -qq && "
                    "apt-cache policy sudo | grep -c Installed:")
    assert res.returncode == 0, res.stderr
    assert "apt-proxy.localcloud.internal:3142" in res.stdout


def test_create_image_commits_and_new_instances_start_from_it(cloud: Cloud) -> None:
    ec2 = cloud.ec2
    podman("exec", f"protea-lc-{cloud.host['InstanceId']}", "sh", "-c", "echo baked >/etc/protea-baked")
    ami = ec2.create_image(InstanceId=cloud.host["InstanceId"], Name="protea-test-bake")["ImageId"]
    assert podman("image", "exists", f"localhost/protea-ami:{ami}", check=False).returncode == 0
    new = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, KeyName="admin", SubnetId=cloud.private,
                            SecurityGroupIds=[cloud.sg["web"]])["Instances"][0]
    (inst,) = cloud.wait_running(new["InstanceId"])
    res = cloud.ssh(cloud.cfg, inst["PrivateIpAddress"], "cat /etc/protea-baked; hostname -f")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["baked", inst["PrivateDnsName"]]
    image = json.loads(podman("inspect", f"protea-lc-{new['InstanceId']}").stdout)[0]["ImageName"]
    assert image == f"localhost/protea-ami:{ami}"
    ec2.terminate_instances(InstanceIds=[new["InstanceId"]])
    wait_for("container removed", lambda: podman("container", "exists", f"protea-lc-{new['InstanceId']}",
                                                 check=False).returncode != 0, timeout=30)
    assert new["InstanceId"] not in cloud.emu.instances_state()["instances"]


def _target_group(cloud: Cloud, name: str) -> str:
    elbv2 = cloud.emu.client("elbv2")
    return elbv2.create_target_group(Name=name, Protocol="HTTP", Port=8080, VpcId=cloud.vpc, HealthCheckPath="/health",
                                     Matcher={"HttpCode": "200"})["TargetGroups"][0]["TargetGroupArn"]


def test_target_health_follows_the_http_check(cloud: Cloud) -> None:
    elbv2 = cloud.emu.client("elbv2")
    tg = _target_group(cloud, "protea-health")
    iid = cloud.host["InstanceId"]
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": iid}])

    def health() -> dict[str, Any]:
        return elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"][0]["TargetHealth"]

    assert health()["State"] == "unhealthy"  # nothing listens on 8080
    container = f"protea-lc-{iid}"
    podman("exec", container, "sh", "-c", "mkdir -p /srv/h && systemd-run --unit protea-test-http "
           "python3 -m http.server 8080 --directory /srv/h")
    got = wait_for("404 seen", lambda: (h := health())["State"] == "unhealthy"
                   and h.get("Reason") == "Target.ResponseCodeMismatch" and h, timeout=30)
    assert "404" in got["Description"]
    podman("exec", container, "sh", "-c", "echo ok >/srv/h/health")
    wait_for("healthy", lambda: health()["State"] == "healthy", timeout=30)
    podman("exec", container, "systemctl", "stop", "protea-test-http")
    wait_for("unhealthy again", lambda: health()["State"] == "unhealthy", timeout=30)


@pytest.mark.parametrize("prefs", [{"MinHealthyPercentage": 50, "MaxHealthyPercentage": 100},
                                   {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 200}],
                         ids=["terminate-first", "launch-first"])
def test_rolling_refresh_keeps_min_healthy(cloud: Cloud, prefs: dict[str, int]) -> None:
    ec2, asg, elbv2 = cloud.ec2, cloud.emu.client("autoscaling"), cloud.emu.client("elbv2")
    suffix = str(prefs["MaxHealthyPercentage"])
    tg = _target_group(cloud, f"protea-roll-{suffix}")
    lt = ec2.create_launch_template(LaunchTemplateName=f"protea-roll-{suffix}", LaunchTemplateData={
        "ImageId": cloud.ami, "InstanceType": "t3.micro", "KeyName": "admin", "SecurityGroupIds": [cloud.sg["web"]],
        "UserData": base64.b64encode(HTTP_USER_DATA.encode()).decode()})["LaunchTemplate"]["LaunchTemplateId"]
    name = f"protea-roll-{suffix}"
    asg.create_auto_scaling_group(AutoScalingGroupName=name, MinSize=2, MaxSize=4, DesiredCapacity=2,
                                  LaunchTemplate={"LaunchTemplateId": lt, "Version": "$Latest"},
                                  VPCZoneIdentifier=cloud.private, TargetGroupARNs=[tg])

    def healthy() -> set[str]:
        descs = elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
        return {d["Target"]["Id"] for d in descs if d["TargetHealth"]["State"] == "healthy"}

    before = wait_for("2 healthy", lambda: len(h := healthy()) == 2 and h, timeout=180)
    # The new configuration as a second template named by the refresh's DesiredConfiguration: moto ignores
    # CreateLaunchTemplateVersion's SourceVersion and stores a new version's UserData so that launching from
    # it fails (launch_templates.py asserts Base64EncodedString), and the security group must carry over.
    lt2 = ec2.create_launch_template(LaunchTemplateName=f"protea-roll-{suffix}-small", LaunchTemplateData={
        "ImageId": cloud.ami, "InstanceType": "t3.small", "KeyName": "admin", "SecurityGroupIds": [cloud.sg["web"]],
        "UserData": base64.b64encode(HTTP_USER_DATA.encode()).decode()})["LaunchTemplate"]["LaunchTemplateId"]
    asg.start_instance_refresh(AutoScalingGroupName=name, Preferences=prefs, DesiredConfiguration={
        "LaunchTemplate": {"LaunchTemplateId": lt2, "Version": "$Latest"}})
    need = 2 * prefs["MinHealthyPercentage"] // 100
    seen_counts = []
    deadline = time.monotonic() + 400
    while True:
        h = healthy()
        seen_counts.append(len(h))
        assert len(h) >= need, (f"only {len(h)} healthy during the refresh (min {need}): {seen_counts} "
                                f"{elbv2.describe_target_health(TargetGroupArn=tg)['TargetHealthDescriptions']}")
        status = asg.describe_instance_refreshes(AutoScalingGroupName=name)["InstanceRefreshes"][0]["Status"]
        if status == "Successful":
            break
        assert status in ("Pending", "InProgress"), status
        assert time.monotonic() < deadline, f"refresh still {status}"
        time.sleep(1)
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    now = {i["InstanceId"] for i in group["Instances"]}
    assert len(now) == 2 and not now & before, "every instance replaced"
    assert healthy() >= now
    assert {cloud.instance(i)["InstanceType"] for i in now} == {"t3.small"}
    asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)


def test_instance_patches_change_nothing_without_instance_mode(emulator_factory: Callable[..., Emulator]) -> None:
    # Without --instances these patches are not applied at all; moto's own behaviour shows.
    emu = emulator_factory(disable=INSTANCE_PATCHES)
    ec2 = emu.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.232.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.232.0.0/24")["Subnet"]["SubnetId"]
    inst = ec2.run_instances(
        ImageId=debian_ami_id(REGION), MinCount=1, MaxCount=1,
        NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "AssociatePublicIpAddress": True}])["Instances"][0]
    # "instances-pending-until-ssh": moto says running at once.
    described = ec2.describe_instances(InstanceIds=[inst["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert described["State"]["Name"] == "running"
    # "instances-public-ip-loopback": moto's 54.214.x.x, not 127.100.x.x.
    assert ipaddress.ip_address(inst["PublicIpAddress"]) not in ipaddress.ip_network("127.100.0.0/16")
    # "instances-create-image-commit": an AMI, no image.
    ami = ec2.create_image(InstanceId=inst["InstanceId"], Name="no-commit")["ImageId"]
    assert podman("image", "exists", f"localhost/protea-ami:{ami}", check=False).returncode != 0
    # "instances-target-health-probe": healthy though nothing listens.
    elbv2 = emu.client("elbv2")
    tg = elbv2.create_target_group(Name="nohealth", Protocol="HTTP", Port=8080, VpcId=vpc)["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": inst["InstanceId"]}])
    assert elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"][0]["TargetHealth"]["State"] == "healthy"
    # "instances-rolling-refresh": the step-per-call refresh of compat autoscaling.
    asg = emu.client("autoscaling")
    ec2.create_launch_template(LaunchTemplateName="norefresh", LaunchTemplateData={"ImageId": debian_ami_id(REGION)})
    asg.create_auto_scaling_group(AutoScalingGroupName="norefresh", MinSize=1, MaxSize=1, DesiredCapacity=1,
                                  LaunchTemplate={"LaunchTemplateName": "norefresh"}, VPCZoneIdentifier=subnet)
    asg.start_instance_refresh(AutoScalingGroupName="norefresh")
    statuses = [asg.describe_instance_refreshes(AutoScalingGroupName="norefresh")["InstanceRefreshes"][0]["Status"]
                for _ in range(2)]
    assert statuses == ["InProgress", "Successful"]
    # "instances-rds-creating-until-reachable": a new DB instance is available at once.
    rds = emu.client("rds")
    rds.create_db_subnet_group(DBSubnetGroupName="noreach", DBSubnetGroupDescription="db", SubnetIds=[subnet])
    db = rds.create_db_instance(DBInstanceIdentifier="noreach", Engine="postgres", DBInstanceClass="db.t3.micro",
                                AllocatedStorage=20, MasterUsername="protea", MasterUserPassword="s3cret-Pass",
                                DBSubnetGroupName="noreach")["DBInstance"]
    assert db["DBInstanceStatus"] == "available"
    # "instances-backup-data": a DB snapshot is a record; nothing of the database is kept.
    rds.create_db_snapshot(DBInstanceIdentifier="noreach", DBSnapshotIdentifier="nodata")
    images = podman("images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    assert "-nodata" not in images, images


SMTP_CLIENT = r"""
import smtplib, ssl, sys
user, password = sys.stdin.read().split()
ctx = ssl.create_default_context()  # the system store: the local cloud put the double's CA there
with smtplib.SMTP("email-smtp.af-south-1.amazonaws.com", 587, timeout=20) as s:
    s.starttls(context=ctx)
    try:
        s.login(user, password)
    except smtplib.SMTPAuthenticationError as e:
        print("auth-failed", e.smtp_code)
        sys.exit(0)
    s.sendmail("app@shopper.example.com", ["ops@shopper.example.com"], "Subject: t\r\n\r\nfrom the instance\r\n")
    print("sent")
"""


def test_services_resolve_inside_instances(cloud: Cloud) -> None:
    """RDS endpoint -> a real database, SES SMTP -> the double, EFS -> a shared volume, agent package served."""
    ec2, rds, efs, iam = cloud.ec2, cloud.emu.client("rds"), cloud.emu.client("efs"), cloud.emu.client("iam")
    rds.create_db_subnet_group(DBSubnetGroupName="protea-db", DBSubnetGroupDescription="db",
                               SubnetIds=[cloud.private])
    rds.create_db_instance(DBInstanceIdentifier="protea-test-db", Engine="postgres", DBInstanceClass="db.t3.micro",
                           AllocatedStorage=20, MasterUsername="protea", MasterUserPassword="s3cret-Pass",
                           DBName="shop", DBSubnetGroupName="protea-db", VpcSecurityGroupIds=[cloud.sg["db"]])
    fs = efs.create_file_system(CreationToken="protea-test-fs")["FileSystemId"]
    mt = efs.create_mount_target(FileSystemId=fs, SubnetId=cloud.private)
    wait_for("database container", lambda: cloud.emu.instances_state().get("databases", {}).get(
        "protea-test-db", {}).get("phase") == "ready", timeout=600)
    # The endpoint exists once the instance is available (none while creating, as on AWS).
    db = wait_for("database available", lambda: (d := rds.describe_db_instances(
        DBInstanceIdentifier="protea-test-db")["DBInstances"][0])["DBInstanceStatus"] == "available" and d, timeout=600)
    address = db["Endpoint"]["Address"]
    ids = [i["InstanceId"] for i in ec2.run_instances(ImageId=cloud.ami, MinCount=2, MaxCount=2, KeyName="admin",
                                                      SubnetId=cloud.private,
                                                      SecurityGroupIds=[cloud.sg["web"]])["Instances"]]
    a, b = cloud.wait_running(*ids)
    # Database: the endpoint name resolves to the database container, which takes the master credentials.
    res = cloud.ssh(cloud.cfg, a["PrivateIpAddress"], f"getent hosts {address}; timeout 5 bash -c 'exec 3<>/dev/tcp/{address}/5432' && echo open")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split()[-1] == "open"
    db_ip = res.stdout.split()[0]
    assert ipaddress.ip_address(db_ip) in ipaddress.ip_network("10.231.128.0/24")
    # An instance that existed before the database (the bastion) resolves it as well (the VPC's DNS).
    early = wait_for("the endpoint in the bastion's resolver", lambda: cloud.ssh(
        cloud.cfg, "bastion", f"getent hosts {address} {fs}.efs.{REGION}.amazonaws.com").stdout.split(), timeout=20)
    assert address in early and f"{fs}.efs.{REGION}.amazonaws.com" in early, early
    sql = subprocess.run(["podman", "exec", "-i", "protea-lc-db-protea-test-db", "sh", "-c",
                          "cat >/tmp/pgpass && chmod 600 /tmp/pgpass && PGPASSFILE=/tmp/pgpass "
                          f"psql -h {db_ip} -U protea -d shop -tAc 'select current_user, current_database()'"],
                         input="*:*:*:protea:s3cret-Pass\n", capture_output=True, text=True,
                         env={**os.environ, "CONTAINERS_CONF": str(REPO / "tests/containers/containers.conf")})
    assert sql.stdout.strip() == "protea|shop", sql.stderr
    # EFS: the DNS name resolves to the mount target, the volume is shared between instances.
    res = cloud.ssh(cloud.cfg, a["PrivateIpAddress"], f"getent hosts {fs}.efs.{REGION}.amazonaws.com; "
                    "echo from-a | sudo -n tee /mnt/efs/shared.txt >/dev/null")
    assert res.returncode == 0 and res.stdout.split()[0] == mt["IpAddress"], res.stdout + res.stderr
    res = cloud.ssh(cloud.cfg, b["PrivateIpAddress"], "cat /mnt/efs/shared.txt /srv/shared/shared.txt")
    assert res.stdout.split() == ["from-a", "from-a"], res.stderr
    # CloudWatch agent package double.
    url = cloud.emu.instances_state()["doubles"]["cloudwatch_agent"]["url"]
    res = cloud.ssh(cloud.cfg, a["PrivateIpAddress"], f"curl -fsS {url} | head -c 8")
    assert res.stdout == "!<arch>\n", res.stderr
    # SES SMTP double: an IAM access key's derived SMTP password authenticates, another does not.
    from tests.doubles.ses_smtp_double import ses_smtp_password

    iam.create_user(UserName="protea-ses")
    key = iam.create_access_key(UserName="protea-ses")["AccessKey"]
    script = f"python3 -c {shlex.quote(SMTP_CLIENT)}"
    good = subprocess.run(["ssh", "-F", str(cloud.cfg), a["PrivateIpAddress"], script], capture_output=True, text=True,
                          input=f"{key['AccessKeyId']} {ses_smtp_password(key['SecretAccessKey'], REGION)}", timeout=60)
    bad = subprocess.run(["ssh", "-F", str(cloud.cfg), a["PrivateIpAddress"], script], capture_output=True, text=True,
                         input=f"{key['AccessKeyId']} {ses_smtp_password('wrong', REGION)}", timeout=60)
    assert (good.stdout.strip(), bad.stdout.strip()) == ("sent", "auth-failed 535"), good.stderr + bad.stderr
    store = Path(cloud.emu.instances_state()["doubles"]["ses_smtp"]["store"])
    (msg,) = [json.loads(line) for line in store.read_text().splitlines()]
    assert msg["auth_user"] == key["AccessKeyId"] and msg["tls"] and "from the instance" in msg["data"]
    ec2.terminate_instances(InstanceIds=ids)


# --- security groups as packet filters, RDS TLS (compat instances-security-groups, instances-rds-tls) -------
def _db(cloud: Cloud, ident: str, engine: str, version: str, family: str, param: str) -> dict[str, Any]:
    """A DB instance in the db group whose parameter group forces TLS; waits for its container."""
    rds = cloud.emu.client("rds")
    if "protea-db-tls" not in {g["DBSubnetGroupName"] for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]}:
        rds.create_db_subnet_group(DBSubnetGroupName="protea-db-tls", DBSubnetGroupDescription="db",
                                   SubnetIds=[cloud.private])
    rds.create_db_parameter_group(DBParameterGroupName=ident, DBParameterGroupFamily=family, Description="tls")
    rds.modify_db_parameter_group(DBParameterGroupName=ident, Parameters=[
        {"ParameterName": param, "ParameterValue": "1", "ApplyMethod": "immediate"}])
    created = rds.create_db_instance(DBInstanceIdentifier=ident, Engine=engine, EngineVersion=version,
                                     DBInstanceClass="db.t3.micro", AllocatedStorage=20, MasterUsername="protea",
                                     MasterUserPassword="s3cret-Pass", DBName="shop", DBSubnetGroupName="protea-db-tls",
                                     DBParameterGroupName=ident, VpcSecurityGroupIds=[cloud.sg["db"]])["DBInstance"]
    # Patch instances-rds-creating-until-reachable: `available` only once the VPC's instances reach it.
    wait_for(f"{ident} available", lambda: rds.describe_db_instances(DBInstanceIdentifier=ident)[
        "DBInstances"][0]["DBInstanceStatus"] == "available", timeout=900)
    # AWS gives the instance its endpoint once it is created, not in CreateDBInstance's answer.
    db = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
    phase = cloud.emu.instances_state().get("databases", {}).get(ident, {}).get("phase")
    resolved = cloud.ssh(cloud.cfg, cloud.host["PrivateIpAddress"], f"getent hosts {db['Endpoint']['Address']}")
    state = wait_for(f"{ident} container", lambda: (d := cloud.emu.instances_state().get("databases", {}).get(
        ident, {})).get("phase") == "ready" and d, timeout=900)
    ip = next(i for i in state["ips"] if ipaddress.ip_address(i) in ipaddress.ip_network("10.231.128.0/24"))
    return {"id": ident, "address": db["Endpoint"]["Address"], "port": db["Endpoint"]["Port"], "ip": ip,
            "container": state["container"], "status_at_create": created["DBInstanceStatus"],
            "endpoint_at_create": created.get("Endpoint"),
            "phase_when_available": phase, "resolved_when_available": resolved.stdout.split()[:1]}


@pytest.fixture(scope="module")
def pg(cloud: Cloud) -> dict[str, Any]:
    return _db(cloud, "protea-pg-tls", "postgres", "16.4", "postgres16", "rds.force_ssl")


@pytest.fixture(scope="module")
def other_host(cloud: Cloud) -> dict[str, Any]:
    """A private host in a group the db group does not admit."""
    inst = cloud.ec2.run_instances(ImageId=cloud.ami, MinCount=1, MaxCount=1, KeyName="admin", SubnetId=cloud.private,
                                   SecurityGroupIds=[cloud.sg["other"]])["Instances"][0]
    return cloud.wait_running(inst["InstanceId"])[0]


def _tcp(cloud: Cloud, src: str, ip: str, port: int) -> str:
    res = cloud.ssh(cloud.cfg, src, f"timeout 3 bash -c 'exec 3<>/dev/tcp/{ip}/{port}' 2>/dev/null && echo open || echo closed")
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_a_database_is_available_only_once_the_vpcs_instances_reach_it(cloud: Cloud, pg: dict[str, Any]) -> None:
    """moto says `available` at once, while the container is still built or booting and the hosts
    cannot resolve the endpoint yet (a play through the bastion then fails to connect)."""
    assert pg["status_at_create"] == "creating"
    assert pg["endpoint_at_create"] is None, "no endpoint while creating (rds-no-endpoint-while-creating)"
    assert pg["phase_when_available"] == "ready"
    assert pg["resolved_when_available"] == [pg["ip"]]


def test_database_admits_only_the_groups_its_rules_name(cloud: Cloud, pg: dict[str, Any],
                                                        other_host: dict[str, Any]) -> None:
    web, other = cloud.host["PrivateIpAddress"], other_host["PrivateIpAddress"]
    assert pg["port"] == 5432
    assert _tcp(cloud, web, pg["ip"], 5432) == "open"
    assert _tcp(cloud, other, pg["ip"], 5432) == "closed", "a host in a group the db group does not admit"
    # The web group's rule admits web hosts only on the DB port.
    assert _tcp(cloud, other, web, 8080) == "closed"


def test_revoking_the_rule_cuts_new_connections(cloud: Cloud, pg: dict[str, Any]) -> None:
    web = cloud.host["PrivateIpAddress"]
    perm = {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": cloud.sg["web"]}]}
    cloud.ec2.revoke_security_group_ingress(GroupId=cloud.sg["db"], IpPermissions=[perm])
    try:
        t0 = time.monotonic()
        wait_for("connection refused after revoke", lambda: _tcp(cloud, web, pg["ip"], 5432) == "closed", timeout=20)
        assert time.monotonic() - t0 < 20
    finally:
        cloud.ec2.authorize_security_group_ingress(GroupId=cloud.sg["db"], IpPermissions=[perm])
    wait_for("admitted again", lambda: _tcp(cloud, web, pg["ip"], 5432) == "open", timeout=20)


def test_egress_rule_removal_blocks_outbound(cloud: Cloud, other_host: dict[str, Any]) -> None:
    other = other_host["PrivateIpAddress"]
    proxy = "10.231.128.2"  # the package proxy: stands in for NAT gateway + Debian mirror (port 80)
    assert _tcp(cloud, other, proxy, 3142) == "open", "default egress (all to 0.0.0.0/0) reaches the package mirror"
    everything = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    cloud.ec2.revoke_security_group_egress(GroupId=cloud.sg["other"], IpPermissions=[everything])
    try:
        wait_for("egress blocked", lambda: _tcp(cloud, other, proxy, 3142) == "closed", timeout=20)
    finally:
        cloud.ec2.authorize_security_group_egress(GroupId=cloud.sg["other"], IpPermissions=[everything])
    wait_for("egress again", lambda: _tcp(cloud, other, proxy, 3142) == "open", timeout=20)


def _in_db(db: dict[str, Any], script: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "CONTAINERS_CONF": str(REPO / "tests/containers/containers.conf")}
    return subprocess.run(["podman", "exec", "-i", db["container"], "bash", "-c", script], input=stdin,
                          capture_output=True, text=True, env=env, timeout=60)


def _bundle_into(cloud: Cloud, db: dict[str, Any]) -> None:
    bundle = Path(cloud.emu.instances_state()["doubles"]["rds_ca"]["bundle"]).read_text()
    assert _in_db(db, "cat >/tmp/rds-bundle.pem", bundle).returncode == 0


SSL_PROBE = r"""
import socket, ssl, struct, sys
host, ip, cafile = sys.argv[1:4]
ctx = ssl.create_default_context(cafile=cafile)
with socket.create_connection((ip, 5432), timeout=5) as s:
    s.sendall(struct.pack("!ii", 8, 80877103))  # PostgreSQL SSLRequest
    assert s.recv(1) == b"S"
    try:
        with ctx.wrap_socket(s, server_hostname=host) as t:
            print("verified", t.version())
    except ssl.SSLCertVerificationError as e:
        print("refused", e.verify_message)
"""


def test_postgres_refuses_plaintext_and_verifies_with_the_bundle(cloud: Cloud, pg: dict[str, Any]) -> None:
    _bundle_into(cloud, pg)
    conn = f"host={pg['address']} hostaddr={pg['ip']} port={pg['port']} user=protea dbname=shop"
    login = "read -r PGPASSWORD; export PGPASSWORD; "
    plain = _in_db(pg, login + f"psql '{conn} sslmode=disable' -tAc 'select 1'", "s3cret-Pass\n")
    assert plain.returncode != 0 and "no encryption" in plain.stderr, plain.stdout + plain.stderr
    tls = _in_db(pg, login + f"psql '{conn} sslmode=verify-full sslrootcert=/tmp/rds-bundle.pem' -tAc "
                 "'select ssl from pg_stat_ssl where pid = pg_backend_pid()'", "s3cret-Pass\n")
    assert tls.returncode == 0 and tls.stdout.strip() == "t", tls.stderr
    # Instances have the bundle at the well-known path; the certificate names the endpoint, nothing else.
    state = cloud.emu.instances_state()["doubles"]["rds_ca"]
    script = f"python3 -c {shlex.quote(SSL_PROBE)}"
    ok = cloud.ssh(cloud.cfg, cloud.host["PrivateIpAddress"], f"{script} {pg['address']} {pg['ip']} {state['instance_path']}")
    bad = cloud.ssh(cloud.cfg, cloud.host["PrivateIpAddress"], f"{script} wrong.example.com {pg['ip']} {state['instance_path']}")
    assert ok.stdout.startswith("verified TLS"), ok.stdout + ok.stderr
    assert bad.stdout.startswith("refused"), bad.stdout + bad.stderr


def test_mariadb_listens_on_3306_and_requires_secure_transport(cloud: Cloud) -> None:
    db = _db(cloud, "protea-maria-tls", "mariadb", "10.11.8", "mariadb10.11", "require_secure_transport")
    assert db["port"] == 3306
    _bundle_into(cloud, db)
    login = "read -r MYSQL_PWD; export MYSQL_PWD; "
    base = f"mariadb -h {db['address']} -P 3306 -u protea shop"
    plain = _in_db(db, login + f"{base} --skip-ssl -e 'select 1'", "s3cret-Pass\n")
    # MariaDB 10.11 answers a plaintext login under require_secure_transport with 1045 (access denied);
    # the same credentials over TLS below succeed, so it is the transport that is refused.
    assert plain.returncode != 0 and ("insecure transport" in plain.stderr or "ERROR 1045" in plain.stderr), \
        plain.stdout + plain.stderr
    tls = _in_db(db, login + f"{base} --ssl-ca=/tmp/rds-bundle.pem --ssl-verify-server-cert -NBe "
                 "\"show session status like 'Ssl_version'\"", "s3cret-Pass\n")
    assert tls.returncode == 0 and "TLS" in tls.stdout, tls.stdout + tls.stderr


# --- instance metadata service and the AWS API endpoints, seen from inside an instance -----------
@pytest.fixture(scope="module")
def role_host(cloud: Cloud) -> dict[str, Any]:
    """A private host with an instance role that may read one parameter; IMDSv2 required, tags on."""
    iam, ssm = cloud.emu.client("iam"), cloud.emu.client("ssm")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                      "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="lc-reader", AssumeRolePolicyDocument=json.dumps(trust))
    iam.create_instance_profile(InstanceProfileName="lc-reader")
    iam.add_role_to_instance_profile(InstanceProfileName="lc-reader", RoleName="lc-reader")
    # The local cloud authorizes role sessions like AWS: without this policy the read below is refused.
    allow_one = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "ssm:GetParameter",
        "Resource": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/lc/readable"}]}
    iam.put_role_policy(RoleName="lc-reader", PolicyName="read-one", PolicyDocument=json.dumps(allow_one))
    ssm.put_parameter(Name="/lc/readable", Value="the-value-42", Type="SecureString")
    ssm.put_parameter(Name="/lc/other", Value="not-yours", Type="SecureString")
    inst = cloud.ec2.run_instances(
        ImageId=cloud.ami, MinCount=1, MaxCount=1, KeyName="admin", SubnetId=cloud.private,
        SecurityGroupIds=[cloud.sg["other"]], IamInstanceProfile={"Name": "lc-reader"},
        MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled", "InstanceMetadataTags": "enabled"},
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Environment", "Value": "lc-test"}]}],
    )["Instances"][0]
    return cloud.wait_running(inst["InstanceId"])[0]


IMDS = "http://169.254.169.254/latest"
TOKEN = f"$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' {IMDS}/api/token)"


def test_imds_requires_a_token_and_knows_the_instance(cloud: Cloud, role_host: dict[str, Any]) -> None:
    ip = role_host["PrivateIpAddress"]
    res = cloud.ssh(cloud.cfg, ip, f"curl -s -o /dev/null -w '%{{http_code}}\\n' {IMDS}/meta-data/instance-id; "
                                   f"T={TOKEN}; for p in instance-id placement/region tags/instance/Environment "
                                   f"iam/security-credentials/; do curl -sf -H \"X-aws-ec2-metadata-token: $T\" "
                                   f"{IMDS}/meta-data/$p; echo; done")
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.split()) == 5, res.stdout + res.stderr
    v1, iid, region, env, role = res.stdout.split()
    assert v1 == "401", "HttpTokens=required: IMDSv1 is refused"
    assert (iid, region, env, role) == (role_host["InstanceId"], REGION, "lc-test", "lc-reader")
    # Another instance (no profile, tags not enabled, IMDSv1 allowed) gets its own answers.
    other = cloud.ssh(cloud.cfg, cloud.host["PrivateIpAddress"],
                      f"curl -sf {IMDS}/meta-data/instance-id; echo; "
                      f"curl -s -o /dev/null -w '%{{http_code}} ' {IMDS}/meta-data/tags/instance/Environment; "
                      f"curl -s -o /dev/null -w '%{{http_code}}' {IMDS}/meta-data/iam/security-credentials/")
    assert other.stdout.split() == [cloud.host["InstanceId"], "404", "404"], other.stdout + other.stderr


def test_instance_role_credentials_reach_ssm_over_verified_tls(cloud: Cloud, role_host: dict[str, Any]) -> None:
    ip = role_host["PrivateIpAddress"]
    script = ("import boto3; c = boto3.client('ssm', region_name='af-south-1'); "
              "print(c.get_parameter(Name='/lc/readable', WithDecryption=True)['Parameter']['Value']); "
              "print(boto3.client('sts', region_name='af-south-1').get_caller_identity()['Arn'])\n"
              "try: c.get_parameter(Name='/lc/other')\n"
              "except c.exceptions.ClientError as e: print(e.response['Error']['Code'])")
    res = cloud.ssh(cloud.cfg, ip, "sudo -n sh -c 'apt-get update -qq && apt-get install -y -qq python3-boto3' >/dev/null 2>&1; "
                                   f"python3 -c {shlex.quote(script)}")
    assert res.returncode == 0, res.stdout + res.stderr
    value, arn, other = res.stdout.split()
    assert value == "the-value-42"
    assert other == "AccessDeniedException", "the role's policy names one parameter only"
    assert arn.endswith(f":assumed-role/lc-reader/{role_host['InstanceId']}"), arn
    # The API endpoint follows the egress rules (NAT: internet 443); IMDS never does.
    everything = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    cloud.ec2.revoke_security_group_egress(GroupId=cloud.sg["other"], IpPermissions=[everything])
    try:
        wait_for("egress blocked", lambda: _tcp(cloud, ip, "10.231.128.1", 443) == "closed", timeout=20)
        res = cloud.ssh(cloud.cfg, ip, f"curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' {IMDS}/api/token "
                                       ">/dev/null && echo imds-ok")
        assert res.stdout.strip() == "imds-ok", res.stderr
    finally:
        cloud.ec2.authorize_security_group_egress(GroupId=cloud.sg["other"], IpPermissions=[everything])
