#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""What the architecture diagram and the end-of-run report show, read from the live stack in one module run.

Why a project module: the picture needs a dozen describe calls (subnets with their AZs, every
ingress rule, NAT gateways, instances, the database, mount targets, the load balancer, the
distribution's origins, topics with their subscriptions and the alarms on them); as info modules
that would be a dozen Python processes. It returns ids, names, ranges, ports and DNS names only:
no listener rule, origin header or subscription endpoint other than a function's ARN is read out,
so nothing secret reaches the output even at -vvv.
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: stack_overview_info
short_description: Read what the diagram and the end-of-run report of one Protea environment show
version_added: 0.1.0
description:
  - Describes, read only, the environment's VPC (subnets with their Availability Zones, NAT gateways), its security
    groups with every ingress rule, the running bastion and web instances, the RDS instance, the EFS mount targets,
    the load balancer, the Auto Scaling group, the CloudFront distribution's origins, the SNS topics with their
    subscriptions and the alarms that notify them, and the backup vaults that send events to those topics.
  - Also the hosted zone's name servers, the database's endpoint, the bastions' public addresses and the image the
    Auto Scaling group launches.
  - Filter P(protea.platform.stack_graph#filter) turns the result into nodes and edges, filter
    P(protea.platform.stack_report#filter) into the end-of-run report.
  - What does not exist yet comes back empty, never as an error.
options:
  names:
    description:
      - The environment's names (C(protea_names)).
    type: dict
    required: true
  stack:
    description:
      - The discovery fact C(protea_stack) (role P(protea.platform.stack#role)); the module reads its ids.
    type: dict
    required: true
  zone:
    description:
      - The public hosted zone's name (C(protea_domain)); empty, none is read.
    type: str
    default: ""
  topics:
    description:
      - The SNS topics of the alerting path, each with the Region it lives in.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The topic's name.
        type: str
        required: true
      region:
        description: Its Region.
        type: str
        required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - Protea founding engineers
"""

EXAMPLES = r"""
- name: What the diagram shows
  protea.platform.stack_overview_info:
    names: "{{ protea_names }}"
    stack: "{{ protea_stack }}"
    topics:
      - {name: "{{ protea_names.alarms_topic }}", region: "{{ protea_region }}"}
  register: described
"""

RETURN = r"""
described:
  description: >-
    The describe results, trimmed: vpc, subnets (id, cidr_block, availability_zone, tier), nat_gateways, security_groups
    (with ingress rules: protocol, ports, group ids, CIDRs, prefix list ids), instances (id, component, subnet_id,
    availability_zone, private_ip, public_ip), database (with its endpoint), mount_targets, load_balancer,
    auto_scaling_group (with the image it launches), zone (name servers), distribution (origins' domain names,
    and what an origin's alias record in the zone points at), topics (subscriptions' protocols; function ARNs),
    alarms (name, region, topic ARNs), vaults (name, topic ARN).
  returned: always
  type: dict
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports it

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict


def _pages(client, operation, key, **params):
    return client.get_paginator(operation).paginate(**params).build_full_result().get(key, [])


def _rule(permission):
    return {
        "protocol": permission.get("IpProtocol", ""),
        "from_port": permission.get("FromPort"),
        "to_port": permission.get("ToPort"),
        "group_ids": sorted(p["GroupId"] for p in permission.get("UserIdGroupPairs", [])),
        "cidrs": sorted(r["CidrIp"] for r in permission.get("IpRanges", [])),
        "prefix_list_ids": sorted(p["PrefixListId"] for p in permission.get("PrefixListIds", [])),
    }


def _network(ec2, stack):
    vpc_id = stack.get("vpc_id") or ""
    if not vpc_id:
        return {"vpc": {}, "subnets": [], "nat_gateways": [], "security_groups": [], "instances": []}
    in_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    subnets = _pages(ec2, "describe_subnets", "Subnets", Filters=in_vpc)
    gateways = _pages(ec2, "describe_nat_gateways", "NatGateways", Filter=in_vpc + [{"Name": "state", "Values": ["available", "pending"]}])
    group_ids = sorted(v for v in (stack.get("security_group_ids") or {}).values() if v)
    groups = _pages(ec2, "describe_security_groups", "SecurityGroups", GroupIds=group_ids) if group_ids else []
    reservations = _pages(ec2, "describe_instances", "Reservations", Filters=in_vpc + [
        {"Name": "instance-state-name", "Values": ["pending", "running"]}])
    instances = []
    for instance in (i for r in reservations for i in r.get("Instances", [])):
        tags = boto3_tag_list_to_ansible_dict(instance.get("Tags", []))
        instances.append({"id": instance["InstanceId"], "component": tags.get("Component", ""), "subnet_id": instance.get("SubnetId", ""),
                          "availability_zone": instance.get("Placement", {}).get("AvailabilityZone", ""),
                          "private_ip": instance.get("PrivateIpAddress", ""), "public_ip": instance.get("PublicIpAddress", "")})
    return {
        "vpc": {"id": vpc_id, "cidr_block": stack.get("vpc_cidr", "")},
        "subnets": [{"id": s["SubnetId"], "cidr_block": s["CidrBlock"], "availability_zone": s["AvailabilityZone"],
                     "tier": boto3_tag_list_to_ansible_dict(s.get("Tags", [])).get("Tier", "")} for s in subnets],
        "nat_gateways": [{"id": g["NatGatewayId"], "subnet_id": g["SubnetId"]} for g in gateways],
        "security_groups": [{"group_id": g["GroupId"], "group_name": g["GroupName"],
                             "ingress": [_rule(p) for p in g.get("IpPermissions", [])]} for g in groups],
        "instances": sorted(instances, key=lambda i: i["id"]),
    }


def _database(rds, names):
    try:
        (db,) = rds.describe_db_instances(DBInstanceIdentifier=names["db"])["DBInstances"]
    except is_boto3_error_code("DBInstanceNotFound"):
        return {}
    return {"id": db["DBInstanceIdentifier"], "engine": db.get("Engine", ""), "multi_az": bool(db.get("MultiAZ")),
            "availability_zone": db.get("AvailabilityZone", ""), "secondary_availability_zone": db.get("SecondaryAvailabilityZone", ""),
            "address": (db.get("Endpoint") or {}).get("Address", ""), "port": (db.get("Endpoint") or {}).get("Port"),
            "subnet_ids": sorted(s["SubnetIdentifier"] for s in (db.get("DBSubnetGroup") or {}).get("Subnets", []))}


def _mount_targets(efs, stack):
    if not stack.get("efs_id"):
        return []
    targets = _pages(efs, "describe_mount_targets", "MountTargets", FileSystemId=stack["efs_id"])
    return [{"id": t["MountTargetId"], "subnet_id": t["SubnetId"], "availability_zone": t.get("AvailabilityZoneName", "")}
            for t in targets]


def _image(ec2, launch_template):
    """The image the group's launch template version starts (id and name)."""
    if not launch_template.get("LaunchTemplateId") and not launch_template.get("LaunchTemplateName"):
        return {}
    ref = {"LaunchTemplateId": launch_template["LaunchTemplateId"]} if launch_template.get("LaunchTemplateId") else \
        {"LaunchTemplateName": launch_template["LaunchTemplateName"]}
    versions = ec2.describe_launch_template_versions(Versions=[str(launch_template.get("Version", "$Default"))], **ref)
    image_id = next((v["LaunchTemplateData"].get("ImageId", "") for v in versions.get("LaunchTemplateVersions", [])), "")
    images = ec2.describe_images(ImageIds=[image_id])["Images"] if image_id else []
    return {"id": image_id, "name": images[0].get("Name", "") if images else "",
            "template_version": str(launch_template.get("Version", ""))}


def _zone(route53, zone):
    if not zone:
        return {}
    name = zone.rstrip(".") + "."
    for candidate in route53.list_hosted_zones_by_name(DNSName=name, MaxItems="10").get("HostedZones", []):
        if candidate["Name"] == name and not candidate.get("Config", {}).get("PrivateZone"):
            found = route53.get_hosted_zone(Id=candidate["Id"])
            return {"id": candidate["Id"].rsplit("/", 1)[-1], "name": zone.rstrip("."),
                    "name_servers": (found.get("DelegationSet") or {}).get("NameServers", [])}
    return {}


def _load_balancing(elbv2, autoscaling, names, stack):
    found = {"load_balancer": {}, "auto_scaling_group": {}}
    if stack.get("alb_arn"):
        (alb,) = elbv2.describe_load_balancers(LoadBalancerArns=[stack["alb_arn"]])["LoadBalancers"]
        found["load_balancer"] = {"name": alb["LoadBalancerName"], "dns_name": alb.get("DNSName", ""),
                                  "subnet_ids": sorted(z["SubnetId"] for z in alb.get("AvailabilityZones", []))}
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[names["web"]])["AutoScalingGroups"]
    if groups:
        group = groups[0]
        found["auto_scaling_group"] = {
            "name": group["AutoScalingGroupName"], "min": group["MinSize"], "max": group["MaxSize"],
            "in_service": sorted(i["InstanceId"] for i in group.get("Instances", []) if i.get("LifecycleState") == "InService"),
            "subnet_ids": sorted(s for s in group.get("VPCZoneIdentifier", "").split(",") if s),
            "launch_template": group.get("LaunchTemplate") or {}}
    return found


def _distribution(cloudfront, stack):
    if not stack.get("distribution_id"):
        return {}
    config = cloudfront.get_distribution_config(Id=stack["distribution_id"])["DistributionConfig"]
    return {"id": stack["distribution_id"], "domain_name": stack.get("distribution_domain_name", ""),
            "aliases": sorted((config.get("Aliases") or {}).get("Items") or []),
            "origins": [{"domain_name": name, "alias_of": ""}
                        for name in sorted(o["DomainName"] for o in (config.get("Origins") or {}).get("Items") or [])]}


def _resolve_origins(route53, distribution, zone):
    """An origin named in the zone (origin.<domain>) is an alias record: what it points at."""
    if not distribution or not zone:
        return
    for origin in distribution["origins"]:
        name = origin["domain_name"].rstrip(".").lower()
        if not (name == zone["name"] or name.endswith("." + zone["name"])):
            continue
        records = route53.list_resource_record_sets(HostedZoneId=zone["id"], StartRecordName=name + ".", StartRecordType="A",
                                                    MaxItems="1").get("ResourceRecordSets", [])
        if records and records[0]["Name"].rstrip(".").lower() == name and records[0].get("AliasTarget"):
            target = records[0]["AliasTarget"]["DNSName"].rstrip(".").lower()
            origin["alias_of"] = target[len("dualstack."):] if target.startswith("dualstack.") else target


def _alerting(client, topics):
    found = {"topics": [], "alarms": [], "vaults": []}
    regions = sorted({t["region"] for t in topics})
    arns = {}
    for region in regions:
        for topic in _pages(client("sns", region), "list_topics", "Topics"):
            arns[topic["TopicArn"]] = region
    for topic in topics:
        arn = next((a for a, r in arns.items() if r == topic["region"] and a.rsplit(":", 1)[-1] == topic["name"]), "")
        if not arn:
            continue
        subscriptions = _pages(client("sns", topic["region"]), "list_subscriptions_by_topic", "Subscriptions", TopicArn=arn)
        found["topics"].append({
            "name": topic["name"], "region": topic["region"], "arn": arn,
            # Email addresses and https endpoints stay out: only the protocol, and a function's ARN.
            "subscriptions": sorted(({"protocol": s["Protocol"], "endpoint": s["Endpoint"] if s["Protocol"] == "lambda" else ""}
                                     for s in subscriptions if s.get("SubscriptionArn", "").startswith("arn:")),
                                    key=lambda s: (s["protocol"], s["endpoint"]))})
    topic_arns = {t["arn"] for t in found["topics"]}
    for region in regions:
        for alarm in _pages(client("cloudwatch", region), "describe_alarms", "MetricAlarms"):
            targets = sorted(set(alarm.get("AlarmActions", [])) & topic_arns)
            if targets:
                found["alarms"].append({"name": alarm["AlarmName"], "region": region, "topic_arns": targets})
    # The backup vaults that send their events to one of these topics (role backup's notifications).
    backup = client("backup")
    for vault in _pages(backup, "list_backup_vaults", "BackupVaultList"):
        try:
            topic = backup.get_backup_vault_notifications(BackupVaultName=vault["BackupVaultName"]).get("SNSTopicArn", "")
        except is_boto3_error_code("ResourceNotFoundException"):
            continue
        if topic in topic_arns:
            found["vaults"].append({"name": vault["BackupVaultName"], "topic_arn": topic})
    return found


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            names=dict(type="dict", required=True),
            stack=dict(type="dict", required=True),
            zone=dict(type="str", default=""),
            topics=dict(type="list", elements="dict", required=True,
                        options=dict(name=dict(type="str", required=True), region=dict(type="str", required=True))),
        ),
        supports_check_mode=True,
    )
    names, stack = module.params["names"], module.params["stack"]
    missing = sorted({"prefix", "db", "web"} - set(names))
    if missing:
        module.fail_json(msg=f"stack_overview_info needs names.{', names.'.join(missing)}: pass names: \"{{{{ protea_names }}}}\"")
    retry, clients = AWSRetry.jittered_backoff(), {}

    def client(service, region=None):
        """One client per service and Region for the whole run."""
        key = (service, region or module.region)
        if key not in clients:
            clients[key] = module.client(service, region=key[1], retry_decorator=retry)
        return clients[key]

    step = "the network"
    try:
        described = _network(client("ec2"), stack)
        step = "the database"
        described["database"] = _database(client("rds"), names)
        step = "the file system's mount targets"
        described["mount_targets"] = _mount_targets(client("efs"), stack)
        step = "the load balancer and the Auto Scaling group"
        described.update(_load_balancing(client("elbv2"), client("autoscaling"), names, stack))
        step = "the image in service"
        group = described["auto_scaling_group"]
        if group:
            group["image"] = _image(client("ec2"), group.pop("launch_template"))
        step = "the hosted zone"
        described["zone"] = _zone(client("route53"), module.params["zone"])
        step = "the CloudFront distribution"
        described["distribution"] = _distribution(client("cloudfront"), stack)
        step = "the origins' alias records"
        _resolve_origins(client("route53"), described["distribution"], described["zone"])
        step = "the alerting path"
        described.update(_alerting(client, module.params["topics"]))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Could not describe {step} of {names['prefix']}")
    module.exit_json(changed=False, described=described)


if __name__ == "__main__":
    main()
