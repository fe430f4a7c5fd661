"""SES SMTP credentials: derive the SMTP password from an IAM secret access key.

Why this plugin is ours: no collection bundled with Ansible (amazon.aws,
community.aws, community.general, community.crypto) derives SES SMTP passwords,
and the derivation is a documented, deterministic HMAC chain ("Obtaining Amazon
SES SMTP credentials", signature version 4), so a 20-line filter is simpler and
safer than calling a script with the secret on its command line.

The password is region-specific: SigV4 signs with the region the SMTP endpoint
lives in, so it must be derived for the SES SMTP region, not the platform region.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re

DOCUMENTATION = r"""
name: ses_smtp_password
author: Protea founding engineers
version_added: "0.1.0"
short_description: Derive the Amazon SES SMTP password (v4) from an IAM secret access key
description:
  - "key = 'AWS4' + secret; HMAC-SHA256 chain over '11111111', region, 'ses', 'aws4_request', 'SendRawEmail';
    password = base64(0x04 + signature)."
  - The SMTP user name is the access key id itself.
options:
  _input:
    description: The IAM user's secret access key.
    type: string
    required: true
  region:
    description: Region of the SES SMTP endpoint the password is used against (email-smtp.REGION.amazonaws.com).
    type: string
    required: true
"""

EXAMPLES = r"""
- name: SMTP password for the relay
  ansible.builtin.set_fact:
    ses_relay_smtp_password: "{{ secret_access_key | protea.platform.ses_smtp_password('eu-west-1') }}"
  no_log: true
"""

RETURN = r"""
_value:
  description: Base64 SMTP password, 44 characters, starting with "B" (version byte 0x04).
  type: string
"""

# Constants fixed by the SES algorithm: they are not a real date or action.
_DATE = "11111111"
_SERVICE = "ses"
_TERMINAL = "aws4_request"
_MESSAGE = "SendRawEmail"
_VERSION = b"\x04"
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


class SesSmtpPasswordError(ValueError):
    """Invalid input for the SMTP password derivation (never includes the secret)."""


def _sign(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def ses_smtp_password(secret_access_key, region):
    """Return the SES SMTP password (v4) for secret_access_key in region."""
    if not isinstance(secret_access_key, str) or not secret_access_key.strip():
        raise SesSmtpPasswordError("ses_smtp_password: the secret access key must be a non-empty string")
    if secret_access_key != secret_access_key.strip():
        # A stray newline from a file or SSM copy/paste would silently give a wrong password.
        raise SesSmtpPasswordError("ses_smtp_password: the secret access key has leading/trailing whitespace")
    if not isinstance(region, str) or not _REGION_RE.match(region):
        raise SesSmtpPasswordError(
            "ses_smtp_password: region must be an AWS region name such as eu-west-1, got %r" % (region,)
        )
    key = ("AWS4" + secret_access_key).encode("utf-8")
    for part in (_DATE, region, _SERVICE, _TERMINAL, _MESSAGE):
        key = _sign(key, part)
    return base64.b64encode(_VERSION + key).decode("ascii")


class FilterModule:
    """protea.platform SES filters."""

    def filters(self):
        return {"ses_smtp_password": _filter}


def _filter(secret_access_key, region):
    # Ansible turns plain ValueErrors into a generic message; AnsibleFilterError keeps ours.
    try:
        from ansible.errors import AnsibleFilterError
    except ImportError:  # pragma: no cover - used without Ansible (the SMTP double)
        AnsibleFilterError = SesSmtpPasswordError  # noqa: N806
    try:
        return ses_smtp_password(secret_access_key, region)
    except SesSmtpPasswordError as exc:
        raise AnsibleFilterError(str(exc)) from None
