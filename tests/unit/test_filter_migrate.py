"""plugins/filter/migrate.py: the DNS switch's records."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from plugins.filter.migrate import site_switch_records

NAMES = ["shopper.example.com", "www.shopper.example.com"]


def test_an_alias_gets_a_and_aaaa_per_name():
    got = site_switch_records(NAMES, {"alias": "d1.cloudfront.net", "alias_zone": "Z2FDTNDATAQYW2", "address": ""})
    assert [(r["name"], r["type"]) for r in got] == [(NAMES[0], "A"), (NAMES[0], "AAAA"), (NAMES[1], "A"), (NAMES[1], "AAAA")]
    assert {(r["value"], r["alias_zone"], r["alias_evaluate_target_health"]) for r in got} == {
        ("d1.cloudfront.net", "Z2FDTNDATAQYW2", False)}


def test_an_address_gets_one_a_record_per_name():
    assert site_switch_records(NAMES, {"alias": "", "address": "198.51.100.7"}) == [
        {"name": NAMES[0], "type": "A", "value": "198.51.100.7"}, {"name": NAMES[1], "type": "A", "value": "198.51.100.7"}]


@pytest.mark.parametrize("names, target, message", [
    (NAMES, {"alias": "", "address": ""}, "neither an alias nor an address"),
    (NAMES, {"alias": "d1.cloudfront.net"}, "needs alias_zone"),
    ("shopper.example.com", {"address": "198.51.100.7"}, "non-empty list"),
    ([], {"address": "198.51.100.7"}, "non-empty list"),
])
def test_refusals(names, target, message):
    with pytest.raises(AnsibleFilterError, match=message):
        site_switch_records(names, target)
