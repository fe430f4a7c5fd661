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

import pytest

from tests.localcloud.__main__ import ensure_ssh_key
from tests.localcloud.compat.ec2 import debian_ami_id
from tests.localcloud.emulator import REPO, Emulator

pytestmark = [pytest.mark.localcloud_instances, pytest.mark.containers, pytest.mark.emulator]

REGION = "af-south-1"
INSTANCE_PATCHES = ["instances-public-ip-loopback", "instances-pending-until-ssh", "instances-create-image-commit",
                    "instances-target-health-probe", "instances-rolling-refresh"]
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
        bastion = ec2.run_instances(ImageId=c.ami, MinCount=1, MaxCount=1, KeyName="admin", SubnetId=c.public,
                                    InstanceType="t3.micro")["Instances"][0]
        eip = ec2.allocate_address(Domain="vpc")
        ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=bastion["InstanceId"])
        host = ec2.run_instances(ImageId=c.ami, MinCount=1, MaxCount=1, KeyName="admin", SubnetId=c.private,
                                 UserData="#!/bin/sh\necho from-user-data >/root/user-data-ran\n")["Instances"][0]
        c.launch_states = (bastion["State"]["Name"], host["State"]["Name"])
        c.first_described = [c.instance(i["InstanceId"])["State"]["Name"] for i in (bastion, host)]
        c.bastion, c.host = c.wait_running(bastion["InstanceId"], host["InstanceId"])
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
    new = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, KeyName="admin", SubnetId=cloud.private)["Instances"][0]
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
        "ImageId": cloud.ami, "InstanceType": "t3.micro", "KeyName": "admin",
        "UserData": base64.b64encode(HTTP_USER_DATA.encode()).decode()})["LaunchTemplate"]["LaunchTemplateId"]
    name = f"protea-roll-{suffix}"
    asg.create_auto_scaling_group(AutoScalingGroupName=name, MinSize=2, MaxSize=4, DesiredCapacity=2,
                                  LaunchTemplate={"LaunchTemplateId": lt, "Version": "$Latest"},
                                  VPCZoneIdentifier=cloud.private, TargetGroupARNs=[tg])

    def healthy() -> set[str]:
        descs = elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
        return {d["Target"]["Id"] for d in descs if d["TargetHealth"]["State"] == "healthy"}

    before = wait_for("2 healthy", lambda: len(h := healthy()) == 2 and h, timeout=180)
    ec2.create_launch_template_version(LaunchTemplateId=lt, SourceVersion="1",
                                       LaunchTemplateData={"InstanceType": "t3.small"})
    asg.start_instance_refresh(AutoScalingGroupName=name, Preferences=prefs)
    need = 2 * prefs["MinHealthyPercentage"] // 100
    seen_counts = []
    deadline = time.monotonic() + 400
    while True:
        h = healthy()
        seen_counts.append(len(h))
        assert len(h) >= need, f"only {len(h)} healthy during the refresh (min {need}): {seen_counts}"
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
    db = rds.create_db_instance(DBInstanceIdentifier="protea-test-db", Engine="postgres", DBInstanceClass="db.t3.micro",
                                AllocatedStorage=20, MasterUsername="protea", MasterUserPassword="s3cret-Pass",
                                DBName="shop", DBSubnetGroupName="protea-db")["DBInstance"]
    address = db["Endpoint"]["Address"]
    fs = efs.create_file_system(CreationToken="protea-test-fs")["FileSystemId"]
    mt = efs.create_mount_target(FileSystemId=fs, SubnetId=cloud.private)
    wait_for("database container", lambda: cloud.emu.instances_state().get("databases", {}).get(
        "protea-test-db", {}).get("phase") == "ready", timeout=600)
    ids = [i["InstanceId"] for i in ec2.run_instances(ImageId=cloud.ami, MinCount=2, MaxCount=2, KeyName="admin",
                                                      SubnetId=cloud.private)["Instances"]]
    a, b = cloud.wait_running(*ids)
    # Database: the endpoint name resolves to the database container, which takes the master credentials.
    res = cloud.ssh(cloud.cfg, a["PrivateIpAddress"], f"getent hosts {address}; timeout 5 bash -c 'exec 3<>/dev/tcp/{address}/5432' && echo open")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split()[-1] == "open"
    db_ip = res.stdout.split()[0]
    assert ipaddress.ip_address(db_ip) in ipaddress.ip_network("10.231.128.0/24")
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
