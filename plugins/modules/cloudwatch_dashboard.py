#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""Idempotent CloudWatch dashboard.

Why a project module: amazon.aws 10 and community.aws 10 have no dashboard module, and a
raw PutDashboard call reports a change on every run; this one compares the stored body
(as JSON, key order ignored) with the wanted one and supports check and diff mode.
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: cloudwatch_dashboard
short_description: Create, update or delete a CloudWatch dashboard
version_added: 0.1.0
description:
  - Puts the dashboard O(name) with body O(body) when it is missing or its body differs.
  - Supports check mode and diff mode (the diff shows the dashboard body).
options:
  name:
    description: Dashboard name (letters, digits, C(-) and C(_)).
    type: str
    required: true
  body:
    description: The dashboard body (the JSON structure with C(widgets)), as a dict.
    type: dict
  state:
    description: Whether the dashboard should exist.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - Protea founding engineers
"""

EXAMPLES = r"""
- name: Stack dashboard
  protea.platform.cloudwatch_dashboard:
    name: shopper-production
    body:
      widgets:
        - {type: text, x: 0, y: 0, width: 24, height: 1, properties: {markdown: "# shopper production"}}
"""

RETURN = r"""
dashboard_arn:
  description: ARN of the dashboard (absent after deletion or in check mode before creation).
  returned: when present
  type: str
body:
  description: The dashboard body now stored.
  returned: always
  type: dict
"""

import json

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def _get(module, client):
    try:
        answer = client.get_dashboard(aws_retry=True, DashboardName=module.params["name"])
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] in ("ResourceNotFound", "ResourceNotFoundException"):
            return None, None
        module.fail_json_aws(e, msg="Could not read the dashboard")
    except botocore.exceptions.BotoCoreError as e:
        module.fail_json_aws(e, msg="Could not read the dashboard")
    return json.loads(answer.get("DashboardBody") or "{}"), answer.get("DashboardArn")


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            body=dict(type="dict"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        required_if=[("state", "present", ["body"])],
        supports_check_mode=True,
    )
    client = module.client("cloudwatch", retry_decorator=AWSRetry.jittered_backoff())
    name, state = module.params["name"], module.params["state"]
    current, arn = _get(module, client)
    # Round-trip through JSON so the comparison sees what AWS stores (no tuples, str keys).
    wanted = json.loads(json.dumps(module.params["body"])) if state == "present" else None
    changed = current != wanted
    if changed and not module.check_mode:
        try:
            if state == "present":
                answer = client.put_dashboard(aws_retry=True, DashboardName=name,
                                              DashboardBody=json.dumps(wanted, sort_keys=True))
                problems = [m for m in answer.get("DashboardValidationMessages", []) if m]
                if problems:
                    module.warn(f"CloudWatch reported dashboard validation messages: {problems}")
                arn = _get(module, client)[1]
            else:
                client.delete_dashboards(aws_retry=True, DashboardNames=[name])
                arn = None
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg=f"Could not {'put' if state == 'present' else 'delete'} the dashboard")
    result = dict(changed=changed, body=wanted or {},
                  diff={"before": json.dumps(current or {}, indent=2, sort_keys=True) + "\n",
                        "after": json.dumps(wanted or {}, indent=2, sort_keys=True) + "\n"})
    if arn and state == "present":
        result["dashboard_arn"] = arn
    module.exit_json(**result)


if __name__ == "__main__":
    main()
