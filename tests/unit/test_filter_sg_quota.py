"""protea.platform security group rule counting (plugins/filter/network.py): AWS's
rules-per-group quota arithmetic that preflight relies on."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "plugins" / "filter"))
from network import (  # noqa: E402
    elastic_ip_demand,
    FilterModule,
    prefix_list_weight,
    security_group_rule_count,
    security_group_rules_that_fit,
)

CLOUDFRONT = "com.amazonaws.global.cloudfront.origin-facing"


@pytest.mark.parametrize(
    ("name", "weight"),
    [
        (CLOUDFRONT, 55),
        ("com.amazonaws.global.ipv6.cloudfront.origin-facing", 55),
        ("com.amazonaws.af-south-1.s3", 1),
        ("com.amazonaws.eu-west-1.dynamodb", 1),
        ("com.amazonaws.us-east-1.route53-healthchecks", 25),
        ("com.amazonaws.af-south-1.ipv6.vpc-lattice", 10),
        ("com.amazonaws.global.groundstation", 5),
    ],
)
def test_documented_weights_of_aws_managed_lists(name, weight):
    assert prefix_list_weight(name) == weight


def test_customer_managed_list_weighs_its_max_entries():
    assert prefix_list_weight("offices", 25) == 25
    assert prefix_list_weight("offices", "40") == 40
    assert prefix_list_weight(CLOUDFRONT, 7) == 7  # an explicit max entries wins


def test_unknown_list_is_an_error_unless_a_default_is_given():
    with pytest.raises(AnsibleFilterError, match="give the list's max_entries"):
        prefix_list_weight("offices")
    assert prefix_list_weight("offices", default=0) == 0
    # A region name is not a wildcard for the global lists, nor the reverse.
    assert prefix_list_weight("com.amazonaws.af-south-1.cloudfront.origin-facing", default=None) is None


def test_cloudfront_list_on_one_port_fits_two_do_not():
    one = [{"proto": "tcp", "ports": [443], "ip_prefix": [CLOUDFRONT]}]
    two = [{"proto": "tcp", "ports": [80, 443], "ip_prefix": [CLOUDFRONT]}]
    assert security_group_rule_count(one) == 55
    assert security_group_rule_count(two) == 110


def test_weights_by_id_and_every_source_kind():
    rules = [
        {"proto": "tcp", "ports": [443], "ip_prefix": "pl-1234", "rule_desc": "x"},  # scalar source
        {"proto": "tcp", "ports": [22], "cidr_ip": ["192.0.2.0/28", "198.51.100.7/32"]},
        {"proto": "tcp", "ports": [80, "8000-8010"], "group_name": ["web"], "group_id": "sg-1"},
        {"proto": "tcp", "from_port": 25, "to_port": 25, "cidr_ipv6": "2001:db8::/64"},
        {"proto": "all", "cidr_ip": "10.0.0.0/8"},
    ]
    # IPv4: 20 (pl) + 2 (cidrs) + 2 ports x 2 groups + 1 (all) = 27; IPv6: 20 + 4 + 1 = 25.
    assert security_group_rule_count(rules, {"pl-1234": 20}) == 27


def test_ipv4_and_ipv6_are_counted_apart():
    v4 = [f"192.0.2.{i}/32" for i in range(40)]
    v6 = [f"2001:db8::{i}/128" for i in range(1, 31)]
    # 40 IPv4 + 30 IPv6 rules: 40 against each family's 60, not 70.
    assert security_group_rule_count([{"proto": "tcp", "ports": [22], "cidr_ip": v4 + v6}]) == 40


def test_rules_that_fit():
    assert security_group_rules_that_fit(55, 60) == 1
    assert security_group_rules_that_fit(55, 120) == 2
    assert security_group_rules_that_fit(55, 50) == 0
    assert security_group_rules_that_fit(2, 60, used=55) == 2
    assert security_group_rules_that_fit(1, 60, used=70) == 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: security_group_rule_count("tcp/443"), "must be a list of rules"),
        (lambda: security_group_rule_count(["tcp"]), "must be a mapping"),
        (lambda: security_group_rule_count([{"ports": ["https"], "cidr_ip": "0.0.0.0/0"}]), "port 'https'"),
        (lambda: security_group_rule_count([{"ports": [443], "ip_prefix": "pl-9"}]), "pl-9"),
        (lambda: security_group_rule_count([{"ports": [443], "ip_prefix": "pl-9"}], {"pl-9": 0}), "below 1"),
        (lambda: security_group_rules_that_fit(0, 60), "below 1"),
        (lambda: security_group_rules_that_fit(55, "sixty"), "not a whole number"),
        (lambda: prefix_list_weight("offices", True), "not a whole number"),
    ],
)
def test_clear_errors(call, message):
    with pytest.raises(AnsibleFilterError, match=message):
        call()


def test_registered_names():
    filters = FilterModule().filters()
    assert filters["prefix_list_weight"] is prefix_list_weight
    assert filters["security_group_rule_count"] is security_group_rule_count
    assert filters["security_group_rules_that_fit"] is security_group_rules_that_fit


def test_callable_by_fqcn_from_ansible():
    expr = ("{{ [[{'proto': 'tcp', 'ports': [80, 443], 'ip_prefix': ['" + CLOUDFRONT + "']}]"
            " | protea.platform.security_group_rule_count,"
            " '" + CLOUDFRONT + "' | protea.platform.prefix_list_weight"
            " | protea.platform.security_group_rules_that_fit(60)] }}")
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible"), "localhost", "-c", "local", "-i", "localhost,",
         "-m", "ansible.builtin.debug", "-a", json.dumps({"msg": expr}), "-o"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={"ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout.split("=>", 1)[1])["msg"] == [110, 1]


@pytest.mark.parametrize(
    ("azs", "mode", "bastions", "quota", "needed", "over", "fixes"),
    [
        (2, "per_az", 2, 5, 4, False, []),
        (3, "per_az", 3, 5, 6, True, ["set vpc_nat_gateway_mode to single", "set bastion_count to 2"]),
        (3, "single", 3, 5, 4, False, []),
        (5, "per_az", 1, 5, 6, True, ["set vpc_nat_gateway_mode to single"]),  # no bastion count fits
        (3, "per_az", 5, 5, 8, True, ["set bastion_count to 2"]),  # single: 1 + 5 > 5
        (4, "single", 6, 5, 7, True, ["set bastion_count to 4"]),
    ],
)
def test_elastic_ip_demand(azs, mode, bastions, quota, needed, over, fixes):
    got = elastic_ip_demand(azs, mode, bastions, quota)
    assert (got["needed"], got["over"], got["fixes"]) == (needed, over, fixes)
    for fix in fixes:  # every named fix passes by itself
        value = fix.rsplit(" ", 1)[-1]
        after = (elastic_ip_demand(azs, value, bastions, quota) if "nat_gateway_mode" in fix
                 else elastic_ip_demand(azs, mode, int(value), quota))
        assert not after["over"], (fix, after)
