#!/usr/bin/python
# Copyright: Protea contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS Backup vault notifications (Put/Get/DeleteBackupVaultNotifications).

Why a project module: amazon.aws.backup_vault 10.1.2 does not manage a vault's SNS
notifications and no other bundled module does.
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: backup_vault_notifications
short_description: Send a backup vault's job events to an SNS topic
version_added: 0.1.0
description:
  - Sets which backup/restore/copy job events of a vault are published to an SNS topic,
    comparing with GetBackupVaultNotifications first so a second run changes nothing.
  - The topic's policy must allow C(backup.amazonaws.com) to publish.
  - Supports check mode and diff mode.
options:
  backup_vault_name:
    description: The vault.
    type: str
    required: true
  sns_topic_arn:
    description: Topic that receives the events. Required with O(state=present).
    type: str
  events:
    description: Event names (BackupVaultEvents), e.g. V(BACKUP_JOB_COMPLETED).
    type: list
    elements: str
    default: []
  state:
    description: V(present) sets the notifications, V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author: Protea contributors
"""

EXAMPLES = r"""
- name: Mail the operators about backup and restore jobs
  protea.platform.backup_vault_notifications:
    backup_vault_name: shopper-production
    sns_topic_arn: arn:aws:sns:af-south-1:123456789012:shopper-production-backup
    events: [BACKUP_JOB_COMPLETED, RESTORE_JOB_COMPLETED]
"""

RETURN = r"""
notifications:
  description: Topic and events after the run; empty when absent.
  returned: always
  type: dict
  sample: {sns_topic_arn: "arn:aws:sns:af-south-1:123456789012:backup", events: [BACKUP_JOB_COMPLETED]}
"""

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
            sns_topic_arn=dict(type="str"),
            events=dict(type="list", elements="str", default=[]),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        required_if=[("state", "present", ["sns_topic_arn", "events"])],
        supports_check_mode=True,
    )
    client = module.client("backup", retry_decorator=AWSRetry.jittered_backoff())
    vault = module.params["backup_vault_name"]
    try:
        try:
            got = client.get_backup_vault_notifications(aws_retry=True, BackupVaultName=vault)
            before = {"sns_topic_arn": got["SNSTopicArn"], "events": sorted(got.get("BackupVaultEvents", []))}
        except is_boto3_error_code("ResourceNotFoundException"):
            before = {}
        if module.params["state"] == "absent":
            after = {}
        else:
            after = {"sns_topic_arn": module.params["sns_topic_arn"], "events": sorted(set(module.params["events"]))}
        changed = before != after
        if changed and not module.check_mode:
            if after:
                client.put_backup_vault_notifications(
                    aws_retry=True, BackupVaultName=vault, SNSTopicArn=after["sns_topic_arn"], BackupVaultEvents=after["events"]
                )
            else:
                client.delete_backup_vault_notifications(aws_retry=True, BackupVaultName=vault)
        module.exit_json(changed=changed, notifications=after, diff={"before": before, "after": after})
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"notifications of backup vault {vault}")


if __name__ == "__main__":
    main()
