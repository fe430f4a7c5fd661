#!/usr/bin/python
# Copyright: Protea contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Auto Scaling group SNS notifications (Put/Describe/DeleteNotificationConfiguration(s)).

Why a project module: amazon.aws.autoscaling_group 10.1.2 only writes a notification
configuration as part of a full group update and never reads it back (so it cannot tell
whether anything changed), and no bundled module manages it on its own.
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: autoscaling_notification
short_description: Send an Auto Scaling group's launch/terminate notifications to an SNS topic
version_added: 0.1.0
description:
  - Sets which notification types an Auto Scaling group publishes to one SNS topic, comparing
    with DescribeNotificationConfigurations first so a second run changes nothing.
    Configurations for other topics are left alone.
  - A group that does not exist is reported (C(group_found=false)) and left alone, so a tier
    that runs before the group exists (or in check mode) does not fail.
  - Supports check mode and diff mode.
options:
  name:
    description: The Auto Scaling group.
    type: str
    required: true
  topic_arn:
    description: SNS topic that receives the notifications.
    type: str
    required: true
  notification_types:
    description: Notification types, e.g. V(autoscaling:EC2_INSTANCE_LAUNCH_ERROR).
    type: list
    elements: str
    default:
      - autoscaling:EC2_INSTANCE_LAUNCH
      - autoscaling:EC2_INSTANCE_LAUNCH_ERROR
      - autoscaling:EC2_INSTANCE_TERMINATE
      - autoscaling:EC2_INSTANCE_TERMINATE_ERROR
  state:
    description: V(present) sets the notifications for O(topic_arn), V(absent) removes them.
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
- name: Launch and terminate errors of the web group to the alarms topic
  protea.platform.autoscaling_notification:
    name: shopper-production-web
    topic_arn: arn:aws:sns:af-south-1:123456789012:shopper-production-alarms
    notification_types: [autoscaling:EC2_INSTANCE_LAUNCH_ERROR, autoscaling:EC2_INSTANCE_TERMINATE_ERROR]
"""

RETURN = r"""
group_found:
  description: Whether the group exists (nothing is changed when it does not).
  returned: always
  type: bool
notification_types:
  description: Types published to O(topic_arn) after the run; empty when absent.
  returned: always
  type: list
  elements: str
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

DEFAULT_TYPES = [
    "autoscaling:EC2_INSTANCE_LAUNCH",
    "autoscaling:EC2_INSTANCE_LAUNCH_ERROR",
    "autoscaling:EC2_INSTANCE_TERMINATE",
    "autoscaling:EC2_INSTANCE_TERMINATE_ERROR",
]


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            topic_arn=dict(type="str", required=True),
            notification_types=dict(type="list", elements="str", default=DEFAULT_TYPES),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    client = module.client("autoscaling", retry_decorator=AWSRetry.jittered_backoff())
    name, topic = module.params["name"], module.params["topic_arn"]
    try:
        groups = client.describe_auto_scaling_groups(aws_retry=True, AutoScalingGroupNames=[name])["AutoScalingGroups"]
        if not groups:
            module.warn(f"No Auto Scaling group {name}: its notifications are not set.")
            module.exit_json(changed=False, group_found=False, notification_types=[])
        paginator = client.get_paginator("describe_notification_configurations")
        configs = paginator.paginate(AutoScalingGroupNames=[name]).build_full_result()["NotificationConfigurations"]
        before = sorted(c["NotificationType"] for c in configs if c["TopicARN"] == topic)
        after = sorted(set(module.params["notification_types"])) if module.params["state"] == "present" else []
        changed = before != after
        if changed and not module.check_mode:
            if after:
                client.put_notification_configuration(aws_retry=True, AutoScalingGroupName=name, TopicARN=topic,
                                                      NotificationTypes=after)
            else:
                client.delete_notification_configuration(aws_retry=True, AutoScalingGroupName=name, TopicARN=topic)
        module.exit_json(changed=changed, group_found=True, notification_types=after,
                         diff={"before": {"topic_arn": topic, "notification_types": before},
                               "after": {"topic_arn": topic, "notification_types": after}})
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"notifications of Auto Scaling group {name}")


if __name__ == "__main__":
    main()
