"""AWS region rules the roles must respect: opt-in regions, and alarm actions in the alarm's region.

Why this plugin is ours: no collection bundled with Ansible knows which AWS regions are opt-in
(botocore's endpoint data does not say), nor picks an alarm's SNS topic by region. Both rules
are documented by AWS:

* opt-in regions (AWS General Reference, "Enable or disable AWS Regions"): CloudFront delivers
  no standard logs to buckets there (CloudFront Developer Guide, standard logging (legacy));
  SNS does not deliver from a default region to a Lambda function there (SNS Developer Guide,
  "Prerequisites for integrating Amazon SNS with Lambda functions across regions");
* CloudWatch alarm actions must be in the alarm's region (PutMetricAlarm answers
  ValidationError "Invalid region X specified. Only Y is supported.").
"""
from __future__ import annotations

from typing import Any

# Regions launched after 20 March 2019 are opt-in. A newly launched opt-in region can be added here.
OPT_IN_REGIONS = frozenset({
    "af-south-1", "ap-east-1", "ap-east-2", "ap-south-2", "ap-southeast-3", "ap-southeast-4",
    "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-west-1", "eu-central-2",
    "eu-south-1", "eu-south-2", "il-central-1", "me-central-1", "me-south-1", "mx-central-1",
})
# Topics an alarm may notify (the alerts role's keys), in order of preference within a region.
ALARM_TOPIC_KEYS = ("alarms", "edge")


def opt_in_region(region: Any) -> bool:
    """True when ``region`` is an opt-in AWS region."""
    return str(region) in OPT_IN_REGIONS


def _resolve(alarm: dict, topics: list[dict], default_region: str) -> tuple[dict | None, str]:
    """(the topic the alarm notifies, '') or (None, why not)."""
    name = alarm.get("name") or alarm.get("short") or "?"
    region = alarm.get("region") or default_region
    usable = [t for key in ALARM_TOPIC_KEYS for t in topics if t.get("key") == key]
    wanted = alarm.get("topic")
    if wanted:
        named = [t for t in usable if t.get("key") == wanted]
        if not named:
            return None, (f"alarm '{name}' names topic '{wanted}', which is not an alarm topic: set its topic to one of "
                          f"{list(ALARM_TOPIC_KEYS)} or leave it out")
        if named[0].get("region") != region:
            return None, (f"alarm '{name}' in {region} names topic '{wanted}', which lives in {named[0].get('region')}: "
                          f"CloudWatch alarm actions must be in the alarm's region; set the alarm's region to "
                          f"{named[0].get('region')} or leave its topic out")
        return named[0], ""
    in_region = [t for t in usable if t.get("region") == region]
    if not in_region:
        regions = sorted({t.get("region") for t in usable})
        return None, (f"alarm '{name}' is in {region}, where no alerts topic lives (CloudWatch alarm actions must be in "
                      f"the alarm's region): set its region to one of {regions}")
    return in_region[0], ""


def alarm_topic_arn(alarm: dict, topics: list[dict], default_region: str) -> str:
    """The ARN of the alerts topic in the alarm's region (an explicit ``topic`` key must be there too)."""
    topic, problem = _resolve(alarm, topics, default_region)
    if topic is None:
        from ansible.errors import AnsibleFilterError

        raise AnsibleFilterError(problem)
    return topic["arn"]


def alarms_by_region(alarms: list[dict], topics: list[dict], default_region: str) -> list[dict]:
    """The alarms grouped by their region, in order of first appearance, each alarm given its
    region's topic as its ALARM and OK action: [{region, alarms}], one module run per region."""
    groups: dict[str, list[dict]] = {}
    for alarm in alarms:
        arn = alarm_topic_arn(alarm, topics, default_region)
        groups.setdefault(alarm.get("region") or default_region, []).append(
            {**alarm, "alarm_actions": [arn], "ok_actions": [arn]})
    return [{"region": region, "alarms": found} for region, found in groups.items()]


def alarm_region_findings(alarms: Any, topics: list[dict], default_region: str) -> list[str]:
    """Preflight: one message per alarm whose actions could not be in its own region."""
    if not isinstance(alarms, list):
        return [f"is not a list of alarms ({alarms!r})"]
    found = []
    for alarm in alarms:
        if not isinstance(alarm, dict):
            found.append(f"has an entry that is not a dict ({alarm!r})")
            continue
        topic, problem = _resolve(alarm, topics, default_region)
        if topic is None:
            found.append(problem)
    return found


class FilterModule:
    """protea.platform region filters."""

    def filters(self):
        return {
            "opt_in_region": opt_in_region,
            "alarm_topic_arn": alarm_topic_arn,
            "alarms_by_region": alarms_by_region,
            "alarm_region_findings": alarm_region_findings,
        }
