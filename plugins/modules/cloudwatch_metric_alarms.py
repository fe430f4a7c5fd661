#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""Many CloudWatch metric alarms of one region, converged in one module run.

Why a project module: amazon.aws.cloudwatch_metric_alarm manages one alarm per run (one Python
process, one boto3 client, one DescribeAlarms each: about 1 s per alarm, 20 s for the alerts
role's alarms on every no-op run), and it drops Metrics from the current alarm before comparing,
so a metric-math alarm was rewritten on every run. This module reads the region's alarms once
(DescribeAlarms, 100 names per call), compares every field it manages, and calls PutMetricAlarm
only for an alarm that is missing or differs. It never deletes an alarm.
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: cloudwatch_metric_alarms
short_description: Converge a list of CloudWatch metric alarms in one region
version_added: 0.1.0
description:
  - Creates or updates each alarm of O(alarms) so that it matches exactly; a field the alarm omits
    (e.g. O(alarms[].unit)) is removed from the alarm in AWS.
  - Compares metric-math alarms (O(alarms[].metrics)) field by field, so a converged alarm is never rewritten.
  - Alarms not listed are left alone; nothing is deleted.
  - Supports check mode and diff mode (the alarm before and after, per changed alarm).
options:
  alarms:
    description:
      - The alarms, each a dict with V(name), V(evaluation_periods), V(comparison) (e.g. V(GreaterThanThreshold)) and
        V(threshold); either V(namespace), V(metric_name) and V(statistic) or V(extended_statistic), or V(metrics) (metric math,
        in the snake_case form of M(amazon.aws.cloudwatch_metric_alarm)).
      - Optional keys V(description), V(dimensions) (a dict), V(unit), V(period), V(datapoints_to_alarm),
        V(treat_missing_data) (default V(missing)), V(alarm_actions), V(ok_actions), V(insufficient_data_actions).
      - Other keys (e.g. a V(region) or V(topic) the caller used to pick the actions) are ignored.
    type: list
    elements: dict
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - Protea founding engineers
"""

EXAMPLES = r"""
- name: Two alarms of the web tier
  protea.platform.cloudwatch_metric_alarms:
    region: af-south-1
    alarms:
      - name: shopper-prod-ec2-cpu
        namespace: AWS/EC2
        metric_name: CPUUtilization
        statistic: Average
        dimensions: {AutoScalingGroupName: shopper-prod-web}
        period: 300
        evaluation_periods: 3
        comparison: GreaterThanThreshold
        threshold: 80
        alarm_actions: [arn:aws:sns:af-south-1:123456789012:shopper-prod-alarms]
        ok_actions: [arn:aws:sns:af-south-1:123456789012:shopper-prod-alarms]
"""

RETURN = r"""
alarms:
  description: Each alarm of O(alarms) with what the run did to it.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The alarm name.
      type: str
    result:
      description: V(created), V(updated) or V(unchanged) (in check mode, what would happen).
      type: str
"""

import copy

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# What this module manages of an alarm (an absent optional one is compared as absent).
_MANAGED = ("AlarmDescription", "ActionsEnabled", "AlarmActions", "OKActions", "InsufficientDataActions", "MetricName",
            "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit", "EvaluationPeriods",
            "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData", "Metrics")


def _dimensions(value):
    """[{Name, Value}] sorted by name, from a dict or from a list of {name/Name, value/Value}."""
    if isinstance(value, dict):
        pairs = [(str(k), str(v)) for k, v in value.items()]
    else:
        pairs = [(str(d.get("Name", d.get("name"))), str(d.get("Value", d.get("value")))) for d in value or []]
    return [{"Name": k, "Value": v} for k, v in sorted(pairs)]


def _metric_query(query):
    """One entry of a metric-math alarm's Metrics, snake_case in, API shape out."""
    out = {"Id": query["id"]}
    stat = query.get("metric_stat")
    if stat:
        metric = stat["metric"]
        out["MetricStat"] = {"Metric": {"Namespace": metric["namespace"], "MetricName": metric["metric_name"],
                                        "Dimensions": _dimensions(metric.get("dimensions"))},
                             "Period": int(stat["period"]), "Stat": stat["stat"]}
        if stat.get("unit"):
            out["MetricStat"]["Unit"] = stat["unit"]
    for key, api in (("expression", "Expression"), ("label", "Label"), ("account_id", "AccountId")):
        if query.get(key) not in (None, ""):
            out[api] = query[key]
    if query.get("period") is not None:
        out["Period"] = int(query["period"])
    out["ReturnData"] = bool(query.get("return_data", True))
    return out


def desired(alarm):
    """The PutMetricAlarm parameters of one alarm of O(alarms)."""
    missing = [k for k in ("name", "evaluation_periods", "comparison", "threshold") if alarm.get(k) in (None, "")]
    if missing:
        raise ValueError(f"alarm {alarm.get('name', alarm)!r} has no {', '.join(missing)}")
    want = {"AlarmName": alarm["name"], "ActionsEnabled": True,
            "AlarmActions": list(alarm.get("alarm_actions") or []), "OKActions": list(alarm.get("ok_actions") or []),
            "InsufficientDataActions": list(alarm.get("insufficient_data_actions") or []),
            "EvaluationPeriods": int(alarm["evaluation_periods"]), "Threshold": float(alarm["threshold"]),
            "ComparisonOperator": alarm["comparison"], "TreatMissingData": alarm.get("treat_missing_data") or "missing"}
    if alarm.get("metrics"):
        want["Metrics"] = [_metric_query(q) for q in alarm["metrics"]]
    else:
        if not alarm.get("namespace") or not alarm.get("metric_name") or not (alarm.get("statistic") or alarm.get("extended_statistic")):
            raise ValueError(f"alarm {alarm['name']!r} needs metrics, or namespace, metric_name and statistic")
        want.update({"Namespace": alarm["namespace"], "MetricName": alarm["metric_name"],
                     "Dimensions": _dimensions(alarm.get("dimensions")), "Period": int(alarm.get("period") or 300)})
        if alarm.get("extended_statistic"):
            want["ExtendedStatistic"] = alarm["extended_statistic"]
        else:
            want["Statistic"] = alarm["statistic"]
    for key, api in (("description", "AlarmDescription"), ("unit", "Unit")):
        if alarm.get(key) not in (None, ""):
            want[api] = alarm[key]
    if alarm.get("datapoints_to_alarm") is not None:
        want["DatapointsToAlarm"] = int(alarm["datapoints_to_alarm"])
    return want


def comparable(alarm):
    """The managed fields of a desired or described alarm, normalised: empty lists and unset
    optional fields are absent, dimensions sorted, numbers as numbers."""
    out = {}
    for key in _MANAGED:
        value = alarm.get(key)
        if value in (None, "", []):
            continue
        if key == "Dimensions":
            value = _dimensions(value)
        elif key == "Metrics":
            value = [_normal_query(q) for q in value]
        elif key == "Threshold":
            value = float(value)
        out[key] = value
    return out


def _normal_query(query):
    query = copy.deepcopy(query)
    stat = query.get("MetricStat")
    if stat:
        stat["Metric"]["Dimensions"] = _dimensions(stat["Metric"].get("Dimensions"))
    query.setdefault("ReturnData", True)
    return {k: v for k, v in query.items() if v not in (None, "", [])}


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(alarms=dict(type="list", elements="dict", required=True)),
        supports_check_mode=True,
    )
    try:
        wanted = [desired(a) for a in module.params["alarms"]]
    except (KeyError, TypeError, ValueError) as e:
        module.fail_json(msg=f"alarms: {e}; each alarm needs name, evaluation_periods, comparison, threshold and a metric")
    names = [w["AlarmName"] for w in wanted]
    if len(set(names)) != len(names):
        module.fail_json(msg=f"alarms: names repeat ({sorted({n for n in names if names.count(n) > 1})}): give each alarm its own name")
    client = module.client("cloudwatch", retry_decorator=AWSRetry.jittered_backoff())
    current = {}
    try:
        for start in range(0, len(names), 100):  # DescribeAlarms takes up to 100 names
            pages = client.get_paginator("describe_alarms").paginate(AlarmNames=names[start:start + 100], AlarmTypes=["MetricAlarm"])
            for alarm in pages.build_full_result().get("MetricAlarms", []):
                current[alarm["AlarmName"]] = alarm
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="Could not describe the alarms")
    results, before, after = [], {}, {}
    for want in wanted:
        name, have = want["AlarmName"], current.get(want["AlarmName"])
        if have is not None and comparable(have) == comparable(want):
            results.append({"name": name, "result": "unchanged"})
            continue
        results.append({"name": name, "result": "updated" if have is not None else "created"})
        before[name], after[name] = (comparable(have) if have is not None else {}), comparable(want)
        if not module.check_mode:
            try:
                client.put_metric_alarm(aws_retry=True, **want)
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
                module.fail_json_aws(e, msg=f"Could not put the alarm {name}")
    changed = bool(after)
    output = {"changed": changed, "alarms": results}
    if module._diff and changed:
        output["diff"] = {"before": before, "after": after}
    module.exit_json(**output)


if __name__ == "__main__":
    main()
