#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""Every read-only describe call behind the protea_stack fact, in one module run.

Why a project module: role stack ran eight info modules (aws_caller_info, ec2_vpc_net_info,
ec2_vpc_subnet_info, ec2_security_group_info, efs_info, cloudfront_distribution_info,
elb_target_group_info, elb_application_lb_info) in every tier playbook. Each is a Python
process that imports boto3 and builds a client (about 1 s each on a small runner), so the
discovery cost more than the no-op converge of a tier. One process, one session, and only
the fields the stack contract reads come back: no listener rule and no origin header, so
nothing secret can reach the output, even at -vvv.
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: stack_info
short_description: Discover one Protea environment's shared resources in one call
version_added: 0.1.0
description:
  - Looks up, read only, what the tiers of one environment share, by the names of the stack contract
    (filter P(protea.platform.stack_names#filter)), and returns it in the shape that filter
    P(protea.platform.stack_discovered#filter) turns into the C(protea_stack) fact.
  - What does not exist yet comes back empty, never as an error.
  - Returns only ids, names, ranges and DNS names; no listener rule and no origin header is read.
  - Reads one String parameter, the mark C(playbooks/migrate.yml)'s finish phase leaves (never a SecureString).
options:
  names:
    description:
      - The environment's names (C(protea_names)); the module reads C(prefix), C(security_groups), C(efs), C(web) and C(alb),
        and C(migration_finished_parameter) when present.
    type: dict
    required: true
  tags:
    description:
      - Tags the VPC must carry besides its C(Name) (C(protea_tags)); the module reads C(Project) and C(Environment).
    type: dict
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - Protea founding engineers
"""

EXAMPLES = r"""
- name: The stack, discovered
  protea.platform.stack_info:
    names: "{{ protea_names }}"
    tags: "{{ protea_tags }}"
  register: found

- name: Publish it
  ansible.builtin.set_fact:
    protea_stack: "{{ found.found | protea.platform.stack_discovered(protea_names) }}"
"""

RETURN = r"""
found:
  description: The describe results, trimmed to what the stack contract reads.
  returned: always
  type: dict
  contains:
    caller:
      description: The account and the caller's ARN.
      type: dict
    vpcs:
      description: The environment's VPCs (id, cidr_block).
      type: list
    subnets:
      description: Their subnets (id, cidr_block, vpc_id, tags).
      type: list
    security_groups:
      description: The environment's security groups (group_name, group_id, vpc_id).
      type: list
    file_systems:
      description: The file system by its creation token (file_system_id, filesystem_address, replica {file_system_id, region}).
      type: list
    distributions:
      description: Distributions by id (Id, Comment, DomainName).
      type: dict
    target_groups:
      description: The web target group (target_group_name, target_group_arn, load_balancer_arns).
      type: list
    load_balancers:
      description: Its load balancers (load_balancer_name, load_balancer_arn, dns_name, canonical_hosted_zone_id).
      type: list
    migration_finished_at:
      description: The value of the migration's finish mark (when the finish phase ran), empty when it did not.
      type: str
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict


def _pages(client, operation, key, **params):
    return client.get_paginator(operation).paginate(**params).build_full_result().get(key, [])


def _network(ec2, names, tags):
    vpcs = _pages(ec2, "describe_vpcs", "Vpcs", Filters=[
        {"Name": "tag:Name", "Values": [names["prefix"]]},
        {"Name": "tag:Project", "Values": [tags["Project"]]},
        {"Name": "tag:Environment", "Values": [tags["Environment"]]},
        {"Name": "tag:Component", "Values": ["vpc"]},
    ])
    found = {"vpcs": [{"id": v["VpcId"], "cidr_block": v.get("CidrBlock", "")} for v in vpcs],
             "subnets": [], "security_groups": []}
    if len(vpcs) != 1:  # none yet, or duplicates the filter reports by name
        return found
    vpc_id = vpcs[0]["VpcId"]
    subnets = _pages(ec2, "describe_subnets", "Subnets", Filters=[
        {"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "tag:Component", "Values": ["vpc"]}])
    found["subnets"] = [{"id": s["SubnetId"], "cidr_block": s["CidrBlock"], "vpc_id": s["VpcId"],
                         "tags": boto3_tag_list_to_ansible_dict(s.get("Tags", []))} for s in subnets]
    groups = _pages(ec2, "describe_security_groups", "SecurityGroups", Filters=[
        {"Name": "vpc-id", "Values": [vpc_id]},
        {"Name": "group-name", "Values": sorted(names["security_groups"].values())},
        {"Name": "tag:Component", "Values": ["security_groups"]}])
    found["security_groups"] = [{"group_name": g["GroupName"], "group_id": g["GroupId"], "vpc_id": g.get("VpcId", "")}
                                for g in groups]
    return found


def _replica(efs, fs_id):
    """The destination of the file system's replication, when it is the source of one."""
    try:
        found = efs.describe_replication_configurations(aws_retry=True, FileSystemId=fs_id)["Replications"]
    except is_boto3_error_code("ReplicationNotFound"):
        return {}
    for rep in found:
        for dest in rep.get("Destinations") or []:
            if rep.get("SourceFileSystemId") == fs_id:
                return {"file_system_id": dest.get("FileSystemId", ""), "region": dest.get("Region", "")}
    return {}


def _file_systems(efs, names, region):
    # By creation token, as the efs role creates it; the address as efs_info reports it.
    systems = _pages(efs, "describe_file_systems", "FileSystems", CreationToken=names["efs"])
    return [{"file_system_id": f["FileSystemId"],
             "filesystem_address": f"{f['FileSystemId']}.efs.{region}.amazonaws.com:/",
             "replica": _replica(efs, f["FileSystemId"])} for f in systems]


def _distributions(cloudfront):
    found = {}
    for page in cloudfront.get_paginator("list_distributions").paginate():
        for d in (page.get("DistributionList") or {}).get("Items") or []:
            found[d["Id"]] = {"Id": d["Id"], "Comment": d.get("Comment", ""), "DomainName": d.get("DomainName", "")}
    return found


def _load_balancing(elbv2, names):
    try:
        groups = elbv2.describe_target_groups(Names=[names["web"]])["TargetGroups"]
    except is_boto3_error_code("TargetGroupNotFound"):
        return {"target_groups": [], "load_balancers": []}
    arns = sorted({arn for g in groups for arn in g.get("LoadBalancerArns", [])})
    balancers = elbv2.describe_load_balancers(LoadBalancerArns=arns)["LoadBalancers"] if arns else []
    return {
        "target_groups": [{"target_group_name": g["TargetGroupName"], "target_group_arn": g["TargetGroupArn"],
                           "load_balancer_arns": g.get("LoadBalancerArns", [])} for g in groups],
        "load_balancers": [{"load_balancer_name": b["LoadBalancerName"], "load_balancer_arn": b["LoadBalancerArn"],
                            "dns_name": b.get("DNSName", ""), "canonical_hosted_zone_id": b.get("CanonicalHostedZoneId", "")}
                           for b in balancers],
    }


def _parameter(ssm, name):
    """A String parameter's value, or empty when it does not exist."""
    try:
        return ssm.get_parameter(aws_retry=True, Name=name)["Parameter"]["Value"]
    except is_boto3_error_code("ParameterNotFound"):
        return ""


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(names=dict(type="dict", required=True), tags=dict(type="dict", required=True)),
        supports_check_mode=True,
    )
    names, tags = module.params["names"], module.params["tags"]
    missing = sorted({"prefix", "security_groups", "efs", "web", "alb"} - set(names)) + \
        sorted(f"tags.{k}" for k in ("Project", "Environment") if not tags.get(k))
    if missing:
        module.fail_json(msg=f"stack_info needs {', '.join(missing)}: pass names: \"{{{{ protea_names }}}}\" and "
                             "tags: \"{{ protea_tags }}\"")
    retry = AWSRetry.jittered_backoff()
    step = "the caller's identity"
    try:
        caller = module.client("sts", retry_decorator=retry).get_caller_identity(aws_retry=True)
        found = {"caller": {"account": caller["Account"], "arn": caller["Arn"]}}
        step = "the VPC, subnets and security groups"
        found.update(_network(module.client("ec2", retry_decorator=retry), names, tags))
        step = "the file system"
        found["file_systems"] = _file_systems(module.client("efs", retry_decorator=retry), names, module.region)
        step = "the CloudFront distributions"
        found["distributions"] = _distributions(module.client("cloudfront", retry_decorator=retry))
        step = "the web target group and its load balancer"
        found.update(_load_balancing(module.client("elbv2", retry_decorator=retry), names))
        if names.get("migration_finished_parameter"):
            step = "the migration's finish mark"
            found["migration_finished_at"] = _parameter(module.client("ssm", retry_decorator=retry),
                                                        names["migration_finished_parameter"])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Could not describe {step} of {names['prefix']}")
    module.exit_json(changed=False, found=found)


if __name__ == "__main__":
    main()
