"""The diagram's graph and its renderings (filters stack_graph / stack_diagram), from a described
stack written out here; the live stack's diagram is compared with the describe calls in
tests/provisioning/test_edge_alb_asg.py and tests/e2e/test_site.py."""
from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError

from plugins.filter.diagram import stack_diagram, stack_graph
from plugins.filter.report import stack_report
from plugins.filter.stack import stack_names

NAMES = stack_names("shopper", "local")
TOPIC = "arn:aws:sns:af-south-1:123456789012:shopper-local-alarms"
FUNCTION = "arn:aws:lambda:af-south-1:123456789012:function:shopper-local-slack-notifier"


def sg(tier: str, *rules: dict) -> dict:
    return {"group_id": f"sg-{tier}", "group_name": NAMES["security_groups"][tier], "ingress": list(rules)}


def rule(port: int, groups=(), cidrs=(), prefix_lists=()) -> dict:
    return {"protocol": "tcp", "from_port": port, "to_port": port, "group_ids": list(groups), "cidrs": list(cidrs),
            "prefix_list_ids": list(prefix_lists)}


DESCRIBED = {
    "vpc": {"id": "vpc-1", "cidr_block": "10.20.0.0/16"},
    "subnets": [{"id": f"subnet-{t}{z}", "cidr_block": f"10.20.{i}.0/20", "availability_zone": f"af-south-1{z}", "tier": t}
                for i, (t, z) in enumerate([("public", "a"), ("public", "b"), ("private", "a"), ("private", "b")])],
    "nat_gateways": [{"id": "nat-a", "subnet_id": "subnet-publica"}, {"id": "nat-b", "subnet_id": "subnet-publicb"}],
    "security_groups": [
        sg("alb", rule(443, prefix_lists=["pl-cf"])),
        sg("bastion", rule(22, cidrs=["198.51.100.0/24"])),
        sg("web", rule(80, groups=["sg-alb"]), rule(22, groups=["sg-bastion"])),
        sg("rds", rule(5432, groups=["sg-web", "sg-bastion"])),
        sg("efs", rule(2049, groups=["sg-web"])),
    ],
    "instances": [{"id": "i-b1", "component": "bastion", "subnet_id": "subnet-publica", "availability_zone": "af-south-1a",
                   "private_ip": "10.20.0.5"},
                  {"id": "i-w1", "component": "asg", "subnet_id": "subnet-privatea", "availability_zone": "af-south-1a",
                   "private_ip": "10.20.2.5"}],
    "database": {"id": "shopper-local-db", "engine": "postgres", "multi_az": True, "availability_zone": "af-south-1a",
                 "secondary_availability_zone": "af-south-1b", "port": 5432,
                 "subnet_ids": ["subnet-privatea", "subnet-privateb"]},
    "mount_targets": [{"id": "fsmt-a", "subnet_id": "subnet-privatea", "availability_zone": "af-south-1a"}],
    "load_balancer": {"name": "shopper-local-alb", "dns_name": "alb.example", "subnet_ids": ["subnet-publica", "subnet-publicb"]},
    "auto_scaling_group": {"name": "shopper-local-web", "min": 2, "max": 6, "in_service": ["i-w1"],
                           "subnet_ids": ["subnet-privatea", "subnet-privateb"]},
    "distribution": {"id": "E1", "domain_name": "d1.cloudfront.net", "aliases": ["shopper.example.com"], "origins": [{"domain_name": "origin.shopper.example.com", "alias_of": "alb.example"}]},
    "topics": [{"name": "shopper-local-alarms", "region": "af-south-1", "arn": TOPIC,
                "subscriptions": [{"protocol": "email", "endpoint": ""}, {"protocol": "lambda", "endpoint": FUNCTION}]}],
    "alarms": [{"name": "a1", "region": "af-south-1", "topic_arns": [TOPIC]}, {"name": "a2", "region": "af-south-1", "topic_arns": [TOPIC]}],
    "vaults": [{"name": "shopper-local", "topic_arn": TOPIC}],
}


def edges(graph: dict, kind: str) -> set[tuple[str, str, str]]:
    return {(e["from"], e["to"], e["label"]) for e in graph["edges"] if e["kind"] == kind}


def test_every_ingress_rule_is_an_allowed_path_between_the_resources():
    graph = stack_graph(DESCRIBED, NAMES)
    assert edges(graph, "allow") == {
        ("prefix_list_pl_cf", "alb", "tcp 443"),
        ("cidr_198_51_100_0_24", "bastion_i_b1", "tcp 22"),
        ("alb", "web", "tcp 80"),
        ("bastion_i_b1", "web", "tcp 22"),
        ("web", "rds", "tcp 5432"),
        ("bastion_i_b1", "rds", "tcp 5432"),
        ("web", "efs", "tcp 2049"),
    }


def test_subnets_sit_in_their_az_and_resources_in_their_subnets():
    graph = stack_graph(DESCRIBED, NAMES)
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert nodes["subnet_subnet_privateb"]["cluster"] == "az_af_south_1b"
    assert {c["id"]: c["parent"] for c in graph["clusters"]} == {"vpc": None, "az_af_south_1a": "vpc", "az_af_south_1b": "vpc"}
    placed = edges(graph, "in")
    assert ("nat_nat_b", "subnet_subnet_publicb", "") in placed
    assert ("rds", "subnet_subnet_privateb", "") in placed and ("efs", "subnet_subnet_privatea", "") in placed
    assert "primary af-south-1a, standby af-south-1b" in nodes["rds"]["label"]
    assert nodes["web"]["label"].startswith("web servers: 1 in service")


def test_the_edge_and_the_alerting_path():
    graph = stack_graph(DESCRIBED, NAMES)
    flows = edges(graph, "flow")
    fn = "function_shopper_local_slack_notifier_af_south_1"
    assert {("users", "cloudfront", "https"), ("cloudfront", "alb", "origin origin.shopper.example.com"),
            ("alarms_shopper_local_alarms", "topic_shopper_local_alarms", "alarm"),
            ("topic_shopper_local_alarms", fn, "lambda"), (fn, "slack", "webhook"),
            ("topic_shopper_local_alarms", "subscribers_email", "email"),
            ("vault_shopper_local", "topic_shopper_local_alarms", "backup events")} <= flows
    assert {n["id"]: n["label"] for n in graph["nodes"]}["alarms_shopper_local_alarms"].startswith("2 CloudWatch alarms")


def test_an_origin_that_is_not_the_alb_is_drawn_as_it_is():
    other = {**DESCRIBED, "distribution": {**DESCRIBED["distribution"],
                                           "origins": [{"domain_name": "bucket.s3.amazonaws.com", "alias_of": ""}]}}
    assert ("cloudfront", "origin_bucket_s3_amazonaws_com", "origin") in edges(stack_graph(other, NAMES), "flow")


def test_a_partial_stack_draws_what_exists():
    graph = stack_graph({"vpc": {}, "subnets": [], "security_groups": []}, NAMES)
    assert graph == {"clusters": [], "nodes": [], "edges": []}
    no_db = {**DESCRIBED, "database": {}}
    graph = stack_graph(no_db, NAMES)
    # The database's group remains, standing for the instance that is not there yet.
    assert ("web", "sg_sg_rds", "tcp 5432") in edges(graph, "allow")


def test_mermaid_and_dot_hold_every_node_and_edge():
    graph = stack_graph(DESCRIBED, NAMES)
    mermaid, dot = stack_diagram(graph, "mermaid"), stack_diagram(graph, "dot")
    assert mermaid.startswith("flowchart LR\n") and dot.startswith("digraph protea {")
    for node in graph["nodes"]:
        assert f'{node["id"]}["' in mermaid and f'{node["id"]} [label=' in dot
    for edge in graph["edges"]:
        assert re.search(rf'^  {edge["from"]} (-->|==>|-\.-)(\|"[^"]*"\|)? {edge["to"]}$', mermaid, re.M), edge
        assert f'  {edge["from"]} -> {edge["to"]} ' in dot
    assert mermaid.count("subgraph ") == mermaid.count("\n  end") + mermaid.count("\n    end") == 3


def test_bad_input_is_refused():
    with pytest.raises(AnsibleFilterError, match="stack_overview_info"):
        stack_graph({}, NAMES)
    with pytest.raises(AnsibleFilterError, match="format 'svg'"):
        stack_diagram(stack_graph(DESCRIBED, NAMES), "svg")


# --- the end-of-run report (filter stack_report), from the same described stack ---------------
REPORTED = {**DESCRIBED,
            "instances": [{**i, "public_ip": "203.0.113.10" if i["component"] == "bastion" else ""} for i in DESCRIBED["instances"]],
            "database": {**DESCRIBED["database"], "address": "shopper-local-db.abc.af-south-1.rds.amazonaws.com"},
            "auto_scaling_group": {**DESCRIBED["auto_scaling_group"],
                                   "image": {"id": "ami-1", "name": "shopper-local-web-v3", "template_version": "4"}},
            "zone": {"id": "Z1", "name": "shopper.example.com", "name_servers": ["ns-1.awsdns-01.org", "ns-2.awsdns-02.co.uk"]}}


def test_the_report_says_what_exists_and_how_to_reach_it():
    text = "\n".join(stack_report(REPORTED, ["shopper.example.com", "www.shopper.example.com"], "admin"))
    assert "Site: https://shopper.example.com, https://www.shopper.example.com through CloudFront d1.cloudfront.net (E1)" in text
    assert "Load balancer: shopper-local-alb (alb.example)" in text
    assert "name servers: ns-1.awsdns-01.org, ns-2.awsdns-02.co.uk" in text and "dig +short NS shopper.example.com" in text
    assert ("Database: postgres shopper-local-db at shopper-local-db.abc.af-south-1.rds.amazonaws.com:5432 (Multi-AZ, primary"
            " af-south-1a, standby af-south-1b") in text
    assert "image shopper-local-web-v3 (ami-1), launch template version 4" in text
    assert "Bastions: 203.0.113.10 (i-b1, af-south-1a)" in text and "ssh: ssh -J admin@203.0.113.10 admin@10.20.2.5" in text
    assert ("2 alarms, backup events of vault shopper-local -> SNS shopper-local-alarms (af-south-1) -> email (1 confirmed"
            " subscription), Lambda shopper-local-slack-notifier (af-south-1) -> Slack") in text


def test_the_report_names_the_playbook_for_what_is_missing():
    text = "\n".join(stack_report({"vpc": {}, "subnets": [], "security_groups": []}, "shopper.example.com"))
    for missing in ("no CloudFront distribution yet (playbooks/edge.yml)", "Database: none yet (playbooks/data.yml)",
                    "Bastions: none running (playbooks/network.yml)", "no alerting topic yet (playbooks/alerting.yml)"):
        assert missing in text
    with pytest.raises(AnsibleFilterError, match="stack_report: expected"):
        stack_report([], [])
