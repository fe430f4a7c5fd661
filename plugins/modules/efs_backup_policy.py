#!/usr/bin/python
# Copyright: Protea contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""EFS automatic backup policy (PutBackupPolicy).

Why a project module: community.aws.efs 10.0.0 has no option for the backup policy and
no other bundled module sets it.
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: efs_backup_policy
short_description: Turn EFS automatic backups on or off
version_added: 0.1.0
description:
  - Sets the backup policy of an EFS file system (automatic daily backups by AWS Backup
    into the account's default vault), reading it first so a second run changes nothing.
  - Supports check mode and diff mode.
options:
  file_system_id:
    description: The file system.
    type: str
    required: true
  enabled:
    description: Whether automatic backups are on.
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author: Protea contributors
"""

EXAMPLES = r"""
- name: Automatic backups on
  protea.platform.efs_backup_policy:
    file_system_id: fs-0123456789abcdef0
"""

RETURN = r"""
status:
  description: The policy status after the run (V(ENABLED) or V(DISABLED)).
  returned: always
  type: str
  sample: ENABLED
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
            file_system_id=dict(type="str", required=True),
            enabled=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    client = module.client("efs", retry_decorator=AWSRetry.jittered_backoff())
    fs_id = module.params["file_system_id"]
    wanted = "ENABLED" if module.params["enabled"] else "DISABLED"
    try:
        try:
            status = client.describe_backup_policy(aws_retry=True, FileSystemId=fs_id)["BackupPolicy"]["Status"]
        except is_boto3_error_code("PolicyNotFound"):
            status = "DISABLED"
        # ENABLING/DISABLING are transitions towards the same end state.
        settled = {"ENABLING": "ENABLED", "DISABLING": "DISABLED"}.get(status, status)
        changed = settled != wanted
        if changed and not module.check_mode:
            status = client.put_backup_policy(aws_retry=True, FileSystemId=fs_id, BackupPolicy={"Status": wanted})[
                "BackupPolicy"
            ]["Status"]
        module.exit_json(
            changed=changed,
            status=wanted if changed else settled,
            diff={"before": {"status": settled}, "after": {"status": wanted}},
        )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"EFS backup policy of {fs_id}")


if __name__ == "__main__":
    main()
