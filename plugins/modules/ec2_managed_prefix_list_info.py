#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""Read-only lookup of EC2 managed prefix lists by name.

Why a project module: amazon.aws 10 / community.aws 10 have no module that reads
managed prefix lists, and the security_groups role needs the id of the CloudFront
origin-facing list (it exists in most regions, not all) to restrict the ALB.
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: ec2_managed_prefix_list_info
short_description: Find EC2 managed prefix lists by name
version_added: 0.1.0
description:
  - Returns the managed prefix lists whose names are in O(names) (all lists when O(names) is empty).
  - A name that does not exist in the region is simply missing from the result, so the caller can fall back.
options:
  names:
    description: Prefix list names, e.g. V(com.amazonaws.global.cloudfront.origin-facing).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - Protea founding engineers
"""

EXAMPLES = r"""
- name: CloudFront's origin-facing prefix list
  protea.platform.ec2_managed_prefix_list_info:
    names: [com.amazonaws.global.cloudfront.origin-facing]
  register: cloudfront_pl
"""

RETURN = r"""
prefix_lists:
  description: The matching prefix lists.
  returned: always
  type: list
  elements: dict
  contains:
    prefix_list_id: {description: The id (pl-...)., type: str}
    prefix_list_name: {description: The name., type: str}
    max_entries: {description: Weight of the list against security group rule quotas., type: int}
    owner_id: {description: V(AWS) for AWS-managed lists., type: str}
    address_family: {description: IPv4 or IPv6., type: str}
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(names=dict(type="list", elements="str", default=[])),
        supports_check_mode=True,
    )
    client = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    params = {}
    if module.params["names"]:
        params["Filters"] = [{"Name": "prefix-list-name", "Values": module.params["names"]}]
    try:
        paginator = client.get_paginator("describe_managed_prefix_lists")
        lists = paginator.paginate(**params).build_full_result()["PrefixLists"]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="Could not describe managed prefix lists")
    names = set(module.params["names"])
    lists = [pl for pl in lists if not names or pl.get("PrefixListName") in names]
    module.exit_json(changed=False, prefix_lists=[camel_dict_to_snake_dict(pl, ignore_list=["Tags"]) for pl in lists])


if __name__ == "__main__":
    main()
