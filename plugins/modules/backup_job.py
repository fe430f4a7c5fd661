#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""An on-demand AWS Backup job or a restore job, started and waited for.

Why a project module: amazon.aws and community.aws manage backup vaults, plans and selections
but start no backup or restore job (StartBackupJob, StartRestoreJob). The restore_drill role
uses it to back up the file system after writing its canary and to restore that canary.
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: backup_job
short_description: Start an AWS Backup backup or restore job and wait for it
version_added: 0.1.0
description:
  - With O(type=backup), backs up O(resource_arn) into O(backup_vault_name) now (StartBackupJob).
  - With O(type=restore), restores O(recovery_point_arn), or the newest completed recovery point of
    O(resource_arn) in O(backup_vault_name), with O(metadata) (StartRestoreJob).
  - Waits until the job ends and fails unless it completed. The same O(idempotency_token) starts no
    second job, so a re-run after an interruption waits for the first one.
  - Always reports a change (a job is an action, not a state). In check mode it starts nothing and,
    for a restore, still reports the recovery point it would restore.
options:
  type:
    description: Which job.
    type: str
    choices: [backup, restore]
    required: true
  backup_vault_name:
    description: The vault to back up into, or to find the newest recovery point in.
    type: str
  resource_arn:
    description: What to back up, or whose newest recovery point to restore.
    type: str
  recovery_point_arn:
    description: The recovery point to restore (instead of the newest one of O(resource_arn)).
    type: str
  iam_role_arn:
    description: The role AWS Backup works as (the backup role's).
    type: str
    required: true
  metadata:
    description: >-
      Restore metadata, e.g. for EFS C(file-system-id), C(newFileSystem), C(ItemsToRestore)
      (a JSON list of paths from the root), C(Encrypted), C(KmsKeyId), C(PerformanceMode), C(CreationToken).
    type: dict
    default: {}
  delete_after_days:
    description: Days the new recovery point is kept (O(type=backup)); at least the vault lock's minimum.
    type: int
  idempotency_token:
    description: The same token starts no second job for the same request.
    type: str
  wait_timeout:
    description: Seconds to wait for the job to end.
    type: int
    default: 3600
  poll_interval:
    description: Seconds between two looks at the job.
    type: int
    default: 15
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - Protea founding engineers
"""

EXAMPLES = r"""
- name: Back up the file system now
  protea.platform.backup_job:
    type: backup
    backup_vault_name: shopper-prod
    resource_arn: arn:aws:elasticfilesystem:af-south-1:123456789012:file-system/fs-0123456789abcdef0
    iam_role_arn: arn:aws:iam::123456789012:role/shopper-prod-backup
    delete_after_days: 7
  register: backup

- name: Restore one file of it into a recovery directory of the same file system
  protea.platform.backup_job:
    type: restore
    recovery_point_arn: "{{ backup.recovery_point_arn }}"
    iam_role_arn: arn:aws:iam::123456789012:role/shopper-prod-backup
    metadata:
      file-system-id: fs-0123456789abcdef0
      newFileSystem: "false"
      ItemsToRestore: '["/.protea-restore-drill/canary"]'
"""

RETURN = r"""
job:
  description: The job as DescribeBackupJob or DescribeRestoreJob returns it once it ended (empty in check mode).
  returned: always
  type: dict
recovery_point_arn:
  description: The recovery point made (backup) or restored (restore).
  returned: always
  type: str
created_resource_arn:
  description: What a restore created or restored into.
  returned: type=restore
  type: str
elapsed_seconds:
  description: Seconds from the start of the job to its end, as this module saw them.
  returned: always
  type: float
"""

import time

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# DescribeBackupJob State / DescribeRestoreJob Status values that end a job.
ENDED = {"COMPLETED", "FAILED", "ABORTED", "EXPIRED", "PARTIAL"}


def newest_point(client, vault, resource_arn):
    """The newest COMPLETED recovery point of resource_arn in vault, or None."""
    points, kwargs = [], {"BackupVaultName": vault, "ByResourceArn": resource_arn}
    while True:
        page = client.list_recovery_points_by_backup_vault(aws_retry=True, **kwargs)
        points += [p for p in page.get("RecoveryPoints", [])
                   if p.get("ResourceArn") == resource_arn and p.get("Status") == "COMPLETED"]
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    return max(points, key=lambda p: p["CreationDate"]) if points else None


def wait(module, describe, key):
    start, deadline = time.monotonic(), time.monotonic() + module.params["wait_timeout"]
    while True:
        job = describe()
        state = job.get(key, "")
        if state in ENDED:
            if state != "COMPLETED":
                module.fail_json(msg=f"the job ended {state}: {job.get('StatusMessage', '')}", job=job)
            return job, time.monotonic() - start
        if time.monotonic() > deadline:
            module.fail_json(msg=f"the job is still {state} after wait_timeout={module.params['wait_timeout']} s: "
                                 "raise wait_timeout, or re-run with the same idempotency_token to wait again", job=job)
        time.sleep(module.params["poll_interval"])


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            type=dict(type="str", choices=["backup", "restore"], required=True),
            backup_vault_name=dict(type="str"),
            resource_arn=dict(type="str"),
            recovery_point_arn=dict(type="str"),
            iam_role_arn=dict(type="str", required=True),
            metadata=dict(type="dict", default={}),
            delete_after_days=dict(type="int"),
            idempotency_token=dict(type="str", no_log=False),
            wait_timeout=dict(type="int", default=3600),
            poll_interval=dict(type="int", default=15),
        ),
        required_if=[("type", "backup", ["backup_vault_name", "resource_arn"])],
        supports_check_mode=True,
    )
    p = module.params
    if p["type"] == "restore" and not p["recovery_point_arn"] and not (p["backup_vault_name"] and p["resource_arn"]):
        module.fail_json(msg="type=restore needs recovery_point_arn, or backup_vault_name and resource_arn "
                             "(the newest completed recovery point of that resource is restored)")
    client = module.client("backup", retry_decorator=AWSRetry.jittered_backoff())
    token = {"IdempotencyToken": p["idempotency_token"]} if p["idempotency_token"] else {}
    try:
        if p["type"] == "backup":
            if module.check_mode:
                module.exit_json(changed=True, job={}, recovery_point_arn="", elapsed_seconds=0.0)
            lifecycle = {"Lifecycle": {"DeleteAfterDays": p["delete_after_days"]}} if p["delete_after_days"] else {}
            started = client.start_backup_job(aws_retry=True, BackupVaultName=p["backup_vault_name"],
                                              ResourceArn=p["resource_arn"], IamRoleArn=p["iam_role_arn"],
                                              **lifecycle, **token)
            job, elapsed = wait(module, lambda: client.describe_backup_job(
                aws_retry=True, BackupJobId=started["BackupJobId"]), "State")
            module.exit_json(changed=True, job=job, recovery_point_arn=job.get("RecoveryPointArn", ""),
                             elapsed_seconds=round(elapsed, 1))
        point_arn = p["recovery_point_arn"]
        if not point_arn:
            point = newest_point(client, p["backup_vault_name"], p["resource_arn"])
            if point is None:
                module.fail_json(msg=f"no completed recovery point of {p['resource_arn']} in vault "
                                     f"{p['backup_vault_name']}: back it up first (type=backup)")
            point_arn = point["RecoveryPointArn"]
        if module.check_mode:
            module.exit_json(changed=True, job={}, recovery_point_arn=point_arn, created_resource_arn="",
                             elapsed_seconds=0.0)
        started = client.start_restore_job(aws_retry=True, RecoveryPointArn=point_arn, IamRoleArn=p["iam_role_arn"],
                                           Metadata={k: str(v) for k, v in p["metadata"].items()}, **token)
        job, elapsed = wait(module, lambda: client.describe_restore_job(
            aws_retry=True, RestoreJobId=started["RestoreJobId"]), "Status")
        module.exit_json(changed=True, job=job, recovery_point_arn=point_arn,
                         created_resource_arn=job.get("CreatedResourceArn", ""), elapsed_seconds=round(elapsed, 1))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"AWS Backup {p['type']} job")


if __name__ == "__main__":
    main()
