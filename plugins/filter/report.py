# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""The end-of-run report: what was built and how to reach it, from what
protea.platform.stack_overview_info described (the live stack, not the configuration)."""
from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError


def _function(arn: str) -> str:
    parts = arn.split(":")
    return f"{parts[6]} ({parts[3]})" if len(parts) >= 7 else arn


def _alerting(d: dict[str, Any]) -> list[str]:
    out = []
    alarms: dict[str, int] = {}
    for alarm in d.get("alarms", []):
        for arn in alarm["topic_arns"]:
            alarms[arn] = alarms.get(arn, 0) + 1
    vaults: dict[str, list[str]] = {}
    for vault in d.get("vaults", []):
        vaults.setdefault(vault["topic_arn"], []).append(vault["name"])
    for topic in d.get("topics", []):
        sources = []
        if alarms.get(topic["arn"]):
            sources.append(f"{alarms[topic['arn']]} alarms")
        if vaults.get(topic["arn"]):
            sources.append("backup events of vault " + ", ".join(vaults[topic["arn"]]))
        targets = []
        emails = [s for s in topic.get("subscriptions", []) if s["protocol"] == "email"]
        if emails:
            targets.append(f"email ({len(emails)} confirmed subscription{'s' if len(emails) > 1 else ''})")
        targets += [f"Lambda {_function(s['endpoint'])} -> Slack" for s in topic.get("subscriptions", []) if s["protocol"] == "lambda"]
        out.append(f"    {(', '.join(sources) or 'events')} -> SNS {topic['name']} ({topic['region']}) -> "
                   + (", ".join(targets) or "nobody: no confirmed subscription"))
    return out


def _zone(zone: dict[str, Any], delegation: Any) -> list[str]:
    """The zone's lines: its name servers, then whether DNS delegates the domain to them (the result of
    protea.platform.dns_delegation_info) and, only when it does not or that is unknown, the registrar step."""
    servers = zone.get("name_servers") or []
    out = [f"  DNS: Route 53 zone {zone['name']} ({zone['id']}), name servers: {', '.join(servers)}"]
    state = delegation.get("state") if isinstance(delegation, dict) else None
    step = (f"at the registrar of {zone['name']}, set exactly these name servers: {', '.join(servers)}; until then ACM"
            " cannot validate the certificates and the site names do not resolve")
    if state == "delegated":
        line = f"    Delegated: DNS answers the zone's name servers for {zone['name']}."
        if delegation.get("missing"):
            line += f" The registrar lists only some of them: add {', '.join(delegation['missing'])}."
        out.append(line)
    elif state == "not_delegated":
        out.append(f"    NOT delegated: DNS answers {', '.join(delegation.get('seen') or [])} for {zone['name']}."
                   f" Next step: {step}.")
    elif state == "unknown":
        out.append(f"    Delegation unknown ({delegation.get('reason') or 'no answer'}): DNS gave no NS answer for {zone['name']}."
                   f" If the domain is not delegated yet: {step} (check: dig +short NS {zone['name']}).")
    else:
        out.append(f"    Delegation not checked. Once per domain: {step} (check: dig +short NS {zone['name']}).")
    return out


def stack_report(described: Any, site_names: Any, ssh_user: str = "admin", delegation: Any = None) -> list[str]:
    """Lines saying what exists: URLs, CloudFront and ALB names, the zone's name servers with whether
    DNS delegates the domain to them (delegation: the result of protea.platform.dns_delegation_info;
    the registrar step only when it does not), the database endpoint, bastions and the ssh line, the image in service and
    where alarms go. Missing parts are said to be missing, not left out."""
    if not isinstance(described, dict) or "subnets" not in described:
        raise AnsibleFilterError("stack_report: expected the 'described' result of protea.platform.stack_overview_info")
    names = [site_names] if isinstance(site_names, str) else list(site_names or [])
    d = described
    dist, alb, zone, db = d.get("distribution") or {}, d.get("load_balancer") or {}, d.get("zone") or {}, d.get("database") or {}
    group = d.get("auto_scaling_group") or {}
    out = ["What was built:"]
    if dist:
        out.append(f"  Site: {', '.join('https://' + n for n in names)} through CloudFront {dist['domain_name']} ({dist['id']})")
    else:
        out.append("  Site: no CloudFront distribution yet (playbooks/edge.yml)")
    out.append(f"  Load balancer: {alb['name']} ({alb['dns_name']}), origin of CloudFront only" if alb
               else "  Load balancer: none yet (playbooks/edge.yml)")
    if zone:
        out += _zone(zone, delegation)
    else:
        out.append("  DNS: no public hosted zone yet (playbooks/edge.yml)")
    if db:
        where = (f"Multi-AZ, primary {db['availability_zone']}, standby {db['secondary_availability_zone']}" if db.get("multi_az")
                 else f"single-AZ {db.get('availability_zone', '')}")
        out.append(f"  Database: {db.get('engine', '')} {db['id']} at {db.get('address', '')}:{db.get('port', '')} ({where};"
                   " reachable from the web servers and bastions only)")
    else:
        out.append("  Database: none yet (playbooks/data.yml)")
    targets = d.get("mount_targets") or []
    if targets:
        out.append(f"  Files: EFS with mount targets in {', '.join(sorted(t['availability_zone'] for t in targets))}")
    if group:
        image = group.get("image") or {}
        out.append(f"  Web servers: {len(group.get('in_service', []))} in service (group {group['name']}, {group['min']}-{group['max']}),"
                   f" image {image.get('name') or '?'} ({image.get('id') or 'none'}), launch template version"
                   f" {image.get('template_version') or '?'}")
    else:
        out.append("  Web servers: no Auto Scaling group yet (playbooks/edge.yml)")
    bastions = [i for i in d.get("instances", []) if i.get("component") == "bastion"]
    if bastions:
        out.append("  Bastions: " + ", ".join(f"{b.get('public_ip') or b['private_ip']} ({b['id']}, {b['availability_zone']})"
                                              for b in bastions))
        in_service = set(group.get("in_service", []))
        web = next((i for i in d.get("instances", []) if i["id"] in in_service and i.get("private_ip")), None)
        jump = bastions[0].get("public_ip") or bastions[0]["private_ip"]
        target = web["private_ip"] if web else "<web server private address>"
        out.append(f"    ssh: ssh -J {ssh_user}@{jump} {ssh_user}@{target}")
    else:
        out.append("  Bastions: none running (playbooks/network.yml)")
    alerting = _alerting(d)
    out += ["  Alerts:"] + alerting if alerting else ["  Alerts: no alerting topic yet (playbooks/alerting.yml)"]
    return out


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"stack_report": stack_report}
