#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""Whether a domain is delegated to its Route 53 hosted zone, asked of DNS (not assumed).

Why a project module: the bundled ones read the hosted zone (amazon.aws.route53_info) or query
DNS (community.general.dig, a lookup that cannot report a timeout or NXDOMAIN as a result), but
none compares what DNS answers with the zone's delegation set. Until the registrar lists the
zone's name servers, ACM cannot validate a certificate through the zone: the acm role stops
before its wait and the overview report says the next step.
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: dns_delegation_info
short_description: Whether DNS delegates a domain to its Route 53 hosted zone's name servers
version_added: 0.1.0
description:
  - Asks DNS for the domain's NS records (the system resolver, or O(resolvers)) and compares the name servers it
    answers with the public hosted zone's name servers (case and trailing dot do not matter).
  - The zone's name servers are O(name_servers) when given (no AWS call), else read from Route 53 (the public hosted
    zone named O(domain), or O(hosted_zone_id)).
  - V(delegated) when every name server DNS answers is one of the zone's, V(not_delegated) when DNS answers others,
    V(unknown) when DNS gives no NS answer (NXDOMAIN, no NS records, a timeout, a failing resolver), with the reason.
  - Read only; supports check mode.
requirements:
  - dnspython >= 2.0
  - boto3 (only without O(name_servers))
options:
  domain:
    description: The domain (the hosted zone's name), e.g. V(shop.example.co.za).
    type: str
    required: true
  name_servers:
    description:
      - The hosted zone's name servers. Empty, they are read from Route 53.
    type: list
    elements: str
    default: []
  hosted_zone_id:
    description:
      - The hosted zone to read the name servers of. Empty, the public zone named O(domain) (it must be the only one).
    type: str
    default: ""
  resolvers:
    description:
      - Addresses of the resolvers to ask. Empty, the system resolver (C(/etc/resolv.conf)).
    type: list
    elements: str
    default: []
  port:
    description: The resolvers' port.
    type: int
    default: 53
  timeout:
    description: Seconds to wait for DNS before the answer is V(unknown) (reason V(timeout)).
    type: float
    default: 5
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - Protea founding engineers
"""

EXAMPLES = r"""
- name: Is the domain delegated to its hosted zone?
  protea.platform.dns_delegation_info:
    domain: shop.example.co.za
  register: delegation

- name: Against given name servers and a given resolver, no AWS call
  protea.platform.dns_delegation_info:
    domain: shop.example.co.za
    name_servers: [ns-1.awsdns-01.org, ns-2.awsdns-02.co.uk]
    resolvers: [192.0.2.53]
"""

RETURN = r"""
state:
  description: V(delegated), V(not_delegated) or V(unknown).
  returned: always
  type: str
delegated:
  description: True only when O(state) is V(delegated).
  returned: always
  type: bool
reason:
  description:
    - Why the state is V(unknown) - V(nxdomain), V(no_ns_records), V(timeout), V(servfail) or V(error); empty otherwise.
  returned: always
  type: str
seen:
  description: The name servers DNS answers for the domain (lower case, no trailing dot), sorted.
  returned: always
  type: list
  elements: str
expected:
  description: The hosted zone's name servers (lower case, no trailing dot), sorted.
  returned: always
  type: list
  elements: str
missing:
  description: The zone's name servers DNS does not answer.
  returned: always
  type: list
  elements: str
extra:
  description: Name servers DNS answers that are not the zone's.
  returned: always
  type: list
  elements: str
message:
  description: One sentence saying the state and, unless delegated, the next step with the name servers to set.
  returned: always
  type: str
"""

from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:
    pass  # AnsibleAWSModule reports a missing boto3/botocore

try:
    import dns.exception
    import dns.rdatatype
    import dns.resolver

    HAS_DNSPYTHON = True
except ImportError:
    HAS_DNSPYTHON = False

REASONS = {
    "nxdomain": "the name does not exist in DNS (NXDOMAIN): it is not registered, or its parent does not delegate it",
    "no_ns_records": "DNS has the name but no NS records for it: it is not delegated as a zone of its own",
    "timeout": "DNS did not answer in time",
    "servfail": "the resolver failed (SERVFAIL or no usable resolver), e.g. the delegated name servers do not answer",
    "error": "the DNS query failed",
}


def normalise(names: Any) -> list[str]:
    """Name servers compared as DNS compares names: case and the trailing dot do not matter."""
    return sorted({str(n).strip().rstrip(".").lower() for n in names or [] if str(n).strip().rstrip(".")})


def compare(domain: str, seen: Any, expected: Any, reason: str = "") -> dict[str, Any]:
    """The result for what DNS answered (seen, or reason when it gave no NS answer) against the zone's name servers.

    Delegated when DNS answers name servers and every one is the zone's (a resolver then always
    reaches the zone); not delegated when DNS answers any other name server."""
    seen_n, expected_n = normalise(seen), normalise(expected)
    if not expected_n:
        raise ValueError("compare: the hosted zone's name servers are empty")
    missing = [n for n in expected_n if n not in seen_n]
    extra = [n for n in seen_n if n not in expected_n]
    if reason or not seen_n:
        state, reason = "unknown", reason or "no_ns_records"
    elif extra:
        state, reason = "not_delegated", ""
    else:
        state, reason = "delegated", ""
    zone = ", ".join(expected_n)
    if state == "delegated":
        message = f"{domain} is delegated to its Route 53 hosted zone ({', '.join(seen_n)})"
        if missing:
            message += f"; the registrar lists only {len(seen_n)} of its {len(expected_n)} name servers, add {', '.join(missing)}"
    elif state == "not_delegated":
        message = (f"{domain} is not delegated to its Route 53 hosted zone: DNS answers the name servers {', '.join(seen_n)}."
                   f" Next step: at the registrar of {domain}, set exactly these name servers: {zone}")
    else:
        message = (f"Whether {domain} is delegated to its Route 53 hosted zone is unknown: {REASONS.get(reason, reason)}."
                   f" The registrar of {domain} must list exactly these name servers: {zone}")
    return {"state": state, "delegated": state == "delegated", "reason": reason, "seen": seen_n,
            "expected": expected_n, "missing": missing, "extra": extra, "message": message}


def ask(domain: str, resolvers: list[str], port: int, timeout: float) -> tuple[list[str], str]:
    """The name servers DNS answers for the domain's NS query, or ([], reason)."""
    resolver = dns.resolver.Resolver(configure=not resolvers)
    if resolvers:
        resolver.nameservers = list(resolvers)
    resolver.port = port
    resolver.timeout = resolver.lifetime = timeout
    try:
        answer = resolver.resolve(domain.rstrip(".") + ".", "NS", search=False, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return [], "nxdomain"
    except (dns.resolver.LifetimeTimeout, dns.exception.Timeout):
        return [], "timeout"
    except dns.resolver.NoNameservers:
        return [], "servfail"
    except dns.exception.DNSException:
        return [], "error"
    if answer.rrset is None or answer.rrset.rdtype != dns.rdatatype.NS:
        return [], "no_ns_records"
    return [r.target.to_text() for r in answer.rrset], ""


def zone_name_servers(module: Any, domain: str, zone_id: str) -> list[str]:
    """The hosted zone's name servers from Route 53 (its delegation set)."""
    client = module.client("route53", retry_decorator=AWSRetry.jittered_backoff())
    try:
        if not zone_id:
            name = domain.rstrip(".").lower() + "."
            found = client.list_hosted_zones_by_name(DNSName=name, aws_retry=True)["HostedZones"]
            public = [z for z in found if z["Name"].lower() == name and not z.get("Config", {}).get("PrivateZone")]
            if len(public) != 1:
                module.fail_json(msg=(f"{len(public)} public hosted zones are named {domain}: set hosted_zone_id"
                                      if public else f"no public hosted zone is named {domain} (playbooks/edge.yml creates it)"))
            zone_id = public[0]["Id"]
        zone = client.get_hosted_zone(Id=zone_id, aws_retry=True)
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(e, msg=f"Could not read the hosted zone of {domain}")
    return zone.get("DelegationSet", {}).get("NameServers", [])


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "domain": {"type": "str", "required": True},
            "name_servers": {"type": "list", "elements": "str", "default": []},
            "hosted_zone_id": {"type": "str", "default": ""},
            "resolvers": {"type": "list", "elements": "str", "default": []},
            "port": {"type": "int", "default": 53},
            "timeout": {"type": "float", "default": 5},
        },
        supports_check_mode=True,
    )
    if not HAS_DNSPYTHON:
        from ansible.module_utils.basic import missing_required_lib

        module.fail_json(msg=missing_required_lib("dnspython (pip install -r requirements.txt)"))
    p = module.params
    domain = p["domain"].strip().rstrip(".")
    if not domain:
        module.fail_json(msg="domain is empty: set it to the hosted zone's name")
    expected = p["name_servers"] or zone_name_servers(module, domain, p["hosted_zone_id"])
    if not normalise(expected):
        module.fail_json(msg=f"the hosted zone of {domain} has no name servers to compare with")
    seen, reason = ask(domain, p["resolvers"], p["port"], p["timeout"])
    module.exit_json(changed=False, **compare(domain, seen, expected, reason))


if __name__ == "__main__":
    main()
