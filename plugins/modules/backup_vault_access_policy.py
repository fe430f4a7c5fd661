#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""The resource-based access policy of an AWS Backup vault.

Why a project module: amazon.aws.backup_vault (10.x) creates the vault but not its access
policy (PutBackupVaultAccessPolicy), and no module in amazon.aws or community.aws manages it.
The backup role uses it to deny recovery-point deletion to every principal but a break-glass role.
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: backup_vault_access_policy
short_description: Set or remove the access policy of an AWS Backup vault
version_added: 0.1.0
description:
  - Puts O(policy) on the vault when the vault has no policy or another one (compared as JSON, key order ignored);
    with O(state=absent) removes the vault's policy.
  - Supports check mode and diff mode.
options:
  backup_vault_name:
    description: The vault.
    type: str
    required: true
  policy:
    description: The policy document (a dict, or JSON text). Required with O(state=present).
    type: json
  state:
    description: Whether the vault has O(policy) or no policy.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - Protea founding engineers
"""

EXAMPLES = r"""
- name: Only the break-glass role may delete recovery points
  protea.platform.backup_vault_access_policy:
    backup_vault_name: shopper-prod
    policy:
      Version: "2012-10-17"
      Statement:
        - Effect: Deny
          Principal: "*"
          Action: [backup:DeleteRecoveryPoint, backup:UpdateRecoveryPointLifecycle]
          Resource: "*"
          Condition:
            ArnNotLike:
              aws:PrincipalArn: [arn:aws:iam::123456789012:role/shopper-prod-break-glass]
"""

RETURN = r"""
policy:
  description: The vault's policy after the run (empty when absent).
  returned: always
  type: dict
"""

import json

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            backup_vault_name=dict(type="str", required=True),
            policy=dict(type="json"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        required_if=[("state", "present", ["policy"])],
        supports_check_mode=True,
    )
    vault = module.params["backup_vault_name"]
    after = {}
    if module.params["state"] == "present":
        try:
            after = json.loads(module.params["policy"])
        except ValueError as e:
            module.fail_json(msg=f"policy is not JSON ({e}): give a policy document, e.g. {{Version: '2012-10-17', Statement: [...]}}")
        if not isinstance(after, dict) or not after.get("Statement"):
            module.fail_json(msg="policy has no Statement: give a policy document with at least one statement")
    client = module.client("backup", retry_decorator=AWSRetry.jittered_backoff())
    try:
        try:
            before = json.loads(client.get_backup_vault_access_policy(aws_retry=True, BackupVaultName=vault)["Policy"])
        except is_boto3_error_code("ResourceNotFoundException"):
            before = {}
        changed = before != after
        if changed and not module.check_mode:
            if after:
                client.put_backup_vault_access_policy(aws_retry=True, BackupVaultName=vault,
                                                      Policy=json.dumps(after, sort_keys=True))
            else:
                client.delete_backup_vault_access_policy(aws_retry=True, BackupVaultName=vault)
        module.exit_json(changed=changed, policy=after, diff={"before": before, "after": after})
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"access policy of backup vault {vault}")


if __name__ == "__main__":
    main()
