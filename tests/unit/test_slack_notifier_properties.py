"""The Slack notifier never loses a message for its shape: any SNS payload yields a message
Slack accepts (tests/doubles/block_kit.py, the checker the Slack double answers with).

Property-based (Hypothesis): arbitrary SNS objects, and every real-shaped sample with one of
its fields replaced by an arbitrary JSON value. Derandomized, so CI runs the same examples on
every machine; PROTEA_HYPOTHESIS_EXAMPLES raises the count for a deeper local search.
"""
from __future__ import annotations

import json
import logging
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.doubles import block_kit
from tests.unit.test_slack_notifier import EVENTS, blocks, event, fields, load_notifier

NOTIFIER = load_notifier()
SETTINGS = settings(max_examples=int(os.environ.get("PROTEA_HYPOTHESIS_EXAMPLES", "150")), deadline=None,
                    database=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=300)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                           | st.dictionaries(st.text(max_size=20), inner, max_size=5), max_leaves=15)
SNS_KEYS = ["Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "MessageAttributes"]
SAMPLES = {p.stem: event(p.stem)["Records"][0]["Sns"] for p in sorted(EVENTS.glob("*.json"))}


def _accepted(payload) -> None:
    assert block_kit.problems(payload) == [], json.dumps(payload)[:2000]
    json.dumps(payload)  # serialisable as the webhook body


@SETTINGS
@given(sns=st.dictionaries(st.sampled_from(SNS_KEYS) | st.text(max_size=10), json_values, max_size=8),
       message=json_values, as_json=st.booleans())
def test_any_sns_object_yields_a_message_slack_accepts(sns, message, as_json):
    sns = dict(sns, Message=json.dumps(message) if as_json else message)
    _accepted(NOTIFIER.format_record(sns))


@SETTINGS
@given(record=json_values)
def test_an_sns_field_that_is_not_an_object_still_yields_a_message(record):
    _accepted(NOTIFIER.format_record(record))


def _paths(value, prefix=()):
    """Every key path of a JSON object (objects only), for replacing one field."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield prefix + (key,)
            yield from _paths(inner, prefix + (key,))


def _replace(value, path, new):
    if not path:
        return new
    copy = dict(value)
    copy[path[0]] = _replace(copy[path[0]], path[1:], new)
    return copy


@st.composite
def retyped_samples(draw):
    """A real sample with one field of its message (or of the SNS object) replaced by any JSON value."""
    name = draw(st.sampled_from(sorted(SAMPLES)))
    sns = dict(SAMPLES[name])
    try:
        message = json.loads(sns["Message"])
    except ValueError:
        message = None
    if isinstance(message, dict) and draw(st.booleans()):
        path = draw(st.sampled_from(list(_paths(message))))
        sns["Message"] = json.dumps(_replace(message, path, draw(json_values)))
    else:
        sns[draw(st.sampled_from(SNS_KEYS))] = draw(json_values)
    return name, sns


@SETTINGS
@given(case=retyped_samples())
def test_known_shapes_with_any_field_retyped_yield_a_message_slack_accepts(case):
    _name, sns = case
    _accepted(NOTIFIER.format_record(sns))


# --- the cases the review found, pinned -----------------------------------------------------
def _message_of(name: str) -> dict:
    return json.loads(SAMPLES[name]["Message"])


def test_rds_event_without_a_message_is_still_an_rds_message():
    sns = dict(SAMPLES["rds_failover"], Message=json.dumps(dict(_message_of("rds_failover"), **{"Event Message": None})))
    payload = NOTIFIER.format_record(sns)
    _accepted(payload)
    assert fields(payload)["Source"] == "db-instance `shopper-production-db`"


def test_alarm_with_a_trigger_that_is_not_an_object_is_still_an_alarm_message():
    sns = dict(SAMPLES["alarm_alb_5xx"], Message=json.dumps(dict(_message_of("alarm_alb_5xx"), Trigger="gone")))
    payload = NOTIFIER.format_record(sns)
    _accepted(payload)
    assert payload["text"].startswith("ALARM: ") and fields(payload)["Threshold"] == "? ? for ? period(s)"


def test_message_that_is_not_a_string_is_shown_as_json():
    payload = NOTIFIER.format_record({"Subject": "Odd", "Message": {"n": 1}, "TopicArn": "arn:aws:sns:af-south-1:1:t"})
    _accepted(payload)
    assert blocks(payload)[1]["text"]["text"] == '```{\n  "n": 1\n}```'


def test_a_formatter_that_fails_falls_back_to_the_readable_message(monkeypatch, caplog):
    """A formatter bug (here: forced) must not lose the message: the generic message says why."""
    notifier = load_notifier()

    def broken(_alarm):
        raise KeyError("Trigger")

    monkeypatch.setattr(notifier, "format_alarm", broken)
    caplog.set_level(logging.WARNING)
    sns = SAMPLES["alarm_alb_5xx"]
    payload = notifier.format_record(sns)
    _accepted(payload)
    assert payload["text"].startswith(f"{sns['Subject']}: ")
    assert json.loads(sns["Message"])["AlarmName"] in json.dumps(blocks(payload))
    assert "shown unformatted" in json.dumps(blocks(payload))
    assert "unexpected shape in SNS message" in caplog.text


@pytest.mark.parametrize("bad", [
    {"text": ""},
    {"text": "x", "attachments": [{"color": "#d13212", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": " "}}]}]},
    {"text": "x", "attachments": [{"blocks": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "a"}] * 11}]}]},
    {"text": "x", "attachments": [{"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]}]},
    {"text": "x", "attachments": [{"blocks": [{"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": "b"}, "url": "ftp://x"}]}]}]},
])
def test_the_checker_refuses_what_slack_refuses(bad):
    assert block_kit.problems(bad)
