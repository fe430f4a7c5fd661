#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""Idempotent VPC flow log to CloudWatch Logs.

Why a project module: neither amazon.aws 10 nor community.aws 10 has a flow log
module, and a raw CreateFlowLogs call is not idempotent (every run would add one).
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: vpc_flow_log
short_description: Ensure one flow log of a VPC (or subnet/ENI) delivers to a CloudWatch Logs group
version_added: 0.1.0
description:
  - Finds the flow log of O(resource_id) that delivers to O(log_group_name) and creates it when missing.
  - Flow logs cannot be modified in place; when the traffic type, aggregation interval or delivery role
    differ, the flow log is replaced. Tags are updated in place.
  - Supports check mode and diff mode.
options:
  resource_id:
    description: The VPC, subnet or network interface id.
    type: str
    required: true
  resource_type:
    description: What O(resource_id) is.
    type: str
    choices: [VPC, Subnet, NetworkInterface]
    default: VPC
  log_group_name:
    description: The CloudWatch Logs group that receives the records (created by AWS if missing, but better made beforehand with a retention).
    type: str
    required: true
  deliver_logs_permission_arn:
    description: ARN of the IAM role the flow logs service assumes to write to the log group. Required with O(state=present).
    type: str
  traffic_type:
    description: Which traffic to log.
    type: str
    choices: [ACCEPT, REJECT, ALL]
    default: ALL
  max_aggregation_interval:
    description: Seconds over which a flow is aggregated into one record.
    type: int
    choices: [60, 600]
    default: 600
  state:
    description: Whether the flow log should exist.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
author:
  - Protea founding engineers
"""

EXAMPLES = r"""
- name: Flow logs of the VPC to CloudWatch Logs
  protea.platform.vpc_flow_log:
    resource_id: "{{ vpc_id }}"
    log_group_name: /protea/shopper-production/vpc-flow-logs
    deliver_logs_permission_arn: "{{ role.iam_role.arn }}"
    tags: {Name: shopper-production-vpc, Component: vpc}
"""

RETURN = r"""
flow_log:
  description: The flow log (empty after O(state=absent)).
  returned: always
  type: dict
  contains:
    flow_log_id: {description: The flow log id (absent in check mode before creation)., type: str}
    resource_id: {description: The logged resource., type: str}
    log_group_name: {description: The log group., type: str}
    traffic_type: {description: The traffic type., type: str}
    deliver_logs_permission_arn: {description: The delivery role., type: str}
    max_aggregation_interval: {description: Aggregation interval in seconds., type: int}
    tags: {description: Tags as a dict., type: dict}
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.ec2 import ensure_ec2_tags
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    boto3_tag_list_to_ansible_dict,
    boto3_tag_specifications,
    compare_aws_tags,
)

# Settings that cannot change on an existing flow log: a difference means replace.
_IMMUTABLE = {
    "TrafficType": "traffic_type",
    "DeliverLogsPermissionArn": "deliver_logs_permission_arn",
    "MaxAggregationInterval": "max_aggregation_interval",
}


def _describe(module, client):
    params = module.params
    try:
        logs = client.describe_flow_logs(
            aws_retry=True, Filters=[{"Name": "resource-id", "Values": [params["resource_id"]]}]
        )["FlowLogs"]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="Could not describe flow logs")
    return [
        log
        for log in logs
        if log.get("LogDestinationType", "cloud-watch-logs") == "cloud-watch-logs"
        and log.get("LogGroupName") == params["log_group_name"]
    ]


def _result(log):
    if not log:
        return {}
    out = camel_dict_to_snake_dict({k: v for k, v in log.items() if k != "Tags"})
    out["tags"] = boto3_tag_list_to_ansible_dict(log.get("Tags", []))
    return out


def _differs(module, log):
    p = module.params
    return [snake for camel, snake in _IMMUTABLE.items() if p[snake] is not None and log.get(camel) != p[snake]]


def _create(module, client):
    p = module.params
    params = dict(
        ResourceIds=[p["resource_id"]],
        ResourceType=p["resource_type"],
        TrafficType=p["traffic_type"],
        LogDestinationType="cloud-watch-logs",
        LogGroupName=p["log_group_name"],
        DeliverLogsPermissionArn=p["deliver_logs_permission_arn"],
        MaxAggregationInterval=p["max_aggregation_interval"],
    )
    if p["tags"]:
        params["TagSpecifications"] = boto3_tag_specifications(p["tags"], types="vpc-flow-log")
    try:
        resp = client.create_flow_logs(aws_retry=True, **params)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="Could not create the flow log")
    if resp.get("Unsuccessful"):
        module.fail_json(msg="AWS refused the flow log", unsuccessful=resp["Unsuccessful"])
    return resp["FlowLogIds"][0]


def _delete(module, client, ids):
    try:
        client.delete_flow_logs(aws_retry=True, FlowLogIds=ids)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="Could not delete flow logs")


def _wanted(module):
    p = module.params
    return {
        "resource_id": p["resource_id"],
        "log_group_name": p["log_group_name"],
        "traffic_type": p["traffic_type"],
        "deliver_logs_permission_arn": p["deliver_logs_permission_arn"],
        "max_aggregation_interval": p["max_aggregation_interval"],
        "tags": p["tags"] or {},
    }


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            resource_id=dict(type="str", required=True),
            resource_type=dict(type="str", default="VPC", choices=["VPC", "Subnet", "NetworkInterface"]),
            log_group_name=dict(type="str", required=True),
            deliver_logs_permission_arn=dict(type="str"),
            traffic_type=dict(type="str", default="ALL", choices=["ACCEPT", "REJECT", "ALL"]),
            max_aggregation_interval=dict(type="int", default=600, choices=[60, 600]),
            tags=dict(type="dict", aliases=["resource_tags"]),
            purge_tags=dict(type="bool", default=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        required_if=[("state", "present", ["deliver_logs_permission_arn"])],
        supports_check_mode=True,
    )
    client = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    existing = _describe(module, client)
    before = _result(existing[0]) if existing else {}

    if module.params["state"] == "absent":
        if existing and not module.check_mode:
            _delete(module, client, [log["FlowLogId"] for log in existing])
        module.exit_json(changed=bool(existing), flow_log={}, diff={"before": before, "after": {}})

    # Keep the first matching flow log; extra copies (e.g. from a raw API call) are removed.
    keep = existing[0] if existing and not _differs(module, existing[0]) else None
    stale = [log["FlowLogId"] for log in existing if log is not keep]
    changed = bool(stale) or keep is None
    if module.check_mode:
        after = dict(before, **_wanted(module)) if changed else before
        if not changed and module.params["tags"] is not None:
            to_set, to_unset = compare_aws_tags(before["tags"], module.params["tags"], module.params["purge_tags"])
            changed = bool(to_set or to_unset)
            tags = {k: v for k, v in before["tags"].items() if k not in to_unset}
            tags.update(to_set)
            after = dict(before, tags=tags)
        module.exit_json(changed=changed, flow_log=after, diff={"before": before, "after": after})

    if stale:
        _delete(module, client, stale)
    if keep is None:
        flow_log_id = _create(module, client)
    else:
        flow_log_id = keep["FlowLogId"]
        changed |= ensure_ec2_tags(
            client, module, flow_log_id, tags=module.params["tags"], purge_tags=module.params["purge_tags"]
        )
    try:
        final = client.describe_flow_logs(aws_retry=True, FlowLogIds=[flow_log_id])["FlowLogs"]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="Could not describe the flow log")
    after = _result(final[0] if final else {})
    module.exit_json(changed=changed, flow_log=after, diff={"before": before, "after": after})


if __name__ == "__main__":
    main()
