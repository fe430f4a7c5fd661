# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""The stack contract's names: every name one part of an environment gives a resource that
another part must find again, defined here once.

inventories/common/group_vars/all/protea.yml sets
  protea_names: "{{ protea_project | protea.platform.stack_names(protea_environment, protea_name_overrides) }}"
and every role default, playbook and inventory file that names a cross-tier resource reads
protea_names.<key>. A suffix used inside one role only (a queue's "-dlq") stays in that role.
"""
from __future__ import annotations

import ipaddress
import re

from ansible.errors import AnsibleFilterError

_PART = re.compile(r"^[a-z0-9][a-z0-9-]*$")
SECURITY_GROUP_TIERS = ("alb", "bastion", "web", "rds", "efs")


def _names(project, environment):
    prefix, parameters = f"{project}-{environment}", f"/{project}/{environment}"
    return {
        # The base name every tier role prefixes its own resources with.
        "prefix": prefix,
        # The web tier: Auto Scaling group, target group, instance role and profile, AMI names.
        "web": f"{prefix}-web",
        "alb": f"{prefix}-alb",
        # CloudFront has no names and ListDistributions cannot filter on tags: the comment finds it.
        "distribution_comment": f"{prefix} site",
        # The security groups, by the tier they admit traffic to.
        "security_groups": {tier: f"{prefix}-{tier}" for tier in SECURITY_GROUP_TIERS},
        "db": f"{prefix}-db",
        "efs": f"{prefix}-efs",
        "efs_kms_alias": f"alias/{prefix}-efs",
        # The bastions' key pair, also the web instances' (admin access goes through a bastion).
        "bastion_key": f"{prefix}-bastion",
        "certificate": prefix,
        "regional_certificate": f"{prefix}-regional",
        "slack_notifier": f"{prefix}-slack-notifier",
        # Where each notifier copy puts what Slack never accepted (one queue per copy's region).
        "slack_notifier_dlq": f"{prefix}-slack-notifier-dlq",
        "alarms_topic": f"{prefix}-alarms",
        "events_topic": f"{prefix}-events",
        "edge_alarms_topic": f"{prefix}-edge-alarms",
        # The backup vault and the role AWS Backup works as (backup role; the restore drill uses both).
        "backup_vault": prefix,
        "backup_role": f"{prefix}-backup",
        # The value of the Backup tag the daily plan selects (efs, rds and backup roles).
        "backup_selection": f"{prefix}-daily",
        # SSM Parameter Store: the environment's prefix, and each parameter one part writes and another reads.
        "parameter_prefix": parameters,
        "master_password_parameter": f"{parameters}/rds/master-password",
        "replication_password_parameter": f"{parameters}/migrate/replication-password",
        # Written by migrate.yml's finish phase: from then on the network tier leaves out the
        # migration rule set (security_groups_migration_source_cidrs), whatever the inventory says.
        "migration_finished_parameter": f"{parameters}/migrate/finished",
        "origin_secret_parameter": f"{parameters}/alb/origin-secret",
        "ses_configuration_set_parameter": f"{parameters}/ses/configuration-set",
        "slack_webhook_parameter": f"{parameters}/slack/webhook-url",
        "parameters_key_alias": f"alias/{prefix}-parameters",
        # The run lock (role run_lock): one site.yml or bake at a time per environment.
        "run_lock_parameter": f"{parameters}/run-lock",
        # The restore drill's scratch database, and the prefix of the snapshots it takes.
        "restore_drill": f"{prefix}-restore-drill",
    }


def stack_names(project, environment, overrides=None):
    """The names of one environment, with `overrides` (protea_name_overrides) applied."""
    for var, value in (("protea_project", project), ("protea_environment", environment)):
        if not isinstance(value, str) or not _PART.match(value):
            raise AnsibleFilterError(
                f"{var} {value!r} cannot name AWS resources: set {var} to lower-case letters, digits "
                f"and hyphens, starting with a letter or digit (e.g. {var}: shopper)")
    names = _names(project, environment)
    overrides = overrides or {}
    if not isinstance(overrides, dict):
        raise AnsibleFilterError(
            f"protea_name_overrides must be a mapping of name keys to names, not {type(overrides).__name__}: "
            "e.g. protea_name_overrides: {db: legacy-shop-db}, or {}")
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise AnsibleFilterError(
            f"protea_name_overrides names {unknown}, which the stack contract does not have: use some of "
            f"{sorted(names)}, e.g. protea_name_overrides: {{db: legacy-shop-db}}")
    bad = sorted(k for k, v in overrides.items() if not isinstance(v, type(names[k])) or not v
                 or (isinstance(v, dict) and set(v) != set(names[k])))
    if bad:
        raise AnsibleFilterError(
            f"protea_name_overrides gives {bad} no usable name: set each to a non-empty string (security_groups: "
            f"a mapping of {', '.join(SECURITY_GROUP_TIERS)} to names), or remove it")
    names.update(overrides)
    return names


def stack_subnets(subnets):
    """{public_subnet_ids, private_subnet_ids} of the vpc role's subnets (tag Tier), each in the
    order of vpc_azs: subnet_plan gives AZ i the i-th range of its tier, so ordering by range
    reproduces it, also after an AZ was appended. Subnets without a Tier tag are not ours."""
    tiers = {"public": [], "private": []}
    for subnet in subnets or []:
        if not isinstance(subnet, dict) or not subnet.get("id"):
            continue  # --check before the subnet exists
        tier = (subnet.get("tags") or {}).get("Tier")
        if tier in tiers:
            tiers[tier].append((ipaddress.ip_network(subnet["cidr_block"]), subnet["id"]))
    return {f"{tier}_subnet_ids": [sid for _net, sid in sorted(found)] for tier, found in tiers.items()}


def _one(items, what, names):
    ids = sorted({i for i in items if i})
    if len(ids) > 1:
        raise AnsibleFilterError(
            f"{len(ids)} {what} carry the name of {names['prefix']} ({', '.join(ids)}): delete or rename the extra "
            f"one, the stack has one")
    return ids[0] if ids else ""


def stack_discovered(found, names):
    """The protea_stack fact from read-only describe calls (role stack), `found` holding their
    results: caller (aws_caller_info), vpcs, subnets, security_groups, file_systems (efs_info, plus replica),
    distributions (cloudfront_distribution_info's list), target_groups (elb_target_group_info)
    and load_balancers (elb_application_lb_info). What does not exist yet is empty,
    never an error: the consumer that needs it says which tier to run first."""
    caller = found.get("caller") or {}
    arn = str(caller.get("arn", ""))
    if not caller.get("account") or arn.count(":") < 5:
        raise AnsibleFilterError(f"stack_discovered: {caller!r} is not an aws_caller_info result")
    vpcs = [v for v in found.get("vpcs") or [] if isinstance(v, dict)]
    vpc_id = _one([v.get("id") for v in vpcs], "VPCs", names)
    vpc = next((v for v in vpcs if v.get("id") == vpc_id), {})
    by_name = {g.get("group_name"): g.get("group_id", "") for g in found.get("security_groups") or []
               if isinstance(g, dict) and (not vpc_id or g.get("vpc_id") == vpc_id)}
    file_systems = [f for f in found.get("file_systems") or [] if isinstance(f, dict) and f.get("file_system_id")]
    efs_id = _one([f["file_system_id"] for f in file_systems], "file systems", names)
    efs = next((f for f in file_systems if f["file_system_id"] == efs_id), {})
    # list_distributions keys each distribution by its id and by each alias: the same one may repeat.
    mine = [d for d in (found.get("distributions") or {}).values()
            if isinstance(d, dict) and d.get("Comment") == names["distribution_comment"]]
    distribution_id = _one([d.get("Id") for d in mine], "CloudFront distributions", names)
    distribution = next((d for d in mine if d.get("Id") == distribution_id), {})
    stack = {
        "account": str(caller["account"]),
        "partition": arn.split(":")[1],
        "vpc_id": vpc_id,
        "vpc_cidr": vpc.get("cidr_block", ""),
        "security_group_ids": {tier: by_name.get(name, "") for tier, name in names["security_groups"].items()},
        "efs_id": efs_id,
        "efs_dns_name": str(efs.get("filesystem_address", "")).removesuffix(":/"),
        # The efs role's replica (EFS replication), when the file system is its source.
        "efs_replica_id": str((efs.get("replica") or {}).get("file_system_id", "")),
        "efs_replica_region": str((efs.get("replica") or {}).get("region", "")),
        "distribution_id": distribution_id,
        "distribution_domain_name": distribution.get("DomainName", ""),
        # When migrate.yml's finish phase ran (its parameter's value), or empty.
        "migration_finished_at": str(found.get("migration_finished_at") or ""),
    }
    target_groups = [t for t in found.get("target_groups") or [] if isinstance(t, dict)
                     and t.get("target_group_name") == names["web"]]
    target_group = target_groups[0] if target_groups else {}
    load_balancers = [lb for lb in found.get("load_balancers") or [] if isinstance(lb, dict)
                      and lb.get("load_balancer_name") == names["alb"]]
    alb = load_balancers[0] if load_balancers else {}
    stack.update({
        "target_group_arn": target_group.get("target_group_arn", ""),
        "alb_arn": alb.get("load_balancer_arn", ""),
        "alb_dns_name": alb.get("dns_name", ""),
        "alb_zone_id": alb.get("canonical_hosted_zone_id", ""),
        # Published by their producers in the same run (roles acm, ses, slack_notifier), not
        # discovered: empty until then, so a consumer reads them without a fallback.
        "certificate_arns": {"regional": "", "cloudfront": ""},
        "certificate_validation_records": [],
        "ses_dkim_tokens": [],
        "slack_function_arns": {},
    })
    stack.update(stack_subnets([s for s in found.get("subnets") or [] if isinstance(s, dict) and s.get("vpc_id", vpc_id) == vpc_id]))
    return stack


class FilterModule:
    """protea.platform stack contract filters."""

    def filters(self):
        return {"stack_names": stack_names, "stack_subnets": stack_subnets, "stack_discovered": stack_discovered}
