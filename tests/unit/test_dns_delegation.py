"""protea.platform.dns_delegation_info's comparison (what DNS answers against the hosted zone's
name servers) and the report's delegation lines (filter stack_report).

Against a real DNS server (the local cloud's DNS double, answering from Route 53's zones):
tests/localcloud/test_dns_double.py; the acm wait stopping early: tests/provisioning/test_edge_dns_cdn_ses.py."""
from __future__ import annotations

import pytest

from plugins.filter.report import stack_report
from tests.helpers import load_plugin

delegation = load_plugin("plugins/modules/dns_delegation_info.py")
ZONE = ["ns-1.awsdns-01.org", "ns-2.awsdns-02.co.uk", "ns-3.awsdns-03.com", "ns-4.awsdns-04.net"]


def test_case_and_trailing_dot_do_not_matter():
    seen = ["NS-1.AWSDNS-01.ORG.", "ns-2.awsdns-02.co.uk.", "Ns-3.awsdns-03.com", "ns-4.awsdns-04.net"]
    result = delegation.compare("shop.example.com", seen, ZONE)
    assert (result["state"], result["delegated"], result["reason"]) == ("delegated", True, "")
    assert result["seen"] == result["expected"] == sorted(ZONE) and result["missing"] == result["extra"] == []
    assert result["message"].startswith("shop.example.com is delegated to its Route 53 hosted zone")


def test_other_name_servers_are_not_delegated_with_the_exact_ones_to_set():
    result = delegation.compare("shop.example.com", ["ns1.registrar.example.", "ns2.registrar.example"], ZONE)
    assert (result["state"], result["delegated"]) == ("not_delegated", False)
    assert result["extra"] == ["ns1.registrar.example", "ns2.registrar.example"] and result["missing"] == sorted(ZONE)
    assert ("Next step: at the registrar of shop.example.com, set exactly these name servers: "
            + ", ".join(sorted(ZONE))) in result["message"]


def test_one_foreign_name_server_among_the_zones_is_not_delegated():
    # A resolver that picks the foreign one finds no validation record: not delegated.
    result = delegation.compare("shop.example.com", ZONE + ["ns1.old-host.example"], ZONE)
    assert result["state"] == "not_delegated" and result["extra"] == ["ns1.old-host.example"]


def test_some_of_the_zones_name_servers_only_is_delegated_and_names_the_missing():
    result = delegation.compare("shop.example.com", ZONE[:2], ZONE)
    assert result["state"] == "delegated" and result["missing"] == sorted(ZONE[2:])
    assert "add " + ", ".join(sorted(ZONE[2:])) in result["message"]


@pytest.mark.parametrize("reason,said", [("nxdomain", "NXDOMAIN"), ("timeout", "did not answer in time"),
                                         ("no_ns_records", "no NS records"), ("servfail", "SERVFAIL")])
def test_no_ns_answer_is_unknown_and_says_why(reason, said):
    result = delegation.compare("shop.example.com", [], ZONE, reason)
    assert (result["state"], result["delegated"], result["reason"]) == ("unknown", False, reason)
    assert said in result["message"] and ", ".join(sorted(ZONE)) in result["message"]
    assert delegation.compare("shop.example.com", [], ZONE)["reason"] == "no_ns_records"


def test_an_empty_zone_is_refused():
    with pytest.raises(ValueError, match="name servers are empty"):
        delegation.compare("shop.example.com", ["ns1.example"], ["", "."])


# --- the report ------------------------------------------------------------------------------
DESCRIBED = {"vpc": {}, "subnets": [], "security_groups": [],
             "zone": {"id": "Z1", "name": "shop.example.com", "name_servers": ZONE}}
STEP = "at the registrar of shop.example.com, set exactly these name servers: " + ", ".join(ZONE)


def _report(result):
    return "\n".join(stack_report(DESCRIBED, ["shop.example.com"], "admin", result))


def test_report_delegated_has_no_registrar_step():
    text = _report(delegation.compare("shop.example.com", ZONE, ZONE))
    assert "Delegated: DNS answers the zone's name servers for shop.example.com." in text
    assert "registrar" not in text and "name servers: " + ", ".join(ZONE) in text


def test_report_not_delegated_gives_the_next_step_with_the_name_servers():
    text = _report(delegation.compare("shop.example.com", ["ns1.registrar.example"], ZONE))
    assert "NOT delegated: DNS answers ns1.registrar.example for shop.example.com. Next step: " + STEP in text


def test_report_unknown_or_unchecked_gives_the_step_conditionally():
    text = _report(delegation.compare("shop.example.com", [], ZONE, "timeout"))
    assert "Delegation unknown (timeout)" in text and STEP in text and "dig +short NS shop.example.com" in text
    for skipped in (None, {}, {"skipped": True, "changed": False}):
        text = _report(skipped)
        assert "Delegation not checked. Once per domain: " + STEP in text
