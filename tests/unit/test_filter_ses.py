"""protea.platform.ses_smtp_password: the SES SMTP password (v4) derivation."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import subprocess

import pytest

from tests.helpers import REPO, load_plugin


ses = load_plugin("plugins/filter/ses.py")

# Published vectors: terraform-provider-aws, internal/service/iam/access_key_test.go
# (TestSESSMTPPasswordFromSecretKeySigV4). That implementation's output is what users
# paste into SES, so agreeing with it is evidence against SES itself, not just
# self-consistency.
PUBLISHED = [
    ("eu-central-1", "some+secret+key", "BMXhUYlu5Z3gSXVQORxlVa7XPaz91aGWdfHxvkOZdWZ2"),
    ("eu-central-1", "another+secret+key", "BBbphbrQmrKMx42d1N6+C7VINYEBGI5v9VsZeTxwskfh"),
    ("us-west-1", "some+secret+key", "BH+jbMzper5WwlwUar9E1ySBqHa9whi0GPo+sJ0mVYJj"),
    ("us-west-1", "another+secret+key", "BKVmjjMDFk/qqw8EROW99bjCS65PF8WKvK5bSr4Y6EqF"),
]


@pytest.mark.parametrize(("region", "secret", "expected"), PUBLISHED)
def test_published_vectors(region, secret, expected):
    assert ses.ses_smtp_password(secret, region) == expected


def _rederive(secret: str, region: str) -> str:
    # Written out step by step from the AWS pseudocode, independently of the plugin's loop.
    k_date = hmac.new(b"AWS4" + secret.encode(), b"11111111", hashlib.sha256).digest()
    k_region = hmac.new(k_date, region.encode(), hashlib.sha256).digest()
    k_service = hmac.new(k_region, b"ses", hashlib.sha256).digest()
    k_terminal = hmac.new(k_service, b"aws4_request", hashlib.sha256).digest()
    k_message = hmac.new(k_terminal, b"SendRawEmail", hashlib.sha256).digest()
    return base64.b64encode(bytes([0x04]) + k_message).decode()


@pytest.mark.parametrize("region", ["af-south-1", "eu-west-1", "us-east-1", "us-gov-west-1"])
def test_matches_independent_rederivation(region):
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS's documented example secret
    got = ses.ses_smtp_password(secret, region)
    assert got == _rederive(secret, region)
    raw = base64.b64decode(got)
    assert raw[0] == 0x04 and len(raw) == 33 and len(got) == 44


def test_password_depends_on_region_and_secret():
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    regions = ["af-south-1", "eu-west-1", "eu-west-2", "us-east-1"]
    passwords = {ses.ses_smtp_password(secret, r) for r in regions}
    assert len(passwords) == len(regions)
    assert ses.ses_smtp_password(secret + "x", "eu-west-1") != ses.ses_smtp_password(secret, "eu-west-1")


@pytest.mark.parametrize(
    ("secret", "region", "message"),
    [
        ("", "eu-west-1", "non-empty"),
        (None, "eu-west-1", "non-empty"),
        ("   ", "eu-west-1", "non-empty"),
        ("abc\n", "eu-west-1", "whitespace"),
        ("abc", "", "region must be"),
        ("abc", "Europe", "region must be"),
        ("abc", "eu-west", "region must be"),
        ("abc", None, "region must be"),
    ],
)
def test_rejects_bad_input_without_leaking_secret(secret, region, message):
    with pytest.raises(ValueError, match=message) as err:
        ses.ses_smtp_password(secret, region)
    if secret and secret.strip():
        assert secret.strip() not in str(err.value)


def test_registered_as_collection_filter():
    """The FQCN filter works in a real template (collection path wiring), and errors surface."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    exe = REPO / ".venv/bin/ansible"
    cmd = [str(exe) if exe.exists() else "ansible", "localhost", "-i", "localhost,", "-c", "local", "-m",
           "ansible.builtin.debug", "-a",
           "msg={{ 'some+secret+key' | protea.platform.ses_smtp_password('eu-central-1') }}"]
    ok = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert PUBLISHED[0][2] in ok.stdout
    cmd[-1] = "msg={{ 'k' | protea.platform.ses_smtp_password('nowhere') }}"
    bad = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0
    assert "region must be an AWS region name" in bad.stdout + bad.stderr
