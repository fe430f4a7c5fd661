"""protea.platform.cloudwatch_metric_alarms: what it asks CloudWatch for, and when two alarms are equal.

The emulator side (create, no-op, hand-made changes put back, check mode) is in
tests/provisioning/test_alerting.py."""
from __future__ import annotations

import pytest

from tests.helpers import load_plugin


alarms = load_plugin("plugins/modules/cloudwatch_metric_alarms.py")
SIMPLE = {"name": "p-rds-cpu", "namespace": "AWS/RDS", "metric_name": "CPUUtilization", "statistic": "Average",
          "dimensions": {"DBInstanceIdentifier": "p-db"}, "period": 300, "evaluation_periods": 3, "datapoints_to_alarm": 2,
          "comparison": "GreaterThanThreshold", "threshold": 80, "unit": "Percent", "description": "RDS CPU",
          "alarm_actions": ["arn:t"], "ok_actions": ["arn:t"], "region": "ignored", "short": "ignored"}
MATH = {"name": "p-5xx", "evaluation_periods": 3, "comparison": "GreaterThanThreshold", "threshold": 5,
        "treat_missing_data": "notBreaching", "alarm_actions": ["arn:t"], "ok_actions": ["arn:t"],
        "metrics": [{"id": "rate", "expression": "100 * e / r", "label": "5xx %", "return_data": True},
                    {"id": "e", "return_data": False, "metric_stat": {"period": 60, "stat": "Sum", "metric": {
                        "namespace": "AWS/ApplicationELB", "metric_name": "HTTPCode_ELB_5XX_Count",
                        "dimensions": [{"name": "LoadBalancer", "value": "app/x/1"}]}}}]}


def test_simple_alarm_parameters():
    want = alarms.desired(SIMPLE)
    assert want == {
        "AlarmName": "p-rds-cpu", "ActionsEnabled": True, "AlarmActions": ["arn:t"], "OKActions": ["arn:t"],
        "InsufficientDataActions": [], "EvaluationPeriods": 3, "Threshold": 80.0, "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "missing", "Namespace": "AWS/RDS", "MetricName": "CPUUtilization",
        "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "p-db"}], "Period": 300, "Statistic": "Average",
        "AlarmDescription": "RDS CPU", "Unit": "Percent", "DatapointsToAlarm": 2}


def test_metric_math_alarm_parameters():
    want = alarms.desired(MATH)
    assert "Namespace" not in want and "Statistic" not in want and "Period" not in want
    assert want["Metrics"][0] == {"Id": "rate", "Expression": "100 * e / r", "Label": "5xx %", "ReturnData": True}
    assert want["Metrics"][1]["MetricStat"] == {"Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "HTTPCode_ELB_5XX_Count",
                                                           "Dimensions": [{"Name": "LoadBalancer", "Value": "app/x/1"}]},
                                                "Period": 60, "Stat": "Sum"}


def _described(want):
    """As DescribeAlarms answers: ARN and state added, Threshold a float, empty lists present."""
    return dict(want, AlarmArn="arn:aws:cloudwatch:af-south-1:1:alarm:" + want["AlarmName"], StateValue="OK",
                Dimensions=want.get("Dimensions", []), InsufficientDataActions=[])


@pytest.mark.parametrize("alarm", [SIMPLE, MATH], ids=["simple", "metric-math"])
def test_a_described_alarm_equals_what_was_put(alarm):
    want = alarms.desired(alarm)
    assert alarms.comparable(_described(want)) == alarms.comparable(want)


@pytest.mark.parametrize("change", [
    {"Threshold": 81.0}, {"Unit": "Count"}, {"AlarmDescription": "by hand"}, {"OKActions": []},
    {"Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "other"}]}, {"TreatMissingData": "breaching"},
])
def test_any_managed_field_changed_by_hand_differs(change):
    want = alarms.desired(SIMPLE)
    assert alarms.comparable(dict(_described(want), **change)) != alarms.comparable(want)


def test_a_field_the_alarm_no_longer_sets_differs_and_dimension_order_does_not():
    want = alarms.desired({k: v for k, v in SIMPLE.items() if k != "unit"})
    had = _described(alarms.desired(SIMPLE))
    assert alarms.comparable(had) != alarms.comparable(want)  # Unit is removed from the alarm
    two = dict(SIMPLE, dimensions={"B": "2", "A": "1"})
    reordered = dict(_described(alarms.desired(two)), Dimensions=[{"Name": "B", "Value": "2"}, {"Name": "A", "Value": "1"}])
    assert alarms.comparable(reordered) == alarms.comparable(alarms.desired(two))


def test_a_changed_query_of_a_metric_math_alarm_differs():
    want = alarms.desired(MATH)
    had = _described(want)
    had["Metrics"] = [dict(had["Metrics"][0], Expression="100 * e / (r + 1)")] + had["Metrics"][1:]
    assert alarms.comparable(had) != alarms.comparable(want)


@pytest.mark.parametrize("bad,needle", [
    ({"name": "x", "comparison": "GreaterThanThreshold", "threshold": 1}, "has no evaluation_periods"),
    ({"name": "x", "evaluation_periods": 1, "comparison": "GreaterThanThreshold", "threshold": 1, "namespace": "N"},
     "needs metrics, or namespace, metric_name and statistic"),
])
def test_incomplete_alarms_are_named(bad, needle):
    with pytest.raises(ValueError, match=needle):
        alarms.desired(bad)
