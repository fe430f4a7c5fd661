#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""Idempotent RDS event notification subscription.

Why a project module: amazon.aws 10 and community.aws 10 have no module for RDS event
subscriptions (CreateEventSubscription and friends), and calling the API raw is not
idempotent; this module compares topic, source type, categories, sources, enabled flag
and tags, changes only what differs, and supports check and diff mode.
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: rds_event_subscription
short_description: Manage an RDS event notification subscription
version_added: 0.1.0
description:
  - Subscribes an SNS topic to RDS events of a source type (optionally limited to some sources and categories).
  - Supports check mode and diff mode.
options:
  name:
    description: Subscription name.
    type: str
    required: true
  sns_topic_arn:
    description: The SNS topic that receives the events. Required with O(state=present).
    type: str
  source_type:
    description: Kind of source, e.g. C(db-instance), C(db-cluster), C(db-snapshot). Omit for all sources.
    type: str
  source_ids:
    description: Identifiers of the sources; empty means every source of O(source_type).
    type: list
    elements: str
    default: []
  event_categories:
    description: Categories, e.g. C(failover), C(failure), C(low storage), C(backup); empty means all.
    type: list
    elements: str
    default: []
  enabled:
    description: Whether notifications are sent.
    type: bool
    default: true
  state:
    description: Whether the subscription should exist.
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
- name: RDS failover/failure/storage/backup events to the events topic
  protea.platform.rds_event_subscription:
    name: shopper-production-rds-events
    sns_topic_arn: "{{ topic_arn }}"
    source_type: db-instance
    source_ids: [shopper-production-db]
    event_categories: [failover, failure, low storage, backup]
"""

RETURN = r"""
subscription:
  description: The subscription as RDS reports it (empty after deletion).
  returned: always
  type: dict
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.rds import ensure_tags, get_tags
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list

_ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) if "botocore" in globals() else ()


def _describe(module, client):
    try:
        subs = client.describe_event_subscriptions(aws_retry=True, SubscriptionName=module.params["name"])
        return subs["EventSubscriptionsList"][0] if subs["EventSubscriptionsList"] else None
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] == "SubscriptionNotFound":
            return None
        module.fail_json_aws(e, msg="Could not describe the event subscription")
    except botocore.exceptions.BotoCoreError as e:
        module.fail_json_aws(e, msg="Could not describe the event subscription")


def _view(sub, tags):
    """The comparable settings of a subscription (AWS shape) or of the wanted one."""
    if not sub:
        return {}
    return {
        "sns_topic_arn": sub.get("SnsTopicArn"),
        "source_type": sub.get("SourceType") or None,
        "source_ids": sorted(sub.get("SourceIdsList") or []),
        "event_categories": sorted(sub.get("EventCategoriesList") or []),
        "enabled": bool(sub.get("Enabled")),
        "tags": tags or {},
    }


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            sns_topic_arn=dict(type="str"),
            source_type=dict(type="str"),
            source_ids=dict(type="list", elements="str", default=[]),
            event_categories=dict(type="list", elements="str", default=[]),
            enabled=dict(type="bool", default=True),
            tags=dict(type="dict", aliases=["resource_tags"]),
            purge_tags=dict(type="bool", default=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        required_if=[("state", "present", ["sns_topic_arn"])],
        supports_check_mode=True,
    )
    p = module.params
    client = module.client("rds", retry_decorator=AWSRetry.jittered_backoff())
    current = _describe(module, client)
    arn = current.get("EventSubscriptionArn") if current else None
    current_tags = get_tags(client, module, arn) if arn else {}
    before = _view(current, current_tags)
    changed = False

    if p["state"] == "absent":
        if current:
            changed = True
            if not module.check_mode:
                try:
                    client.delete_event_subscription(aws_retry=True, SubscriptionName=p["name"])
                except _ERRORS as e:
                    module.fail_json_aws(e, msg="Could not delete the event subscription")
        module.exit_json(changed=changed, subscription={}, diff={"before": before, "after": {}})

    wanted = {
        "sns_topic_arn": p["sns_topic_arn"],
        "source_type": p["source_type"],
        "source_ids": sorted(set(p["source_ids"])),
        "event_categories": sorted(set(p["event_categories"])),
        "enabled": p["enabled"],
        "tags": p["tags"] if p["tags"] is not None else current_tags,
    }
    if not p["purge_tags"]:
        wanted["tags"] = {**current_tags, **wanted["tags"]}

    try:
        if not current:
            changed = True
            if not module.check_mode:
                params = dict(SubscriptionName=p["name"], SnsTopicArn=p["sns_topic_arn"], Enabled=p["enabled"],
                              EventCategories=wanted["event_categories"], SourceIds=wanted["source_ids"],
                              Tags=ansible_dict_to_boto3_tag_list(wanted["tags"] or {}))
                if p["source_type"]:
                    params["SourceType"] = p["source_type"]
                client.create_event_subscription(aws_retry=True, **params)
        else:
            settings = ("sns_topic_arn", "source_type", "event_categories", "enabled")
            if any(before[k] != wanted[k] for k in settings):
                changed = True
                if not module.check_mode:
                    params = dict(SubscriptionName=p["name"], SnsTopicArn=p["sns_topic_arn"], Enabled=p["enabled"],
                                  EventCategories=wanted["event_categories"])
                    if p["source_type"]:
                        params["SourceType"] = p["source_type"]
                    client.modify_event_subscription(aws_retry=True, **params)
            for source in sorted(set(wanted["source_ids"]) - set(before["source_ids"])):
                changed = True
                if not module.check_mode:
                    client.add_source_identifier_to_subscription(aws_retry=True, SubscriptionName=p["name"],
                                                                 SourceIdentifier=source)
            for source in sorted(set(before["source_ids"]) - set(wanted["source_ids"])):
                changed = True
                if not module.check_mode:
                    client.remove_source_identifier_from_subscription(aws_retry=True, SubscriptionName=p["name"],
                                                                      SourceIdentifier=source)
            if p["tags"] is not None and wanted["tags"] != current_tags:
                changed = True
                if not module.check_mode:  # ensure_tags itself ignores check mode
                    ensure_tags(client, module, arn, current_tags, p["tags"], p["purge_tags"])
    except _ERRORS as e:
        module.fail_json_aws(e, msg="Could not create or update the event subscription")

    after_sub = _describe(module, client) if changed and not module.check_mode else current
    module.exit_json(
        changed=changed,
        subscription=camel_dict_to_snake_dict(after_sub or {}),
        diff={"before": before, "after": wanted},
    )


if __name__ == "__main__":
    main()
