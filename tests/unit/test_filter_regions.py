"""protea.platform region filters: opt-in regions, and an alarm's topic in its own region."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from tests.helpers import load_plugin


regions = load_plugin("plugins/filter/regions.py")
TOPICS = [
    {"key": "alarms", "region": "af-south-1", "arn": "arn:aws:sns:af-south-1:1:p-alarms"},
    {"key": "events", "region": "af-south-1", "arn": "arn:aws:sns:af-south-1:1:p-events"},
    {"key": "edge", "region": "us-east-1", "arn": "arn:aws:sns:us-east-1:1:p-edge-alarms"},
]


@pytest.mark.parametrize("region,opt_in", [
    ("af-south-1", True), ("ap-east-1", True), ("eu-south-1", True), ("me-south-1", True), ("il-central-1", True),
    ("us-east-1", False), ("eu-west-1", False), ("ap-northeast-3", False), ("sa-east-1", False),
])
def test_opt_in_region(region, opt_in):
    assert regions.opt_in_region(region) is opt_in


def test_opt_in_list_matches_the_emulator():
    """Kept apart on purpose (a shared mistake would hide itself), but they must agree."""
    from tests.localcloud.compat.region_rules import OPT_IN_REGIONS

    assert regions.OPT_IN_REGIONS == OPT_IN_REGIONS


@pytest.mark.parametrize("alarm,arn", [
    ({"name": "rds-cpu"}, "arn:aws:sns:af-south-1:1:p-alarms"),
    ({"name": "cf-5xx", "region": "us-east-1", "topic": "edge"}, "arn:aws:sns:us-east-1:1:p-edge-alarms"),
    # The defect the filter fixes: an extra alarm in us-east-1 without a topic used to get the
    # af-south-1 alarms topic (refused by CloudWatch); it now gets the edge topic.
    ({"name": "r53-health", "region": "us-east-1"}, "arn:aws:sns:us-east-1:1:p-edge-alarms"),
    ({"name": "ec2", "region": "af-south-1", "topic": "alarms"}, "arn:aws:sns:af-south-1:1:p-alarms"),
])
def test_alarm_topic_is_in_the_alarm_region(alarm, arn):
    assert regions.alarm_topic_arn(alarm, TOPICS, "af-south-1") == arn


def test_platform_in_us_east_1_keeps_the_alarms_topic_for_plain_alarms():
    topics = [dict(t, region="us-east-1", arn=t["arn"].replace("af-south-1", "us-east-1")) for t in TOPICS]
    assert regions.alarm_topic_arn({"name": "x"}, topics, "us-east-1").endswith(":p-alarms")
    assert regions.alarm_topic_arn({"name": "x", "topic": "edge"}, topics, "us-east-1").endswith(":p-edge-alarms")


def test_alarms_grouped_by_region_with_their_regions_topic_as_actions():
    alarms = [{"name": "rds-cpu"}, {"name": "cf-5xx", "region": "us-east-1"}, {"name": "ec2", "region": "af-south-1"}]
    groups = regions.alarms_by_region(alarms, TOPICS, "af-south-1")
    assert [(g["region"], [a["name"] for a in g["alarms"]]) for g in groups] == [
        ("af-south-1", ["rds-cpu", "ec2"]), ("us-east-1", ["cf-5xx"])]
    edge = groups[1]["alarms"][0]
    assert edge["alarm_actions"] == edge["ok_actions"] == ["arn:aws:sns:us-east-1:1:p-edge-alarms"]
    assert groups[0]["alarms"][0]["ok_actions"] == ["arn:aws:sns:af-south-1:1:p-alarms"]
    assert regions.alarms_by_region([], TOPICS, "af-south-1") == []
    with pytest.raises(AnsibleFilterError, match="alarm 'eu' is in eu-west-1"):
        regions.alarms_by_region([{"name": "eu", "region": "eu-west-1"}], TOPICS, "af-south-1")


@pytest.mark.parametrize("alarm,needle", [
    ({"name": "eu", "region": "eu-west-1"}, "alarm 'eu' is in eu-west-1, where no alerts topic lives"),
    ({"name": "cross", "region": "us-east-1", "topic": "alarms"},
     "alarm 'cross' in us-east-1 names topic 'alarms', which lives in af-south-1"),
    ({"name": "cross2", "topic": "edge"}, "alarm 'cross2' in af-south-1 names topic 'edge', which lives in us-east-1"),
    ({"name": "ev", "topic": "events"}, "names topic 'events', which is not an alarm topic"),
])
def test_alarm_with_no_topic_in_its_region_fails_and_is_a_preflight_finding(alarm, needle):
    with pytest.raises(AnsibleFilterError, match=needle.replace("(", r"\(")):
        regions.alarm_topic_arn(alarm, TOPICS, "af-south-1")
    assert [f for f in regions.alarm_region_findings([alarm, {"name": "ok"}], TOPICS, "af-south-1")] == [
        regions._resolve(alarm, TOPICS, "af-south-1")[1]]
    assert needle in regions.alarm_region_findings([alarm], TOPICS, "af-south-1")[0]


def test_alarm_region_findings_on_bad_shapes():
    assert regions.alarm_region_findings([], TOPICS, "af-south-1") == []
    assert "is not a list" in regions.alarm_region_findings("x", TOPICS, "af-south-1")[0]
    assert "not a dict" in regions.alarm_region_findings(["x"], TOPICS, "af-south-1")[0]
