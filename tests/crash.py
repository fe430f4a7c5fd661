"""Crash-safe re-runs: what a run killed half-way and then re-run must not leave behind.

`duplicates(endpoint, regions)` lists, through the AWS APIs of the emulator, every resource of
the kinds a killed-and-resumed run could create twice or orphan (issue 16 item 4), each finding a
readable line; [] means nothing is duplicated. The rules are what one environment holds when it
is converged, never a count read from our own variables:

  * NAT gateways: at most one live gateway per subnet;
  * Elastic IPs: every address associated with something (a crash between AllocateAddress and
    its association leaves one that the re-run must adopt, not add to);
  * instances: outside Auto Scaling groups, at most one live instance per Name tag and subnet;
    inside, no more than the group's desired capacity;
  * IAM access keys: at most one per user (two means a key was created and lost);
  * KMS keys: every enabled customer key carries an alias (a crash between CreateKey and
    CreateAlias leaves a key nobody finds again);
  * SNS subscriptions: one per topic, protocol and endpoint;
  * CloudFront distributions: one per alias (CNAME) and per comment;
  * images: one available or pending image per Name tag value of ours and per version tag;
  * the rest, one per identity: Route 53 hosted zones per name and privacy, ACM certificates per
    domain, EFS file systems per Name tag, VPCs per Name tag, flow logs per resource and
    destination, VPC endpoints per VPC and service.

The crash harness itself (kill right after the N-th mutating call) is the emulator's
(tests/localcloud/serve.py) and `tests.helpers.run_playbook(crash_after=..., crash_action=...)`.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

from tests.localcloud.emulator import client

LIVE_INSTANCE = ("pending", "running", "stopping", "stopped")


def _tag(resource: dict, key: str, field: str = "Tags") -> str | None:
    for tag in resource.get(field) or []:
        if tag.get("Key") == key:
            return tag.get("Value")
    return None


def _repeated(kind: str, groups: dict[Any, list[str]], limit: int = 1) -> list[str]:
    return [f"{len(ids)} {kind} for {key}: {', '.join(sorted(ids))}"
            for key, ids in sorted(groups.items(), key=lambda kv: str(kv[0])) if len(ids) > limit]


def _pages(method: Any, key: str, **kwargs: Any) -> Iterable[dict]:
    if method.__self__.can_paginate(method.__name__):
        for page in method.__self__.get_paginator(method.__name__).paginate(**kwargs):
            yield from page.get(key, [])
    else:
        yield from method(**kwargs).get(key, [])


def _ec2(endpoint: str, region: str) -> list[str]:
    ec2 = client(endpoint, "ec2", region)
    found: list[str] = []
    nats: dict[str, list[str]] = defaultdict(list)
    for nat in _pages(ec2.describe_nat_gateways, "NatGateways"):
        if nat["State"] in ("pending", "available"):
            nats[nat["SubnetId"]].append(nat["NatGatewayId"])
    found += _repeated(f"live NAT gateways in {region}", nats)
    for address in ec2.describe_addresses()["Addresses"]:
        if not (address.get("AssociationId") or address.get("InstanceId") or address.get("NetworkInterfaceId")):
            found.append(f"Elastic IP {address.get('AllocationId')} ({address.get('PublicIp')}) in {region} is "
                         f"associated with nothing (Name={_tag(address, 'Name')})")
    auto = client(endpoint, "autoscaling", region)
    desired = {g["AutoScalingGroupName"]: g["DesiredCapacity"]
               for g in _pages(auto.describe_auto_scaling_groups, "AutoScalingGroups")}
    loose: dict[tuple, list[str]] = defaultdict(list)
    grouped: dict[str, list[str]] = defaultdict(list)
    for reservation in _pages(ec2.describe_instances, "Reservations"):
        for inst in reservation["Instances"]:
            if inst["State"]["Name"] not in LIVE_INSTANCE:
                continue
            group = _tag(inst, "aws:autoscaling:groupName")
            if group:
                grouped[group].append(inst["InstanceId"])
            else:
                loose[(_tag(inst, "Name"), inst.get("SubnetId"))].append(inst["InstanceId"])
    found += _repeated(f"live instances in {region} with the same Name and subnet", loose)
    for group, ids in sorted(grouped.items()):
        if len(ids) > desired.get(group, 0):
            found.append(f"{len(ids)} live instances in Auto Scaling group {group} ({region}), "
                         f"desired {desired.get(group, 0)}: {', '.join(sorted(ids))}")
    images: dict[tuple, list[str]] = defaultdict(list)
    for image in ec2.describe_images(Owners=["self"])["Images"]:
        if image.get("State") in ("pending", "available"):
            for key in ("Name", "protea:image-version", "Version"):
                value = _tag(image, key)
                if value:
                    images[(key, value)].append(image["ImageId"])
    found += _repeated(f"images in {region}", images)
    vpcs: dict[str, list[str]] = defaultdict(list)
    for vpc in ec2.describe_vpcs()["Vpcs"]:
        if not vpc.get("IsDefault") and _tag(vpc, "Name"):
            vpcs[_tag(vpc, "Name")].append(vpc["VpcId"])
    found += _repeated(f"VPCs in {region} named", vpcs)
    flows: dict[tuple, list[str]] = defaultdict(list)
    for flow in ec2.describe_flow_logs()["FlowLogs"]:
        flows[(flow.get("ResourceId"), flow.get("LogDestination") or flow.get("LogGroupName"))].append(flow["FlowLogId"])
    found += _repeated(f"flow logs in {region}", flows)
    endpoints: dict[tuple, list[str]] = defaultdict(list)
    for ep in ec2.describe_vpc_endpoints()["VpcEndpoints"]:
        if ep.get("State", "available").lower() not in ("deleted", "deleting"):
            endpoints[(ep["VpcId"], ep["ServiceName"])].append(ep["VpcEndpointId"])
    found += _repeated(f"VPC endpoints in {region}", endpoints)
    return found


def _regional(endpoint: str, region: str) -> list[str]:
    found = _ec2(endpoint, region)
    kms = client(endpoint, "kms", region)
    aliased = {a["TargetKeyId"] for a in _pages(kms.list_aliases, "Aliases") if a.get("TargetKeyId")}
    for key in _pages(kms.list_keys, "Keys"):
        meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        if meta.get("KeyManager") == "CUSTOMER" and meta.get("KeyState") == "Enabled" and key["KeyId"] not in aliased:
            found.append(f"KMS key {key['KeyId']} in {region} has no alias ({meta.get('Description')!r})")
    sns = client(endpoint, "sns", region)
    subs: dict[tuple, list[str]] = defaultdict(list)
    for sub in _pages(sns.list_subscriptions, "Subscriptions"):
        subs[(sub["TopicArn"], sub["Protocol"], sub["Endpoint"])].append(sub["SubscriptionArn"])
    found += _repeated(f"SNS subscriptions in {region}", subs)
    acm = client(endpoint, "acm", region)
    certs: dict[str, list[str]] = defaultdict(list)
    for cert in _pages(acm.list_certificates, "CertificateSummaryList"):
        certs[cert["DomainName"]].append(cert["CertificateArn"])
    found += _repeated(f"ACM certificates in {region} for", certs)
    efs = client(endpoint, "efs", region)
    systems: dict[str, list[str]] = defaultdict(list)
    for fs in _pages(efs.describe_file_systems, "FileSystems"):
        name = fs.get("Name") or _tag(fs, "Name")
        if name and fs.get("LifeCycleState") not in ("deleting", "deleted"):
            systems[name].append(fs["FileSystemId"])
    found += _repeated(f"EFS file systems in {region} named", systems)
    return found


def duplicates(endpoint: str, regions: Iterable[str]) -> list[str]:
    """Every duplicate or orphan found in these regions and in the global services; [] if none."""
    found: list[str] = []
    for region in dict.fromkeys(regions):
        found += _regional(endpoint, region)
    iam = client(endpoint, "iam")
    for user in _pages(iam.list_users, "Users"):
        keys = iam.list_access_keys(UserName=user["UserName"])["AccessKeyMetadata"]
        if len(keys) > 1:
            found.append(f"IAM user {user['UserName']} has {len(keys)} access keys: "
                         f"{', '.join(k['AccessKeyId'] for k in keys)}")
    route53 = client(endpoint, "route53")
    zones: dict[tuple, list[str]] = defaultdict(list)
    for zone in _pages(route53.list_hosted_zones, "HostedZones"):
        zones[(zone["Name"], zone.get("Config", {}).get("PrivateZone", False))].append(zone["Id"])
    found += _repeated("Route 53 hosted zones (name, private)", zones)
    cloudfront = client(endpoint, "cloudfront")
    aliases: dict[tuple, list[str]] = defaultdict(list)
    items = cloudfront.list_distributions().get("DistributionList", {}).get("Items") or []
    for dist in items:
        for alias in (dist.get("Aliases") or {}).get("Items") or []:
            aliases[("alias", alias)].append(dist["Id"])
        if dist.get("Comment"):
            aliases[("comment", dist["Comment"])].append(dist["Id"])
    found += _repeated("CloudFront distributions", aliases)
    return found
