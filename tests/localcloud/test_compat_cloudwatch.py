"""CloudWatch compat patch: alarm state transitions notify the alarm's SNS topics (AWS), not in moto stock."""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.emulator

ACTIONS = "cloudwatch-alarm-actions"


def _alarm_to_queue(emu, **alarm):
    sns, sqs, cw = emu.client("sns"), emu.client("sqs"), emu.client("cloudwatch")
    topic = sns.create_topic(Name="alarms")["TopicArn"]
    url = sqs.create_queue(QueueName="alarms-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    cw.put_metric_alarm(AlarmName="db-cpu", AlarmDescription="RDS CPU high", AlarmActions=[topic],
                        OKActions=[topic], ComparisonOperator="GreaterThanThreshold", Threshold=80.0,
                        EvaluationPeriods=3, **alarm)
    return cw, sqs, url, topic


def _received(sqs, url):
    return [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]


METRIC = dict(Namespace="AWS/RDS", MetricName="CPUUtilization", Statistic="Average", Period=300,
              Dimensions=[{"Name": "DBInstanceIdentifier", "Value": "db1"}])


def test_state_transition_publishes_the_alarm_message(clean_emulator):
    cw, sqs, url, topic = _alarm_to_queue(clean_emulator, **METRIC)
    cw.set_alarm_state(AlarmName="db-cpu", StateValue="ALARM", StateReason="Threshold Crossed: 3 datapoints > 80")
    [note] = _received(sqs, url)
    assert note["TopicArn"] == topic
    assert note["Subject"] == 'ALARM: "db-cpu" in Africa (Cape Town)'
    msg = json.loads(note["Message"])
    assert (msg["AlarmName"], msg["OldStateValue"], msg["NewStateValue"]) == ("db-cpu", "OK", "ALARM")
    assert msg["NewStateReason"] == "Threshold Crossed: 3 datapoints > 80"
    assert msg["AlarmArn"] == "arn:aws:cloudwatch:af-south-1:123456789012:alarm:db-cpu"
    assert msg["Trigger"]["MetricName"] == "CPUUtilization" and msg["Trigger"]["Threshold"] == 80.0
    assert msg["Trigger"]["Dimensions"] == [{"value": "db1", "name": "DBInstanceIdentifier"}]
    # Same state again: no transition, no notification; back to OK: the OK actions run.
    cw.set_alarm_state(AlarmName="db-cpu", StateValue="ALARM", StateReason="still")
    assert _received(sqs, url) == []
    cw.set_alarm_state(AlarmName="db-cpu", StateValue="OK", StateReason="recovered")
    assert json.loads(_received(sqs, url)[0]["Message"])["NewStateValue"] == "OK"


def test_metric_math_alarm_message_lists_its_metrics(clean_emulator):
    cw, sqs, url, _ = _alarm_to_queue(clean_emulator, Metrics=[
        {"Id": "rate", "Expression": "100 * e / r", "Label": "5xx %", "ReturnData": True},
        {"Id": "e", "ReturnData": False, "MetricStat": {"Period": 300, "Stat": "Sum", "Metric": {
            "Namespace": "AWS/ApplicationELB", "MetricName": "HTTPCode_Target_5XX_Count",
            "Dimensions": [{"Name": "LoadBalancer", "Value": "app/x/1"}]}}},
        {"Id": "r", "ReturnData": False, "MetricStat": {"Period": 300, "Stat": "Sum", "Metric": {
            "Namespace": "AWS/ApplicationELB", "MetricName": "RequestCount",
            "Dimensions": [{"Name": "LoadBalancer", "Value": "app/x/1"}]}}}])
    cw.set_alarm_state(AlarmName="db-cpu", StateValue="ALARM", StateReason="r")
    trigger = json.loads(_received(sqs, url)[0]["Message"])["Trigger"]
    assert trigger["Metrics"][0] == {"Id": "rate", "ReturnData": True, "Label": "5xx %", "Expression": "100 * e / r"}
    assert trigger["Metrics"][1]["MetricStat"]["Metric"]["MetricName"] == "HTTPCode_Target_5XX_Count"


def test_alarm_actions_without_patch_is_moto_stock(emulator_factory):
    cw, sqs, url, _ = _alarm_to_queue(emulator_factory(disable=[ACTIONS]), **METRIC)
    cw.set_alarm_state(AlarmName="db-cpu", StateValue="ALARM", StateReason="r")
    assert cw.describe_alarms(AlarmNames=["db-cpu"])["MetricAlarms"][0]["StateValue"] == "ALARM"
    assert _received(sqs, url) == []
