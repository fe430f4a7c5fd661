# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""Subnet planning for the vpc role.

ansible.utils' ipsubnet can cut one subnet at a time, but the plan needs a
layout rule on top of it (public half / private half, index = AZ position) and
one clear error when it does not fit; doing it here, on the standard library's
ipaddress, keeps the rule in one tested place and needs no netaddr.
"""
from __future__ import annotations

import ipaddress

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


class FilterModule:
    """Network planning filters."""

    def filters(self):
        return {"subnet_plan": subnet_plan}
