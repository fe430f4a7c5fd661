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
    ec2, nat, eip = _nat_and_eip(emulator_factory(disable=WITHOUT))
    assert _tags(ec2, nat, "natgateway") == []
    assert [t["ResourceType"] for t in _tags(ec2, nat, "nat-gateway")] == ["nat-gateway"]
    assert _tags(ec2, eip, "elastic-ip") == []


SG_DESC = "ec2-sg-rule-descriptions"


def _sg_with_described_rules(emu):
    ec2 = emu.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.31.0.0/16")["Vpc"]["VpcId"]
    pl = ec2.describe_managed_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": ["com.amazonaws.global.cloudfront.origin-facing"]}]
    )["PrefixLists"][0]["PrefixListId"]
    web = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    alb = ec2.create_security_group(GroupName="alb", Description="alb", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=alb,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
             "PrefixListIds": [{"PrefixListId": pl, "Description": "CloudFront origin-facing"}]},
        ],
    )
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
             "UserIdGroupPairs": [{"GroupId": alb, "Description": "from the ALB"}]},
        ],
    )
    return ec2, pl, web, alb


def test_sg_rule_descriptions_as_aws(clean_emulator):
    ec2, pl, web, alb = _sg_with_described_rules(clean_emulator)
    perms = ec2.describe_security_groups(GroupIds=[alb])["SecurityGroups"][0]["IpPermissions"]
    assert perms[0]["PrefixListIds"] == [{"PrefixListId": pl, "Description": "CloudFront origin-facing"}]
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [web]}])["SecurityGroupRules"]
    ingress = [r for r in rules if not r["IsEgress"]]
    assert [(r["ReferencedGroupInfo"]["GroupId"], r.get("Description")) for r in ingress] == [(alb, "from the ALB")]
    # Changing a prefix-list rule's description is reflected (UpdateSecurityGroupRuleDescriptionsIngress).
    ec2.update_security_group_rule_descriptions_ingress(
        GroupId=alb,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                        "PrefixListIds": [{"PrefixListId": pl, "Description": "CF"}]}],
    )
    perms = ec2.describe_security_groups(GroupIds=[alb])["SecurityGroups"][0]["IpPermissions"]
    assert perms[0]["PrefixListIds"] == [{"PrefixListId": pl, "Description": "CF"}]


def test_sg_rule_descriptions_without_patch_is_moto_stock(emulator_factory):
    ec2, pl, web, alb = _sg_with_described_rules(emulator_factory(disable=WITHOUT))
    perms = ec2.describe_security_groups(GroupIds=[alb])["SecurityGroups"][0]["IpPermissions"]
    assert perms[0]["PrefixListIds"] == [{"PrefixListId": pl}]
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [web]}])["SecurityGroupRules"]
    assert [r.get("Description") for r in rules if not r["IsEgress"]] == [None]


MD_MERGE = "ec2-metadata-options-merge"


def _instance_with_imdsv2(emu):
    from tests.localcloud.compat.ec2 import debian_ami_id

    ec2 = emu.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.32.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.32.1.0/24")["Subnet"]["SubnetId"]
    iid = ec2.run_instances(
        ImageId=debian_ami_id("af-south-1"), MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=subnet,
        MetadataOptions={"HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled",
                         "InstanceMetadataTags": "enabled"},
    )["Instances"][0]["InstanceId"]
    ec2.modify_instance_metadata_options(InstanceId=iid, HttpTokens="optional")
    md = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["MetadataOptions"]
    return md


def test_modify_metadata_options_keeps_unspecified(clean_emulator):
    md = _instance_with_imdsv2(clean_emulator)
    assert md["HttpTokens"] == "optional"
    assert md["HttpPutResponseHopLimit"] == 2
    assert md["HttpEndpoint"] == "enabled"
    assert md["InstanceMetadataTags"] == "enabled"


def test_modify_metadata_options_without_patch_is_moto_stock(emulator_factory):
    md = _instance_with_imdsv2(emulator_factory(disable=WITHOUT))
    assert md["HttpTokens"] == "optional"
    assert md["HttpPutResponseHopLimit"] == 1
    assert "InstanceMetadataTags" not in md


SNAP_TAGS = "ec2-create-image-snapshot-tags"
AMI_DUP = "ec2-create-image-duplicate-name"
LT_TAGS = "ec2-launch-template-tag-specs"


def _builder(emu):
    from tests.localcloud.compat.ec2 import debian_ami_id

    ec2 = emu.client("ec2")
    iid = ec2.run_instances(ImageId=debian_ami_id("af-south-1"), MinCount=1, MaxCount=1, InstanceType="t3.micro")[
        "Instances"
    ][0]["InstanceId"]
    return ec2, iid


def _create_image(ec2, iid, name):
    return ec2.create_image(
        InstanceId=iid,
        Name=name,
        TagSpecifications=[
            {"ResourceType": "image", "Tags": [{"Key": "Role", "Value": "web"}]},
            {"ResourceType": "snapshot", "Tags": [{"Key": "Role", "Value": "web-root"}]},
        ],
    )["ImageId"]


def test_create_image_tags_snapshots_and_rejects_duplicate_names(clean_emulator):
    ec2, iid = _builder(clean_emulator)
    ami_id = _create_image(ec2, iid, "web-1")
    image = ec2.describe_images(ImageIds=[ami_id])["Images"][0]
    assert image["Tags"] == [{"Key": "Role", "Value": "web"}]
    snap_id = image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    snap = ec2.describe_snapshots(SnapshotIds=[snap_id])["Snapshots"][0]
    assert snap["Tags"] == [{"Key": "Role", "Value": "web-root"}]
    with pytest.raises(ec2.exceptions.ClientError) as err:
        ec2.create_image(InstanceId=iid, Name="web-1")
    assert err.value.response["Error"]["Code"] == "InvalidAMIName.Duplicate"


def test_create_image_without_patches_is_moto_stock(emulator_factory):
    import botocore.parsers

    ec2, iid = _builder(emulator_factory(disable=WITHOUT))
    with pytest.raises(botocore.parsers.ResponseParserError):  # moto: NotImplementedError -> HTML 500
        _create_image(ec2, iid, "web-1")
    first = ec2.create_image(InstanceId=iid, Name="web-2")["ImageId"]
    second = ec2.create_image(InstanceId=iid, Name="web-2")["ImageId"]
    assert first != second


IMAGE_VOLUME = "ec2-create-image-instance-volume"


def _encrypted_builder(emu):
    from tests.localcloud.compat.ec2 import debian_ami_id

    ec2 = emu.client("ec2")
    iid = ec2.run_instances(ImageId=debian_ami_id("af-south-1"), MinCount=1, MaxCount=1, InstanceType="t3.micro",
                            BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {
                                "VolumeSize": 12, "VolumeType": "gp3", "Encrypted": True,
                                "DeleteOnTermination": True}}])["Instances"][0]["InstanceId"]
    image = ec2.describe_images(ImageIds=[ec2.create_image(InstanceId=iid, Name="enc-1")["ImageId"]])["Images"][0]
    ebs = image["BlockDeviceMappings"][0]["Ebs"]
    snap = ec2.describe_snapshots(SnapshotIds=[ebs["SnapshotId"]])["Snapshots"][0]
    return ebs, snap


def test_image_of_an_encrypted_instance_has_an_encrypted_snapshot(clean_emulator):
    ebs, snap = _encrypted_builder(clean_emulator)
    assert (ebs["Encrypted"], ebs["VolumeSize"], ebs["VolumeType"]) == (True, 12, "gp3")
    assert (snap["Encrypted"], snap["VolumeSize"]) == (True, 12)


def test_image_snapshot_without_patch_is_moto_stock(emulator_factory):
    ebs, snap = _encrypted_builder(emulator_factory(disable=[IMAGE_VOLUME]))
    assert (snap["Encrypted"], snap["VolumeSize"]) == (False, 15)


def _template_with_tags(emu):
    ec2 = emu.client("ec2")
    ec2.create_launch_template(
        LaunchTemplateName="web",
        LaunchTemplateData={
            "InstanceType": "t3.micro",
            "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web"}]}],
        },
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": [{"Key": "Component", "Value": "asg"}]}],
    )
    tmpl = ec2.describe_launch_templates(LaunchTemplateNames=["web"])["LaunchTemplates"][0]
    data = ec2.describe_launch_template_versions(LaunchTemplateName="web")["LaunchTemplateVersions"][0][
        "LaunchTemplateData"
    ]
    return tmpl, data


def test_launch_template_tags_stay_on_the_template(clean_emulator):
    tmpl, data = _template_with_tags(clean_emulator)
    assert tmpl["Tags"] == [{"Key": "Component", "Value": "asg"}]
    assert data["TagSpecifications"] == [
        {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web"}]}
    ]


def test_launch_template_tags_without_patch_is_moto_stock(emulator_factory):
    tmpl, data = _template_with_tags(emulator_factory(disable=WITHOUT))
    assert {"ResourceType": "launch-template", "Tags": [{"Key": "Component", "Value": "asg"}]} in data[
        "TagSpecifications"
    ]


# The "without" tests share one server that lacks every patch of this module (one server
# start instead of one per patch); each still asserts moto's own behaviour for its patch.
WITHOUT = [TAG_TYPES, SG_DESC, MD_MERGE, SNAP_TAGS, AMI_DUP, LT_TAGS]


NAT_PENDING = "ec2-nat-gateway-pending"


def _nat_states(emu) -> tuple[str, str, str]:
    """(state in the create answer, described at once, described after the pending time)."""
    import time

    ec2 = emu.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.31.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.31.1.0/24")["Subnet"]["SubnetId"]
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    created = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=eip)["NatGateway"]
    at_once = ec2.describe_nat_gateways(NatGatewayIds=[created["NatGatewayId"]])["NatGateways"][0]["State"]
    # A state filter sees the same state (ec2_vpc_nat_gateway finds pending ones by it: no second gateway).
    filtered = ec2.describe_nat_gateways(Filters=[{"Name": "subnet-id", "Values": [subnet]},
                                                  {"Name": "state", "Values": [at_once]}])["NatGateways"]
    assert [g["NatGatewayId"] for g in filtered] == [created["NatGatewayId"]]
    time.sleep(3.5)
    later = ec2.describe_nat_gateways(NatGatewayIds=[created["NatGatewayId"]])["NatGateways"][0]["State"]
    ec2.delete_nat_gateway(NatGatewayId=created["NatGatewayId"])
    return created["State"], at_once, later


def test_a_new_nat_gateway_is_pending_then_available(clean_emulator):
    assert _nat_states(clean_emulator) == ("pending", "pending", "available")


def test_nat_gateway_without_patch_is_available_at_once(emulator_factory):
    assert _nat_states(emulator_factory(disable=[NAT_PENDING])) == ("available", "available", "available")
