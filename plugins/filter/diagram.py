# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""The architecture diagram of a live stack: the graph (nodes, clusters, edges) from what
protea.platform.stack_overview_info described, and its rendering as Mermaid or Graphviz DOT.

Edges of kind "allow" are the security groups' ingress rules, one per (source, destination);
"in" places a resource in a subnet; "flow" is traffic or notifications the stack routes."""
from __future__ import annotations

import re
from typing import Any

from ansible.errors import AnsibleFilterError

# The security group tiers (protea_names.security_groups) and the node that stands for each.
TIER_NODES = {"alb": "alb", "web": "web", "rds": "rds", "efs": "efs"}


def node_id(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9]", "_", str(p)) for p in parts)


def port_label(rule: dict[str, Any]) -> str:
    if rule.get("protocol") in ("-1", "all"):
        return "all traffic"
    low, high = rule.get("from_port"), rule.get("to_port")
    return f"{rule.get('protocol', 'tcp')} {low}" if low == high else f"{rule.get('protocol', 'tcp')} {low}-{high}"


class _Graph:
    def __init__(self) -> None:
        self.clusters: dict[str, dict[str, Any]] = {}
        self.nodes: dict[str, dict[str, Any]] = {}
        self.edges: dict[tuple[str, str, str], set[str]] = {}

    def cluster(self, cid: str, label: str, parent: str | None = None) -> str:
        self.clusters.setdefault(cid, {"id": cid, "label": label, "parent": parent})
        return cid

    def node(self, nid: str, label: str, kind: str, cluster: str | None = None) -> str:
        self.nodes.setdefault(nid, {"id": nid, "label": label, "kind": kind, "cluster": cluster})
        return nid

    def edge(self, src: str, dst: str, kind: str, label: str = "") -> None:
        labels = self.edges.setdefault((src, dst, kind), set())
        if label:
            labels.add(label)

    def result(self) -> dict[str, Any]:
        return {"clusters": sorted(self.clusters.values(), key=lambda c: c["id"]),
                "nodes": sorted(self.nodes.values(), key=lambda n: n["id"]),
                "edges": [{"from": s, "to": d, "kind": k, "label": ", ".join(sorted(labels))}
                          for (s, d, k), labels in sorted(self.edges.items())]}


def _network(g: _Graph, d: dict[str, Any]) -> None:
    """VPC, AZs, subnets, NAT gateways, bastions."""
    vpc = d.get("vpc") or {}
    if not vpc:
        return
    g.cluster("vpc", f"VPC {vpc['id']} {vpc.get('cidr_block', '')}".strip())
    az_of = {}
    for subnet in sorted(d.get("subnets", []), key=lambda s: (s["availability_zone"], s.get("tier", ""), s["cidr_block"])):
        az = g.cluster(node_id("az", subnet["availability_zone"]), subnet["availability_zone"], "vpc")
        az_of[subnet["id"]] = az
        g.node(node_id("subnet", subnet["id"]), f"{subnet.get('tier') or 'subnet'} subnet {subnet['cidr_block']}", "subnet", az)
    for nat in d.get("nat_gateways", []):
        nid = g.node(node_id("nat", nat["id"]), f"NAT gateway {nat['id']}", "nat_gateway", az_of.get(nat["subnet_id"], "vpc"))
        g.edge(nid, node_id("subnet", nat["subnet_id"]), "in")
    for instance in d.get("instances", []):
        if instance.get("component") != "bastion":
            continue
        nid = g.node(node_id("bastion", instance["id"]), f"bastion {instance['id']} {instance.get('private_ip', '')}".strip(),
                     "bastion", az_of.get(instance["subnet_id"], "vpc"))
        g.edge(nid, node_id("subnet", instance["subnet_id"]), "in")


def _compute_and_data(g: _Graph, d: dict[str, Any]) -> None:
    alb = d.get("load_balancer") or {}
    if alb:
        g.node("alb", f"ALB {alb['name']}", "load_balancer", "vpc")
        for subnet in alb.get("subnet_ids", []):
            g.edge("alb", node_id("subnet", subnet), "in")
    asg = d.get("auto_scaling_group") or {}
    if asg:
        g.node("web", f"web servers: {len(asg.get('in_service', []))} in service (group {asg['name']}, {asg['min']}-{asg['max']})",
               "auto_scaling_group", "vpc")
        for subnet in asg.get("subnet_ids", []):
            g.edge("web", node_id("subnet", subnet), "in")
    db = d.get("database") or {}
    if db:
        where = (f"primary {db['availability_zone']}, standby {db['secondary_availability_zone']}" if db.get("multi_az")
                 else f"single-AZ {db.get('availability_zone', '')}")
        g.node("rds", f"RDS {db['id']} {db.get('engine', '')} ({where})", "database", "vpc")
        for subnet in db.get("subnet_ids", []):
            g.edge("rds", node_id("subnet", subnet), "in")
    targets = d.get("mount_targets") or []
    if targets:
        g.node("efs", f"EFS ({len(targets)} mount targets)", "file_system", "vpc")
        for target in targets:
            g.edge("efs", node_id("subnet", target["subnet_id"]), "in")


def _allowed_paths(g: _Graph, d: dict[str, Any], names: dict[str, Any]) -> None:
    tier_of_name = {name: tier for tier, name in (names.get("security_groups") or {}).items()}
    members: dict[str, list[str]] = {}
    for group in d.get("security_groups", []):
        tier = tier_of_name.get(group["group_name"], "")
        if tier == "bastion":
            members[group["group_id"]] = [n["id"] for n in g.nodes.values() if n["kind"] == "bastion"]
        elif tier in TIER_NODES and TIER_NODES[tier] in g.nodes:
            members[group["group_id"]] = [TIER_NODES[tier]]
        else:  # a group whose resource does not exist yet: the group itself stands for it
            members[group["group_id"]] = [g.node(node_id("sg", group["group_id"]), f"security group {group['group_name']}",
                                                 "security_group", "vpc")]
    for group in d.get("security_groups", []):
        for rule in group.get("ingress", []):
            label = port_label(rule)
            sources = [m for gid in rule.get("group_ids", []) for m in members.get(gid, [])]
            sources += [g.node("users", "users (internet)", "external") if cidr == "0.0.0.0/0"
                        else g.node(node_id("cidr", cidr), f"admins {cidr}", "external") for cidr in rule.get("cidrs", [])]
            sources += [g.node(node_id("prefix_list", pl), f"prefix list {pl} (CloudFront origin-facing)", "external")
                        for pl in rule.get("prefix_list_ids", [])]
            for src in sources:
                for dst in members.get(group["group_id"], []):
                    g.edge(src, dst, "allow", label)


def _edge_and_alerting(g: _Graph, d: dict[str, Any]) -> None:
    dist = d.get("distribution") or {}
    if dist:
        aliases = ", ".join(dist.get("aliases", []))
        g.node("cloudfront", f"CloudFront {dist.get('domain_name', dist['id'])}" + (f" ({aliases})" if aliases else ""), "distribution")
        g.edge(g.node("users", "users (internet)", "external"), "cloudfront", "flow", "https")
        alb_dns = (d.get("load_balancer") or {}).get("dns_name", "").lower()
        for origin in dist.get("origins", []):
            name = origin["domain_name"].lower()
            if alb_dns and "alb" in g.nodes and alb_dns in (name, origin.get("alias_of", "")):
                g.edge("cloudfront", "alb", "flow", "origin" if name == alb_dns else f"origin {name}")
            else:
                g.edge("cloudfront", g.node(node_id("origin", name), f"origin {name}", "external"), "flow", "origin")
    for topic in d.get("topics", []):
        tid = g.node(node_id("topic", topic["name"]), f"SNS {topic['name']} ({topic['region']})", "topic")
        for sub in topic.get("subscriptions", []):
            if sub["protocol"] == "lambda":
                fn = sub["endpoint"].split(":")[6] if sub["endpoint"].count(":") >= 6 else sub["endpoint"]
                region = sub["endpoint"].split(":")[3] if sub["endpoint"].count(":") >= 6 else ""
                fid = g.node(node_id("function", fn, region), f"Lambda {fn} ({region})", "function")
                g.edge(tid, fid, "flow", "lambda")
                g.edge(fid, g.node("slack", "Slack channel", "external"), "flow", "webhook")
            else:
                g.edge(tid, g.node(node_id("subscribers", sub["protocol"]), f"{sub['protocol']} subscribers", "external"),
                       "flow", sub["protocol"])
    by_topic: dict[str, list[str]] = {}
    for alarm in d.get("alarms", []):
        for arn in alarm["topic_arns"]:
            by_topic.setdefault(arn, []).append(alarm["name"])
    for topic in d.get("topics", []):
        alarms = by_topic.get(topic["arn"], [])
        if alarms:
            aid = g.node(node_id("alarms", topic["name"]), f"{len(alarms)} CloudWatch alarms ({topic['region']})", "alarms")
            g.edge(aid, node_id("topic", topic["name"]), "flow", "alarm")
    arn_topic = {t["arn"]: node_id("topic", t["name"]) for t in d.get("topics", [])}
    for vault in d.get("vaults", []):
        if vault["topic_arn"] in arn_topic:
            g.edge(g.node(node_id("vault", vault["name"]), f"backup vault {vault['name']}", "backup_vault"),
                   arn_topic[vault["topic_arn"]], "flow", "backup events")


def stack_graph(described: Any, names: Any) -> dict[str, Any]:
    """Clusters (VPC, AZs), nodes and edges of the stack that stack_overview_info described."""
    if not isinstance(described, dict) or "subnets" not in described:
        raise AnsibleFilterError("stack_graph: expected the 'described' result of protea.platform.stack_overview_info")
    if not isinstance(names, dict):
        raise AnsibleFilterError("stack_graph: names must be protea_names")
    g = _Graph()
    _network(g, described)
    _compute_and_data(g, described)
    _allowed_paths(g, described, names)
    _edge_and_alerting(g, described)
    return g.result()


def _quote(text: str) -> str:
    return text.replace('"', "'")


def _layout(graph: dict[str, Any], node: Any, opening: Any, closing: Any) -> list[str]:
    """The nodes of each cluster, clusters nested in their parents, one format's lines per item:
    node(n, pad), opening(cluster, pad) -> lines, closing(pad)."""
    children: dict[str | None, list[dict[str, Any]]] = {}
    for cluster in graph["clusters"]:
        children.setdefault(cluster["parent"], []).append(cluster)
    out: list[str] = []

    def emit(parent: str | None, depth: int) -> None:
        pad = "  " * depth
        out.extend(node(n, pad) for n in graph["nodes"] if n["cluster"] == parent)
        for c in children.get(parent, []):
            out.extend(opening(c, pad))
            emit(c["id"], depth + 1)
            out.append(closing(pad))

    emit(None, 1)
    return out


def _mermaid(graph: dict[str, Any]) -> list[str]:
    arrows = {"allow": "-->", "flow": "==>", "in": "-.-"}
    body = _layout(graph, lambda n, pad: f'{pad}{n["id"]}["{_quote(n["label"])}"]',
                   lambda c, pad: [f'{pad}subgraph {c["id"]}["{_quote(c["label"])}"]'], lambda pad: f"{pad}end")
    labels = {e["label"]: f'|"{_quote(e["label"])}"|' if e["label"] else "" for e in graph["edges"]}
    edges = [f'  {e["from"]} {arrows[e["kind"]]}{labels[e["label"]]} {e["to"]}' for e in graph["edges"]]
    return ["flowchart LR"] + body + edges


def _dot(graph: dict[str, Any]) -> list[str]:
    styles = {"allow": "", "flow": ", penwidth=2", "in": ", style=dotted, arrowhead=none"}
    body = _layout(graph, lambda n, pad: f'{pad}{n["id"]} [label="{_quote(n["label"])}"];',
                   lambda c, pad: [f'{pad}subgraph cluster_{c["id"]} {{', f'{pad}  label="{_quote(c["label"])}";'],
                   lambda pad: f"{pad}}}")
    edges = [f'  {e["from"]} -> {e["to"]} [label="{_quote(e["label"])}"{styles[e["kind"]]}];' for e in graph["edges"]]
    return ["digraph protea {", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];'] + body + edges + ["}"]


def stack_diagram(graph: Any, fmt: str = "mermaid") -> str:
    """The graph as a Mermaid flowchart (fmt mermaid) or Graphviz DOT (fmt dot)."""
    if not isinstance(graph, dict) or not {"clusters", "nodes", "edges"} <= set(graph):
        raise AnsibleFilterError("stack_diagram: expected the result of protea.platform.stack_graph")
    if fmt not in ("mermaid", "dot"):
        raise AnsibleFilterError(f"stack_diagram: format {fmt!r} is not mermaid or dot")
    return "\n".join(_mermaid(graph) if fmt == "mermaid" else _dot(graph)) + "\n"


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"stack_graph": stack_graph, "stack_diagram": stack_diagram}
