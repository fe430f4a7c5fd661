"""The Slack notifier handler end to end: webhook URL from SSM, posted to the Slack double.

The Slack double (tests/doubles/slack_double.py) is a real HTTP server speaking the webhook
protocol, including 429 (Retry-After) and 5xx answers. SSM is moto's in-process mock.
"""
from __future__ import annotations

import json
import logging

import boto3
import pytest
from moto import mock_aws

from tests.doubles.slack_double import SlackDouble
from tests.unit.test_slack_notifier import event, load_notifier

PARAM = "/shopper/local/slack/webhook-url"


@pytest.fixture
def slack():
    with SlackDouble() as double:
        yield double


@pytest.fixture
def lambda_env(monkeypatch, slack):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "af-south-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("SLACK_WEBHOOK_PARAMETER", PARAM)
    monkeypatch.setenv("SLACK_BACKOFF_SECONDS", "0.01")
    monkeypatch.setenv("SLACK_MAX_ATTEMPTS", "3")
    with mock_aws():
        boto3.client("ssm", region_name="af-south-1").put_parameter(
            Name=PARAM, Value=slack.webhook_url, Type="SecureString")
        yield load_notifier()


def test_alarm_reaches_slack_and_url_is_read_once_per_container_and_never_logged(lambda_env, slack, caplog):
    caplog.set_level(logging.INFO)  # the function runs at INFO (LOG_LEVEL); botocore DEBUG would echo API bodies
    result = lambda_env.handler(event("alarm_alb_5xx"), None)
    assert result == {"delivered": ["0f1e2d3c-0000-4000-8000-000000000001"]}
    [message] = slack.wait_for(1)
    assert message == lambda_env.format_record(event("alarm_alb_5xx")["Records"][0]["Sns"])
    assert slack.requests[0]["content_type"].startswith("application/json")
    # Once per container: with the parameter gone, the warm container still delivers.
    boto3.client("ssm", region_name="af-south-1").delete_parameter(Name=PARAM)
    lambda_env.handler(event("rds_failover"), None)
    assert len(slack.wait_for(2)) == 2
    assert slack.path not in caplog.text and slack.webhook_url not in caplog.text


def test_cold_container_reads_the_secure_string(lambda_env, slack):
    boto3.client("ssm", region_name="af-south-1").put_parameter(
        Name=PARAM, Value=slack.base_url + "/services/T0/B0/revoked", Type="SecureString", Overwrite=True)
    with pytest.raises(lambda_env.SlackDeliveryError, match="404 no_service"):
        lambda_env.handler(event("unknown"), None)
    assert [r["status"] for r in slack.requests] == [404]  # 4xx is not retried


def test_429_is_retried_after_retry_after(lambda_env, slack):
    slack.fail_next(429, count=1, retry_after=0)
    lambda_env.handler(event("backup_completed"), None)
    assert [r["status"] for r in slack.requests] == [429, 200]
    assert len(slack.messages) == 1


def test_5xx_is_retried_with_backoff(lambda_env, slack, caplog):
    caplog.set_level(logging.WARNING)
    slack.fail_next(500, count=2)
    lambda_env.handler(event("asg_launch_error"), None)
    assert [r["status"] for r in slack.requests] == [500, 500, 200]
    assert "attempt 2/3 failed (HTTP 500 rollup_error)" in caplog.text


def test_final_failure_raises_so_lambda_keeps_the_message(lambda_env, slack):
    slack.fail_next(503, count=3)
    with pytest.raises(lambda_env.SlackDeliveryError, match="after 3 attempts: HTTP 503"):
        lambda_env.handler(event("backup_failed"), None)
    assert [r["status"] for r in slack.requests] == [503, 503, 503]
    assert slack.messages == []


def test_not_an_sns_event_is_an_error(lambda_env, slack):
    with pytest.raises(ValueError, match="not an SNS event"):
        lambda_env.handler({"detail-type": "Scheduled Event"}, None)
    assert slack.requests == []


def test_slack_double_rejects_what_slack_rejects(slack):
    import urllib.error
    import urllib.request

    def post(body: bytes):
        req = urllib.request.Request(slack.webhook_url, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    assert post(b"not json") == (400, "invalid_payload")
    assert post(json.dumps({"channel": "#x"}).encode()) == (400, "no_text")
    assert post(json.dumps({"text": "hi"}).encode()) == (200, "ok")
    assert slack.messages == [{"text": "hi"}]


def test_slack_double_rotates_webhooks_as_slack_does(slack):
    import urllib.error
    import urllib.request

    def post(url: str):
        req = urllib.request.Request(url, data=b'{"text": "hi"}', headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    old, new = slack.webhook_url, slack.new_webhook()
    assert new != old and post(new) == (200, "ok") and post(old) == (200, "ok"), "both work until one is revoked"
    slack.revoke(old)
    assert post(old) == (404, "no_service") and post(new) == (200, "ok")
    assert slack.message_paths == [new.removeprefix(slack.base_url), old.removeprefix(slack.base_url),
                                   new.removeprefix(slack.base_url)]


class _FakeClock:
    """time.monotonic/time.sleep for the notifier module alone: sleeping advances the clock."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_worst_case_retries_end_inside_the_function_timeout(lambda_env, slack, monkeypatch):
    """Slack rate-limits every attempt with Retry-After 20 and each attempt takes its whole HTTP
    timeout (simulated clock, real HTTP to the double): the function must give up with its own
    error before Lambda's 60 s timeout, so the error reaches Lambda's retries and the dead-letter
    queue (a timed-out invocation carries no message). Role defaults: 4 attempts, backoff 1 s."""
    import types
    import urllib

    monkeypatch.setenv("SLACK_MAX_ATTEMPTS", "4")
    monkeypatch.setenv("SLACK_BACKOFF_SECONDS", "1")
    clock, timeouts = _FakeClock(), []
    real_urlopen = urllib.request.urlopen

    def slow_urlopen(request, timeout=None):
        timeouts.append(timeout)
        clock.now += timeout  # worst case: the attempt used its whole timeout
        return real_urlopen(request, timeout=5)

    monkeypatch.setattr(lambda_env, "time", clock)
    monkeypatch.setattr(lambda_env, "urllib", types.SimpleNamespace(
        request=types.SimpleNamespace(Request=urllib.request.Request, urlopen=slow_urlopen),
        error=urllib.error, parse=urllib.parse))

    class Context:  # what Lambda passes: the time left of the function's 60 s
        started = clock.now

        def get_remaining_time_in_millis(self):
            return int((60 - (clock.now - self.started)) * 1000)

    slack.fail_next(429, count=10, retry_after=20)
    with pytest.raises(lambda_env.SlackDeliveryError, match="before the function's timeout"):
        lambda_env.handler(event("backup_failed"), Context())
    elapsed = clock.now - Context.started
    assert len(timeouts) >= 2, "it retried at least once"
    assert elapsed <= 60 - 1, f"the worst case took {elapsed:.0f} s of a 60 s function ({timeouts})"
