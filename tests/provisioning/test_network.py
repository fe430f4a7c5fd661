"""Network tier (playbooks/network.yml) on the emulator, verified through boto3.

One module-scoped sequence on a reset emulator:
  --check on the empty cloud -> converge -> converge again -> --check --diff,
then every test reads what the emulator holds. Expected values are the spec
(the issue's subnet layout and rule table), never read back from our variables.
"""
from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass

import pytest

from tests.crash import duplicates
from tests.helpers import PlaybookRun, run_module, run_playbook

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

PLAYBOOK = "playbooks/network.yml"
PREFIX = "shopper-local"
AZS = ["af-south-1a", "af-south-1b"]
CLOUDFRONT_PL = "com.amazonaws.global.cloudfront.origin-facing"
REQUIRED_TAGS = {"Project": "shopper", "Environment": "local", "ManagedBy": "protea"}
PROJECT_FILTER = [{"Name": "tag:Project", "Values": ["shopper"]}, {"Name": "tag:Environment", "Values": ["local"]}]


@dataclass
class Runs:
    check_empty: PlaybookRun
    created_by_check: dict
    crashes: list[PlaybookRun]
    first: PlaybookRun
    second: PlaybookRun
    check_diff: PlaybookRun


def _inventory_of_cloud(emulator) -> dict:
    """Everything the tier could create, counted (the emulator's own defaults excluded)."""
    ec2 = emulator.client("ec2")
    iam = emulator.client("iam")
    logs = emulator.client("logs")
    return {
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")],
        "nat_gateways": [n["NatGatewayId"] for n in ec2.describe_nat_gateways()["NatGateways"]],
        "addresses": [a["AllocationId"] for a in ec2.describe_addresses()["Addresses"]],
        "instances": [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]],
        "key_pairs": [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]],
        "security_groups": [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"] != "default"],
        "roles": [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(PREFIX)],
        "log_groups": [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]],
    }


@pytest.fixture(scope="module")
def runs(emulator) -> Runs:
    emulator.reset()
    check_empty = run_playbook(PLAYBOOK, endpoint=emulator.endpoint, check=True, diff=True)
    created = _inventory_of_cloud(emulator)
    # Crash-safe re-runs: the converge is killed (SIGKILL) right after AWS created the first NAT
    # gateway, then right after it launched the first bastion; "first" resumes it.
    crashes = [run_playbook(PLAYBOOK, endpoint=emulator.endpoint, crash_action=action) for action in CRASH_POINTS]
    first = run_playbook(PLAYBOOK, endpoint=emulator.endpoint)
    assert first.rc == 0, first.explain()
    second = run_playbook(PLAYBOOK, endpoint=emulator.endpoint)
    check_diff = run_playbook(PLAYBOOK, endpoint=emulator.endpoint, check=True, diff=True)
    return Runs(check_empty, created, crashes, first, second, check_diff)


CRASH_POINTS = ("CreateNatGateway", "RunInstances")


@pytest.fixture(scope="module")
def ec2(emulator, runs):
    return emulator.client("ec2")


@pytest.fixture(scope="module")
def vpc(ec2):
    vpcs = ec2.describe_vpcs(Filters=PROJECT_FILTER + [{"Name": "tag:Name", "Values": [PREFIX]}])["Vpcs"]
    assert len(vpcs) == 1
    return vpcs[0]


@pytest.fixture(scope="module")
def subnets(ec2, vpc):
    found = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
    return {_tag(s, "Name"): s for s in found}


@pytest.fixture(scope="module")
def groups(ec2, vpc):
    found = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["SecurityGroups"]
    return {g["GroupName"]: g for g in found if g["GroupName"] != "default"}


@pytest.fixture(scope="module")
def bastions(ec2):
    reservations = ec2.describe_instances(
        Filters=PROJECT_FILTER + [{"Name": "tag:Component", "Values": ["bastion"]},
                                  {"Name": "instance-state-name", "Values": ["pending", "running"]}]
    )["Reservations"]
    return sorted((i for r in reservations for i in r["Instances"]), key=lambda i: _tag(i, "Name"))


def _tag(resource: dict, key: str) -> str | None:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}.get(key)


def _tags(resource: dict) -> dict:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


# --- runs --------------------------------------------------------------------------------
def test_check_on_empty_cloud_reports_changes_and_creates_nothing(runs):
    assert runs.check_empty.rc == 0, runs.check_empty.explain()
    assert runs.check_empty.changed > 0, runs.check_empty.explain()
    assert all(not v for v in runs.created_by_check.values()), runs.created_by_check


def test_runs_killed_right_after_aws_acted_resume_with_nothing_duplicated(emulator, runs, ec2, subnets, bastions):
    assert [(run.rc, run.crashed_at) for run in runs.crashes] == [
        (-9, "ec2@af-south-1 CreateNatGateway"), (-9, "ec2@af-south-1 RunInstances")], runs.crashes[-1].explain()
    assert duplicates(emulator.endpoint, ["af-south-1"]) == []
    live = [n for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] in ("pending", "available")]
    assert len(live) == 2 and len(ec2.describe_addresses()["Addresses"]) == 4  # a NAT and a bastion address per AZ
    assert len(bastions) == 2


def test_second_converge_changes_nothing(runs):
    assert runs.first.changed > 0
    assert runs.second.rc == 0, runs.second.explain()
    assert runs.second.recap["localhost"]["changed"] == 0, runs.second.explain()


NAT_WAIT = "protea.platform.vpc : Wait until the new NAT gateways are available"
BASTION_WAIT = "protea.platform.bastion : Wait until the new bastions are running"


def test_new_nat_gateways_and_bastions_are_waited_for_once_and_a_rerun_waits_for_nothing(runs):
    # The local cloud creates NAT gateways pending and instances pending (as AWS does): the tier
    # starts all of an AZ set, then polls them together in one task, not one wait per AZ.
    resumed_nat = runs.crashes[1]  # created the second AZ's NAT gateway, then was killed at RunInstances
    assert resumed_nat.task_runs(NAT_WAIT) == 1, resumed_nat.explain()
    assert runs.first.task_runs(BASTION_WAIT) == 1, runs.first.explain()
    for run in (runs.second, runs.check_diff):
        assert run.task_runs(NAT_WAIT) == 0 and run.task_runs(BASTION_WAIT) == 0, run.explain()


def test_check_diff_on_converged_stack_reports_no_change(runs):
    assert runs.check_diff.rc == 0, runs.check_diff.explain()
    assert runs.check_diff.changed == 0, runs.check_diff.explain()


# --- VPC, subnets, routes ---------------------------------------------------------------
def test_four_subnets_over_two_azs_as_planned(vpc, subnets):
    assert vpc["CidrBlock"] == "10.20.0.0/16"
    assert {name: (s["AvailabilityZone"], s["CidrBlock"]) for name, s in subnets.items()} == {
        f"{PREFIX}-public-af-south-1a": ("af-south-1a", "10.20.0.0/20"),
        f"{PREFIX}-public-af-south-1b": ("af-south-1b", "10.20.16.0/20"),
        f"{PREFIX}-private-af-south-1a": ("af-south-1a", "10.20.128.0/20"),
        f"{PREFIX}-private-af-south-1b": ("af-south-1b", "10.20.144.0/20"),
    }
    assert not any(s["MapPublicIpOnLaunch"] for s in subnets.values())


def _route_table_of(ec2, subnet_id: str) -> dict:
    tables = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])["RouteTables"]
    assert len(tables) == 1, f"{subnet_id} is associated with {len(tables)} route tables"
    return tables[0]


def _default_route(table: dict) -> dict:
    routes = [r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
    assert len(routes) == 1, table["Routes"]
    return routes[0]


def test_public_subnets_route_to_the_internet_gateway(ec2, vpc, subnets):
    igws = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc["VpcId"]]}])["InternetGateways"]
    assert len(igws) == 1
    for az in AZS:
        route = _default_route(_route_table_of(ec2, subnets[f"{PREFIX}-public-{az}"]["SubnetId"]))
        assert route["GatewayId"] == igws[0]["InternetGatewayId"]


def test_private_subnets_route_to_their_own_azs_nat_gateway(ec2, vpc, subnets):
    nats = ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["NatGateways"]
    nats = [n for n in nats if n["State"] in ("pending", "available")]
    assert len(nats) == 2, "one NAT gateway per AZ (vpc_nat_gateway_mode: per_az), never duplicated by re-runs"
    nat_az = {n["NatGatewayId"]: ec2.describe_subnets(SubnetIds=[n["SubnetId"]])["Subnets"][0] for n in nats}
    for az in AZS:
        route = _default_route(_route_table_of(ec2, subnets[f"{PREFIX}-private-{az}"]["SubnetId"]))
        assert "GatewayId" not in route or not route["GatewayId"].startswith("igw-")
        nat_subnet = nat_az[route["NatGatewayId"]]
        assert nat_subnet["AvailabilityZone"] == az
        assert _tag(nat_subnet, "Tier") == "public"


def test_s3_gateway_endpoint_on_every_route_table(ec2, vpc, subnets):
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["VpcEndpoints"]
    assert [(e["ServiceName"], e["VpcEndpointType"]) for e in endpoints] == [("com.amazonaws.af-south-1.s3", "Gateway")]
    tables = {_route_table_of(ec2, s["SubnetId"])["RouteTableId"] for s in subnets.values()}
    assert len(tables) == 3  # one public, one private per AZ
    assert set(endpoints[0]["RouteTableIds"]) == tables


def test_flow_logs_to_cloudwatch_logs(emulator, ec2, vpc):
    logs = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc["VpcId"]]}])["FlowLogs"]
    assert len(logs) == 1
    log = logs[0]
    assert log["TrafficType"] == "ALL"
    assert log["LogDestinationType"] == "cloud-watch-logs"
    group = log["LogGroupName"]
    found = emulator.client("logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert [g["logGroupName"] for g in found] == [group]
    assert found[0].get("retentionInDays") == 90
    role = emulator.client("iam").get_role(RoleName=log["DeliverLogsPermissionArn"].rsplit("/", 1)[1])["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}


# --- security groups ---------------------------------------------------------------------
def _rules(group: dict, direction: str, names: dict, prefix_lists: dict) -> set[tuple]:
    """Normalise a group's rules to (proto, from, to, source) with sources by name."""
    out = set()
    for perm in group["IpPermissions" if direction == "in" else "IpPermissionsEgress"]:
        key = (perm["IpProtocol"], perm.get("FromPort"), perm.get("ToPort"))
        out |= {key + (r["CidrIp"],) for r in perm.get("IpRanges", [])}
        out |= {key + (r["CidrIpv6"],) for r in perm.get("Ipv6Ranges", [])}
        out |= {key + ("sg:" + names.get(p["GroupId"], p["GroupId"]),) for p in perm.get("UserIdGroupPairs", [])}
        out |= {key + ("pl:" + prefix_lists.get(p["PrefixListId"], p["PrefixListId"]),) for p in perm.get("PrefixListIds", [])}
    return out


EXPECTED_RULES = {
    "alb": {
        # HTTPS only: CloudFront reaches the origin over HTTPS, and the list weighs 55 of the 60
        # inbound rules a group may have (a second port would need 110).
        "in": {("tcp", 443, 443, "pl:" + CLOUDFRONT_PL)},
        "out": {("tcp", 80, 80, "sg:web")},
    },
    "bastion": {
        "in": {("tcp", 22, 22, "127.0.0.1/32")},  # protea_admin_cidrs of the local inventory
        "out": {("tcp", 22, 22, "sg:web"), ("tcp", 5432, 5432, "sg:rds"),
                ("tcp", 80, 80, "0.0.0.0/0"), ("tcp", 443, 443, "0.0.0.0/0")},
    },
    "web": {
        "in": {("tcp", 80, 80, "sg:alb"), ("tcp", 22, 22, "sg:bastion")},
        "out": {("tcp", 5432, 5432, "sg:rds"), ("tcp", 2049, 2049, "sg:efs"),
                ("tcp", 80, 80, "0.0.0.0/0"), ("tcp", 443, 443, "0.0.0.0/0"), ("tcp", 587, 587, "0.0.0.0/0")},
    },
    "rds": {"in": {("tcp", 5432, 5432, "sg:web"), ("tcp", 5432, 5432, "sg:bastion")}, "out": set()},
    "efs": {"in": {("tcp", 2049, 2049, "sg:web")}, "out": set()},
}


def test_every_security_group_rule_exactly_as_intended(ec2, groups):
    assert set(groups) == {f"{PREFIX}-{k}" for k in EXPECTED_RULES}
    names = {g["GroupId"]: g["GroupName"].removeprefix(PREFIX + "-") for g in groups.values()}
    prefix_lists = {p["PrefixListId"]: p["PrefixListName"] for p in ec2.describe_managed_prefix_lists()["PrefixLists"]}
    for key, expected in EXPECTED_RULES.items():
        group = groups[f"{PREFIX}-{key}"]
        assert _rules(group, "in", names, prefix_lists) == expected["in"], key
        assert _rules(group, "out", names, prefix_lists) == expected["out"], key


def test_no_world_ingress_anywhere(groups):
    for group in groups.values():
        for perm in group["IpPermissions"]:
            cidrs = {r["CidrIp"] for r in perm.get("IpRanges", [])} | {r["CidrIpv6"] for r in perm.get("Ipv6Ranges", [])}
            assert not cidrs & {"0.0.0.0/0", "::/0"}, group["GroupName"]
            if cidrs:  # only the bastion takes CIDR sources: the admin ranges
                assert group["GroupName"] == f"{PREFIX}-bastion" and cidrs == {"127.0.0.1/32"}


RULES_QUOTA = "ec2-quota-rules-per-security-group"


def test_old_two_port_alb_rule_set_is_refused_as_on_a_fresh_account(emulator, ec2, vpc, groups):
    """Issue 13's network defect: the old default security_groups_alb_ports [80, 443] needs
    2 x 55 = 110 inbound rules. The strict local cloud refuses it with AWS's error, directly
    (boto3) and through the role (preflight skipped); the converged group keeps its one rule."""
    assert RULES_QUOTA in emulator.health()["patches"]
    alb = groups[f"{PREFIX}-alb"]
    pl = alb["IpPermissions"][0]["PrefixListIds"][0]["PrefixListId"]
    old_rules = [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "PrefixListIds": [{"PrefixListId": pl}]}
                 for port in (80, 443)]
    scratch = ec2.create_security_group(GroupName="old-alb-rules", Description="scratch", VpcId=vpc["VpcId"])["GroupId"]
    try:
        with pytest.raises(ec2.exceptions.ClientError) as err:
            ec2.authorize_security_group_ingress(GroupId=scratch, IpPermissions=old_rules)
        assert err.value.response["Error"]["Code"] == "RulesPerSecurityGroupLimitExceeded"
        assert ec2.describe_security_groups(GroupIds=[scratch])["SecurityGroups"][0]["IpPermissions"] == []
    finally:
        ec2.delete_security_group(GroupId=scratch)
    # The role with the old setting, preflight skipped (it would stop the run first). The
    # module reports "Failed to authorize security group ingress" without AWS's code; the
    # emulator logs the code it answered.
    log_before = emulator.log_path.read_text(errors="replace")
    run = run_playbook(PLAYBOOK, endpoint=emulator.endpoint, tags="security_groups",
                       extra_vars={"vpc_id": vpc["VpcId"], "security_groups_alb_ports": [80, 443]},
                       env={"ANSIBLE_SKIP_TAGS": "preflight"})
    assert run.rc != 0, run.explain()
    assert "failed: [localhost] (item=alb)" in run.stdout and "Unable to authorize ingress rules" in run.stdout, run.explain()
    assert "TASK [protea.platform.preflight" not in run.stdout, run.explain()
    log = emulator.log_path.read_text(errors="replace")[len(log_before):]
    assert f"quota refused RulesPerSecurityGroupLimitExceeded: {alb['GroupId']} ingress would hold 110 IPv4" in log, log
    after = ec2.describe_security_groups(GroupIds=[alb["GroupId"]])["SecurityGroups"][0]
    assert [(p["FromPort"], [x["PrefixListId"] for x in p["PrefixListIds"]]) for p in after["IpPermissions"]] == [(443, [pl])]


# --- bastions ----------------------------------------------------------------------------
def test_one_bastion_per_az_in_the_public_subnets(ec2, bastions, subnets, groups):
    public = {s["SubnetId"]: s["AvailabilityZone"] for n, s in subnets.items() if "-public-" in n}
    assert len(bastions) == 2, "one per AZ, never duplicated by re-runs"
    assert sorted(public[b["SubnetId"]] for b in bastions) == AZS
    for b in bastions:
        assert b["InstanceType"] == "t3.micro"
        assert b["KeyName"] == f"{PREFIX}-bastion"
        assert [g["GroupId"] for g in b["SecurityGroups"]] == [groups[f"{PREFIX}-bastion"]["GroupId"]]
        image = ec2.describe_images(ImageIds=[b["ImageId"]])["Images"][0]
        assert image["OwnerId"] == "136693071363" and image["Name"].startswith("debian-12-amd64-")


def test_bastions_require_imdsv2_and_encrypt_their_root_volume(ec2, bastions):
    for b in bastions:
        assert b["MetadataOptions"]["HttpTokens"] == "required"
        assert b["MetadataOptions"]["HttpEndpoint"] == "enabled"
        root = [m for m in b["BlockDeviceMappings"] if m["DeviceName"] == b["RootDeviceName"]]
        assert len(root) == 1
        volume = ec2.describe_volumes(VolumeIds=[root[0]["Ebs"]["VolumeId"]])["Volumes"][0]
        assert volume["Encrypted"] is True


def test_bastions_have_an_elastic_ip_and_ssm_instance_profile(emulator, ec2, bastions):
    iam = emulator.client("iam")
    for b in bastions:
        addresses = ec2.describe_addresses(Filters=[{"Name": "instance-id", "Values": [b["InstanceId"]]}])["Addresses"]
        assert len(addresses) == 1 and addresses[0]["Domain"] == "vpc"
        assert b.get("PublicIpAddress") in (None, addresses[0]["PublicIp"])
        profile_name = b["IamInstanceProfile"]["Arn"].rsplit("/", 1)[1]
        roles = iam.get_instance_profile(InstanceProfileName=profile_name)["InstanceProfile"]["Roles"]
        assert len(roles) == 1
        attached = iam.list_attached_role_policies(RoleName=roles[0]["RoleName"])["AttachedPolicies"]
        assert attached == [], "no AmazonSSMManagedInstanceCore: it reads every parameter"
        param = f"arn:aws:ssm:af-south-1:123456789012:parameter/{PREFIX.replace('-', '/')}"
        got = {r["EvalActionName"] + " " + r["EvalResourceName"]: r["EvalDecision"]
               for r in iam.simulate_principal_policy(
                   PolicySourceArn=roles[0]["Arn"], ActionNames=["ssmmessages:OpenDataChannel", "ssm:GetParameter"],
                   ResourceArns=[f"{param}/rds/master-password"])["EvaluationResults"]}
        assert got == {f"ssmmessages:OpenDataChannel {param}/rds/master-password": "allowed",
                       f"ssm:GetParameter {param}/rds/master-password": "implicitDeny"}


def test_key_pair_is_the_local_clouds_key(emulator, ec2):
    keys = ec2.describe_key_pairs(KeyNames=[f"{PREFIX}-bastion"], IncludePublicKey=True)["KeyPairs"]
    assert len(keys) == 1
    with open(os.path.join(os.environ["PROTEA_LOCALCLOUD_DIR"], "ssh", "id_ed25519.pub"), encoding="ascii") as fh:
        local = fh.read().split()[1]
    assert local in keys[0].get("PublicKey", local)


# --- tags, no duplicates -----------------------------------------------------------------
def test_every_resource_tagged(ec2, vpc, subnets, groups, bastions):
    vpc_id = [{"Name": "vpc-id", "Values": [vpc["VpcId"]]}]
    resources = {
        "vpc": [vpc],
        "subnet": list(subnets.values()),
        "igw": ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc["VpcId"]]}])["InternetGateways"],
        "nat": ec2.describe_nat_gateways(Filters=vpc_id)["NatGateways"],
        "eip": ec2.describe_addresses()["Addresses"],
        "route_table": [t for t in ec2.describe_route_tables(Filters=vpc_id)["RouteTables"]
                        if not any(a.get("Main") for a in t.get("Associations", []))],
        "endpoint": ec2.describe_vpc_endpoints(Filters=vpc_id)["VpcEndpoints"],
        "flow_log": ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc["VpcId"]]}])["FlowLogs"],
        "security_group": list(groups.values()),
        "instance": bastions,
        "volume": ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [b["InstanceId"] for b in bastions]}])["Volumes"],
        "key_pair": ec2.describe_key_pairs(KeyNames=[f"{PREFIX}-bastion"])["KeyPairs"],
    }
    expected_counts = {"subnet": 4, "igw": 1, "nat": 2, "eip": 4, "route_table": 3, "endpoint": 1,
                       "flow_log": 1, "security_group": 5, "instance": 2, "volume": 2, "key_pair": 1}
    for kind, count in expected_counts.items():
        assert len(resources[kind]) == count, kind
    for kind, items in resources.items():
        for item in items:
            tags = _tags(item)
            assert {k: tags.get(k) for k in REQUIRED_TAGS} == REQUIRED_TAGS, (kind, tags)
            assert tags.get("Component") in {"vpc", "security_groups", "bastion"}, (kind, tags)


def test_stack_discovery_finds_the_same_resources_read_only(emulator, vpc, subnets, groups):
    run = run_playbook("tests/provisioning/network_lookup.yml", endpoint=emulator.endpoint, check=True)
    assert run.rc == 0, run.explain()
    assert run.changed == 0
    stack = json.loads(base64.b64decode(re.search(r"PROTEA_STACK=([A-Za-z0-9+/=]+)", run.stdout)[1]))
    account = emulator.client("sts").get_caller_identity()["Account"]
    assert (stack["account"], stack["partition"], stack["vpc_id"]) == (account, "aws", vpc["VpcId"])
    assert stack["public_subnet_ids"] == [subnets[f"{PREFIX}-public-{az}"]["SubnetId"] for az in AZS]
    assert stack["private_subnet_ids"] == [subnets[f"{PREFIX}-private-{az}"]["SubnetId"] for az in AZS]
    assert stack["security_group_ids"] == {k: groups[f"{PREFIX}-{k}"]["GroupId"] for k in EXPECTED_RULES}


def test_a_tier_run_alone_refuses_without_the_network_and_names_it(emulator, vpc, groups):
    """A group missing (deleted by hand) is named, with the playbook that makes it."""
    ec2 = emulator.client("ec2")
    efs_group = groups[f"{PREFIX}-efs"]["GroupId"]
    ec2.create_tags(Resources=[efs_group], Tags=[{"Key": "Component", "Value": "hidden"}])
    try:
        run = run_playbook("tests/provisioning/network_lookup.yml", endpoint=emulator.endpoint, check=True)
    finally:
        ec2.create_tags(Resources=[efs_group], Tags=[{"Key": "Component", "Value": "security_groups"}])
    assert run.rc != 0
    out = " ".join(run.stdout.split())
    assert "security group efs not found" in out and "run playbooks/network.yml first" in out, run.explain()


# --- protea.platform.vpc_flow_log on its own (our module: check mode, replace, absent) ---
def _flow_log_module(emulator, check: bool = False, **args) -> dict:
    result = run_module(emulator.endpoint, "protea.platform.vpc_flow_log", args, check=check)
    assert not result.get("failed"), result
    return result


def test_flow_log_module_check_mode_replace_and_absent(emulator, runs):
    ec2 = emulator.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    args = {"resource_id": vpc_id, "log_group_name": "/test/flow-module",
            "deliver_logs_permission_arn": "arn:aws:iam::123456789012:role/flow-test", "tags": {"Name": "t"}}

    def logs():
        return ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"]

    assert _flow_log_module(emulator, check=True, **args)["changed"] is True
    assert logs() == []
    assert _flow_log_module(emulator, **args)["changed"] is True
    assert _flow_log_module(emulator, **args)["changed"] is False
    replaced = _flow_log_module(emulator, **dict(args, traffic_type="REJECT"))
    assert replaced["changed"] is True
    assert [(f["TrafficType"], _tags(f)) for f in logs()] == [("REJECT", {"Name": "t"})]
    assert _flow_log_module(emulator, **dict(args, state="absent"))["changed"] is True
    assert logs() == []
    ec2.delete_vpc(VpcId=vpc_id)


# --- the migration rule set (playbooks/migrate.yml; docs/migration.md) --------------------
OLD_BOX = "203.0.113.10/32"
MIGRATION_RULES = {
    "rds": {"in": {("tcp", 5432, 5432, OLD_BOX)}, "out": {("tcp", 5432, 5432, OLD_BOX)}},
    "efs": {"in": {("tcp", 2049, 2049, OLD_BOX)}, "out": set()},
}


def test_the_migration_rule_set_is_declared_kept_and_gone_after_finish(emulator, ec2, vpc, groups):
    """Declared in the inventory: the rds and efs groups admit the old box (and RDS may reach its
    database); a full network re-run keeps them; once migrate.yml's finish mark exists, the network
    tier leaves them out although the inventory still declares them. Packet-level: tests/e2e."""
    declared = {"security_groups_migration_source_cidrs": [OLD_BOX]}
    names = {g["GroupId"]: g["GroupName"].removeprefix(PREFIX + "-") for g in groups.values()}
    ssm = emulator.client("ssm")
    mark = "/shopper/local/migrate/finished"

    def rules() -> dict:
        found = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["SecurityGroups"]
        by_name = {g["GroupName"].removeprefix(PREFIX + "-"): g for g in found}
        return {key: {d: _rules(by_name[key], d, names, {}) for d in ("in", "out")} for key in MIGRATION_RULES}

    def expected(with_migration: bool) -> dict:
        return {key: {d: EXPECTED_RULES[key][d] | (MIGRATION_RULES[key][d] if with_migration else set())
                      for d in ("in", "out")} for key in MIGRATION_RULES}

    try:
        first = run_playbook(PLAYBOOK, endpoint=emulator.endpoint, extra_vars=declared)
        assert first.rc == 0, first.explain()
        # Only the security groups changed ("changed: [host] => (item=...)" lines are the loop's items).
        assert {t.split(" -> ")[0] for t in first.changed_tasks} == {
            "protea.platform.security_groups : Security groups alb, bastion, web, rds, efs"}, first.explain()
        assert rules() == expected(True)
        again = run_playbook(PLAYBOOK, endpoint=emulator.endpoint, extra_vars=declared)
        assert again.rc == 0 and again.changed == 0, again.explain()
        assert rules() == expected(True)
        # migrate.yml --tags finish leaves this mark (tests/migration runs the phase itself).
        ssm.put_parameter(Name=mark, Value="2026-12-04T17:00:00+00:00", Type="String")
        after = run_playbook(PLAYBOOK, endpoint=emulator.endpoint, extra_vars=declared, tags="security_groups")
        assert after.rc == 0, after.explain()
        assert "security_groups_migration_source_cidrs is still set, but the migration finished" in " ".join(after.stdout.split())
        assert rules() == expected(False)
    finally:
        try:
            ssm.delete_parameter(Name=mark)
        except ssm.exceptions.ParameterNotFound:
            pass
        if rules() != expected(False):
            run_playbook(PLAYBOOK, endpoint=emulator.endpoint, tags="security_groups")
