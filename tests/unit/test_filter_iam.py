"""region_arns: one ARN per region, refusing what would widen a policy."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from plugins.filter.iam import region_arns


def test_one_arn_per_region_in_order_once_each():
    got = region_arns("arn:aws:sns:{region}:123456789012:shop-*", ["af-south-1", "us-east-1", "af-south-1"])
    assert got == ["arn:aws:sns:af-south-1:123456789012:shop-*", "arn:aws:sns:us-east-1:123456789012:shop-*"]


@pytest.mark.parametrize("pattern, regions", [
    ("arn:aws:sns:*:1:shop-*", ["af-south-1"]),      # no placeholder: the caller meant a region
    ("shop-{region}", ["af-south-1"]),               # not an ARN
    ("arn:aws:sns:{region}:1:x", ["*"]),             # a wildcard region would allow every region
    ("arn:aws:sns:{region}:1:x", ["Cape Town"]),
    ("arn:aws:sns:{region}:1:x", []),
])
def test_refuses_what_would_widen_or_break_a_policy(pattern, regions):
    with pytest.raises(AnsibleFilterError):
        region_arns(pattern, regions)
