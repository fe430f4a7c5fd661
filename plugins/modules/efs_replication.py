#!/usr/bin/python
# Copyright: Protea contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""EFS replication to a second file system (Create/Describe/DeleteReplicationConfiguration).

Why a project module: neither amazon.aws nor community.aws (10.x) has a module for EFS
replication configurations.
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: efs_replication
short_description: Replicate an EFS file system to a new file system in a Region of choice
version_added: 0.1.0
description:
  - Converges the replication configuration of an EFS file system. With O(state=present) and no
    configuration yet, EFS creates the destination file system (read only while replicated) in
    O(destination_region), encrypted with O(destination_kms_key_id) or the Region's AWS managed key.
  - A configuration to another Region than O(destination_region) is not replaced (the replica holds
    data); the module fails and says how to move it.
  - O(state=absent) deletes the configuration only with O(allow_delete=true); the destination file
    system is kept and becomes writable (the fail-over step).
  - Supports check mode and diff mode.
options:
  file_system_id:
    description: The source file system.
    type: str
    required: true
  state:
    description: Whether the replication configuration exists.
    type: str
    choices: [present, absent]
    default: present
  destination_region:
    description: Region of the destination file system (the source's Region is allowed). Required with O(state=present).
    type: str
  destination_kms_key_id:
    description:
      - KMS key (id, ARN or alias) of the destination Region that encrypts the new destination file system.
      - Empty means the destination Region's AWS managed key for EFS.
      - Read only when the destination is created (EFS cannot re-key a file system).
    type: str
    default: ""
  destination_tags:
    description:
      - Tags the destination file system carries (EFS does not copy the source's tags); missing or
        different ones are set on every run, others are left alone.
    type: dict
    default: {}
  allow_delete:
    description: With O(state=absent), really delete an existing configuration (data safety).
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author: Protea contributors
"""

EXAMPLES = r"""
- name: Replicate the file system to a second one in eu-west-1
  protea.platform.efs_replication:
    file_system_id: fs-0123456789abcdef0
    destination_region: eu-west-1
    destination_kms_key_id: alias/shopper-production-efs
    destination_tags: {Name: shopper-production-efs-replica}

- name: Fail-over - end the replication, the destination becomes writable
  protea.platform.efs_replication:
    file_system_id: fs-0123456789abcdef0
    state: absent
    allow_delete: true
"""

RETURN = r"""
replication:
  description: The replication after the run (empty when there is none).
  returned: always
  type: dict
  contains:
    source_file_system_id:
      description: The source file system.
      type: str
    destination_file_system_id:
      description: The destination file system (empty in check mode before it exists).
      type: str
      sample: fs-0fedcba9876543210
    destination_region:
      description: Its Region.
      type: str
    status:
      description: V(ENABLING), V(ENABLED), V(PAUSED), V(ERROR) ... as DescribeReplicationConfigurations reports it.
      type: str
    last_replicated_timestamp:
      description: End of the last successful sync (ISO 8601), empty before the first.
      type: str
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def summary(replication):
    """The module's view of one DescribeReplicationConfigurations item (empty dict for none)."""
    if not replication:
        return {}
    dest = (replication.get("Destinations") or [{}])[0]
    stamp = dest.get("LastReplicatedTimestamp")
    return {
        "source_file_system_id": replication.get("SourceFileSystemId", ""),
        "destination_file_system_id": dest.get("FileSystemId", ""),
        "destination_region": dest.get("Region", ""),
        "status": dest.get("Status", ""),
        "last_replicated_timestamp": stamp.isoformat() if hasattr(stamp, "isoformat") else str(stamp or ""),
    }


def plan(fs_id, current, state, region, allow_delete):
    """What to do: ('none' | 'create' | 'delete', None) or ('fail', message).

    current is summary() of the file system's configuration ({} for none)."""
    if current and current["source_file_system_id"] != fs_id:
        return "fail", (f"{fs_id} is the destination of {current['source_file_system_id']}'s replication, not a "
                        "source: replicate the source file system instead")
    if state == "absent":
        if not current:
            return "none", None
        if not allow_delete:
            return "fail", (f"Refusing to delete the replication of {fs_id} to {current['destination_file_system_id']} "
                            f"({current['destination_region']}) without allow_delete=true: the replica stops "
                            "following the source")
        return "delete", None
    if not region:
        return "fail", "destination_region is required with state=present"
    if not current:
        return "create", None
    if current["destination_region"] != region:
        return "fail", (f"{fs_id} already replicates to {current['destination_file_system_id']} in "
                        f"{current['destination_region']}, not {region}: EFS has one destination per file system. "
                        "Delete the replication first (state=absent, allow_delete=true), then run again")
    return "none", None


def tags_to_set(have, want):
    """The tags of `want` missing from, or different in, `have` (both dicts)."""
    return {k: str(v) for k, v in want.items() if have.get(k) != str(v)}


def describe(client, fs_id):
    try:
        found = client.describe_replication_configurations(aws_retry=True, FileSystemId=fs_id)["Replications"]
    except is_boto3_error_code("ReplicationNotFound"):
        return {}
    return summary(found[0]) if found else {}


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            file_system_id=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            destination_region=dict(type="str"),
            destination_kms_key_id=dict(type="str", default="", no_log=False),
            destination_tags=dict(type="dict", default={}),
            allow_delete=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    fs_id, region = p["file_system_id"], p["destination_region"]
    retry = AWSRetry.jittered_backoff(catch_extra_error_codes=["IncorrectFileSystemLifeCycleState"])
    client = module.client("efs", retry_decorator=retry)
    try:
        current = describe(client, fs_id)
        action, message = plan(fs_id, current, p["state"], region, p["allow_delete"])
        if action == "fail":
            module.fail_json(msg=message, replication=current)
        after, changed = current, action != "none"
        if action == "create":
            dest = {"Region": region}
            if p["destination_kms_key_id"]:
                dest["KmsKeyId"] = p["destination_kms_key_id"]
            if module.check_mode:
                after = {"source_file_system_id": fs_id, "destination_file_system_id": "", "destination_region": region,
                         "status": "ENABLING", "last_replicated_timestamp": ""}
            else:
                after = summary(client.create_replication_configuration(
                    aws_retry=True, SourceFileSystemId=fs_id, Destinations=[dest]))
        elif action == "delete":
            after = {}
            if not module.check_mode:
                client.delete_replication_configuration(aws_retry=True, SourceFileSystemId=fs_id)
        replica = (after or {}).get("destination_file_system_id")
        if p["state"] == "present" and replica and p["destination_tags"]:
            remote = module.client("efs", region=after["destination_region"], retry_decorator=retry)
            have = {t["Key"]: t["Value"] for t in remote.list_tags_for_resource(aws_retry=True, ResourceId=replica)["Tags"]}
            missing = tags_to_set(have, p["destination_tags"])
            if missing:
                changed = True
                if not module.check_mode:
                    remote.tag_resource(aws_retry=True, ResourceId=replica,
                                        Tags=[{"Key": k, "Value": v} for k, v in missing.items()])
        module.exit_json(changed=changed, replication=after, diff={"before": current, "after": after})
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"EFS replication of {fs_id}")


if __name__ == "__main__":
    main()
