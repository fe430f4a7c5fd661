# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""IAM policy helpers for the deployer policy (roles/deployer_policy).

A resource the platform creates in every region it works in (a Lambda function's copy, an SNS
topic, a CloudWatch alarm) is allowed by one ARN per region, never by a wildcard region.
"""
from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$")


def region_arns(pattern, regions):
    """`pattern` with {region} replaced by each region, in order, once each."""
    pattern = str(pattern)
    if "{region}" not in pattern or not pattern.startswith("arn:"):
        raise AnsibleFilterError(f"region_arns: {pattern!r} must be an ARN with a {{region}} placeholder")
    out = []
    for region in regions or []:
        if not _REGION.match(str(region)):
            raise AnsibleFilterError(f"region_arns: {region!r} is not an AWS region name such as af-south-1")
        arn = pattern.replace("{region}", str(region))
        if arn not in out:
            out.append(arn)
    if not out:
        raise AnsibleFilterError("region_arns: no region given")
    return out


class FilterModule:
    """protea.platform IAM filters."""

    def filters(self):
        return {"region_arns": region_arns}
