"""EC2/VPC default quotas (compat/ec2_quotas.py): refused with AWS's code and message on the
patched server, accepted by moto as shipped (a server started with the patches disabled)."""
from __future__ import annotations

import botocore.exceptions
import pytest

pytestmark = pytest.mark.emulator

RULES = "ec2-quota-rules-per-security-group"
GROUPS_PER_ENI = "ec2-quota-security-groups-per-interface"
EIPS = "ec2-quota-elastic-ips-per-region"
NATS = "ec2-quota-nat-gateways-per-az"
# The "without" tests share one server that lacks every quota patch (one server start
# instead of four); each still asserts moto's own behaviour for its patch.
WITHOUT = [RULES, GROUPS_PER_ENI, EIPS, NATS]

CLOUDFRONT_PL = "com.amazonaws.global.cloudfront.origin-facing"


def _refused(call, code: str, message: str) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call()
    assert err.value.response["Error"]["Code"] == code
    assert err.value.response["Error"]["Message"] == message


def _vpc(ec2, cidr: str = "10.40.0.0/16") -> str:
    return ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]


def _cloudfront_pl(ec2) -> str:
    return ec2.describe_managed_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [CLOUDFRONT_PL]}]
    )["PrefixLists"][0]["PrefixListId"]


def _from_pl(pl: str, *ports: int) -> list[dict]:
    return [{"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "PrefixListIds": [{"PrefixListId": pl}]} for p in ports]


def _cidrs(port: int, cidrs: list[str]) -> dict:
    key, field = ("Ipv6Ranges", "CidrIpv6") if ":" in cidrs[0] else ("IpRanges", "CidrIp")
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, key: [{field: c} for c in cidrs]}


def _ingress(ec2, group: str) -> list[dict]:
    return ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]


# --- rules per security group --------------------------------------------------------------
RULES_MSG = "The maximum number of rules per security group has been reached."


def test_cloudfront_prefix_list_on_two_ports_is_refused_as_a_whole(clean_emulator):
    ec2 = clean_emulator.client("ec2")
    vpc, pl = _vpc(ec2), _cloudfront_pl(ec2)
    alb = ec2.create_security_group(GroupName="alb", Description="alb", VpcId=vpc)["GroupId"]
    # 2 x 55 = 110 > 60, in one request: nothing is added.
    _refused(lambda: ec2.authorize_security_group_ingress(GroupId=alb, IpPermissions=_from_pl(pl, 80, 443)),
             "RulesPerSecurityGroupLimitExceeded", RULES_MSG)
    assert _ingress(ec2, alb) == []
    # One port fits (55); the second, added later, does not.
    ec2.authorize_security_group_ingress(GroupId=alb, IpPermissions=_from_pl(pl, 443))
    _refused(lambda: ec2.authorize_security_group_ingress(GroupId=alb, IpPermissions=_from_pl(pl, 80)),
             "RulesPerSecurityGroupLimitExceeded", RULES_MSG)
    # 55 + 5 CIDRs = 60 is the quota exactly; one more IPv4 rule is over it.
    ec2.authorize_security_group_ingress(
        GroupId=alb, IpPermissions=[_cidrs(8443, [f"192.0.2.{i}/32" for i in range(5)])])
    _refused(lambda: ec2.authorize_security_group_ingress(GroupId=alb, IpPermissions=[_cidrs(8443, ["192.0.2.9/32"])]),
             "RulesPerSecurityGroupLimitExceeded", RULES_MSG)
    # IPv4 and IPv6 are counted apart: 5 IPv6 rules still fit (the prefix list counts for both: 60)...
    ec2.authorize_security_group_ingress(
        GroupId=alb, IpPermissions=[_cidrs(8443, [f"2001:db8::{i}/128" for i in range(1, 6)])])
    # ... and a group reference counts for both families: 61.
    web = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    _refused(lambda: ec2.authorize_security_group_ingress(
        GroupId=alb, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                                     "UserIdGroupPairs": [{"GroupId": web}]}]),
             "RulesPerSecurityGroupLimitExceeded", RULES_MSG)


def test_egress_and_customer_prefix_lists_count_their_max_entries(clean_emulator):
    ec2 = clean_emulator.client("ec2")
    vpc = _vpc(ec2)
    own = ec2.create_managed_prefix_list(
        PrefixListName="offices", AddressFamily="IPv4", MaxEntries=25,
        Entries=[{"Cidr": "198.51.100.0/24"}],  # one entry, but the reference weighs MaxEntries
    )["PrefixList"]["PrefixListId"]
    group = ec2.create_security_group(GroupName="out", Description="out", VpcId=vpc)["GroupId"]
    # A new group holds the default egress rule (0.0.0.0/0): 1 + 25 + 25 = 51.
    ec2.authorize_security_group_egress(GroupId=group, IpPermissions=_from_pl(own, 443, 8443))
    ec2.authorize_security_group_egress(GroupId=group, IpPermissions=[_cidrs(25, [f"203.0.113.{i}/32" for i in range(9)])])
    _refused(lambda: ec2.authorize_security_group_egress(GroupId=group, IpPermissions=[_cidrs(25, ["203.0.113.99/32"])]),
             "RulesPerSecurityGroupLimitExceeded", RULES_MSG)
    # Ingress has its own 60.
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=_from_pl(own, 443, 8443))


def test_rules_quota_follows_the_emulators_setting(emulator_factory):
    # An account whose quota AWS raised to 120: the two-port rule set fits.
    emu = emulator_factory(env={"PROTEA_LOCALCLOUD_QUOTA_RULES_PER_SECURITY_GROUP": "120"})
    ec2 = emu.client("ec2")
    vpc, pl = _vpc(ec2), _cloudfront_pl(ec2)
    alb = ec2.create_security_group(GroupName="alb", Description="alb", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=alb, IpPermissions=_from_pl(pl, 80, 443))
    assert sorted(p["FromPort"] for p in _ingress(ec2, alb)) == [80, 443]


def test_rules_quota_without_patch_is_moto_stock(emulator_factory):
    ec2 = emulator_factory(disable=WITHOUT).client("ec2")
    vpc, pl = _vpc(ec2), _cloudfront_pl(ec2)
    alb = ec2.create_security_group(GroupName="alb", Description="alb", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=alb, IpPermissions=_from_pl(pl, 80, 443))
    assert sorted(p["FromPort"] for p in _ingress(ec2, alb)) == [80, 443]


# --- security groups per network interface -------------------------------------------------
ENI_MSG = "The maximum number of security groups per interface has been reached."


def _six_groups(ec2):
    from tests.localcloud.compat.ec2 import debian_ami_id

    vpc = _vpc(ec2, "10.41.0.0/16")
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.41.1.0/24", AvailabilityZone="af-south-1a")["Subnet"]["SubnetId"]
    groups = [ec2.create_security_group(GroupName=f"g{i}", Description="g", VpcId=vpc)["GroupId"] for i in range(6)]
    return debian_ami_id("af-south-1"), subnet, groups


def _run(ec2, ami, subnet, groups):
    return ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=subnet,
                             SecurityGroupIds=groups)["Instances"][0]


def _instances(ec2) -> list[dict]:
    return [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]


def test_six_groups_on_an_interface_are_refused(clean_emulator):
    ec2 = clean_emulator.client("ec2")
    ami, subnet, groups = _six_groups(ec2)
    _refused(lambda: _run(ec2, ami, subnet, groups), "SecurityGroupsPerInterfaceLimitExceeded", ENI_MSG)
    assert _instances(ec2) == []  # nothing half-launched
    _refused(lambda: ec2.run_instances(
        ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t3.micro",
        NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "Groups": groups}]),
        "SecurityGroupsPerInterfaceLimitExceeded", ENI_MSG)
    _refused(lambda: ec2.create_network_interface(SubnetId=subnet, Groups=groups),
             "SecurityGroupsPerInterfaceLimitExceeded", ENI_MSG)
    # Five is the quota: accepted everywhere; a sixth by modification is refused.
    instance = _run(ec2, ami, subnet, groups[:5])
    assert len(instance["SecurityGroups"]) == 5
    eni = ec2.create_network_interface(SubnetId=subnet, Groups=groups[:5])["NetworkInterface"]["NetworkInterfaceId"]
    _refused(lambda: ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=groups),
             "SecurityGroupsPerInterfaceLimitExceeded", ENI_MSG)
    _refused(lambda: ec2.modify_instance_attribute(InstanceId=instance["InstanceId"], Groups=groups),
             "SecurityGroupsPerInterfaceLimitExceeded", ENI_MSG)
    ec2.modify_instance_attribute(InstanceId=instance["InstanceId"], Groups=groups[1:])
    found = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert sorted(g["GroupId"] for g in found["SecurityGroups"]) == sorted(groups[1:])


def test_groups_per_interface_without_patch_is_moto_stock(emulator_factory):
    ec2 = emulator_factory(disable=WITHOUT).client("ec2")
    ami, subnet, groups = _six_groups(ec2)
    assert len(_run(ec2, ami, subnet, groups)["SecurityGroups"]) == 6
    ec2.create_network_interface(SubnetId=subnet, Groups=groups)


# --- Elastic IP addresses per Region ---------------------------------------------------------
def test_sixth_elastic_ip_in_a_region_is_refused(clean_emulator):
    ec2 = clean_emulator.client("ec2")
    allocated = [ec2.allocate_address(Domain="vpc")["AllocationId"] for _ in range(5)]
    _refused(lambda: ec2.allocate_address(Domain="vpc"), "AddressLimitExceeded",
             "The maximum number of addresses has been reached.")
    # Per Region: another Region has its own five.
    clean_emulator.client("ec2", region="eu-west-1").allocate_address(Domain="vpc")
    # Releasing one frees its place.
    ec2.release_address(AllocationId=allocated[0])
    ec2.allocate_address(Domain="vpc")
    assert len(ec2.describe_addresses()["Addresses"]) == 5


def test_elastic_ips_without_patch_is_moto_stock(emulator_factory):
    ec2 = emulator_factory(disable=WITHOUT).client("ec2")
    for _ in range(6):
        ec2.allocate_address(Domain="vpc")
    assert len(ec2.describe_addresses()["Addresses"]) == 6


# --- NAT gateways per Availability Zone ------------------------------------------------------
def _nat_subnets(ec2) -> tuple[str, str]:
    vpc = _vpc(ec2, "10.42.0.0/16")
    a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24", AvailabilityZone="af-south-1a")["Subnet"]["SubnetId"]
    b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.2.0/24", AvailabilityZone="af-south-1b")["Subnet"]["SubnetId"]
    return a, b


def _private_nat(ec2, subnet: str) -> str:
    # Private NAT gateways need no Elastic IP (whose own quota is 5 per Region).
    return ec2.create_nat_gateway(SubnetId=subnet, ConnectivityType="private")["NatGateway"]["NatGatewayId"]


def test_sixth_nat_gateway_in_an_az_is_refused(clean_emulator):
    ec2 = clean_emulator.client("ec2")
    a, b = _nat_subnets(ec2)
    in_a = [_private_nat(ec2, a) for _ in range(5)]
    _refused(lambda: _private_nat(ec2, a), "NatGatewayLimitExceeded",
             "The maximum number of NAT Gateways has been reached.")
    _private_nat(ec2, b)  # per AZ: the other AZ has its own five
    ec2.delete_nat_gateway(NatGatewayId=in_a[0])  # a deleted gateway no longer counts
    _private_nat(ec2, a)


def test_nat_gateways_without_patch_is_moto_stock(emulator_factory):
    ec2 = emulator_factory(disable=WITHOUT).client("ec2")
    a, _ = _nat_subnets(ec2)
    for _ in range(6):
        _private_nat(ec2, a)
    assert len(ec2.describe_nat_gateways()["NatGateways"]) == 6
