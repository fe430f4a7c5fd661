"""Runs limited with --tags on an empty emulator.

Ansible tags every role's argument-spec check `always`: it runs even when --tags skips the
role's tasks, so an option must never need a fact that only those tasks set. A tag that
selects no task runs exactly the `always` tasks (preflight, the network lookups and every
argument-spec check) of the tier playbooks. And `--tags dns,ses --check` on an empty cloud
must predict the records and the SES event topic instead of failing on what it cannot look up.
`--tags alb` alone finds the acm role's certificate by its Name tag.
"""
from __future__ import annotations

import time

import pytest

from tests.helpers import run_playbook

pytestmark = pytest.mark.emulator

TIERS = ["playbooks/network.yml", "playbooks/data.yml", "playbooks/edge.yml", "playbooks/alerting.yml"]
# On an empty cloud the tiers after network.yml refuse (role stack): these runs test tags only.
NO_NETWORK = {"stack_require_network": False}


def _zones(emu) -> list[str]:
    return [z["Name"] for z in emu.client("route53", region="us-east-1").list_hosted_zones()["HostedZones"]]


@pytest.mark.parametrize("playbook", TIERS)
def test_argument_specs_pass_when_tags_skip_every_role(clean_emulator, playbook):
    run = run_playbook(playbook, endpoint=clean_emulator.endpoint, tags="protea-no-such-tag", check=True,
                       extra_vars={**NO_NETWORK, "slack_notifier_webhook_url": "http://127.0.0.1:9/hook"})
    assert run.rc == 0 and run.failed == 0, run.explain()
    validations = run.stdout.count("Validating arguments against arg spec")
    assert validations >= 3, run.explain()  # preflight plus the tier's roles


def test_dns_and_ses_check_mode_on_an_empty_cloud_predicts_and_creates_nothing(clean_emulator):
    run = run_playbook("playbooks/edge.yml", endpoint=clean_emulator.endpoint, tags="dns,ses", check=True,
                       extra_vars=NO_NETWORK)
    assert run.rc == 0, run.explain()
    assert "Would create TXT _dmarc.shopper.example.com" in run.stdout, run.explain()
    assert "Would create SNS topic" in run.stdout, run.explain()
    assert _zones(clean_emulator) == []
    assert clean_emulator.client("sns").list_topics()["Topics"] == []


def test_alb_alone_finds_the_acm_roles_certificate(clean_emulator):
    acm = clean_emulator.client("acm")
    name = [{"Key": "Name", "Value": "shopper-local-regional"}]
    arn = acm.request_certificate(DomainName="shopper.example.com", ValidationMethod="DNS", Tags=name)["CertificateArn"]
    for _ in range(100):  # the emulator issues requested certificates after 2 s
        if acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "ISSUED":
            break
        time.sleep(0.1)
    run = run_playbook("playbooks/edge.yml", endpoint=clean_emulator.endpoint, tags="alb", check=True,
                       extra_vars=NO_NETWORK)
    assert run.rc == 0, run.explain()
    assert "alb_certificate_arn must be" not in run.stdout
    # Without the tag the role stops and names the variable.
    acm.remove_tags_from_certificate(CertificateArn=arn, Tags=name)
    run = run_playbook("playbooks/edge.yml", endpoint=clean_emulator.endpoint, tags="alb", check=True,
                       extra_vars=NO_NETWORK)
    assert run.rc != 0 and "no issued certificate named shopper-local-regional" in run.stdout, run.explain()
