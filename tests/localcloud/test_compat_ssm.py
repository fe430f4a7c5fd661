"""ssm:PutParameter with a KMS key: AWS's InvalidKeyId when patched, moto's acceptance without."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.emulator

PATCH = "ssm-secure-string-kms-key"


def _puts(emu) -> dict[str, str]:
    ssm, kms = emu.client("ssm"), emu.client("kms")
    key = kms.create_key(Description="parameters")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/shop-prod-parameters", TargetKeyId=key)
    off = kms.create_key(Description="disabled")["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=off)
    out = {}
    for name, key_id in (("by-alias", "alias/shop-prod-parameters"), ("by-id", key), ("aws-managed", "alias/aws/ssm"),
                         ("typo", "alias/shop-prod-parameter"), ("disabled", off)):
        try:
            ssm.put_parameter(Name=f"/t/{name}", Value="s3cret", Type="SecureString", KeyId=key_id)
            out[name] = "stored"
        except ssm.exceptions.ClientError as err:
            out[name] = err.response["Error"]["Code"]
    return out


def test_a_secure_string_needs_a_usable_key(clean_emulator):
    assert _puts(clean_emulator) == {"by-alias": "stored", "by-id": "stored", "aws-managed": "stored",
                                     "typo": "InvalidKeyId", "disabled": "InvalidKeyId"}
    value = clean_emulator.client("ssm").get_parameter(Name="/t/by-alias", WithDecryption=True)["Parameter"]["Value"]
    assert value == "s3cret"


def test_without_patch_is_moto_stock(emulator_factory):
    got = _puts(emulator_factory(disable=[PATCH]))
    assert set(got.values()) == {"stored"}
