#!/usr/bin/python
# Copyright: Protea contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Give a KMS key that a stopped run created, but never named, its alias.

Why a project module: amazon.aws.kms_key finds its key by alias only, and creates a key
(CreateKey, with its tags) before it names it (CreateAlias). A run killed between the two
leaves an enabled key no later run finds: the next run creates another, and the first is
billed every month without encrypting anything. Run before kms_key with the same alias,
description and tags, this module adopts that key instead.
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: kms_key_adopt
short_description: Adopt an unnamed KMS key left by an interrupted run
version_added: 0.1.0
description:
  - >-
    When O(alias) does not exist, looks for enabled customer-managed keys that carry no alias,
    whose description is O(description) and whose tags include every one of O(tags), as
    M(amazon.aws.kms_key) creates them before it names them. The newest such key gets O(alias); a
    following M(amazon.aws.kms_key) task with the same alias then finds and converges it.
  - When the alias exists, or no such key exists, nothing changes (the alias exists - one ListAliases call).
  - >-
    Older unnamed matches (two runs stopped at the same point) are reported in RV(left_unnamed)
    with a warning, never deleted: deleting a key is for an operator to decide.
  - Supports check mode and diff mode.
options:
  alias:
    description: The alias, with or without the C(alias/) prefix.
    type: str
    required: true
  description:
    description: The key description the creating task gives the key.
    type: str
    required: true
  tags:
    description: Tags the creating task gives the key; a key matches when it has all of them.
    type: dict
    default: {}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author: Protea contributors
"""

EXAMPLES = r"""
- name: Adopt the key a stopped run left unnamed
  protea.platform.kms_key_adopt:
    alias: alias/shopper-prod-rds
    description: shopper-prod RDS storage encryption
    tags: {Project: shopper, Environment: prod}

- name: The key itself
  amazon.aws.kms_key:
    alias: alias/shopper-prod-rds
    description: shopper-prod RDS storage encryption
    tags: {Project: shopper, Environment: prod}
"""

RETURN = r"""
adopted:
  description: The id of the key that got the alias (check mode, that would get it), or null.
  returned: always
  type: str
  sample: 1234abcd-12ab-34cd-56ef-1234567890ab
left_unnamed:
  description: Ids of older matching keys left without an alias.
  returned: always
  type: list
  elements: str
  sample: []
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def _pages(client, method, key, **kwargs):
    return client.get_paginator(method).paginate(**kwargs).build_full_result().get(key, [])


def _candidates(client, description, tags, aliased):
    """(creation date, key id) of every enabled customer key without an alias that matches."""
    found = []
    for key in _pages(client, "list_keys", "Keys"):
        key_id = key["KeyId"]
        if key_id in aliased:
            continue
        try:
            meta = client.describe_key(aws_retry=True, KeyId=key_id)["KeyMetadata"]
        except is_boto3_error_code(["NotFoundException", "AccessDeniedException"]):
            continue  # another principal's key, or gone meanwhile
        if meta.get("KeyManager") != "CUSTOMER" or meta.get("KeyState") != "Enabled":
            continue
        if meta.get("Description", "") != description:
            continue
        if tags:
            have = {
                t["TagKey"]: t["TagValue"]
                for t in client.list_resource_tags(aws_retry=True, KeyId=key_id).get("Tags", [])
            }
            if any(have.get(k) != str(v) for k, v in tags.items()):
                continue
        found.append((meta["CreationDate"], key_id))
    return sorted(found, reverse=True)


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            alias=dict(type="str", required=True),
            description=dict(type="str", required=True),
            tags=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    alias = module.params["alias"]
    alias = alias if alias.startswith("alias/") else f"alias/{alias}"
    client = module.client("kms", retry_decorator=AWSRetry.jittered_backoff())
    try:
        aliases = list(_pages(client, "list_aliases", "Aliases"))
        if any(a["AliasName"] == alias for a in aliases):
            module.exit_json(changed=False, adopted=None, left_unnamed=[])
        aliased = {a["TargetKeyId"] for a in aliases if a.get("TargetKeyId")}
        candidates = _candidates(client, module.params["description"], module.params["tags"], aliased)
        if not candidates:
            module.exit_json(changed=False, adopted=None, left_unnamed=[])
        adopted = candidates[0][1]
        others = [key_id for __created, key_id in candidates[1:]]
        if others:
            module.warn(
                f"KMS keys {', '.join(others)} match {alias}'s description and tags and have no alias: "
                "earlier runs stopped after creating them. They encrypt nothing Protea made; schedule "
                "their deletion (aws kms schedule-key-deletion) once you have checked them."
            )
        if not module.check_mode:
            client.create_alias(aws_retry=True, AliasName=alias, TargetKeyId=adopted)
        module.exit_json(
            changed=True,
            adopted=adopted,
            left_unnamed=others,
            diff={"before": {"alias": None}, "after": {"alias": alias, "key_id": adopted}},
        )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"adopting an unnamed key for {alias}")


if __name__ == "__main__":
    main()
