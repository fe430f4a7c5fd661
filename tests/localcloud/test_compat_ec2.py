"""EC2/VPC compat patches: AWS behaviour on the patched server, moto's without the patch."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.emulator

TAG_TYPES = "ec2-describe-tags-resource-type"


def _nat_and_eip(emu):
    ec2 = emu.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.1.0/24")["Subnet"]["SubnetId"]
    eip = ec2.allocate_address(
        Domain="vpc", TagSpecifications=[{"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "e"}]}]
    )["AllocationId"]
    nat = ec2.create_nat_gateway(
        SubnetId=subnet,
        AllocationId=eip,
        TagSpecifications=[{"ResourceType": "natgateway", "Tags": [{"Key": "Name", "Value": "n"}]}],
    )["NatGateway"]["NatGatewayId"]
    return ec2, nat, eip


def _tags(ec2, resource_id, resource_type):
    return ec2.describe_tags(
        Filters=[
            {"Name": "resource-id", "Values": [resource_id]},
            {"Name": "resource-type", "Values": [resource_type]},
        ]
    )["Tags"]


def test_describe_tags_uses_aws_resource_types(clean_emulator):
    ec2, nat, eip = _nat_and_eip(clean_emulator)
    # What amazon.aws's ensure_ec2_tags(resource_type="natgateway") asks.
    assert _tags(ec2, nat, "natgateway") == [
        {"Key": "Name", "ResourceId": nat, "ResourceType": "natgateway", "Value": "n"}
    ]
    assert [t["ResourceType"] for t in _tags(ec2, eip, "elastic-ip")] == ["elastic-ip"]


def test_describe_tags_without_patch_is_moto_stock(emulator_factory):
    ec2, nat, eip = _nat_and_eip(emulator_factory(disable=[TAG_TYPES]))
    assert _tags(ec2, nat, "natgateway") == []
    assert [t["ResourceType"] for t in _tags(ec2, nat, "nat-gateway")] == ["nat-gateway"]
    assert _tags(ec2, eip, "elastic-ip") == []
