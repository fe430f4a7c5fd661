"""SSM Parameter Store: a SecureString's KMS key must exist and be usable.

moto stores a SecureString "encrypted" with whatever KeyId the request names, also a key or alias that
does not exist; AWS encrypts with KMS and refuses a key it cannot use (InvalidKeyId), so a typo in a
key alias, or a key another tier has not created yet, fails the first real deployment only.
"""
from __future__ import annotations

from typing import Any

from tests.localcloud.compat import Patch


def _usable(account: str, region: str, key_id: str) -> bool:
    from moto.kms.models import kms_backends

    if key_id.startswith("alias/aws/") or key_id.split(":alias/")[-1].startswith("aws/"):
        return True  # AWS managed keys exist (created on first use)
    backend = kms_backends[account][region]
    try:
        key = backend.keys[backend.any_id_to_key_id(key_id)]
    except (KeyError, TypeError, AttributeError):
        return False
    return getattr(key, "key_state", "Enabled") == "Enabled"


def _apply_secure_string_key() -> None:
    from moto.core.exceptions import JsonRESTError
    from moto.ssm.models import SimpleSystemManagerBackend

    original = SimpleSystemManagerBackend.put_parameter

    def put_parameter(self: Any, name: str, description: str, value: str, parameter_type: str, allowed_pattern: str,
                      keyid: str, *args: Any, **kwargs: Any) -> Any:
        if parameter_type == "SecureString" and keyid and not _usable(self.account_id, self.region_name, keyid):
            raise JsonRESTError("InvalidKeyId", f"The key ID {keyid} is not valid, or the key is not enabled.")
        return original(self, name, description, value, parameter_type, allowed_pattern, keyid, *args, **kwargs)

    SimpleSystemManagerBackend.put_parameter = put_parameter  # type: ignore[method-assign]


PATCHES = [
    Patch(
        name="ssm-secure-string-kms-key",
        api="ssm:PutParameter (Type SecureString, KeyId)",
        moto_does="Stores the SecureString with any KeyId, also a key or alias that does not exist or is disabled.",
        aws_does="Encrypts the value with the KMS key and fails with InvalidKeyId when the key does not exist or "
        "cannot be used (AWS managed aws/* aliases always can).",
        doc="AWS Systems Manager API Reference, PutParameter (KeyId; errors InvalidKeyId): "
        "https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html",
        apply=_apply_secure_string_key,
    ),
]
