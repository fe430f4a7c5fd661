"""Web and edge tier, compute side (roles/alb, roles/asg via playbooks/edge.yml --tags alb,asg)
against the emulator: converge, converge again (no change), --check (no change) before any image
is baked (the group waits with no instances), converge after a bake (the group launches its first
instances from the baked image, no refresh), then a launch template change (one new version, one
rolling instance refresh), and every promised property read back through boto3. Bad capacity/health-check inputs stop the run in preflight
before any AWS call.

Setup converges the real network tier (vpc, security_groups) and imports a self-signed
certificate into ACM as test glue (the acm role requests DNS-validated ones on AWS).
"""
from __future__ import annotations

import datetime
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers import PlaybookRun, run_playbook
from tests.localcloud.compat.ec2 import debian_ami_id
from tests.sweep import assert_a_tier_is_destroyed

pytestmark = pytest.mark.emulator

EDGE = "playbooks/edge.yml"
NETWORK = "playbooks/network.yml"
TAGS = "alb,asg"
BAKED = {"Project": "shopper", "Environment": "local", "ManagedBy": "protea", "Component": "web-image"}
NAME = "shopper-local"
ALB = f"{NAME}-alb"
WEB = f"{NAME}-web"
SECRET = "/shopper/local/alb/origin-secret"
ACCOUNT = "123456789012"
ELB_ACCOUNT_AF_SOUTH_1 = "098369216593"  # AWS doc: ELB account for access logs in af-south-1


def self_signed_cert(emu) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "shop.example.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("shop.example.test")]), critical=False)
            .sign(key, hashes.SHA256()))
    return emu.client("acm").import_certificate(
        Certificate=cert.public_bytes(serialization.Encoding.PEM),
        PrivateKey=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))["CertificateArn"]


def bake(emu, version: str, **tags: str) -> str:
    """An image as bake_image.yml leaves it: from a builder instance, named and tagged by version."""
    ec2 = emu.client("ec2")
    iid = ec2.run_instances(ImageId=debian_ami_id("af-south-1"), MinCount=1, MaxCount=1,
                            InstanceType="t3.micro")["Instances"][0]["InstanceId"]
    all_tags = {**BAKED, **tags, "ImageVersion": version, "Name": f"shopper-{tags.get('Environment', 'local')}-web-{version}"}
    ami = ec2.create_image(InstanceId=iid, Name=all_tags["Name"], TagSpecifications=[
        {"ResourceType": "image", "Tags": [{"Key": k, "Value": v} for k, v in all_tags.items()]}])["ImageId"]
    ec2.terminate_instances(InstanceIds=[iid])
    return ami


@dataclass
class Stack:
    emu: object
    cert: str
    first: PlaybookRun
    second: PlaybookRun
    check: PlaybookRun
    waiting: dict
    image: str
    baked: PlaybookRun
    versions_before_change: list
    refreshes_before_change: list
    changed_lt: PlaybookRun

    def client(self, service):
        return self.emu.client(service)


@pytest.fixture(scope="module")
def stack(emulator) -> Stack:
    emulator.reset()
    net = run_playbook(NETWORK, endpoint=emulator.endpoint, tags="vpc,security_groups")
    assert net.rc == 0, net.explain()
    cert = self_signed_cert(emulator)
    extra = {"alb_certificate_arn": cert}
    first = run_playbook(EDGE, endpoint=emulator.endpoint, extra_vars=extra, tags=TAGS)
    assert first.rc == 0, first.explain()
    second = run_playbook(EDGE, endpoint=emulator.endpoint, extra_vars=extra, tags=TAGS)
    check = run_playbook(EDGE, endpoint=emulator.endpoint, extra_vars=extra, tags=TAGS, check=True, diff=True)
    ec2, asg = emulator.client("ec2"), emulator.client("autoscaling")
    waiting = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[WEB])["AutoScalingGroups"][0]
    # The first bake (as bake_image.yml leaves the image), then the tier again, as site.yml's rollout.
    image = bake(emulator, "v1")
    baked = run_playbook(EDGE, endpoint=emulator.endpoint, extra_vars=extra, tags=TAGS)
    versions = ec2.describe_launch_template_versions(LaunchTemplateName=WEB)["LaunchTemplateVersions"]
    refreshes = asg.describe_instance_refreshes(AutoScalingGroupName=WEB)["InstanceRefreshes"]
    # A changed launch template (instance type), as after a new image.
    changed_lt = run_playbook(EDGE, endpoint=emulator.endpoint, tags=TAGS,
                              extra_vars={**extra, "asg_instance_type": "t3.medium",
                                          "asg_refresh_min_healthy_percentage": 50, "asg_refresh_delay": 1})
    return Stack(emulator, cert, first, second, check, waiting, image, baked, versions, refreshes, changed_lt)


def test_converge_then_rerun_and_check_change_nothing(stack):
    assert stack.first.changed > 0 and stack.first.failed == 0
    assert stack.first.task_runs("protea.platform.stack : Stack | Describe the environment's shared resources") == 1, \
        stack.first.explain()
    assert stack.second.rc == 0 and stack.second.changed == 0, stack.second.explain()
    assert stack.check.rc == 0 and stack.check.changed == 0, stack.check.explain()


def test_before_the_first_bake_the_group_waits_without_instances(stack):
    """Only the distribution's image exists: its instances would serve nothing and fail the ELB
    health checks, so the group is made with size 0 (its maximum kept) and launches nothing."""
    group = stack.waiting
    assert (group["MinSize"], group["DesiredCapacity"], group["MaxSize"]) == (0, 0, 6)
    assert group["Instances"] == []
    version = stack.client("ec2").describe_launch_template_versions(
        LaunchTemplateName=WEB, Versions=["1"])["LaunchTemplateVersions"][0]
    assert version["LaunchTemplateData"]["ImageId"] == debian_ami_id("af-south-1")


def test_the_first_instances_come_from_the_first_baked_image_without_a_refresh(stack):
    assert stack.baked.rc == 0 and stack.baked.changed > 0, stack.baked.explain()
    # One new template version (the baked image), and reruns before it added none.
    assert [v["VersionNumber"] for v in stack.versions_before_change] == [1, 2]
    assert stack.refreshes_before_change == []
    # Every instance the group ever launched (terminated ones included) runs the baked image.
    launched = stack.client("ec2").describe_instances(Filters=[
        {"Name": "tag:aws:autoscaling:groupName", "Values": [WEB]}])["Reservations"]
    images = [i["ImageId"] for r in launched for i in r["Instances"]]
    assert len(images) >= 2 and set(images) == {stack.image}


def _alb(stack):
    return stack.client("elbv2").describe_load_balancers(Names=[ALB])["LoadBalancers"][0]


def _tg(stack):
    return stack.client("elbv2").describe_target_groups(Names=[WEB])["TargetGroups"][0]


def test_alb_internet_facing_on_public_subnets_with_alb_group(stack):
    lb = _alb(stack)
    ec2 = stack.client("ec2")
    assert lb["Scheme"] == "internet-facing" and lb["Type"] == "application"
    subnets = ec2.describe_subnets(SubnetIds=[a["SubnetId"] for a in lb["AvailabilityZones"]])["Subnets"]
    names = sorted({t["Key"]: t["Value"] for t in s["Tags"]}["Name"] for s in subnets)
    assert names == [f"{NAME}-public-af-south-1a", f"{NAME}-public-af-south-1b"]
    groups = ec2.describe_security_groups(GroupIds=lb["SecurityGroups"])["SecurityGroups"]
    assert [g["GroupName"] for g in groups] == [f"{NAME}-alb"]


def test_alb_attributes(stack):
    elbv2 = stack.client("elbv2")
    attrs = {a["Key"]: a["Value"] for a in elbv2.describe_load_balancer_attributes(LoadBalancerArn=_alb(stack)["LoadBalancerArn"])["Attributes"]}
    assert attrs["deletion_protection.enabled"] == "true"
    assert attrs["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attrs["access_logs.s3.enabled"] == "true"
    assert attrs["access_logs.s3.bucket"] == f"{NAME}-alb-logs-{ACCOUNT}"
    assert attrs["access_logs.s3.prefix"] == "alb"


def test_access_log_bucket(stack):
    s3 = stack.client("s3")
    bucket = f"{NAME}-alb-logs-{ACCOUNT}"
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block[k] for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"))
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    allow = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert len(allow) == 1
    assert allow[0]["Principal"] == {"AWS": f"arn:aws:iam::{ELB_ACCOUNT_AF_SOUTH_1}:root"}
    assert allow[0]["Action"] == "s3:PutObject"
    assert allow[0]["Resource"] == f"arn:aws:s3:::{bucket}/alb/AWSLogs/{ACCOUNT}/*"


def _listeners(stack):
    elbv2 = stack.client("elbv2")
    return {l["Port"]: l for l in elbv2.describe_listeners(LoadBalancerArn=_alb(stack)["LoadBalancerArn"])["Listeners"]}


def test_http_listener_redirects_to_https(stack):
    listeners = _listeners(stack)
    assert sorted(listeners) == [80, 443]
    http = listeners[80]
    assert http["Protocol"] == "HTTP"
    (action,) = http["DefaultActions"]
    assert action["Type"] == "redirect"
    assert action["RedirectConfig"]["Protocol"] == "HTTPS" and action["RedirectConfig"]["Port"] == "443"
    assert action["RedirectConfig"]["StatusCode"] == "HTTP_301"


def test_https_listener_forwards_only_with_origin_secret(stack):
    https = _listeners(stack)[443]
    assert https["Protocol"] == "HTTPS"
    assert https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert [c["CertificateArn"] for c in https["Certificates"]] == [stack.cert]
    (default,) = https["DefaultActions"]
    assert default["Type"] == "fixed-response" and default["FixedResponseConfig"]["StatusCode"] == "403"
    secret = stack.client("ssm").get_parameter(Name=SECRET, WithDecryption=True)["Parameter"]["Value"]
    rules = [r for r in stack.client("elbv2").describe_rules(ListenerArn=https["ListenerArn"])["Rules"] if not r["IsDefault"]]
    assert len(rules) == 1
    (cond,) = rules[0]["Conditions"]
    assert cond["Field"] == "http-header"
    assert cond["HttpHeaderConfig"] == {"HttpHeaderName": "X-Origin-Verify", "Values": [secret]}
    (action,) = rules[0]["Actions"]
    assert action["Type"] == "forward" and action["TargetGroupArn"] == _tg(stack)["TargetGroupArn"]


def test_origin_secret_generated_once_and_never_logged(stack):
    param = stack.client("ssm").get_parameter(Name=SECRET, WithDecryption=True)["Parameter"]
    assert param["Type"] == "SecureString"
    assert param["Version"] == 1, "a re-run must not rotate the origin secret"
    value = param["Value"]
    assert len(value) == 40 and value.isalnum()
    for run in (stack.first, stack.second, stack.check, stack.changed_lt):
        assert value not in run.stdout and value not in run.stderr


def test_target_group_health_check(stack):
    tg = _tg(stack)
    assert (tg["Protocol"], tg["Port"], tg["TargetType"]) == ("HTTP", 80, "instance")
    assert tg["HealthCheckPath"] == "/healthz"
    assert tg["HealthCheckProtocol"] == "HTTP"
    assert tg["Matcher"]["HttpCode"] == "200"
    assert (tg["HealthyThresholdCount"], tg["UnhealthyThresholdCount"]) == (2, 3)


def _group(stack):
    return stack.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[WEB])["AutoScalingGroups"][0]


def test_launch_template_data(stack):
    ec2 = stack.client("ec2")
    data = ec2.describe_launch_template_versions(LaunchTemplateName=WEB, Versions=["1"])["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    meta = data["MetadataOptions"]
    assert meta["HttpTokens"] == "required" and meta["HttpEndpoint"] == "enabled"
    assert int(meta["HttpPutResponseHopLimit"]) == 1
    (disk,) = data["BlockDeviceMappings"]
    assert disk["Ebs"]["VolumeType"] == "gp3" and disk["Ebs"]["Encrypted"] in (True, "true")
    (nic,) = data["NetworkInterfaces"]
    assert nic["AssociatePublicIpAddress"] in (False, "false")
    web_sg = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [f"{NAME}-web"]}])["SecurityGroups"][0]["GroupId"]
    assert nic["Groups"] == [web_sg]
    profile = data["IamInstanceProfile"]
    assert profile.get("Name") == WEB or profile.get("Arn") == f"arn:aws:iam::{ACCOUNT}:instance-profile/{WEB}"
    assert data["InstanceType"] == "t3.small"
    image = ec2.describe_images(ImageIds=[data["ImageId"]])["Images"][0]
    assert image["OwnerId"] == "136693071363" and image["Name"].startswith("debian-12-amd64-")


def test_instance_role_policies(stack):
    iam = stack.client("iam")
    role = iam.get_instance_profile(InstanceProfileName=WEB)["InstanceProfile"]["Roles"][0]
    managed = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]}
    assert managed == {"arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"}, "no AmazonSSMManagedInstanceCore"
    # What the web servers may read, evaluated by the emulator's policy simulator over every
    # policy of the role: exactly the boot unit's parameters, no other secret of the stack.
    param = f"arn:aws:ssm:af-south-1:{ACCOUNT}:parameter/shopper/local"
    readable = ["rds/endpoint-address", "rds/endpoint-port", "rds/database-name", "rds/app-credentials",
                "ses/smtp-credentials"]
    secret = ["rds/master-password", "alb/origin-secret", "alb/origin-secret-previous", "slack/webhook-url",
              "migrate/replication-password", "ses/configuration-set"]
    got = iam.simulate_principal_policy(
        PolicySourceArn=role["Arn"], ActionNames=["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"],
        ResourceArns=[f"{param}/{n}" for n in readable + secret] + [f"{param}/rds", f"{param}/"])["EvaluationResults"]
    allowed = {(r["EvalActionName"], r["EvalResourceName"].removeprefix(param + "/"))
               for r in got if r["EvalDecision"] == "allowed"}
    assert allowed == {(a, n) for a in ("ssm:GetParameter", "ssm:GetParameters") for n in readable}
    # Decrypting them: with the environment's own key, and only through SSM.
    kms = stack.client("kms")
    key = kms.describe_key(KeyId="alias/shopper-local-parameters")["KeyMetadata"]["Arn"]
    other = kms.create_key(Description="another key")["KeyMetadata"]["Arn"]
    via = [{"ContextKeyName": "kms:ViaService", "ContextKeyValues": ["ssm.af-south-1.amazonaws.com"],
            "ContextKeyType": "string"}]
    decide = lambda resource, context: iam.simulate_principal_policy(  # noqa: E731
        PolicySourceArn=role["Arn"], ActionNames=["kms:Decrypt"], ResourceArns=[resource],
        **({"ContextEntries": context} if context else {}))["EvaluationResults"][0]["EvalDecision"]
    assert (decide(key, via), decide(key, None), decide(other, via)) == ("allowed", "implicitDeny", "implicitDeny")


def test_asg_over_private_subnets_behind_target_group(stack):
    group = _group(stack)
    ec2 = stack.client("ec2")
    subnets = ec2.describe_subnets(SubnetIds=group["VPCZoneIdentifier"].split(","))["Subnets"]
    names = sorted({t["Key"]: t["Value"] for t in s["Tags"]}["Name"] for s in subnets)
    assert names == [f"{NAME}-private-af-south-1a", f"{NAME}-private-af-south-1b"]
    assert group["TargetGroupARNs"] == [_tg(stack)["TargetGroupArn"]]
    assert group["HealthCheckType"] == "ELB" and group["HealthCheckGracePeriod"] == 300
    assert (group["MinSize"], group["DesiredCapacity"], group["MaxSize"]) == (2, 2, 6)
    instances = ec2.describe_instances(InstanceIds=[i["InstanceId"] for i in group["Instances"]])["Reservations"]
    for inst in (i for r in instances for i in r["Instances"]):
        assert "PublicIpAddress" not in inst


def test_group_metrics_collected_for_the_in_service_alarm(stack):
    """The asg-in-service alarm compares GroupInServiceInstances with GroupMinSize: without collection it never has data."""
    metrics = {m["Metric"]: m["Granularity"] for m in _group(stack)["EnabledMetrics"]}
    assert metrics.get("GroupInServiceInstances") == metrics.get("GroupMinSize") == "1Minute"
    assert {"GroupDesiredCapacity", "GroupTotalInstances", "GroupPendingInstances"} <= set(metrics)


def test_group_instances_launch_as_the_template_says(stack):
    """IMDSv2 required and one encrypted gp3 root volume on every instance the group launched."""
    ec2 = stack.client("ec2")
    ids = [i["InstanceId"] for i in _group(stack)["Instances"]]
    assert ids
    for inst in (i for r in ec2.describe_instances(InstanceIds=ids)["Reservations"] for i in r["Instances"]):
        assert inst["MetadataOptions"]["HttpTokens"] == "required"
        assert inst["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
        volumes = ec2.describe_volumes(VolumeIds=[b["Ebs"]["VolumeId"] for b in inst["BlockDeviceMappings"]])["Volumes"]
        assert [(v["VolumeType"], v["Encrypted"], v["Size"]) for v in volumes] == [("gp3", True, 16)]


def test_target_tracking_policy(stack):
    (policy,) = stack.client("autoscaling").describe_policies(AutoScalingGroupName=WEB)["ScalingPolicies"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    config = policy["TargetTrackingConfiguration"]
    assert config["PredefinedMetricSpecification"]["PredefinedMetricType"] == "ASGAverageCPUUtilization"
    assert config["TargetValue"] == 50.0


def test_changed_launch_template_starts_one_rolling_refresh(stack):
    run = stack.changed_lt
    assert run.rc == 0, run.explain()
    ec2 = stack.client("ec2")
    versions = ec2.describe_launch_template_versions(LaunchTemplateName=WEB)["LaunchTemplateVersions"]
    assert sorted(v["VersionNumber"] for v in versions) == [1, 2, 3]
    assert _group(stack)["LaunchTemplate"]["Version"] == "3"
    (refresh,) = stack.client("autoscaling").describe_instance_refreshes(AutoScalingGroupName=WEB)["InstanceRefreshes"]
    assert refresh["Status"] == "Successful"
    assert refresh["Preferences"]["MinHealthyPercentage"] == 50


BAD = [
    ({"asg_min_size": 3, "asg_desired_capacity": 2, "asg_max_size": 6, "alb_health_check_path": "healthz",
      "protea_origin_header_name": "X Origin", "asg_refresh_min_healthy_percentage": 150,
      "asg_scaling_metric": "Memory", "asg_scaling_target_value": 0},
     ["asg_min_size <= asg_desired_capacity <= asg_max_size (and max >= 1); got 3 <= 2 <= 6",
      "alb_health_check_path 'healthz' must be an absolute URL path starting with '/'",
      "protea_origin_header_name 'X Origin' must be an HTTP header name",
      "asg_refresh_min_healthy_percentage '150' must be a whole number from 0 to 100",
      "asg_scaling_metric 'Memory' must be ASGAverageCPUUtilization or ALBRequestCountPerTarget",
      "asg_scaling_target_value '0' must be a positive number"]),
    ({"asg_min_size": "two", "asg_max_size": 0, "asg_desired_capacity": 0, "asg_metrics": ["GroupInService"]},
     ["asg_min_size 'two', asg_desired_capacity '0' and asg_max_size '0' must be whole numbers",
      'asg_metrics ["GroupInService"] must be a list of Auto Scaling group metrics that includes GroupMinSize and GroupInServiceInstances']),
]


def test_bad_inputs_stop_in_preflight_before_any_aws_call(stack):
    emu = stack.emu
    before = emu.call_count()
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda case: run_playbook(EDGE, endpoint=emu.endpoint, extra_vars=case[0], tags=TAGS), BAD))
    assert emu.call_count() == before
    for run, (_, messages) in zip(runs, BAD):
        assert run.rc != 0
        text = " ".join(run.stdout.split())
        for message in messages:
            assert message in text, run.explain()


# --- playbooks/overview.yml: report and diagram of this (partial) stack against the describe calls
def _allowed_paths_described(ec2, vpc_id: str) -> set[tuple[str, str, int]]:
    """(source group name, destination group name, port) of every group-to-group ingress rule."""
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
    name = {g["GroupId"]: g["GroupName"] for g in groups}
    return {(name[pair["GroupId"]], g["GroupName"], rule["FromPort"])
            for g in groups for rule in g["IpPermissions"] for pair in rule.get("UserIdGroupPairs", [])
            if pair["GroupId"] in name}


def test_the_overview_shows_what_the_describe_calls_show(stack, tmp_path):
    run = run_playbook("playbooks/overview.yml", endpoint=stack.emu.endpoint, extra_vars={"overview_dir": str(tmp_path)})
    assert run.rc == 0, run.explain()
    assert run.changed >= 1 and (tmp_path / f"{NAME}.md").read_text().count("```mermaid") == 1
    graph = json.loads((tmp_path / f"{NAME}.json").read_text())
    nodes = {n["id"]: n for n in graph["nodes"]}
    ec2, elbv2 = stack.client("ec2"), stack.client("elbv2")
    (vpc,) = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [NAME]}])["Vpcs"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
    # Every subnet, in its AZ, with its range; no other.
    drawn = {n["id"]: n for n in graph["nodes"] if n["kind"] == "subnet"}
    assert {f"subnet_{s['SubnetId'].replace('-', '_')}" for s in subnets} == set(drawn)
    for s in subnets:
        node = drawn[f"subnet_{s['SubnetId'].replace('-', '_')}"]
        assert node["cluster"] == "az_" + s["AvailabilityZone"].replace("-", "_") and s["CidrBlock"] in node["label"]
    # Every group-to-group rule is an arrow between the resources those groups stand for (a group
    # without a resource here, e.g. rds in this partial stack, stands for itself).
    stands_for = {f"{NAME}-alb": "alb", f"{NAME}-web": "web"}
    groups = {g["GroupName"]: g["GroupId"] for g in ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["SecurityGroups"]}

    def node_of(group: str) -> str:
        return stands_for.get(group) or "sg_" + groups[group].replace("-", "_")

    allowed = {(e["from"], e["to"], e["label"]) for e in graph["edges"] if e["kind"] == "allow"}
    described = _allowed_paths_described(ec2, vpc["VpcId"])
    assert described, "the network tier made no group-to-group rule"
    for src, dst, port in described:
        if src.endswith("-bastion") or dst.endswith("-bastion"):
            continue  # no bastion instance in this stack: the emulator-only tier does not launch one
        assert any(e[0] == node_of(src) and e[1] == node_of(dst) and f"tcp {port}" == e[2] for e in allowed), (src, dst, port)
    # The load balancer and the group in the subnets they use.
    (alb,) = elbv2.describe_load_balancers(Names=[ALB])["LoadBalancers"]
    placed = {(e["from"], e["to"]) for e in graph["edges"] if e["kind"] == "in"}
    assert {("alb", "subnet_" + z["SubnetId"].replace("-", "_")) for z in alb["AvailabilityZones"]} <= placed
    (group,) = stack.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[WEB])["AutoScalingGroups"]
    assert {("web", "subnet_" + s.replace("-", "_")) for s in group["VPCZoneIdentifier"].split(",")} <= placed
    assert f"{len([i for i in group['Instances'] if i['LifecycleState'] == 'InService'])} in service" in nodes["web"]["label"]
    # The report says what exists and names the playbook for what does not (this stack has no
    # database, distribution, zone or bastion).
    said = " ".join(run.stdout.split())
    assert f"Load balancer: {ALB} ({alb['DNSName']}), origin of CloudFront only" in said
    assert f"Web servers: {len([i for i in group['Instances'] if i['LifecycleState'] == 'InService'])} in service (group {WEB}," in said
    assert "Database: none yet (playbooks/data.yml)" in said and "Bastions: none running (playbooks/network.yml)" in said
    # Read only: a second drawing of the same stack changes nothing.
    again = run_playbook("playbooks/overview.yml", endpoint=stack.emu.endpoint, extra_vars={"overview_dir": str(tmp_path)})
    assert again.rc == 0 and again.changed == 0, again.explain()


# --- destroy.yml (the last test of this module) ------------------------------------------------
def test_destroy_removes_the_web_tier_and_its_load_balancer(stack):
    assert_a_tier_is_destroyed(stack.emu, {"autoscaling group", "load balancer", "target group", "instance", "launch template"}, ["af-south-1", "us-east-1"])
