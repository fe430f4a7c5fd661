"""protea.platform.route53_records: the record sets it asks for, and when two are equal.

Against the emulator (one batch, hand-made changes put back, others left alone):
tests/provisioning/test_edge_dns_cdn_ses.py."""
from __future__ import annotations

import pytest

from tests.helpers import load_plugin


r53 = load_plugin("plugins/modules/route53_records.py")


def test_plain_and_alias_records():
    assert r53.desired({"record": "Mail.Example.com", "type": "mx", "value": "10 feedback-smtp.x.amazonses.com"}, 300) == {
        "Name": "mail.example.com.", "Type": "MX", "TTL": 300, "ResourceRecords": [{"Value": "10 feedback-smtp.x.amazonses.com"}]}
    assert r53.desired({"name": "example.com.", "type": "A", "value": "d1.cloudfront.net", "alias_zone": "Z2"}, 300) == {
        "Name": "example.com.", "Type": "A",
        "AliasTarget": {"HostedZoneId": "Z2", "DNSName": "d1.cloudfront.net", "EvaluateTargetHealth": False}}
    assert r53.desired({"name": "t.example.com", "type": "TXT", "value": ['"a"', '"b"'], "ttl": 60}, 300)["ResourceRecords"] == [
        {"Value": '"a"'}, {"Value": '"b"'}]


def test_a_listed_record_equals_what_was_asked_for():
    want = r53.desired({"name": "x.example.com", "type": "CNAME", "value": "T.dkim.amazonses.com"}, 300)
    listed = {"Name": "x.example.com.", "Type": "CNAME", "TTL": 300, "ResourceRecords": [{"Value": "t.dkim.amazonses.com."}]}
    assert r53.comparable(listed) == r53.comparable(want)
    alias = r53.desired({"name": "example.com", "type": "A", "value": "d1.cloudfront.net", "alias_zone": "Z2"}, 300)
    listed = {"Name": "example.com.", "Type": "A", "AliasTarget": {"HostedZoneId": "Z2", "DNSName": "d1.cloudfront.net.",
                                                                   "EvaluateTargetHealth": False}}
    assert r53.comparable(listed) == r53.comparable(alias)
    assert r53.fqdn("\\052.example.com.") == "*.example.com."


@pytest.mark.parametrize("change", [{"TTL": 60}, {"ResourceRecords": [{"Value": '"v=spf1 -all"'}]}])
def test_a_changed_value_or_ttl_differs(change):
    want = r53.desired({"name": "m.example.com", "type": "TXT", "value": '"v=spf1 include:amazonses.com ~all"'}, 300)
    assert r53.comparable(dict(want, **change)) != r53.comparable(want)


def test_txt_values_keep_their_case():
    want = r53.desired({"name": "m.example.com", "type": "TXT", "value": '"Token-ABC"'}, 300)
    assert r53.comparable(dict(want, ResourceRecords=[{"Value": '"token-abc"'}])) != r53.comparable(want)


@pytest.mark.parametrize("bad", [{"type": "A", "value": "1.2.3.4"}, {"name": "x", "value": "1"}, {"name": "x", "type": "A", "value": []}])
def test_incomplete_records_are_refused(bad):
    with pytest.raises(ValueError, match="needs name, type and value"):
        r53.desired(bad, 300)
