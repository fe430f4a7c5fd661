"""CloudWatch: alarm actions. A state change of an alarm notifies its SNS topics, as on AWS.

moto stores AlarmActions/OKActions/InsufficientDataActions but never runs them, so
"an alarm reaches Slack" could not be shown locally. With ``cloudwatch-alarm-actions``,
every state *transition* (SetAlarmState, the only way alarms change state in moto) of an
alarm with ActionsEnabled publishes the JSON message AWS sends to each SNS topic of the
new state's action list, with AWS's subject (``ALARM: "name" in <Region name>``).
Limits: only SNS actions (no Auto Scaling/EC2/SSM actions); moto never evaluates metrics,
so state changes come only from SetAlarmState.
"""
from __future__ import annotations

import json

from . import Patch

# The region names AWS writes into the alarm message and subject (others: the region code).
REGION_NAMES = {
    "af-south-1": "Africa (Cape Town)",
    "us-east-1": "US East (N. Virginia)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-central-1": "EU (Frankfurt)",
}


def _iso(ts) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}+0000"


def _dims(dimensions) -> list[dict]:
    return [{"value": d.value, "name": d.name} for d in dimensions]


def _trigger(alarm) -> dict:
    trigger = {
        "Period": alarm.period,
        "EvaluationPeriods": alarm.evaluation_periods,
        "DatapointsToAlarm": alarm.datapoints_to_alarm,
        "ComparisonOperator": alarm.comparison_operator,
        "Threshold": alarm.threshold,
        "TreatMissingData": alarm.treat_missing_data or "missing",
        "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile or "",
    }
    if alarm.metric_name:
        trigger.update({
            "MetricName": alarm.metric_name,
            "Namespace": alarm.namespace,
            "StatisticType": "ExtendedStatistic" if alarm.extended_statistic else "Statistic",
            "Statistic": (alarm.statistic or "").upper() or None,
            "Unit": alarm.unit,
            "Dimensions": _dims(alarm.dimensions),
        })
        if alarm.extended_statistic:
            trigger["ExtendedStatistic"] = alarm.extended_statistic
    else:
        metrics = []
        for q in alarm.metric_data_queries:
            item = {"Id": q.id, "ReturnData": str(q.return_data).lower() not in ("false", "0", "none")}
            if q.label:
                item["Label"] = q.label
            if q.expression:
                item["Expression"] = q.expression
            if q.metric_stat:
                ms = q.metric_stat
                item["MetricStat"] = {
                    "Metric": {"Dimensions": _dims(ms.metric.dimensions), "MetricName": ms.metric.metric_name,
                               "Namespace": ms.metric.namespace},
                    "Period": int(ms.period), "Stat": ms.stat}
            metrics.append(item)
        trigger["Metrics"] = metrics
    return trigger


def alarm_message(alarm, account_id: str, old_state: str) -> dict:
    return {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description or None,
        "AWSAccountId": account_id,
        "AlarmConfigurationUpdatedTimestamp": _iso(alarm.configuration_updated_timestamp),
        "NewStateValue": alarm.state_value,
        "NewStateReason": alarm.state_reason,
        "StateChangeTime": _iso(alarm.state_updated_timestamp),
        "Region": REGION_NAMES.get(alarm.region_name, alarm.region_name),
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": old_state,
        "OKActions": list(alarm.ok_actions),
        "AlarmActions": list(alarm.alarm_actions),
        "InsufficientDataActions": list(alarm.insufficient_data_actions),
        "Trigger": _trigger(alarm),
    }


def _apply_alarm_actions() -> None:
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.sns.models import sns_backends

    original = CloudWatchBackend.set_alarm_state

    def set_alarm_state(self, alarm_name, reason, reason_data, state_value):
        old = self.alarms[alarm_name].state_value if alarm_name in self.alarms else None
        original(self, alarm_name, reason, reason_data, state_value)
        alarm = self.alarms[alarm_name]
        if old == state_value or not alarm.actions_enabled:
            return
        actions = {"ALARM": alarm.alarm_actions, "OK": alarm.ok_actions,
                   "INSUFFICIENT_DATA": alarm.insufficient_data_actions}[state_value]
        message = json.dumps(alarm_message(alarm, self.account_id, old))
        subject = f'{state_value}: "{alarm.name}" in {REGION_NAMES.get(alarm.region_name, alarm.region_name)}'[:100]
        for arn in actions or []:
            parts = arn.split(":")
            if len(parts) == 6 and parts[2] == "sns":
                sns_backends[parts[4]][parts[3]].publish(message, arn=arn, subject=subject)

    CloudWatchBackend.set_alarm_state = set_alarm_state


PATCHES = [
    Patch(
        name="cloudwatch-alarm-actions",
        api="cloudwatch:SetAlarmState (alarm actions to SNS)",
        moto_does="Changes the alarm state and stores the actions, but never publishes to the alarm's SNS topics.",
        aws_does="On each state transition of an alarm with actions enabled, publishes the alarm JSON (AlarmName, "
                 "NewStateValue, NewStateReason, Trigger, ...) to every SNS topic in the new state's action list.",
        doc="Amazon CloudWatch User Guide, Alarm actions / Using Amazon SNS with CloudWatch alarms: "
            "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html",
        apply=_apply_alarm_actions,
    ),
]
