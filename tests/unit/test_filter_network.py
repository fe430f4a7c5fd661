"""protea.platform.subnet_plan: layout, stability when AZs are added, clear errors."""
from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "plugins" / "filter"))
from network import FilterModule, subnet_plan  # noqa: E402

AZS = ["af-south-1a", "af-south-1b"]


def test_default_layout_two_azs():
    plan = subnet_plan("10.20.0.0/16", AZS, 20, "shopper-local")
    assert [(s["tier"], s["az"], s["cidr"], s["index"]) for s in plan] == [
        ("public", "af-south-1a", "10.20.0.0/20", 0),
        ("public", "af-south-1b", "10.20.16.0/20", 1),
        ("private", "af-south-1a", "10.20.128.0/20", 0),
        ("private", "af-south-1b", "10.20.144.0/20", 1),
    ]
    assert [s["name"] for s in plan] == [
        "shopper-local-public-af-south-1a",
        "shopper-local-public-af-south-1b",
        "shopper-local-private-af-south-1a",
        "shopper-local-private-af-south-1b",
    ]


def test_public_in_first_half_private_in_second_no_overlap():
    vpc = ipaddress.ip_network("10.20.0.0/16")
    first, second = vpc.subnets(new_prefix=17)
    plan = subnet_plan(str(vpc), ["a", "b", "c", "d", "e", "f", "g", "h"], 20)
    nets = [ipaddress.ip_network(s["cidr"]) for s in plan]
    for s, n in zip(plan, nets):
        assert n.subnet_of(first if s["tier"] == "public" else second)
    for i, a in enumerate(nets):
        for b in nets[i + 1:]:
            assert not a.overlaps(b)


def test_adding_an_az_never_moves_existing_subnets():
    before = {(s["tier"], s["az"]): s["cidr"] for s in subnet_plan("10.20.0.0/16", AZS, 20)}
    after = {(s["tier"], s["az"]): s["cidr"] for s in subnet_plan("10.20.0.0/16", AZS + ["af-south-1c"], 20)}
    assert len(after) == 6
    for key, cidr in before.items():
        assert after[key] == cidr
    assert after[("public", "af-south-1c")] == "10.20.32.0/20"
    assert after[("private", "af-south-1c")] == "10.20.160.0/20"


def test_no_name_prefix_and_other_sizes():
    plan = subnet_plan("172.31.64.0/18", ["x"], 24)
    assert plan == [
        {"az": "x", "tier": "public", "cidr": "172.31.64.0/24", "name": "public-x", "index": 0},
        {"az": "x", "tier": "private", "cidr": "172.31.96.0/24", "name": "private-x", "index": 0},
    ]


def test_exact_fit_is_accepted():
    # /16 with /18 subnets: two per half.
    plan = subnet_plan("10.0.0.0/16", AZS, 18)
    assert [s["cidr"] for s in plan] == ["10.0.0.0/18", "10.0.64.0/18", "10.0.128.0/18", "10.0.192.0/18"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("10.20.0.0/16", AZS + ["c", "d", "e", "f", "g", "h", "i"], 20), "holds only 8"),
        (("10.0.0.0/16", AZS + ["c"], 18), "holds only 2"),
        (("10.20.0.0/16", AZS, 16), "does not fit"),
        (("10.20.0.0/16", AZS, 29), "does not fit"),
        (("10.20.0.0/28", AZS, 28), "does not fit"),
        (("10.20.0.1/16", AZS, 20), "not a valid network CIDR"),
        (("banana", AZS, 20), "not a valid network CIDR"),
        (("fd00::/56", AZS, 64), "must be IPv4"),
        (("10.20.0.0/16", [], 20), "azs is empty"),
        (("10.20.0.0/16", "af-south-1a", 20), "must be a list"),
        (("10.20.0.0/16", ["a", "b", "a"], 20), "more than once"),
        (("10.20.0.0/16", AZS, "twenty"), "not an integer"),
    ],
)
def test_clear_errors(args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        subnet_plan(*args)


def test_registered_name():
    assert FilterModule().filters()["subnet_plan"] is subnet_plan


def test_callable_by_fqcn_from_ansible():
    """The collection wiring works: Ansible resolves the filter by its FQCN."""
    expr = "{{ '10.20.0.0/16' | protea.platform.subnet_plan(['af-south-1a', 'af-south-1b'], 20, 'p') | map(attribute='cidr') }}"
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible"), "localhost", "-c", "local", "-i", "localhost,",
         "-m", "ansible.builtin.debug", "-a", f"msg={expr}", "-o"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={"ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    payload = json.loads(proc.stdout.split("=>", 1)[1])
    assert payload["msg"] == ["10.20.0.0/20", "10.20.16.0/20", "10.20.128.0/20", "10.20.144.0/20"]


# --- migration_cidr_errors: the migration rule set's source ranges -------------------------
from network import migration_cidr_errors  # noqa: E402


@pytest.mark.parametrize("cidrs", [[], None, "", ["203.0.113.10/32"], ["10.9.0.0/16", "192.0.2.0/24"]])
def test_migration_cidrs_that_pass(cidrs):
    assert migration_cidr_errors(cidrs) == []


@pytest.mark.parametrize("cidrs, needle", [
    (["0.0.0.0/0"], "entry 0.0.0.0/0 would admit /0 to the database and EFS"),
    (["10.0.0.0/15"], "entry 10.0.0.0/15 would admit /15"),
    (["2001:db8::/48"], "entry 2001:db8::/48 is IPv6: list the old box's IPv4 addresses"),
    (["10.9.0.5/24"], "entry '10.9.0.5/24' is not a network CIDR"),
    (["old-box"], "entry 'old-box' is not a network CIDR"),
    ("203.0.113.10/32", "must be a list of CIDRs"),
    ({"cidr": "203.0.113.10/32"}, "must be a list of CIDRs"),
])
def test_migration_cidrs_refused_with_the_variable_and_a_fix(cidrs, needle):
    errors = migration_cidr_errors(cidrs)
    assert len(errors) == 1 and needle in errors[0], errors
    assert errors[0].startswith("security_groups_migration_source_cidrs")


def test_migration_cidrs_over_the_rules_quota():
    cidrs = [str(n) for n in ipaddress.ip_network("10.9.0.0/24").subnets(new_prefix=30)][:5]
    assert migration_cidr_errors(cidrs, quota=7) == []
    errors = migration_cidr_errors(cidrs + ["10.9.1.0/30"], quota=7)
    assert errors == ["security_groups_migration_source_cidrs lists 6 IPv4 ranges: with the two group references the "
                      "rds group would hold 8 inbound rules, over security_groups_rules_per_group_quota 7: list at "
                      "most 5 IPv4 ranges in inventories/<env>/group_vars/all"]
    # The fix it names passes.
    assert migration_cidr_errors(cidrs, quota=7) == []
