#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""Delete an RDS DB instance, always with a final snapshot, keeping its automated backups.

Why a project module: amazon.aws.rds_instance (10.x) with state=absent calls DeleteDBInstance
without DeleteAutomatedBackups, and the API's default is true: the instance's automated backups
(its point-in-time restore window) vanish with it. Here they are retained (they then expire on
their own retention schedule) and a final snapshot is required.
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: rds_instance_delete
short_description: Delete an RDS DB instance with a final snapshot, retaining its automated backups
version_added: 0.1.0
description:
  - Calls C(DeleteDBInstance) with C(FinalDBSnapshotIdentifier) and C(DeleteAutomatedBackups=false), after lifting
    deletion protection, then waits until the instance is gone (O(wait)).
  - An instance that does not exist, or is already being deleted, is not changed. Supports check mode.
options:
  db_instance_identifier:
    description: The instance.
    type: str
    required: true
  final_db_snapshot_identifier:
    description: The name of the final snapshot (it must not exist yet).
    type: str
    required: true
  wait:
    description: Wait until the instance is deleted.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 3600
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - Protea founding engineers
"""

EXAMPLES = r"""
- name: Delete the database, keeping a final snapshot and the automated backups
  protea.platform.rds_instance_delete:
    db_instance_identifier: shopper-test-db
    final_db_snapshot_identifier: shopper-test-db-final-202612011200
"""

RETURN = r"""
final_db_snapshot_identifier:
  description: The final snapshot taken (empty when nothing was deleted).
  returned: always
  type: str
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
            db_instance_identifier=dict(type="str", required=True),
            final_db_snapshot_identifier=dict(type="str", required=True),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=3600),
        ),
        supports_check_mode=True,
    )
    name, snapshot = module.params["db_instance_identifier"], module.params["final_db_snapshot_identifier"]
    client = module.client("rds", retry_decorator=AWSRetry.jittered_backoff())
    try:
        try:
            db = client.describe_db_instances(aws_retry=True, DBInstanceIdentifier=name)["DBInstances"][0]
        except is_boto3_error_code("DBInstanceNotFound"):
            module.exit_json(changed=False, final_db_snapshot_identifier="")
        if db["DBInstanceStatus"] == "deleting":
            module.exit_json(changed=False, final_db_snapshot_identifier="")
        if module.check_mode:
            module.exit_json(changed=True, final_db_snapshot_identifier=snapshot)
        if db.get("DeletionProtection"):
            client.modify_db_instance(aws_retry=True, DBInstanceIdentifier=name, DeletionProtection=False, ApplyImmediately=True)
        client.delete_db_instance(aws_retry=True, DBInstanceIdentifier=name, SkipFinalSnapshot=False,
                                  FinalDBSnapshotIdentifier=snapshot, DeleteAutomatedBackups=False)
        if module.params["wait"]:
            delay = 15
            client.get_waiter("db_instance_deleted").wait(
                DBInstanceIdentifier=name,
                WaiterConfig={"Delay": delay, "MaxAttempts": max(1, module.params["wait_timeout"] // delay)})
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError,
            botocore.exceptions.WaiterError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Could not delete the DB instance {name}")
    module.exit_json(changed=True, final_db_snapshot_identifier=snapshot)


if __name__ == "__main__":
    main()
