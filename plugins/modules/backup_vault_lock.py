#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""AWS Backup Vault Lock on one vault: governance mode, compliance mode, or none.

Why a project module: amazon.aws.backup_vault (10.x) has no Vault Lock option and no module in
amazon.aws or community.aws calls PutBackupVaultLockConfiguration.
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: backup_vault_lock
short_description: Set AWS Backup Vault Lock on a vault (governance or compliance mode), or remove it
version_added: 0.1.0
description:
  - V(governance) puts a lock without a lock date; users with C(backup:DeleteBackupVaultLockConfiguration)
    can still change or remove it.
  - V(compliance) puts a lock that becomes immutable O(changeable_for_days) after it is set; from then on nobody,
    root and AWS Support included, can change or remove it, shorten a recovery point's retention, or delete the vault
    before its points expire. The module refuses to change an immutable lock.
  - V(none) removes a lock that is still changeable.
  - The mode of an existing lock is read from the vault (a lock date means compliance). Supports check mode and diff mode.
options:
  backup_vault_name:
    description: The vault.
    type: str
    required: true
  mode:
    description: The lock wanted.
    type: str
    choices: [governance, compliance, none]
    default: governance
  min_retention_days:
    description: Recovery points must be kept at least this long (a backup or copy asking for less fails).
    type: int
  max_retention_days:
    description: Recovery points may be kept at most this long (a backup or copy asking for more fails). Unset for no limit.
    type: int
  changeable_for_days:
    description: Compliance mode only, the grace days (at least 3) before the lock becomes immutable.
    type: int
    default: 3
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - Protea founding engineers
"""

EXAMPLES = r"""
- name: Governance lock, points kept 7 days at least
  protea.platform.backup_vault_lock:
    backup_vault_name: shopper-prod
    mode: governance
    min_retention_days: 7
"""

RETURN = r"""
lock:
  description: The vault's lock after the run (mode, min_retention_days, max_retention_days, lock_date).
  returned: always
  type: dict
"""

import datetime

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def current_lock(vault):
    """{mode, min_retention_days, max_retention_days, lock_date} of a DescribeBackupVault answer."""
    if not vault.get("Locked") and not vault.get("MinRetentionDays") and not vault.get("MaxRetentionDays"):
        return {"mode": "none"}
    lock_date = vault.get("LockDate")
    return {"mode": "compliance" if lock_date else "governance", "min_retention_days": vault.get("MinRetentionDays"),
            "max_retention_days": vault.get("MaxRetentionDays"), "lock_date": str(lock_date) if lock_date else None}


def immutable(vault, now=None):
    lock_date = vault.get("LockDate")
    if not lock_date:
        return False
    if isinstance(lock_date, (int, float)):
        lock_date = datetime.datetime.fromtimestamp(lock_date, datetime.timezone.utc)
    return (now or datetime.datetime.now(datetime.timezone.utc)) >= lock_date


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            backup_vault_name=dict(type="str", required=True),
            mode=dict(type="str", choices=["governance", "compliance", "none"], default="governance"),
            min_retention_days=dict(type="int"),
            max_retention_days=dict(type="int"),
            changeable_for_days=dict(type="int", default=3),
        ),
        supports_check_mode=True,
    )
    p = module.params
    name = p["backup_vault_name"]
    if p["mode"] == "compliance" and p["changeable_for_days"] < 3:
        module.fail_json(msg=f"changeable_for_days {p['changeable_for_days']} is below AWS's minimum: set it to 3 or more")
    client = module.client("backup", retry_decorator=AWSRetry.jittered_backoff())
    try:
        vault = client.describe_backup_vault(aws_retry=True, BackupVaultName=name)
        before = current_lock(vault)
        comparable = {k: v for k, v in before.items() if k != "lock_date"}
        if p["mode"] == "none":
            after = {"mode": "none"}
        else:
            after = {"mode": p["mode"], "min_retention_days": p["min_retention_days"], "max_retention_days": p["max_retention_days"]}
        changed = comparable != after
        if changed and immutable(vault):
            module.fail_json(msg=f"the compliance-mode lock of vault {name} became immutable on {before['lock_date']}: nobody "
                                 f"can change it (it is {before}); set the variables back to it")
        if changed and not module.check_mode:
            if p["mode"] == "none":
                client.delete_backup_vault_lock_configuration(aws_retry=True, BackupVaultName=name)
            else:
                args = {k: v for k, v in (("MinRetentionDays", p["min_retention_days"]),
                                          ("MaxRetentionDays", p["max_retention_days"])) if v is not None}
                if p["mode"] == "compliance":
                    args["ChangeableForDays"] = p["changeable_for_days"]
                elif before["mode"] == "compliance":
                    # A governance lock has no lock date: drop the pending compliance one first.
                    client.delete_backup_vault_lock_configuration(aws_retry=True, BackupVaultName=name)
                client.put_backup_vault_lock_configuration(aws_retry=True, BackupVaultName=name, **args)
            after = current_lock(client.describe_backup_vault(aws_retry=True, BackupVaultName=name))
        module.exit_json(changed=changed, lock=after, diff={"before": before, "after": after})
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Vault Lock of backup vault {name}")


if __name__ == "__main__":
    main()
