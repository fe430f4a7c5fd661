"""The Slack notifier's message formatting: real-shaped SNS events in, Slack Block Kit payload out."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HANDLER = REPO / "roles/slack_notifier/files/lambda/slack_notifier.py"
EVENTS = Path(__file__).with_name("slack_events")
RED, GREEN = "#d13212", "#1d8102"


def load_notifier():
    """A fresh copy of the Lambda module (its per-container cache starts empty)."""
    spec = importlib.util.spec_from_file_location("slack_notifier_under_test", HANDLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def notifier():
    return load_notifier()


def event(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text())


def render(notifier, name: str) -> dict:
    return notifier.format_record(event(name)["Records"][0]["Sns"])


def blocks(payload: dict) -> list[dict]:
    return payload["attachments"][0]["blocks"]


def fields(payload: dict) -> dict[str, str]:
    """Section fields as {label: value} (fields are rendered '*Label*\\nvalue')."""
    out = {}
    for block in blocks(payload):
        for f in block.get("fields", []):
            label, _, value = f["text"].partition("\n")
            out[label.strip("*")] = value
    return out


def block_text(payload: dict) -> str:
    return json.dumps(blocks(payload))


def test_alarm_state_change_uses_red_bar_name_reason_threshold_region_and_console_link(notifier):
    payload = render(notifier, "alarm_alb_5xx")
    assert payload["attachments"][0]["color"] == RED
    assert payload["text"] == "ALARM: shopper-production-alb-5xx-rate"
    header = blocks(payload)[0]
    assert header["type"] == "header" and header["text"]["text"] == "ALARM: shopper-production-alb-5xx-rate"
    f = fields(payload)
    assert f["State"].endswith("ALARM (was OK)")
    assert f["Region"] == "af-south-1"
    assert "100 * errors / MAX([errors, requests])" in f["Metric"]  # metric-math alarm shows its expression
    assert f["Threshold"] == "> 5.0 for 1 period(s)"
    assert "was greater than the threshold (5.0)" in block_text(payload)
    button = blocks(payload)[-1]["elements"][0]
    assert button["url"] == ("https://af-south-1.console.aws.amazon.com/cloudwatch/home?region=af-south-1"
                             "#alarmsV2:alarm/shopper-production-alb-5xx-rate")


def test_alarm_back_to_ok_is_green_and_names_metric_and_dimensions(notifier):
    payload = render(notifier, "alarm_rds_cpu_ok")
    assert payload["attachments"][0]["color"] == GREEN
    f = fields(payload)
    assert f["State"].endswith("OK (was ALARM)")
    assert f["Metric"].startswith("`AWS/RDS/CPUUtilization` average over 300 s")
    assert "DBInstanceIdentifier=shopper-production-db" in f["Metric"]
    assert f["Threshold"] == "> 80.0 for 3 period(s)"


def test_backup_job_completed_shows_state_resource_and_recovery_point(notifier):
    payload = render(notifier, "backup_completed")
    assert payload["attachments"][0]["color"] == GREEN
    assert payload["text"] == "AWS Backup: Backup job COMPLETED"
    f = fields(payload)
    assert f["State"] == "COMPLETED"
    assert f["Resource"] == "arn:aws:elasticfilesystem:af-south-1:123456789012:file-system/fs-0a1b2c3d4e5f67890"
    assert f["Recovery point"] == ("arn:aws:backup:af-south-1:123456789012:recovery-point:"
                                   "1EB3B5E7-9EB0-435A-A80B-108B488B0D45")
    assert f["Job ID"] == "4c3e7b2a-1d5f-4e1e-9c7d-2b7e5a9f0c11"


def test_backup_job_failed_is_red_and_has_no_recovery_point(notifier):
    payload = render(notifier, "backup_failed")
    assert payload["attachments"][0]["color"] == RED
    f = fields(payload)
    assert f["State"] == "FAILED"
    assert f["Resource"] == "arn:aws:rds:af-south-1:123456789012:db:shopper-production-db"
    assert "Recovery point" not in f


def test_backup_eventbridge_restore_event(notifier):
    payload = notifier.format_record({"Message": json.dumps({
        "source": "aws.backup", "detail-type": "Restore Job State Change", "region": "af-south-1",
        "time": "2026-11-20T03:00:00Z",
        "detail": {"restoreJobId": "r-1", "status": "FAILED", "statusMessage": "Access denied",
                   "resourceArn": "arn:aws:elasticfilesystem:af-south-1:123456789012:file-system/fs-1",
                   "recoveryPointArn": "arn:aws:backup:af-south-1:123456789012:recovery-point:rp-1"}})})
    assert payload["attachments"][0]["color"] == RED
    f = fields(payload)
    assert f["Recovery point"].endswith("recovery-point:rp-1") and f["Job ID"] == "r-1"


def test_rds_event_notification_failover(notifier):
    payload = render(notifier, "rds_failover")
    assert payload["text"].startswith("RDS db-instance shopper-production-db: Multi-AZ instance failover completed")
    f = fields(payload)
    assert f["Event"] == "RDS-EVENT-0049"
    assert f["Source"] == "db-instance `shopper-production-db`"
    assert blocks(payload)[-1]["elements"][0]["url"].startswith("https://console.aws.amazon.com/rds/home?region=af-south-1")


def test_rds_low_storage_event_is_red(notifier):
    msg = {"Event Source": "db-instance", "Source ID": "db1", "Event ID": "x#RDS-EVENT-0007",
           "Event Message": "Allocated storage has been exhausted. Low storage."}
    assert notifier.format_record({"Message": json.dumps(msg)})["attachments"][0]["color"] == RED


def test_asg_launch_failure(notifier):
    payload = render(notifier, "asg_launch_error")
    assert payload["attachments"][0]["color"] == RED
    assert payload["text"] == "Auto Scaling ec2 instance launch error: shopper-production-web"
    f = fields(payload)
    assert f["Group"] == "shopper-production-web" and f["Availability Zone"] == "af-south-1a"
    assert f["Status"] == "Failed"
    assert "sufficient t3.small capacity" in block_text(payload)


def test_asg_eventbridge_terminate_unsuccessful(notifier):
    payload = notifier.format_record({"Message": json.dumps({
        "source": "aws.autoscaling", "detail-type": "EC2 Instance Terminate Unsuccessful",
        "detail": {"AutoScalingGroupName": "g1", "StatusCode": "Failed", "EC2InstanceId": "i-1"}})})
    assert payload["text"] == "Auto Scaling ec2 instance terminate error: g1"
    assert payload["attachments"][0]["color"] == RED


def test_unknown_message_gets_readable_fallback(notifier):
    payload = render(notifier, "unknown")
    assert payload["text"] == "Deploy: Deployment 2026.11.20-3 finished on 2 instances"
    assert blocks(payload)[0]["text"]["text"] == "Deploy"
    assert blocks(payload)[1]["text"]["text"] == "Deployment 2026.11.20-3 finished on 2 instances"
    assert "shopper-production-alarms" in block_text(payload)


def test_unknown_json_is_pretty_printed_and_long_text_is_clipped(notifier):
    payload = notifier.format_record({"Subject": None, "Message": json.dumps({"b": 1, "a": "x" * 5000})})
    body = blocks(payload)[1]["text"]["text"]
    assert body.startswith('```{\n  "a": "xxx')
    assert len(body) <= 3000 and len(payload["text"]) <= 3000


@pytest.mark.parametrize("name", [p.stem for p in sorted(EVENTS.glob("*.json"))])
def test_every_sample_is_valid_block_kit(notifier, name):
    payload = render(notifier, name)
    assert payload["text"]
    for block in blocks(payload):
        assert block["type"] in {"header", "section", "context", "actions"}
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text" and len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert "text" in block or 1 <= len(block["fields"]) <= 10
            for f in block.get("fields", []):
                assert len(f["text"]) <= 2000


def test_ses_permanent_bounce_is_red_with_recipient_diagnostic_and_configuration_set(notifier):
    payload = render(notifier, "ses_bounce")
    assert payload["attachments"][0]["color"] == RED
    assert payload["text"].startswith("SES bounce: nobody@example.net")
    f = fields(payload)
    assert f["Type"] == "Permanent / General"
    assert f["Recipients"] == "nobody@example.net" and f["Sender"] == "orders@shop.example.co.za"
    assert f["Subject"] == "Your order 1042" and f["Configuration set"] == "shopper-production"
    assert "550 5.1.1 user unknown" in block_text(payload)


def test_ses_transient_bounce_is_a_warning(notifier):
    message = json.loads(event("ses_bounce")["Records"][0]["Sns"]["Message"])
    message["bounce"]["bounceType"] = "Transient"
    payload = notifier.format_record({"Message": json.dumps(message)})
    assert payload["attachments"][0]["color"] == "#ff9900"


def test_ses_complaint_notification_is_red_with_feedback_type(notifier):
    payload = render(notifier, "ses_complaint")
    assert payload["attachments"][0]["color"] == RED
    f = fields(payload)
    assert f["Type"] == "abuse" and f["Recipients"] == "nobody@example.net"
    assert payload["text"].startswith("SES complaint: nobody@example.net")
