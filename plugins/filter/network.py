# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""Subnet planning for the vpc role, and security group rule counting for preflight.

ansible.utils' ipsubnet can cut one subnet at a time, but the plan needs a
layout rule on top of it (public half / private half, index = AZ position) and
one clear error when it does not fit; doing it here, on the standard library's
ipaddress, keeps the rule in one tested place and needs no netaddr.

No bundled collection counts security group rules the way AWS's "Inbound or
outbound rules per security group" quota does (a prefix-list reference weighs
the list's max entries; IPv4 and IPv6 counted apart), so preflight's arithmetic
lives here, tested, rather than in Jinja.
"""
from __future__ import annotations

import ipaddress
import re

from ansible.errors import AnsibleFilterError

# AWS accepts subnets from /16 to /28.
_AWS_MIN_PREFIX = 16
_AWS_MAX_PREFIX = 28


def _network(vpc_cidr):
    try:
        net = ipaddress.ip_network(str(vpc_cidr), strict=True)
    except ValueError as exc:
        raise AnsibleFilterError(f"subnet_plan: vpc_cidr {vpc_cidr!r} is not a valid network CIDR ({exc})") from exc
    if net.version != 4:
        raise AnsibleFilterError(f"subnet_plan: vpc_cidr {vpc_cidr!r} must be IPv4")
    return net


def subnet_plan(vpc_cidr, azs, prefix, name_prefix=""):
    """Return [{az, tier, cidr, name, index}] : all public subnets, then all private ones."""
    net = _network(vpc_cidr)
    if isinstance(azs, str) or not isinstance(azs, (list, tuple)):
        raise AnsibleFilterError(f"subnet_plan: azs must be a list of AZ names, got {azs!r}")
    azs = [str(az) for az in azs]
    if not azs:
        raise AnsibleFilterError("subnet_plan: azs is empty; at least one availability zone is needed")
    duplicates = sorted({az for az in azs if azs.count(az) > 1})
    if duplicates:
        raise AnsibleFilterError(f"subnet_plan: azs lists {', '.join(duplicates)} more than once")
    try:
        prefix = int(prefix)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"subnet_plan: prefix {prefix!r} is not an integer") from exc
    half = net.prefixlen + 1
    if not max(half, _AWS_MIN_PREFIX) <= prefix <= _AWS_MAX_PREFIX:
        raise AnsibleFilterError(
            f"subnet_plan: prefix /{prefix} does not fit {net}: subnets must be between "
            f"/{max(half, _AWS_MIN_PREFIX)} (half the VPC) and /{_AWS_MAX_PREFIX} (AWS minimum)"
        )
    public_half, private_half = net.subnets(new_prefix=half)
    per_half = 2 ** (prefix - half)
    if len(azs) > per_half:
        raise AnsibleFilterError(
            f"subnet_plan: {len(azs)} AZs need {len(azs)} /{prefix} subnets per tier, but half of {net} "
            f"holds only {per_half}; use a larger prefix length or a larger VPC"
        )
    size = 2 ** (32 - prefix)
    lead = f"{name_prefix}-" if name_prefix else ""
    plan = []
    for tier, base in (("public", public_half), ("private", private_half)):
        for index, az in enumerate(azs):
            cidr = ipaddress.ip_network((int(base.network_address) + index * size, prefix))
            plan.append({"az": az, "tier": tier, "cidr": str(cidr), "name": f"{lead}{tier}-{az}", "index": index})
    return plan


# --- Security group rules against the rules-per-group quota ----------------------------
# Weights of the AWS-managed prefix lists, from the "AWS-managed prefix list weight" table of
# https://docs.aws.amazon.com/vpc/latest/userguide/working-with-aws-managed-prefix-lists.html
# ("{region}" stands for any region name).
MANAGED_PREFIX_LIST_WEIGHTS = {
    "com.amazonaws.global.cloudfront.origin-facing": 55,
    "com.amazonaws.global.ipv6.cloudfront.origin-facing": 55,
    "com.amazonaws.global.groundstation": 5,
    "com.amazonaws.{region}.dynamodb": 1,
    "com.amazonaws.{region}.s3": 1,
    "com.amazonaws.{region}.s3express": 6,
    "com.amazonaws.{region}.ec2-instance-connect": 2,
    "com.amazonaws.{region}.ipv6.ec2-instance-connect": 2,
    "com.amazonaws.{region}.route53-healthchecks": 25,
    "com.amazonaws.{region}.ipv6.route53-healthchecks": 25,
    "com.amazonaws.{region}.vpc-lattice": 10,
    "com.amazonaws.{region}.ipv6.vpc-lattice": 10,
}
_WEIGHT_PATTERNS = [
    (re.compile("^" + re.escape(name).replace(re.escape("{region}"), "[a-z0-9-]+") + "$"), weight)
    for name, weight in MANAGED_PREFIX_LIST_WEIGHTS.items()
]
_MISSING = object()


def _whole(value, what, minimum=0):
    if isinstance(value, bool):
        raise AnsibleFilterError(f"{what} {value!r} is not a whole number")
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"{what} {value!r} is not a whole number") from exc
    if number < minimum:
        raise AnsibleFilterError(f"{what} {value!r} is below {minimum}")
    return number


def prefix_list_weight(name, max_entries=None, default=_MISSING):
    """How many rules one reference to this managed prefix list counts as.

    A customer-managed list weighs its max entries (give ``max_entries``); an AWS-managed
    one the weight AWS documents for it. An unknown AWS-managed name is an error, or
    ``default`` when given (a caller that cannot judge it)."""
    if max_entries not in (None, ""):
        return _whole(max_entries, "prefix_list_weight: max_entries", minimum=1)
    for pattern, weight in _WEIGHT_PATTERNS:
        if pattern.match(str(name)):
            return weight
    if default is not _MISSING:
        return default
    raise AnsibleFilterError(
        f"prefix_list_weight: {name!r} is no AWS-managed prefix list of known weight; "
        "give the list's max_entries (a customer-managed list weighs its max entries)"
    )


def _as_list(value):
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _permissions(rule):
    """IpPermissions one amazon.aws.ec2_security_group rule becomes: one per port (range)."""
    proto = str(rule.get("proto", "tcp")).lower()
    if proto in ("all", "-1"):
        return 1
    ports = _as_list(rule.get("ports"))
    if not ports:
        return 1  # from_port/to_port, or icmp type/code: one permission
    for port in ports:
        text = str(port).strip()
        bounds = text.split("-", 1) if "-" in text else [text]
        for bound in bounds:
            _whole(bound, "security_group_rule_count: port", minimum=0)
    return len(ports)


def security_group_rule_count(rules, prefix_list_weights=None):
    """Rules a list of amazon.aws.ec2_security_group rules counts as against AWS's
    "Inbound or outbound rules per security group" quota (Amazon VPC quotas,
    https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html).

    Each port (or port range) of a rule is one permission; per permission an IPv4 CIDR
    counts 1 IPv4 rule, an IPv6 CIDR 1 IPv6 rule, a referenced group 1 of each, a prefix
    list its weight in each (``prefix_list_weights`` maps ids or names to weights; names
    of AWS-managed lists not in it get their documented weight). AWS enforces the quota
    per IP family: the result is the larger of the two counts."""
    if isinstance(rules, dict):
        rules = [rules]
    if not isinstance(rules, (list, tuple)):
        raise AnsibleFilterError(f"security_group_rule_count: rules must be a list of rules, got {rules!r}")
    weights = dict(prefix_list_weights or {})
    ipv4 = ipv6 = 0
    for rule in rules:
        if not isinstance(rule, dict):
            raise AnsibleFilterError(f"security_group_rule_count: a rule must be a mapping, got {rule!r}")
        v4 = v6 = 0
        for cidr in _as_list(rule.get("cidr_ip")):
            if ":" in str(cidr):
                v6 += 1
            else:
                v4 += 1
        v6 += len(_as_list(rule.get("cidr_ipv6")))
        groups = len(_as_list(rule.get("group_id"))) + len(_as_list(rule.get("group_name")))
        v4, v6 = v4 + groups, v6 + groups
        for pl in _as_list(rule.get("ip_prefix")):
            weight = weights[pl] if pl in weights else prefix_list_weight(pl)
            weight = _whole(weight, f"security_group_rule_count: weight of {pl}", minimum=1)
            v4, v6 = v4 + weight, v6 + weight
        permissions = _permissions(rule)
        ipv4, ipv6 = ipv4 + v4 * permissions, ipv6 + v6 * permissions
    return max(ipv4, ipv6)


def security_group_rules_that_fit(weight_each, quota, used=0):
    """How many more items weighing ``weight_each`` rules each (ports of a prefix-list rule,
    CIDRs of a rule on N ports) fit in a group already using ``used`` rules of ``quota``."""
    weight_each = _whole(weight_each, "security_group_rules_that_fit: weight_each", minimum=1)
    quota = _whole(quota, "security_group_rules_that_fit: quota", minimum=0)
    used = _whole(used, "security_group_rules_that_fit: used", minimum=0)
    return max(0, (quota - used) // weight_each)


def elastic_ip_demand(az_count, nat_gateway_mode, bastions, quota):
    """Elastic IPs the network tier holds against the Region's quota, and the fixes that fit.

    Each NAT gateway (one per AZ in ``per_az`` mode, one in ``single``) and each bastion holds
    one address. Returns {nat, bastions, needed, quota, over, fixes}: ``fixes`` names only
    changes that would bring the plan within the quota by themselves."""
    az_count = _whole(az_count, "elastic_ip_demand: az_count", minimum=0)
    bastions = _whole(bastions, "elastic_ip_demand: bastions", minimum=0)
    quota = _whole(quota, "elastic_ip_demand: quota", minimum=0)
    nat = az_count if nat_gateway_mode == "per_az" else 1
    needed = nat + bastions
    fixes = []
    if needed > quota:
        if nat_gateway_mode == "per_az" and nat > 1 and 1 + bastions <= quota:
            fixes.append("set vpc_nat_gateway_mode to single")
        if 1 <= quota - nat < bastions:
            fixes.append(f"set bastion_count to {quota - nat}")
    return {"nat": nat, "bastions": bastions, "needed": needed, "quota": quota, "over": needed > quota,
            "fixes": fixes}


# The migration rule set admits the old box's addresses to the database and EFS: a VPN,
# peering or relay range, never a large part of the internet.
_MIGRATION_WIDEST = {4: 16}


def migration_cidr_errors(cidrs, quota=60, var="security_groups_migration_source_cidrs"):
    """What is wrong with the migration rule set's source ranges, as messages naming ``var``
    and a fix; [] when they are fine. The rds group's inbound rules then hold the two group
    references (one IPv4 and one IPv6 rule each) plus one rule per range, against ``quota``."""
    fix = "in inventories/<env>/group_vars/all"
    if cidrs is None or cidrs == "":
        return []
    if isinstance(cidrs, (str, bytes, dict)) or not isinstance(cidrs, (list, tuple)):
        return [f"{var} must be a list of CIDRs (the old box's addresses as the VPC sees them), not {cidrs!r}: "
                f"set {var}: ['203.0.113.10/32'] {fix}"]
    errors, families = [], {4: 0}
    for raw in cidrs:
        try:
            net = ipaddress.ip_network(str(raw), strict=True)
        except ValueError:
            errors.append(f"{var} entry {raw!r} is not a network CIDR (no host bits set): write it as e.g. "
                          f"'203.0.113.10/32' {fix}")
            continue
        if net.version != 4:
            # The rule set writes IPv4 rules (cidr_ip); an old box reached over IPv6 is not provided for.
            errors.append(f"{var} entry {raw} is IPv6: list the old box's IPv4 addresses as the VPC sees them "
                          f"(its VPN or peering range, or the relay's /32) {fix}")
            continue
        families[net.version] += 1
        if net.prefixlen < _MIGRATION_WIDEST[net.version]:
            errors.append(f"{var} entry {raw} would admit /{net.prefixlen} to the database and EFS: list the old "
                          f"box's own addresses (its VPN or peering range, /{_MIGRATION_WIDEST[net.version]} or "
                          f"narrower, or the relay's /32) {fix}")
    quota = _whole(quota, "migration_cidr_errors: quota", minimum=0)
    for version, count in families.items():
        if count + 2 > quota:
            errors.append(f"{var} lists {count} IPv{version} ranges: with the two group references the rds group "
                          f"would hold {count + 2} inbound rules, over security_groups_rules_per_group_quota {quota}: "
                          f"list at most {max(quota - 2, 0)} IPv{version} ranges {fix}")
    return errors


class FilterModule:
    """Network planning filters."""

    def filters(self):
        return {
            "subnet_plan": subnet_plan,
            "prefix_list_weight": prefix_list_weight,
            "security_group_rule_count": security_group_rule_count,
            "security_group_rules_that_fit": security_group_rules_that_fit,
            "elastic_ip_demand": elastic_ip_demand,
            "migration_cidr_errors": migration_cidr_errors,
        }
