"""EC2 / VPC compatibility patches and the Debian AMI seed."""
from __future__ import annotations

import hashlib
import os
from datetime import datetime, timezone

from tests.localcloud.compat import Patch, Seed
from tests.localcloud.compat._states import hold, settle_new

# --- DescribeTags resource types ---------------------------------------------------------
# moto derives a tag's resource type from the id prefix with its own internal names; these
# are the ones AWS spells differently (DescribeTags, filter "resource-type").
_AWS_TAG_RESOURCE_TYPES = {
    "nat": "natgateway",
    "eipalloc": "elastic-ip",
    "fl": "vpc-flow-log",
    "pl": "prefix-list",
    "h": "dedicated-host",
    "sir": "spot-instances-request",
}


def _apply_tag_resource_types() -> None:
    from moto.ec2 import utils

    # moto.ec2.models.tags imported the same dict object: updating it in place reaches both
    # the filter and the ResourceType in the answer.
    utils.EC2_PREFIX_TO_RESOURCE.update(_AWS_TAG_RESOURCE_TYPES)


# --- Security group rules: prefix-list and group-pair descriptions ---------------------
def _apply_sg_rule_descriptions() -> None:
    import inspect

    from moto.ec2.models import security_groups as sgm

    rule_cls = sgm.SecurityGroupRule
    init_sig = inspect.signature(rule_cls.__init__)
    original_init = rule_cls.__init__

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original_init(self, *args, **kwargs)
        bound = init_sig.bind(self, *args, **kwargs)
        self.prefix_list = dict(bound.arguments.get("prefix_list_id") or {})

    def description(self):  # type: ignore[no-untyped-def]
        for src in (self.ip_range, self.source_group, getattr(self, "prefix_list", {})):
            if src.get("Description") is not None:
                return src["Description"]
        return None

    rule_cls.__init__ = __init__  # type: ignore[method-assign]
    rule_cls.description = property(description)  # type: ignore[assignment]

    original_flatten = sgm.SecurityGroup._flattened_rules

    def _flattened_rules(self, rules):  # type: ignore[no-untyped-def]
        views = original_flatten(self, rules)
        for view in views:
            key = (view.from_port, view.to_port, view.ip_protocol)
            view.prefix_list_ids = [
                {k: v for k, v in r.prefix_list.items() if k in ("PrefixListId", "Description")}
                for r in rules
                if r.prefix_list_id and (r.from_port, r.to_port, r.ip_protocol) == key
            ]
        return views

    sgm.SecurityGroup._flattened_rules = _flattened_rules  # type: ignore[method-assign]

    original_update = sgm.SecurityGroupBackend._sg_update_description

    def _sg_update_description(self, security_rule, rule):  # type: ignore[no-untyped-def]
        original_update(self, security_rule, rule)
        wanted = getattr(security_rule, "prefix_list", {})
        if "Description" in wanted and rule.prefix_list_id == wanted.get("PrefixListId"):
            rule.prefix_list["Description"] = wanted["Description"]

    sgm.SecurityGroupBackend._sg_update_description = _sg_update_description  # type: ignore[method-assign]


# --- ModifyInstanceMetadataOptions keeps what it is not told to change -------------------
def _apply_metadata_options_merge() -> None:
    from moto.ec2.models import instances as im

    original = im.InstanceBackend.modify_instance_metadata_options

    def modify_instance_metadata_options(self, instance_id, **kwargs):  # type: ignore[no-untyped-def]
        current = self.get_instance(instance_id).metadata_options
        keep = {
            "http_tokens": current.http_tokens,
            "hop_limit": current.http_put_response_hop_limit,
            "http_endpoint": current.http_endpoint,
            "http_protocol": current.http_protocol_ipv6,
            "metadata_tags": current.instance_metadata_tags,
        }
        for key, value in keep.items():
            if kwargs.get(key) is None:
                kwargs[key] = value
        return original(self, instance_id, **kwargs)

    im.InstanceBackend.modify_instance_metadata_options = modify_instance_metadata_options  # type: ignore[method-assign]


# --- CreateImage: snapshot tags, duplicate names -----------------------------------------
def _apply_create_image_snapshot_tags() -> None:
    from moto.ec2.models.amis import AmiBackend

    original = AmiBackend.create_image

    def create_image(self, instance_id, name, description, tag_specifications):  # type: ignore[no-untyped-def]
        snapshot_tags = [
            tag for spec in tag_specifications or [] if spec.get("ResourceType") == "snapshot"
            for tag in spec.get("Tags", [])
        ]
        others = [spec for spec in tag_specifications or [] if spec.get("ResourceType") != "snapshot"]
        ami = original(self, instance_id, name, description, others)
        for tag in snapshot_tags:
            # "The same tag is applied to all of the snapshots that are created."
            ami.ebs_snapshot.add_tag(tag["Key"], tag["Value"])
        return ami

    AmiBackend.create_image = create_image  # type: ignore[method-assign]


def _apply_create_image_duplicate_name() -> None:
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models.amis import AmiBackend

    original = AmiBackend.create_image

    def create_image(self, instance_id, name, description, tag_specifications):  # type: ignore[no-untyped-def]
        if any(a.name == name and a.owner_id == self.account_id for a in self.amis.values()):
            raise EC2ClientError("InvalidAMIName.Duplicate", f"AMI name {name} is already in use by AMI")
        return original(self, instance_id, name, description, tag_specifications)

    AmiBackend.create_image = create_image  # type: ignore[method-assign]


def _apply_create_image_instance_volume() -> None:
    from moto.ec2.models.amis import Ami, AmiBackend

    original = AmiBackend.create_image

    def create_image(self, instance_id, name, description, tag_specifications):  # type: ignore[no-untyped-def]
        ami = original(self, instance_id, name, description, tag_specifications)
        instance = self.get_instance(instance_id)
        root = (getattr(instance, "block_device_mapping", None) or {}).get(instance.root_device_name)
        volume = self.volumes.get(getattr(root, "volume_id", None) or "") if root is not None else None
        if volume is None:
            return ami
        # The image's snapshot is a copy of the instance's root volume: its size and encryption.
        auto = ami.ebs_snapshot
        snapshot = self.create_snapshot(volume.id, auto.description, ami.owner_id, from_ami=ami.id)
        snapshot.add_tags(dict(self.tags.get(auto.id, {})))
        self.snapshots.pop(auto.id, None)
        self.tags.pop(auto.id, None)
        ami.ebs_snapshot = snapshot
        ami.protea_root_volume = {"VolumeSize": volume.size, "Encrypted": bool(volume.encrypted),
                                  "VolumeType": volume.volume_type or "gp2"}
        if volume.encrypted and getattr(volume, "kms_key_id", None):
            ami.protea_root_volume["KmsKeyId"] = volume.kms_key_id
        return ami

    original_mappings = Ami.block_device_mappings

    def block_device_mappings(self):  # type: ignore[no-untyped-def]
        out = original_mappings.fget(self)
        root = getattr(self, "protea_root_volume", None)
        if root and out:
            out[0]["Ebs"].update(root)
        return out

    AmiBackend.create_image = create_image  # type: ignore[method-assign]
    Ami.block_device_mappings = property(block_device_mappings)  # type: ignore[method-assign,assignment]


# --- CreateLaunchTemplate: top-level tags tag the template only ---------------------------
def _apply_launch_template_tags() -> None:
    from moto.ec2.responses.launch_templates import LaunchTemplates

    original = LaunchTemplates.create_launch_template

    def create_launch_template(self):  # type: ignore[no-untyped-def]
        # moto appends the request's top-level TagSpecifications (ResourceType launch-template)
        # to LaunchTemplateData.TagSpecifications; hide them from that copy only.
        data = self._get_param("LaunchTemplateData", {}) or {}
        wanted = list(data.get("TagSpecifications") or [])
        result = original(self)
        template = self.ec2_backend.get_launch_template_by_name(self._get_param("LaunchTemplateName"))
        version = template.default_version()
        if wanted:
            version.data["TagSpecifications"] = wanted
        else:
            version.data.pop("TagSpecifications", None)
        return result

    LaunchTemplates.create_launch_template = create_launch_template  # type: ignore[method-assign]


# --- Debian 12 AMI seed ------------------------------------------------------------------
DEBIAN_OWNER = "136693071363"  # Debian's AWS account (https://wiki.debian.org/Cloud/AmazonEC2Image)
DEBIAN_AMI_NAME = "debian-12-amd64-20260101-0000"


def debian_ami_id(region: str) -> str:
    """Stable per-region id, so an AMI id survives resets and server restarts."""
    return "ami-" + hashlib.sha256(f"{DEBIAN_AMI_NAME}/{region}".encode()).hexdigest()[:17]


def _add_debian_ami(backend) -> None:  # type: ignore[no-untyped-def]
    from moto.ec2.models.amis import Ami

    ami_id = debian_ami_id(backend.region_name)
    if ami_id in backend.amis:
        return
    backend.amis[ami_id] = Ami(
        backend,
        ami_id=ami_id,
        name=DEBIAN_AMI_NAME,
        description="Debian 12 (20260101-0000)",
        owner_id=DEBIAN_OWNER,
        public=True,
        virtualization_type="hvm",
        architecture="x86_64",
        hypervisor="xen",
        root_device_type="ebs",
        root_device_name="/dev/xvda",
        creation_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
        region_name=f"{backend.region_name}a",
        boot_mode="uefi-preferred",
    )


def _seed_debian_ami() -> None:
    # Lazy: moto builds a region's EC2 backend on first use (and again after a reset) and
    # loads its public AMIs then; the Debian image joins them, in every region and account,
    # as Debian's public AMIs do on AWS. Costs nothing for regions never used.
    from moto.ec2.models.amis import AmiBackend

    if getattr(AmiBackend._load_amis, "protea_debian", False):
        return
    original = AmiBackend._load_amis

    def _load_amis(self) -> None:  # type: ignore[no-untyped-def]
        original(self)
        _add_debian_ami(self)

    _load_amis.protea_debian = True  # type: ignore[attr-defined]
    AmiBackend._load_amis = _load_amis  # type: ignore[method-assign]


# How long a new NAT gateway stays `pending` here (AWS: about a minute or two). Short: the point is
# the state change a client must wait for, not the duration. PROTEA_NAT_PENDING_SECONDS overrides;
# the delay layer (PROTEA_DELAY_SCALE) scales AWS's usual time.
NAT_PENDING_SECONDS = 3.0


def _nat_pending_seconds() -> float:
    from tests.localcloud import delays

    given = os.environ.get("PROTEA_NAT_PENDING_SECONDS")
    return float(given) if given else delays.seconds("nat_gateway", NAT_PENDING_SECONDS)


def _apply_nat_gateway_pending() -> None:
    from moto.ec2.models.nat_gateways import NatGateway

    if getattr(NatGateway, "protea_pending", False):
        return
    NatGateway.protea_pending = True  # type: ignore[attr-defined]
    # moto sets state = "available" at once: kept as the state after `pending`.
    hold(NatGateway, "state", "pending", "available")
    settle_new(NatGateway, lambda _nat: _nat_pending_seconds())



# CreateImage needs an instance that has booted (EC2 API Reference, CreateImage; what EC2 answers
# otherwise names the states it accepts).
IMAGEABLE_STATES = ("running", "stopping", "stopped")


def _apply_create_image_instance_state() -> None:
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models.amis import AmiBackend

    original = AmiBackend.create_image

    def create_image(self, instance_id, *args, **kwargs):  # type: ignore[no-untyped-def]
        state = self.get_instance(instance_id).state
        if state not in IMAGEABLE_STATES:
            raise EC2ClientError("InvalidParameterValue", f"Invalid value '{instance_id}' for instanceId. Instance is "
                                 "not in state 'running' or 'stopping' or 'stopped'")
        return original(self, instance_id, *args, **kwargs)

    AmiBackend.create_image = create_image  # type: ignore[method-assign]



def _apply_associate_address_instance_state() -> None:
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models.elastic_ip_addresses import ElasticAddressBackend

    original = ElasticAddressBackend.associate_address

    def associate_address(self, instance=None, *args, **kwargs):  # type: ignore[no-untyped-def]
        if instance is not None and instance.state == "pending":
            raise EC2ClientError("IncorrectInstanceState",
                                 f"The pending instance '{instance.id}' is not in a valid state for this operation.")
        return original(self, instance, *args, **kwargs)

    ElasticAddressBackend.associate_address = associate_address  # type: ignore[method-assign]


PATCHES = [
    Patch(
        name="ec2-nat-gateway-pending",
        api="ec2:CreateNatGateway, ec2:DescribeNatGateways",
        moto_does="Creates a NAT gateway `available` at once, so a client that never waits for it passes.",
        aws_does="Creates it `pending`; it becomes `available` when ready (or `failed`), and routes through "
        "it carry traffic only then. Here it stays `pending` for 3 s (PROTEA_NAT_PENDING_SECONDS; scaled by PROTEA_DELAY_SCALE).",
        doc="Amazon VPC User Guide, NAT gateways (Create a NAT gateway: the status is Pending, then Available): "
        "https://docs.aws.amazon.com/vpc/latest/userguide/nat-gateway-working-with.html",
        apply=_apply_nat_gateway_pending,
    ),
    Patch(
        name="ec2-describe-tags-resource-type",
        api="ec2:DescribeTags",
        moto_does="Reports (and filters on) moto's internal resource-type names: `nat-gateway`, "
        "`vpc-elastic-ip`, `flow-logs`, `managed-prefix-list`; a `resource-type=natgateway` "
        "filter finds nothing, so ec2_vpc_nat_gateway/ec2_eip re-tag on every run.",
        aws_does="Uses `natgateway`, `elastic-ip`, `vpc-flow-log`, `prefix-list`, "
        "`dedicated-host`, `spot-instances-request`.",
        doc="Amazon EC2 API Reference, DescribeTags (filter resource-type): "
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeTags.html",
        apply=_apply_tag_resource_types,
    ),
    Patch(
        name="ec2-sg-rule-descriptions",
        api="ec2:DescribeSecurityGroups, ec2:DescribeSecurityGroupRules, "
        "ec2:UpdateSecurityGroupRuleDescriptionsIngress/Egress",
        moto_does="Drops the Description of prefix-list rules (PrefixListIds[].Description) and of "
        "group-reference rules in DescribeSecurityGroupRules; ec2_security_group then sees a "
        "changed rule on every run.",
        aws_does="Returns each rule's Description: PrefixListId{Description} in IpPermissions, "
        "Description on every SecurityGroupRule.",
        doc="Amazon EC2 API Reference, PrefixListId and SecurityGroupRule data types: "
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_PrefixListId.html, "
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_SecurityGroupRule.html",
        apply=_apply_sg_rule_descriptions,
    ),
    Patch(
        name="ec2-metadata-options-merge",
        api="ec2:ModifyInstanceMetadataOptions",
        moto_does="Replaces all metadata options with the ones in the request: the hop limit falls "
        "back to 1 and HttpEndpoint/HttpProtocolIpv6/InstanceMetadataTags disappear.",
        aws_does="Changes only the options given; for each one not specified \"the existing state "
        "is maintained\".",
        doc="Amazon EC2 API Reference, ModifyInstanceMetadataOptions: "
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceMetadataOptions.html",
        apply=_apply_metadata_options_merge,
    ),
    Patch(
        name="ec2-create-image-snapshot-tags",
        api="ec2:CreateImage (TagSpecifications ResourceType=snapshot)",
        moto_does="Raises NotImplementedError for snapshot tag specifications (HTTP 500, \"invalid XML\"); "
        "amazon.aws.ec2_ami with tags fails.",
        aws_does="Tags the AMI (ResourceType image) and every snapshot it creates (ResourceType snapshot).",
        doc="Amazon EC2 API Reference, CreateImage (TagSpecifications): "
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateImage.html",
        apply=_apply_create_image_snapshot_tags,
    ),
    Patch(
        name="ec2-create-image-instance-volume",
        api="ec2:CreateImage (from an instance)",
        moto_does="Makes the image's snapshot from a new, unencrypted 15 GiB volume, whatever the instance's root "
        "volume is: an image of an encrypted instance has an unencrypted snapshot.",
        aws_does="Creates a snapshot of each of the instance's EBS volumes: the image's root snapshot has the "
        "root volume's size, and is encrypted (with the same key) when the volume is.",
        doc="Amazon EC2 API Reference, CreateImage; Amazon EC2 User Guide, \"Use encryption with EBS-backed AMIs\": "
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/AMIEncryption.html",
        apply=_apply_create_image_instance_volume,
    ),
    Patch(
        name="ec2-create-image-duplicate-name",
        api="ec2:CreateImage",
        moto_does="Creates a second AMI with a name the account already uses in the region.",
        aws_does="Fails with InvalidAMIName.Duplicate: AMI names are unique per account and region.",
        doc="Amazon EC2 API Reference, Error codes (InvalidAMIName.Duplicate): "
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html",
        apply=_apply_create_image_duplicate_name,
    ),
    Patch(
        name="ec2-launch-template-tag-specs",
        api="ec2:CreateLaunchTemplate, DescribeLaunchTemplateVersions",
        moto_does="Copies the request's top-level TagSpecifications (the template's own tags) into "
        "LaunchTemplateData.TagSpecifications, so ec2_launch_template sees a changed template and "
        "creates a new version on every run.",
        aws_does="Top-level TagSpecifications tag the launch template; LaunchTemplateData keeps only the "
        "tag specifications given inside it (for instances, volumes, ...).",
        doc="Amazon EC2 API Reference, CreateLaunchTemplate (TagSpecifications): "
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateLaunchTemplate.html",
        apply=_apply_launch_template_tags,
    ),
]

SEEDS = [
    Seed(
        name="ec2-debian-12-ami",
        doc=f"Debian 12 amd64 AMI `{DEBIAN_AMI_NAME}` owned by {DEBIAN_OWNER}, public, in every "
        "region (as Debian publishes it: https://wiki.debian.org/Cloud/AmazonEC2Image)",
        apply=_seed_debian_ami,
    ),
    Patch(
        name="ec2-create-image-instance-state",
        api="ec2:CreateImage",
        moto_does="Makes an image of an instance in any state, one still `pending` (not booted) included.",
        aws_does="Refuses an instance that is not running, stopping or stopped with InvalidParameterValue "
        "(\"Instance is not in state 'running' or 'stopping' or 'stopped'\"); a playbook must wait for the "
        "instance first.",
        doc="Amazon EC2 API Reference, CreateImage: "
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateImage.html",
        apply=_apply_create_image_instance_state,
    ),
    Patch(
        name="ec2-associate-address-instance-state",
        api="ec2:AssociateAddress",
        moto_does="Associates an Elastic IP with an instance that is still `pending`.",
        aws_does="Refuses a pending instance with IncorrectInstanceState (\"The pending instance ... is not in a "
        "valid state for this operation\"); a playbook must wait until it runs.",
        doc="Amazon EC2 API Reference, AssociateAddress, and Error codes (IncorrectInstanceState): "
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html",
        apply=_apply_associate_address_instance_state,
    ),
]
