"""The cost estimate (roles/cost, filters cost_estimate / cost_table): arithmetic on the price
table, the table's own completeness, and playbooks/cost.yml with no cloud at all."""
from __future__ import annotations

import re

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from plugins.filter.cost import CONFIG_KEYS, cost_estimate, cost_table
from tests.helpers import REPO, run_playbook

PRICES = yaml.safe_load((REPO / "roles/cost/vars/prices.yml").read_text())["cost_prices"]
HOURS = PRICES["hours_per_month"]


def defaults(role: str) -> dict:
    return yaml.safe_load((REPO / f"roles/{role}/defaults/main.yml").read_text())


def config(**change) -> dict:
    """The default configuration as roles/cost/vars/main.yml builds it (af-south-1, two AZs)."""
    asg, bastion, rds, cost = defaults("asg"), defaults("bastion"), defaults("rds"), defaults("cost")
    base = {
        "region": "af-south-1", "azs": 2, "nat_gateway_mode": "per_az", "bastion_count": 2,
        "bastion_instance_type": bastion["bastion_instance_type"], "bastion_volume_gb": bastion["bastion_root_volume_size"],
        "web_instance_type": asg["asg_instance_type"], "web_desired": asg["asg_desired_capacity"], "web_max": asg["asg_max_size"],
        "web_volume_gb": asg["asg_root_volume_size"], "db_engine": "postgres", "db_instance_class": rds["rds_instance_class"],
        "db_multi_az": rds["rds_multi_az"], "db_storage_gb": rds["rds_allocated_storage"], "efs_gb": cost["cost_efs_gb"],
        "cloudfront_gb": cost["cost_cloudfront_gb"], "cloudfront_requests": cost["cost_cloudfront_requests"],
        "edge_price_class": cost["cost_edge_price_class"], "nat_gb": cost["cost_nat_gb"], "alb_lcu": cost["cost_alb_lcu"],
        "ses_emails": cost["cost_ses_emails"], "alarms": cost["cost_alarms"], "kms_keys": 4, "logs_gb": cost["cost_logs_gb"],
        "single_box_instance_type": cost["cost_single_box_instance_type"],
        "single_box_volume_gb": cost["cost_single_box_volume_gb"],
        "efs_replica": defaults("efs")["efs_replication"],
    }
    assert set(base) == set(CONFIG_KEYS)
    return {**base, **change}


def line(estimate: dict, prefix: str) -> dict:
    (found,) = [entry for entry in estimate["lines"] if entry["item"].startswith(prefix)]
    return found


def test_the_price_table_is_dated_and_sourced_and_prices_every_default():
    assert re.fullmatch(r"\d{4}-\d{2}", PRICES["as_of"])
    assert all(url.startswith("https://") for url in PRICES["sources"].values())
    keys = None
    for region, table in PRICES["regions"].items():
        keys = keys or set(table)
        assert set(table) == keys, f"{region} lacks {keys - set(table)}"
        assert defaults("asg")["asg_instance_type"] in table["ec2_hour"]
        assert defaults("bastion")["bastion_instance_type"] in table["ec2_hour"]
        assert defaults("cost")["cost_single_box_instance_type"] in table["ec2_hour"]
        for family in ("postgres", "mysql"):
            assert defaults("rds")["rds_instance_class"] in table["rds_hour"][family]
    assert "af-south-1" in PRICES["regions"]


def test_every_default_line_is_priced_and_the_total_is_their_sum():
    estimate = cost_estimate(config(), PRICES)
    assert estimate["complete"] and estimate["priced"]
    assert estimate["total"] == pytest.approx(sum(entry["monthly"] for entry in estimate["lines"]), abs=0.01)
    web = line(estimate, "web servers")
    assert web["monthly"] == pytest.approx(2 * PRICES["regions"]["af-south-1"]["ec2_hour"]["t3.small"] * HOURS, abs=0.01)


def test_a_single_nat_gateway_saves_one_gateway_and_its_address():
    af = PRICES["regions"]["af-south-1"]
    per_az = cost_estimate(config(), PRICES)
    single = cost_estimate(config(nat_gateway_mode="single"), PRICES)
    expected = (af["nat_gateway_hour"] + PRICES["global"]["public_ipv4_hour"]) * HOURS
    assert per_az["total"] - single["total"] == pytest.approx(expected, abs=0.02)
    (lever,) = [entry for entry in per_az["levers"] if entry["setting"] == "vpc_nat_gateway_mode: single"]
    assert lever["monthly"] == single["total"]
    assert not [entry for entry in single["levers"] if entry["setting"].startswith("vpc_nat_gateway_mode")]


def test_multi_az_doubles_the_database_instance_and_its_storage():
    multi = cost_estimate(config(), PRICES)
    single = cost_estimate(config(db_multi_az=False), PRICES)
    assert line(multi, "RDS postgres")["monthly"] == pytest.approx(2 * line(single, "RDS postgres")["monthly"], abs=0.01)
    assert line(multi, "RDS storage")["monthly"] == pytest.approx(2 * line(single, "RDS storage")["monthly"], abs=0.01)


def test_mariadb_is_priced_as_mysql():
    mariadb = cost_estimate(config(db_engine="mariadb"), PRICES)
    mysql = cost_estimate(config(db_engine="mysql"), PRICES)
    assert line(mariadb, "RDS mariadb")["monthly"] == line(mysql, "RDS mysql")["monthly"] is not None


def test_more_azs_cost_more_gateways_bastions_and_addresses():
    two = cost_estimate(config(), PRICES)
    three = cost_estimate(config(azs=3, bastion_count=3), PRICES)
    assert line(three, "NAT gateways")["quantity"] == 3
    assert line(three, "public IPv4")["quantity"] == 9  # 3 NAT + 3 bastions + 3 ALB nodes
    assert three["total"] > two["total"]


def test_an_unpriced_type_is_named_not_guessed():
    estimate = cost_estimate(config(web_instance_type="c7g.metal"), PRICES)
    assert not estimate["complete"]
    assert line(estimate, "web servers")["monthly"] is None
    text = "\n".join(cost_table(estimate))
    assert "no price" in text and "unpriced: web servers (c7g.metal" in text
    assert "times the single box" not in text


def test_a_region_without_prices_says_where_to_add_them():
    estimate = cost_estimate(config(region="ap-south-2"), PRICES)
    assert estimate["priced"] is False
    (text,) = cost_table(estimate)
    assert "No prices for ap-south-2 in roles/cost/vars/prices.yml" in text and "af-south-1" in text


def test_a_configuration_missing_a_key_is_refused_by_name():
    broken = config()
    del broken["db_multi_az"]
    with pytest.raises(AnsibleFilterError, match="lacks db_multi_az"):
        cost_estimate(broken, PRICES)
    with pytest.raises(AnsibleFilterError, match="cost_table: expected"):
        cost_table({"lines": []})


def test_the_table_compares_with_the_single_box_and_lists_the_levers():
    estimate = cost_estimate(config(), PRICES)
    text = cost_table(estimate)
    assert text[0].startswith("Monthly estimate, af-south-1 (Africa (Cape Town)), USD on-demand list prices as of")
    assert any(entry.startswith("The single box it replaces: ") for entry in text)
    settings = [entry["setting"] for entry in estimate["levers"]]
    assert settings == ["vpc_nat_gateway_mode: single", "bastion_count: 1", "rds_multi_az: false",
                        "efs_replication: false", "rds_instance_class: db.t3.small", "asg_instance_type: t3.micro"]
    assert all(entry["saves"] > 0 for entry in estimate["levers"])


def test_cost_playbook_needs_no_cloud_and_reads_the_inventory(tmp_path):
    # No emulator runs: an endpoint on a closed port would fail any AWS call.
    report = tmp_path / "cost.txt"
    run = run_playbook("playbooks/cost.yml", endpoint="http://127.0.0.1:9", extra_vars={
        "cost_report_path": str(report), "vpc_nat_gateway_mode": "single", "rds_instance_class": "db.t3.large",
        "backup_copy_region": "eu-west-1"})
    assert run.rc == 0, run.explain()
    text = report.read_text()
    assert "NAT gateways (single)" in text and "RDS postgres db.t3.large Multi-AZ" in text
    assert "5 key-month" in text  # the copy vault's key too
    assert "EFS replica (efs_replication)" in text  # the efs role's own default: on
    expected = cost_estimate(config(nat_gateway_mode="single", db_instance_class="db.t3.large", kms_keys=5), PRICES)
    assert "total per month" in text and f"{expected['total']:,.2f}" in text
    assert "Monthly estimate, af-south-1" in run.stdout


def test_the_efs_replica_is_a_second_copy_of_the_storage_and_a_lever():
    on, off = cost_estimate(config(efs_replica=True), PRICES), cost_estimate(config(efs_replica=False), PRICES)
    storage = next(line for line in on["lines"] if line["item"] == "EFS standard storage")
    replica = next(line for line in on["lines"] if line["item"].startswith("EFS replica"))
    assert replica["monthly"] == storage["monthly"] > 0
    assert not any(line["item"].startswith("EFS replica") for line in off["lines"])
    assert round(on["total"] - off["total"], 2) == replica["monthly"]
    lever = next(lever for lever in on["levers"] if lever["setting"] == "efs_replication: false")
    assert lever["saves"] == replica["monthly"]
