"""The local cloud's DNS double (tests/doubles/dns_double.py, run by the emulator process):
a real DNS server on loopback, UDP and TCP, that answers a hosted zone's NS query with the zone's
delegation set as moto holds it, other name servers or nothing when switched, NXDOMAIN for a
domain without a zone; and protea.platform.dns_delegation_info's DNS query against it."""
from __future__ import annotations

import time

import dns.message
import dns.query
import dns.rcode
import pytest

from tests.helpers import load_plugin

pytestmark = pytest.mark.emulator
delegation = load_plugin("plugins/modules/dns_delegation_info.py")
DOMAIN = "shop.example.com"
REGISTRAR = ["ns1.registrar.example", "ns2.registrar.example"]


@pytest.fixture
def zone(clean_emulator):
    emu = clean_emulator
    emu.dns_double_switch()
    created = emu.client("route53", region="us-east-1").create_hosted_zone(Name=DOMAIN, CallerReference=str(time.time()))
    yield emu, created["DelegationSet"]["NameServers"]
    emu.dns_double_switch()


def _ask(emu, name, timeout=2.0):
    host, port = emu.dns_double
    return delegation.ask(name, [host], port, timeout)


def test_a_hosted_zone_is_delegated_to_its_own_name_servers_over_udp_and_tcp(zone):
    emu, name_servers = zone
    seen, reason = _ask(emu, DOMAIN)
    assert reason == "" and delegation.compare(DOMAIN, seen, name_servers)["state"] == "delegated"
    host, port = emu.dns_double
    over_tcp = dns.query.tcp(dns.message.make_query(DOMAIN, "NS"), host, port=port, timeout=2)
    assert sorted(r.target.to_text().rstrip(".") for r in over_tcp.answer[0]) == sorted(name_servers)


def test_switched_to_other_name_servers_is_not_delegated(zone):
    emu, name_servers = zone
    emu.dns_double_switch(REGISTRAR)
    seen, reason = _ask(emu, DOMAIN)
    result = delegation.compare(DOMAIN, seen, name_servers, reason)
    assert result["state"] == "not_delegated" and result["seen"] == REGISTRAR


def test_nxdomain_for_a_domain_without_zone_and_no_ns_below_a_zone(zone):
    emu, _ = zone
    assert _ask(emu, "unregistered.example.org") == ([], "nxdomain")
    assert _ask(emu, f"www.{DOMAIN}") == ([], "no_ns_records")
    host, port = emu.dns_double
    assert dns.query.udp(dns.message.make_query("unregistered.example.org", "NS"), host, port=port,
                         timeout=2).rcode() == dns.rcode.NXDOMAIN


def test_switched_to_drop_times_out(zone):
    emu, name_servers = zone
    emu.dns_double_switch(drop=True)
    started = time.monotonic()
    seen, reason = _ask(emu, DOMAIN, timeout=0.5)
    assert (seen, reason) == ([], "timeout") and time.monotonic() - started < 5
    assert delegation.compare(DOMAIN, seen, name_servers, reason)["state"] == "unknown"
