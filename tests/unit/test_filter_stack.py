"""protea.platform.stack_names: the one place an environment's cross-tier names are derived."""
from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError

from plugins.filter.stack import stack_names
from tests.helpers import REPO


def test_names_of_an_environment():
    names = stack_names("shopper", "production")
    assert names["prefix"] == "shopper-production"
    assert names["web"] == "shopper-production-web"
    assert names["db"] == "shopper-production-db"
    assert names["parameter_prefix"] == "/shopper/production"
    assert names["parameters_key_alias"] == "alias/shopper-production-parameters"
    assert all(v for v in names.values())


def test_an_override_wins_for_its_key_only():
    names = stack_names("shopper", "production", {"db": "legacy-db"})
    assert names["db"] == "legacy-db"
    assert names["efs"] == "shopper-production-efs"


@pytest.mark.parametrize(("args", "says"), [
    (("Shopper", "production"), "protea_project"),
    (("shopper", "prod_1"), "protea_environment"),
    (("shopper", "production", {"database": "x"}), "protea_name_overrides names ['database']"),
    (("shopper", "production", {"db": ""}), "gives ['db'] no usable name"),
    (("shopper", "production", ["db"]), "must be a mapping"),
])
def test_bad_input_names_the_variable(args, says):
    with pytest.raises(AnsibleFilterError, match=re.escape(says)):
        stack_names(*args)


def test_no_cross_tier_name_is_derived_outside_the_contract():
    """No role, playbook or inventory rebuilds "<project>-<environment>" (or its SSM path)
    itself: each reads protea_names. ssh_jump's directory and the deployer policy's output
    directory are local paths, not AWS names."""
    pattern = re.compile(r"protea_project\s*}}\s*-\s*{{\s*protea_environment|protea_project\s*~\s*'-'\s*~\s*protea_environment"
                         r"|/{{ protea_project }}/{{ protea_environment }}")
    allowed = {"roles/ssh_jump/defaults/main.yml", "inventories/common/group_vars/all/ssh_jump.yml",
               "roles/deployer_policy/defaults/main.yml"}
    found = sorted(str(p.relative_to(REPO)) for p in [*REPO.glob("roles/*/defaults/main.yml"), *REPO.glob("roles/*/vars/main.yml"),
                                                      *REPO.glob("roles/*/tasks/*.yml"), *REPO.glob("playbooks/*.yml"),
                                                      *REPO.glob("inventories/*/group_vars/all/*.yml")]
                   if pattern.search(p.read_text()) and str(p.relative_to(REPO)) not in allowed)
    assert found == []


def _subnet(sid, cidr, tier, vpc="vpc-1"):
    return {"id": sid, "cidr_block": cidr, "vpc_id": vpc, "tags": {"Tier": tier} if tier else {}}


def test_subnets_follow_the_azs_order_by_range_not_by_name():
    from plugins.filter.stack import stack_subnets
    # vpc_azs [c, a]: AZ c got the first range of each tier; a name or AZ sort would put a first.
    subnets = [_subnet("s-pa", "10.20.16.0/20", "public"), _subnet("s-pc", "10.20.0.0/20", "public"),
               _subnet("s-qa", "10.20.144.0/20", "private"), _subnet("s-qc", "10.20.128.0/20", "private"),
               _subnet("s-x", "10.20.64.0/20", None), {"cidr_block": "10.20.80.0/20"}]  # not ours; --check
    assert stack_subnets(subnets) == {"public_subnet_ids": ["s-pc", "s-pa"], "private_subnet_ids": ["s-qc", "s-qa"]}


def test_discovery_publishes_what_exists_and_empty_for_the_rest():
    from plugins.filter.stack import stack_discovered
    names = stack_names("shopper", "local")
    caller = {"account": "123456789012", "arn": "arn:aws-cn:iam::123456789012:user/deployer"}
    groups = [{"group_name": "shopper-local-web", "group_id": "sg-w", "vpc_id": "vpc-1"},
              {"group_name": "shopper-local-rds", "group_id": "sg-other", "vpc_id": "vpc-2"}]  # another VPC's
    file_systems = [{"file_system_id": "fs-1", "filesystem_address": "fs-1.efs.af-south-1.amazonaws.com:/",
                     "replica": {"file_system_id": "fs-r", "region": "eu-west-1"}}]
    mine = {"Id": "E1", "DomainName": "d1.cloudfront.net", "Comment": "shopper-local site"}
    distributions = {"E1": mine, "shopper.example": mine,  # keyed by id and by alias
                     "E2": {"Id": "E2", "DomainName": "d2.cloudfront.net", "Comment": "someone else's"}}
    target_groups = [{"target_group_name": "shopper-local-web", "target_group_arn": "arn:tg"}]
    albs = [{"load_balancer_name": "shopper-local-alb", "load_balancer_arn": "arn:alb", "dns_name": "alb.example",
             "canonical_hosted_zone_id": "Z1"}]
    stack = stack_discovered({"caller": caller, "vpcs": [{"id": "vpc-1", "cidr_block": "10.20.0.0/16"}], "subnets": [_subnet("s-p", "10.20.0.0/20", "public")],
                              "security_groups": groups, "file_systems": file_systems, "distributions": distributions,
                              "target_groups": target_groups, "load_balancers": albs,
                              "migration_finished_at": "2026-12-04T17:00:00Z"}, names)
    assert stack == {"account": "123456789012", "partition": "aws-cn", "vpc_id": "vpc-1", "vpc_cidr": "10.20.0.0/16",
                     "public_subnet_ids": ["s-p"], "private_subnet_ids": [],
                     "security_group_ids": {"alb": "", "bastion": "", "web": "sg-w", "rds": "", "efs": ""},
                     "efs_id": "fs-1", "efs_dns_name": "fs-1.efs.af-south-1.amazonaws.com",
                     "efs_replica_id": "fs-r", "efs_replica_region": "eu-west-1",
                     "distribution_id": "E1", "distribution_domain_name": "d1.cloudfront.net",
                     "migration_finished_at": "2026-12-04T17:00:00Z",
                     "target_group_arn": "arn:tg", "alb_arn": "arn:alb", "alb_dns_name": "alb.example", "alb_zone_id": "Z1",
                     # published by their producers, never discovered
                     "certificate_arns": {"regional": "", "cloudfront": ""}, "certificate_validation_records": [],
                     "ses_dkim_tokens": [], "slack_function_arns": {}}
    empty = stack_discovered({"caller": caller}, names)
    assert (empty["vpc_id"], empty["public_subnet_ids"], set(empty["security_group_ids"].values()),
            empty["efs_id"], empty["distribution_id"], empty["target_group_arn"], empty["efs_replica_id"],
            empty["migration_finished_at"]) == ("", [], {""}, "", "", "", "", "")


def test_two_vpcs_with_the_stacks_name_are_refused():
    from plugins.filter.stack import stack_discovered
    caller = {"account": "1", "arn": "arn:aws:iam::1:user/x"}
    with pytest.raises(AnsibleFilterError, match="2 VPCs carry the name of shopper-local"):
        stack_discovered({"caller": caller, "vpcs": [{"id": "vpc-1"}, {"id": "vpc-2"}]}, stack_names("shopper", "local"))
