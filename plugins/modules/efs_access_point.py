#!/usr/bin/python
# Copyright: Protea contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Idempotent EFS access point.

Why a project module: amazon.aws 10.1.2 and community.aws 10.0.0 have no module for
EFS access points (community.aws.efs manages the file system and mount targets only).
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: efs_access_point
short_description: Create, converge or delete an EFS access point
version_added: 0.1.0
description:
  - Finds the access point of O(file_system_id) whose C(Name) tag is O(name).
  - Access points cannot be modified in place (only their tags). When the POSIX user or
    root directory differ, the access point is deleted and created again. The files under
    the root directory are not touched by that.
  - Supports check mode and diff mode.
options:
  file_system_id:
    description: The file system the access point belongs to.
    type: str
    required: true
  name:
    description: Value of the C(Name) tag that identifies the access point.
    type: str
    required: true
  state:
    description: V(present) or V(absent).
    type: str
    choices: [present, absent]
    default: present
  posix_user:
    description: The identity every NFS request through the access point uses.
    type: dict
    suboptions:
      uid:
        description: POSIX user id.
        type: int
        required: true
      gid:
        description: POSIX group id.
        type: int
        required: true
      secondary_gids:
        description: Secondary group ids.
        type: list
        elements: int
        default: []
  root_directory:
    description: The directory the access point exposes as C(/), created on first use.
    type: dict
    suboptions:
      path:
        description: Path on the file system.
        type: str
        required: true
      owner_uid:
        description: Owner of the directory when EFS creates it.
        type: int
        required: true
      owner_gid:
        description: Group of the directory when EFS creates it.
        type: int
        required: true
      permissions:
        description: Octal mode of the directory when EFS creates it, as a string (V("0750")).
        type: str
        required: true
  tags:
    description: Tags besides C(Name). Tags not listed are removed when O(purge_tags=true).
    type: dict
    default: {}
  purge_tags:
    description: Remove tags not in O(tags).
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author: Protea contributors
"""

EXAMPLES = r"""
- name: Access point for the web application
  protea.platform.efs_access_point:
    file_system_id: fs-0123456789abcdef0
    name: shopper-production-app
    posix_user: {uid: 1001, gid: 1001}
    root_directory: {path: /app, owner_uid: 1001, owner_gid: 1001, permissions: "0750"}
"""

RETURN = r"""
access_point:
  description: The access point as DescribeAccessPoints returns it (snake_case), empty when absent.
  returned: always
  type: dict
  sample: {access_point_id: fsap-0123456789abcdef0, file_system_id: fs-0123456789abcdef0}
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    compare_aws_tags,
)


def _find(client, fs_id, name):
    points = client.describe_access_points(aws_retry=True, FileSystemId=fs_id).get("AccessPoints", [])
    for point in points:
        if point.get("LifeCycleState") in ("deleting", "deleted"):
            continue
        if boto3_tag_list_to_ansible_dict(point.get("Tags", [])).get("Name") == name or point.get("Name") == name:
            return point
    return None


def _wanted(params):
    user = params["posix_user"]
    root = params["root_directory"]
    posix = {"Uid": user["uid"], "Gid": user["gid"]}
    if user.get("secondary_gids"):
        posix["SecondaryGids"] = sorted(user["secondary_gids"])
    return posix, {
        "Path": root["path"],
        "CreationInfo": {
            "OwnerUid": root["owner_uid"],
            "OwnerGid": root["owner_gid"],
            "Permissions": root["permissions"],
        },
    }


def _same(point, posix, root):
    have_user = dict(point.get("PosixUser") or {})
    if have_user.get("SecondaryGids"):
        have_user["SecondaryGids"] = sorted(have_user["SecondaryGids"])
    else:
        have_user.pop("SecondaryGids", None)
    have_root = point.get("RootDirectory") or {}
    return have_user == posix and have_root.get("Path") == root["Path"] and (
        have_root.get("CreationInfo") == root["CreationInfo"]
    )


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            file_system_id=dict(type="str", required=True),
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            posix_user=dict(
                type="dict",
                options=dict(
                    uid=dict(type="int", required=True),
                    gid=dict(type="int", required=True),
                    secondary_gids=dict(type="list", elements="int", default=[]),
                ),
            ),
            root_directory=dict(
                type="dict",
                options=dict(
                    path=dict(type="str", required=True),
                    owner_uid=dict(type="int", required=True),
                    owner_gid=dict(type="int", required=True),
                    permissions=dict(type="str", required=True),
                ),
            ),
            tags=dict(type="dict", default={}),
            purge_tags=dict(type="bool", default=True),
        ),
        required_if=[("state", "present", ["posix_user", "root_directory"])],
        supports_check_mode=True,
    )
    client = module.client("efs", retry_decorator=AWSRetry.jittered_backoff())
    params = module.params
    fs_id, name = params["file_system_id"], params["name"]
    try:
        current = _find(client, fs_id, name)
        before = camel_dict_to_snake_dict(current, ignore_list=["Tags"]) if current else {}
        changed = False

        if params["state"] == "absent":
            if current:
                changed = True
                if not module.check_mode:
                    client.delete_access_point(aws_retry=True, AccessPointId=current["AccessPointId"])
            module.exit_json(changed=changed, access_point={}, diff={"before": before, "after": {}})

        posix, root = _wanted(params)
        tags = dict(params["tags"] or {}, Name=name)
        if current and not _same(current, posix, root):
            # Immutable: replace it (the data under the root directory stays).
            changed = True
            if not module.check_mode:
                client.delete_access_point(aws_retry=True, AccessPointId=current["AccessPointId"])
            current = None
        if current is None:
            changed = True
            if module.check_mode:
                after = {"file_system_id": fs_id, "posix_user": posix, "root_directory": root, "tags": tags}
                module.exit_json(changed=True, access_point=after, diff={"before": before, "after": after})
            current = client.create_access_point(
                aws_retry=True,
                ClientToken=f"{name}-{posix['Uid']}-{posix['Gid']}-{root['Path']}"[:64],
                FileSystemId=fs_id,
                PosixUser=posix,
                RootDirectory=root,
                Tags=ansible_dict_to_boto3_tag_list(tags),
            )
        else:
            have_tags = boto3_tag_list_to_ansible_dict(current.get("Tags", []))
            to_set, to_remove = compare_aws_tags(have_tags, tags, purge_tags=params["purge_tags"])
            if to_set or to_remove:
                changed = True
                if not module.check_mode:
                    if to_remove:
                        client.untag_resource(aws_retry=True, ResourceId=current["AccessPointId"], TagKeys=to_remove)
                    if to_set:
                        client.tag_resource(
                            aws_retry=True, ResourceId=current["AccessPointId"], Tags=ansible_dict_to_boto3_tag_list(to_set)
                        )
                current = dict(current, Tags=ansible_dict_to_boto3_tag_list(tags))
        after = camel_dict_to_snake_dict(current, ignore_list=["Tags"])
        after.pop("response_metadata", None)
        module.exit_json(changed=changed, access_point=after, diff={"before": before, "after": after})
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"EFS access point {name} on {fs_id}")


if __name__ == "__main__":
    main()
