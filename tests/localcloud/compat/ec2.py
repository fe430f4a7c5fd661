"""EC2 / VPC compatibility patches and the Debian AMI seed."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from tests.localcloud.compat import Patch, Seed

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


PATCHES = [
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
]

SEEDS = [
    Seed(
        name="ec2-debian-12-ami",
        doc=f"Debian 12 amd64 AMI `{DEBIAN_AMI_NAME}` owned by {DEBIAN_OWNER}, public, in every "
        "region (as Debian publishes it: https://wiki.debian.org/Cloud/AmazonEC2Image)",
        apply=_seed_debian_ami,
    ),
]
