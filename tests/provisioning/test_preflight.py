"""Preflight through the real provisioning entry (playbooks/provision.yml).

Every bad configuration must stop the run before any AWS call, with a message that
names the variable and the fix; the emulator's call counter proves "before any AWS
call" (without preflight, the vpc role would call EC2 first thing).

A few cases (ENTRY_CASES, and the multi-error run) go through provision.yml itself: the
wiring (preflight first in every tier, tagged always, in --check, with the tier roles'
defaults loaded). Every case's message is checked on the preflight role in one
ansible-playbook run, one host per case (tests.helpers.run_preflight_cases, a third of the
time of one provision.yml run per case). The runs are independent processes, so they run
side by side. The counter is read before and after the whole batch: an unchanged total
means no single run made an AWS call.
"""
from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import yaml

from tests.helpers import REPO, PlaybookRun, run_playbook, run_preflight_cases

pytestmark = pytest.mark.emulator

PROVISION = "playbooks/provision.yml"
PREFLIGHT = "playbooks/preflight.yml"
FIX_WHERE = "in inventories/<env>/group_vars/all"
# Every check file the role ships runs by default (later tiers add theirs).
CHECK_FILES = sorted(p.stem for p in (REPO / "roles/preflight/tasks").glob("*.yml") if p.stem != "main")
# The variables the common and network checks name first in their messages.
OWN_CHECK_VARIABLES = {
    check["msg"].split()[0]
    for name in ("common", "network")
    for task in yaml.safe_load((REPO / f"roles/preflight/tasks/{name}.yml").read_text())
    for check in task["vars"]["__preflight_checks"]
}


@dataclass(frozen=True)
class Case:
    id: str
    extra_vars: dict
    expect: tuple[str, ...]  # substrings of the failure: the variable, its value, the fix
    problems: int = 1  # at least this many problems (another tier's check may derive one more)
    tags: str | None = None
    check: bool = False


CASES = [
    # 3 AZs: 3 NAT gateways + 3 bastions = 6 Elastic IPs > AWS's default 5 (AddressLimitExceeded).
    Case("elastic_ips_over_quota", {"vpc_azs": ["af-south-1a", "af-south-1b", "af-south-1c"]},
         ("vpc_azs (3 AZs) with vpc_nat_gateway_mode 'per_az' and bastion_count 3 need 6 Elastic IP addresses",
          "over preflight_elastic_ip_quota 5",
          "set vpc_nat_gateway_mode to single or set bastion_count to 2 " + FIX_WHERE)),
    Case("vpc_cidr_invalid", {"vpc_cidr": "10.0.0.0/33"},
         ("vpc_cidr '10.0.0.0/33' is not a valid IPv4 CIDR: set vpc_cidr to a private range such as 10.20.0.0/16 " + FIX_WHERE,)),
    Case("vpc_cidr_host_bits", {"vpc_cidr": "10.20.1.0/16"},
         ("vpc_cidr '10.20.1.0/16' is not a valid IPv4 CIDR (host bits set: did you mean 10.20.0.0/16?)",)),
    Case("vpc_cidr_public_range", {"vpc_cidr": "100.64.0.0/16"},
         ("vpc_cidr '100.64.0.0/16' is not a private (RFC 1918) range",
          "set vpc_cidr inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16")),
    Case("vpc_cidr_28_too_small", {"vpc_cidr": "10.20.0.0/28"},
         ("vpc_cidr '10.20.0.0/28' has prefix /28: set vpc_cidr to a prefix between /16 and /24",
          "vpc_cidr '10.20.0.0/28' is too small for the subnet plan"), problems=2),
    Case("vpc_cidr_24_with_20_subnets", {"vpc_cidr": "10.20.0.0/24"},
         ("vpc_cidr '10.20.0.0/24' is too small for the subnet plan: public subnets come from its first half",
          "set vpc_cidr to /18 or larger (e.g. 10.20.0.0/16) or vpc_subnet_prefix to 26..28")),
    Case("plan_three_azs_in_18", {"vpc_cidr": "10.20.0.0/18", "vpc_azs": ["af-south-1a", "af-south-1b", "af-south-1c"]},
         ("vpc_cidr '10.20.0.0/18' is too small for the subnet plan",
          "3 AZs need 3 such subnets per half; set vpc_cidr to /17 or larger (e.g. 10.20.0.0/16) or vpc_subnet_prefix to 21..28")),
    Case("subnet_prefix_29", {"vpc_subnet_prefix": 29},
         ("vpc_subnet_prefix '29' is not usable: set vpc_subnet_prefix to a whole number no larger than 28",)),
    Case("overlap_on_prem", {"protea_on_prem_cidrs": ["192.168.0.0/16", "10.0.0.0/8"]},
         ('vpc_cidr \'10.20.0.0/16\' overlaps protea_on_prem_cidrs ["10.0.0.0/8"]',
          "set vpc_cidr to a private range that overlaps no on-premises range")),
    Case("overlap_peered", {"protea_peered_cidrs": ["10.30.0.0/16", "10.20.128.0/17"]},
         ('vpc_cidr \'10.20.0.0/16\' overlaps protea_peered_cidrs ["10.20.128.0/17"]',
          "set vpc_cidr to a private range that overlaps no peered VPC")),
    Case("on_prem_invalid", {"protea_on_prem_cidrs": ["192.168.0.0/16", "192.168.1"]},
         ('protea_on_prem_cidrs has invalid CIDRs ["192.168.1"]: set protea_on_prem_cidrs to a list of IPv4 networks',)),
    Case("peered_invalid", {"protea_peered_cidrs": ["10.30.0.0/33"]},
         ('protea_peered_cidrs has invalid CIDRs ["10.30.0.0/33"]: set protea_peered_cidrs to a list of IPv4 networks',)),
    Case("one_az", {"vpc_azs": ["af-south-1a"]},
         ('vpc_azs ["af-south-1a"] names fewer than two distinct AZs: set vpc_azs to at least two AZs of protea_region',)),
    Case("duplicate_azs", {"vpc_azs": ["af-south-1a", "af-south-1b", "af-south-1a"]},
         ('vpc_azs repeats ["af-south-1a"]: list each AZ once in vpc_azs',)),
    Case("az_of_other_region", {"vpc_azs": ["af-south-1a", "eu-west-1b"]},
         ("vpc_azs [\"eu-west-1b\"] are not AZs of protea_region 'af-south-1': set vpc_azs to names of the form af-south-1a",)),
    Case("unknown_region", {"protea_region": "af-south1"},
         ("protea_region 'af-south1' is not a known AWS region (did you mean af-south-1?): set protea_region",)),
    Case("bad_environment_name", {"protea_environment": "Prod_1"},
         ("protea_environment 'Prod_1' is not a valid name: set protea_environment to 2-10 lower-case letters",)),
    Case("environment_too_long", {"protea_environment": "production-eu"},
         ("protea_environment 'production-eu' is not a valid name", "32-character ALB")),
    Case("bad_project_name", {"protea_project": "-shopper"},
         ("protea_project '-shopper' is not a valid name: set protea_project to 2-16 lower-case letters",)),
    # 0.0.0.0/0, ::/0 and anything shorter than /8: the message says why (brute force).
    Case("admin_cidr_open_world", {"protea_admin_cidrs": ["196.25.1.0/28", "0.0.0.0/0", "::/0", "64.0.0.0/2"]},
         ("open SSH to (a large part of) the whole internet",
          "set protea_admin_cidrs to your office/VPN ranges only, each /8 or narrower",
          "draws constant brute-force attempts")),
    Case("admin_cidrs_empty", {"protea_admin_cidrs": []},
         ("protea_admin_cidrs is empty or not a list ([]): set protea_admin_cidrs to the office/VPN ranges",)),
    Case("admin_cidr_without_prefix", {"protea_admin_cidrs": ["196.25.1.10"]},
         ('protea_admin_cidrs has invalid CIDRs ["196.25.1.10"]', "or one address as 196.25.1.10/32")),
    # The old name (before protea_admin_cidrs was a shared setting) is refused, not silently ignored.
    Case("admin_cidrs_old_name", {"bastion_admin_cidrs": ["196.25.1.0/28"]},
         ("bastion_admin_cidrs is no longer read", "rename bastion_admin_cidrs to protea_admin_cidrs " + FIX_WHERE)),
    Case("missing_domain", {"protea_domain": ""},
         ("protea_domain is not set: set protea_domain to the site's DNS name, e.g. shop.example.co.za",)),
    Case("bad_domain", {"protea_domain": "shop..example.com"},
         ("protea_domain 'shop..example.com' is not a valid DNS name: set protea_domain to",)),
    Case("no_alert_email", {"protea_alert_emails": []},
         ("protea_alert_emails is empty or not a list ([]): set protea_alert_emails to a list of at least one",)),
    Case("bad_alert_email", {"protea_alert_emails": ["ops@shopper.example.com", "ops.example.com"]},
         ('protea_alert_emails has invalid addresses ["ops.example.com"]',)),
    Case("weak_secret_length", {"protea_secret_length": 16},
         ("protea_secret_length '16' is outside the secret policy: set protea_secret_length to a whole number from 20 to 41",)),
    Case("bad_nat_mode", {"vpc_nat_gateway_mode": "per-az"},
         ("vpc_nat_gateway_mode 'per-az' is not one of per_az, single: set vpc_nat_gateway_mode to per_az",)),
    Case("bastion_count_zero", {"bastion_count": 0},
         ("bastion_count '0' is not a whole number of at least 1: set bastion_count to 1 or more",)),
    # AWS counts a prefix-list reference as the list's weight (CloudFront origin-facing: 55)
    # against the 60 inbound rules per group: the old default [80, 443] needs 110.
    Case("alb_two_ports_over_rules_quota", {"security_groups_alb_ports": [80, 443]},
         ("security_groups_alb_ports [80, 443] from the com.amazonaws.global.cloudfront.origin-facing prefix list "
          "count as 110 inbound rules of the alb security group (the list weighs 55 per port), over "
          "security_groups_rules_per_group_quota 60, so AWS would refuse them (RulesPerSecurityGroupLimitExceeded): "
          "set security_groups_alb_ports to [443]",
          "or raise security_groups_rules_per_group_quota only after AWS raised your account's")),
    Case("rules_quota_not_a_number", {"security_groups_rules_per_group_quota": "sixty"},
         ("security_groups_rules_per_group_quota 'sixty' is not a whole number from 1 to 1000: "
          "set security_groups_rules_per_group_quota to your account's",)),
    # The migration rule set admits the old box to the database and EFS: its own range, not the internet.
    Case("migration_cidrs_wide_or_malformed", {"security_groups_migration_source_cidrs": ["0.0.0.0/0", "10.9.0.5/24"]},
         ("security_groups_migration_source_cidrs entry 0.0.0.0/0 would admit /0 to the database and EFS",
          "security_groups_migration_source_cidrs entry '10.9.0.5/24' is not a network CIDR (no host bits set)")),
    Case("migration_cidrs_not_a_list", {"security_groups_migration_source_cidrs": "203.0.113.10/32"},
         ("security_groups_migration_source_cidrs must be a list of CIDRs",
          "set security_groups_migration_source_cidrs: ['203.0.113.10/32']")),
    # Preflight is tagged `always`: it still guards a run limited to another role...
    Case("under_tags_vpc", {"vpc_cidr": "8.8.0.0/16"},
         ("vpc_cidr '8.8.0.0/16' is not a private (RFC 1918) range",), tags="vpc"),
    # ... and a dry run.
    Case("in_check_mode", {"protea_domain": "shop_example"},
         ("protea_domain 'shop_example' is not a valid DNS name",), check=True),
]

MULTI = {
    "protea_environment": "Prod",
    "vpc_cidr": "8.8.0.0/16",
    "vpc_azs": ["af-south-1a"],
    "protea_admin_cidrs": ["0.0.0.0/0"],
    "protea_alert_emails": [],
    "protea_secret_length": 8,
}
MULTI_EXPECT = (
    "protea_environment 'Prod' is not a valid name",
    "vpc_cidr '8.8.0.0/16' is not a private (RFC 1918) range",
    'vpc_azs ["af-south-1a"] names fewer than two distinct AZs',
    'protea_admin_cidrs ["0.0.0.0/0"] open SSH to',
    "protea_alert_emails is empty or not a list",
    "protea_secret_length '8' is outside the secret policy",
)


def flat(text: str) -> str:
    """Output with whitespace collapsed: the callback may wrap long messages."""
    return " ".join(text.split())


# Through provision.yml as well as on the role: a range check and a derived (two-problem) one with
# the tier roles' defaults loaded, and the two that need the entry (--tags, --check).
ENTRY_CASES = ("elastic_ips_over_quota", "vpc_cidr_28_too_small", "under_tags_vpc", "in_check_mode")
# Configurations the messages name as fixes: they pass (checked on the role, with the cases).
FIXES = {
    "fix_single_nat": {"vpc_azs": ["af-south-1a", "af-south-1b", "af-south-1c"], "vpc_nat_gateway_mode": "single"},
    "fix_two_bastions": {"vpc_azs": ["af-south-1a", "af-south-1b", "af-south-1c"], "bastion_count": 2},
    # Both fixes of the rules-quota message: [443] (the local inventory's default, passing in
    # test_local_inventory_defaults_pass) and, for an account whose quota AWS raised, the raised quota.
    "fix_raised_rules_quota": {"security_groups_alb_ports": [80, 443], "security_groups_rules_per_group_quota": 110},
    "fix_admin_cidrs_renamed": {"protea_admin_cidrs": ["196.25.1.0/28"]},
    "fix_migration_cidrs": {"security_groups_migration_source_cidrs": ["203.0.113.10/32", "10.9.0.0/24"]},
}


@dataclass
class Batch:
    runs: dict[str, PlaybookRun] = field(default_factory=dict)  # through provision.yml
    role_runs: dict[str, PlaybookRun] = field(default_factory=dict)  # the preflight role, one host per case
    aws_calls: int = -1


@pytest.fixture(scope="module")
def batch(emulator) -> Batch:
    """The entry runs (ENTRY_CASES and the multi-error run) and the one run of every case and fix
    on the role, side by side."""
    by_id = {c.id: c for c in CASES}
    jobs = {i: dict(extra_vars=by_id[i].extra_vars, tags=by_id[i].tags, check=by_id[i].check) for i in ENTRY_CASES}
    jobs["multi"] = dict(extra_vars=MULTI, tags=None, check=False)
    on_role = {c.id: c.extra_vars for c in CASES if c.tags is None and not c.check} | FIXES
    before = emulator.call_count()
    with ThreadPoolExecutor(max_workers=min(4, (os.cpu_count() or 1) + 1)) as pool:
        role = pool.submit(run_preflight_cases, on_role, endpoint=emulator.endpoint)
        futures = {name: pool.submit(run_playbook, PROVISION, endpoint=emulator.endpoint, timeout=300, **kw)
                   for name, kw in jobs.items()}
        runs = {name: f.result() for name, f in futures.items()}
        role_runs = role.result()
    return Batch(runs=runs, role_runs=role_runs, aws_calls=emulator.call_count() - before)


def test_every_wide_admin_cidr_is_named(batch: Batch):
    out = flat(batch.role_runs["admin_cidr_open_world"].stdout)
    named = out.split("protea_admin_cidrs [", 1)[1].split("]", 1)[0]
    assert sorted(named.replace('"', "").split(", ")) == ["0.0.0.0/0", "64.0.0.0/2", "::/0"]


def problem_lines(run: PlaybookRun) -> list[str]:
    """The reported problems, one per "- <message>" line of the last copy of the failure message."""
    block = run.stdout.rsplit("Fix them all, then run again:", 1)[-1].split("PLAY RECAP", 1)[0]
    return [line.strip()[2:] for line in block.splitlines() if line.strip().startswith("- ")]


def assert_preflight_failure(run: PlaybookRun, expect: tuple[str, ...], problems: int, touched) -> None:
    out = flat(run.stdout + run.stderr)
    assert run.rc != 0, run.explain()
    found = re.search(r"Preflight found (\d+) configuration problem\(s\); no AWS call was made\.", out)
    assert found and int(found[1]) >= problems, run.explain()
    # No spurious finding from this file's checks (common, network): each of their
    # problems names a variable this run set. The tier roles' defaults are loaded here,
    # as in a real run, and must pass. (Other tiers' checks may derive a finding from
    # a global, e.g. certificate names from protea_domain: not judged here.)
    lines = problem_lines(run)
    assert len(lines) == int(found[1]), run.explain()
    for line in lines:
        if line.split()[0] in OWN_CHECK_VARIABLES:
            assert any(var in line for var in touched), f"unexpected finding: {line}"
    for text in expect:
        assert flat(text) in out, f"missing: {text!r}\n{run.explain()}"
    # The run stopped at preflight's report: one failed task, nothing after it.
    assert run.recap["localhost"]["failed"] == 1, run.explain()
    assert "TASK [protea.platform.vpc" not in run.stdout, run.explain()


def test_case_table_is_large_enough():
    assert len(CASES) >= 20
    assert len({c.id for c in CASES}) == len(CASES)
    # A case that needs the entry (--tags, --check) runs through it.
    assert {c.id for c in CASES if c.tags or c.check} <= set(ENTRY_CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_fails_before_any_aws_call(batch: Batch, case: Case):
    if case.id in batch.role_runs:
        assert_preflight_failure(batch.role_runs[case.id], case.expect, case.problems, case.extra_vars)
    if case.id in ENTRY_CASES:
        assert_preflight_failure(batch.runs[case.id], case.expect, case.problems, case.extra_vars)
        if case.id in batch.role_runs:  # the role alone finds exactly what the entry finds
            assert problem_lines(batch.role_runs[case.id]) == problem_lines(batch.runs[case.id])
    assert batch.aws_calls == 0, f"the emulator received {batch.aws_calls} AWS call(s) during the bad-input runs"


def test_all_problems_reported_in_one_failure(batch: Batch):
    run = batch.runs["multi"]
    assert_preflight_failure(run, MULTI_EXPECT, len(MULTI_EXPECT), MULTI)
    assert batch.aws_calls == 0


def test_local_inventory_defaults_pass(emulator):
    """The local inventory as shipped passes every check, without the tier roles' defaults loaded.

    Through playbooks/preflight.yml, the validate-only entry: preflight must not depend on
    the tier roles' defaults (it mirrors them). With those defaults loaded (provision.yml),
    the entry runs above prove there is no spurious finding, and the same findings as the role
    alone. (`provision.yml --tags
    preflight` is no validate-only run: Ansible runs every later role's argument
    validation, tagged always, and those need the VPC's facts.)
    """
    before = emulator.call_count()
    run = run_playbook(PREFLIGHT, endpoint=emulator.endpoint, timeout=300)
    assert run.rc == 0, run.explain()
    assert f"Preflight passed: {', '.join(CHECK_FILES)} checks found no problem." in flat(run.stdout), run.explain()
    assert run.failed == 0 and run.changed == 0, run.explain()
    assert emulator.call_count() == before


@pytest.mark.parametrize("fix", sorted(FIXES))
def test_fixes_named_in_the_messages_pass(batch: Batch, fix):
    """The fixes the Elastic IP and rules-quota messages name pass preflight (3 AZs with a single
    NAT gateway or two bastions; both ALB ports under a raised rules quota)."""
    run = batch.role_runs[fix]
    assert run.rc == 0, run.explain()
    assert "Preflight passed:" in flat(run.stdout), run.explain()
    assert batch.aws_calls == 0
