"""Protea Slack notifier: SNS -> this Lambda function -> Slack incoming webhook.

Runtime: AWS Lambda Python 3.12 (standard library + the boto3 the runtime ships).

* The webhook URL is a secret: it is read from the SSM SecureString named by the
  SLACK_WEBHOOK_PARAMETER environment variable (in SLACK_WEBHOOK_PARAMETER_REGION, default
  the function's region), once per container (module cache), and never logged. Only the parameter's *name* is in the function's configuration.
* Messages are rendered with Slack Block Kit inside a coloured attachment (the colour
  bar is the only way Slack colours a message) plus a plain ``text`` fallback that
  notifications and screen readers use.
* Known sources: CloudWatch alarm state changes, AWS Backup job notifications,
  RDS event notifications, Auto Scaling notifications (and the EventBridge shapes of
  Backup/RDS/Auto Scaling events), SES bounce/complaint events (configuration set event
  publishing and identity notifications); anything else, and a known source whose fields
  have unexpected types, gets a readable generic message: no payload is dropped for its shape.
* 429 and 5xx answers are retried with backoff (429 honours Retry-After) while the
  function's remaining time allows another attempt; then the function raises, before Lambda's
  timeout, so Lambda's asynchronous retry and the function's dead-letter queue keep the message
  instead of dropping it.
"""
from __future__ import annotations

import json
import logging
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request

LOG = logging.getLogger()
LOG.setLevel(os.environ.get("LOG_LEVEL", "INFO"))

COLOURS = {
    "ALARM": "#d13212",  # red
    "OK": "#1d8102",  # green
    "INSUFFICIENT_DATA": "#879596",  # grey
    "FAILED": "#d13212",
    "ABORTED": "#d13212",
    "EXPIRED": "#ff9900",
    "COMPLETED": "#1d8102",
    "SUCCESSFUL": "#1d8102",
    "WARNING": "#ff9900",
    "INFO": "#0073bb",
}
STATE_EMOJI = {"ALARM": ":red_circle:", "OK": ":large_green_circle:", "INSUFFICIENT_DATA": ":white_circle:"}
COMPARISON = {
    "GreaterThanOrEqualToThreshold": ">=",
    "GreaterThanThreshold": ">",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
    "LessThanLowerOrGreaterThanUpperThreshold": "outside band",
    "LessThanLowerThreshold": "< lower band",
    "GreaterThanUpperThreshold": "> upper band",
}
# RDS event categories worth a red bar; others are informational.
RDS_BAD_WORDS = ("fail", "error", "low storage", "shut down", "stopped", "insufficient", "could not")
TEXT_LIMIT = 2900  # Block Kit section text limit is 3000 characters
FIELD_LIMIT = 1900  # ... and 2000 per field
URL_LIMIT = 3000  # a button's url
REQUEST_TIMEOUT = 10.0  # seconds per HTTP attempt
# Kept back from the function's remaining time to log the failure and return before Lambda's
# timeout (a timed-out invocation loses the error message the dead-letter queue would carry).
DEADLINE_MARGIN = 2.0
MIN_ATTEMPT = 1.0  # an attempt with less time than this is not started

_webhook_url_cache: str | None = None


class SlackDeliveryError(RuntimeError):
    """Slack did not accept the message after every attempt."""


# --------------------------------------------------------------------------- secrets
def _webhook_url() -> str:
    """The webhook URL from SSM (SecureString, decrypted), fetched once per container."""
    global _webhook_url_cache
    if _webhook_url_cache is None:
        import boto3  # imported lazily: the formatters need no AWS SDK

        name = os.environ["SLACK_WEBHOOK_PARAMETER"]
        # The copy of this function in us-east-1 (CloudFront alarms) reads the one parameter
        # kept in the platform's region.
        region = os.environ.get("SLACK_WEBHOOK_PARAMETER_REGION") or None
        answer = boto3.client("ssm", region_name=region).get_parameter(Name=name, WithDecryption=True)
        _webhook_url_cache = answer["Parameter"]["Value"]
    return _webhook_url_cache


# --------------------------------------------------------------------------- helpers
def _str(value) -> str:
    """Any JSON value as readable text (None is empty; lists and objects as JSON)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError, RecursionError):
        return repr(value)


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _clip(text, limit: int = TEXT_LIMIT) -> str:
    text = _str(text)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _field(label: str, value) -> dict:
    return {"type": "mrkdwn", "text": _clip(f"*{label}*\n{value}", FIELD_LIMIT)}


def _region_from_arn(arn) -> str | None:
    parts = _str(arn).split(":")
    return parts[3] if len(parts) > 4 and re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", parts[3]) else None


def _message(payload_text: str, colour: str, title: str, fields: list[dict], body: str | None = None,
             context: str | None = None, link: tuple[str, str] | None = None) -> dict:
    # Slack refuses empty text objects: every text here is either non-blank or left out.
    title = _str(title).strip() or "Notification"
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": _clip(title, 150), "emoji": True}}]
    if _str(body).strip():
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(body)}})
    if fields:
        blocks.append({"type": "section", "fields": fields[:10]})
    if _str(context).strip():
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(context)}]})
    if link and link[1].startswith("https://") and len(link[1]) <= URL_LIMIT:
        blocks.append({
            "type": "actions",
            "elements": [{"type": "button", "text": {"type": "plain_text", "text": link[0][:75]}, "url": link[1]}],
        })
    return {"text": _clip(_str(payload_text).strip() or title), "attachments": [{"color": colour, "blocks": blocks}]}


# --------------------------------------------------------------------------- CloudWatch alarms
def _alarm_metric(trigger: dict) -> str:
    if trigger.get("MetricName"):
        dims = ", ".join(f"{d.get('name')}={d.get('value')}" for d in trigger.get("Dimensions") or [])
        stat = trigger.get("Statistic") or trigger.get("ExtendedStatistic") or ""
        metric = f"{trigger.get('Namespace', '')}/{trigger['MetricName']}"
        return f"`{metric}` {stat.lower()} over {trigger.get('Period', '?')} s" + (f"\n{dims}" if dims else "")
    # Metric math alarm: show the expression that is compared with the threshold.
    for m in trigger.get("Metrics") or []:
        if m.get("ReturnData", False) and m.get("Expression"):
            return f"`{m['Expression']}` ({m.get('Label') or m.get('Id')})"
    return "metric math"


def format_alarm(alarm: dict) -> dict:
    state = alarm.get("NewStateValue", "INSUFFICIENT_DATA")
    name = alarm.get("AlarmName", "unnamed alarm")
    trigger = _dict(alarm.get("Trigger"))
    region = _region_from_arn(alarm.get("AlarmArn")) or alarm.get("Region", "")
    op = COMPARISON.get(trigger.get("ComparisonOperator", ""), trigger.get("ComparisonOperator", "?"))
    threshold = f"{op} {trigger.get('Threshold', '?')} for {trigger.get('EvaluationPeriods', '?')} period(s)"
    link = None
    if region:
        link = ("Open in CloudWatch", f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
                f"#alarmsV2:alarm/{urllib.parse.quote(name, safe='')}")
    fields = [
        _field("State", f"{STATE_EMOJI.get(state, '')} {state} (was {alarm.get('OldStateValue', '?')})".strip()),
        _field("Region", region or alarm.get("Region", "?")),
        _field("Metric", _alarm_metric(trigger)),
        _field("Threshold", threshold),
    ]
    body = f"*Reason:* {alarm.get('NewStateReason', '')}"
    if alarm.get("AlarmDescription"):
        body = f"{alarm['AlarmDescription']}\n{body}"
    return _message(
        f"{state}: {name}", COLOURS.get(state, COLOURS["INFO"]), f"{state}: {name}", fields, body,
        context=f"Account {alarm.get('AWSAccountId', '?')} \u2022 {alarm.get('StateChangeTime', '')}", link=link,
    )


# --------------------------------------------------------------------------- AWS Backup
_BACKUP_PATTERNS = {
    "recovery_point": re.compile(r"Recovery point ARN\s*:\s*(\S+)", re.I),
    "resource": re.compile(r"Resource ARN\s*:\s*(\S+)", re.I),
    "job_id": re.compile(r"(?:Backup|Restore|Copy)\s*Job ID\s*:\s*(\S+)", re.I),
}


def format_backup(text: str, attributes: dict) -> dict:
    def attr(key):
        return (attributes.get(key) or {}).get("Value")

    found = {}
    for key, pattern in _BACKUP_PATTERNS.items():
        m = pattern.search(text)
        found[key] = m.group(1).rstrip(".,") if m else None
    event_type = attr("EventType") or "BACKUP_JOB"
    state = (attr("State") or ("FAILED" if "fail" in text.lower() else "COMPLETED")).upper()
    kind = event_type.replace("_", " ").title().replace("Job", "job")
    title = f"AWS Backup: {kind} {state}"
    fields = [_field("State", state), _field("Resource", found["resource"] or "?")]
    if found["recovery_point"]:
        fields.append(_field("Recovery point", found["recovery_point"]))
    fields.append(_field("Job ID", found["job_id"] or attr("Id") or "?"))
    colour = COLOURS.get(state, COLOURS["INFO"])
    return _message(title, colour, title, fields, body=text, context=f"Account {attr('AccountId') or '?'}")


def format_backup_eventbridge(event: dict) -> dict:
    detail = event.get("detail") or {}
    state = str(detail.get("state") or detail.get("status") or "UNKNOWN").upper()
    title = f"AWS Backup: {event.get('detail-type', 'event')} ({state})"
    fields = [
        _field("State", state),
        _field("Resource", detail.get("resourceArn") or ", ".join(event.get("resources") or []) or "?"),
    ]
    if detail.get("recoveryPointArn") or detail.get("createdResourceArn"):
        fields.append(_field("Recovery point", detail.get("recoveryPointArn") or detail.get("createdResourceArn")))
    job = detail.get("backupJobId") or detail.get("restoreJobId") or detail.get("copyJobId")
    if job:
        fields.append(_field("Job ID", job))
    body = detail.get("statusMessage") or None
    return _message(title, COLOURS.get(state, COLOURS["INFO"]), title, fields, body,
                    context=f"{event.get('region', '')} \u2022 {event.get('time', '')}")


# --------------------------------------------------------------------------- RDS events
def format_rds(event: dict) -> dict:
    message = _str(event.get("Event Message"))
    source = _str(event.get("Source ID")) or "?"
    event_id = str(event.get("Event ID", "")).rsplit("#", 1)[-1]
    bad = any(word in message.lower() for word in RDS_BAD_WORDS)
    title = f"RDS {event.get('Event Source', 'event')} {source}: {message}"
    fields = [_field("Source", f"{event.get('Event Source', '?')} `{source}`"), _field("Event", event_id or "?"),
              _field("Time", event.get("Event Time", "?"))]
    link = ("Open in RDS console", event["Identifier Link"]) if str(event.get("Identifier Link", "")).startswith("https://") else None
    return _message(title, COLOURS["ALARM"] if bad else COLOURS["WARNING"], _clip(f"RDS: {message}", 150), fields,
                    context=event.get("Source ARN"), link=link)


def format_rds_eventbridge(event: dict) -> dict:
    detail = event.get("detail") or {}
    return format_rds({
        "Event Source": detail.get("SourceType", "db-instance").lower().replace("_", "-"),
        "Source ID": detail.get("SourceIdentifier", "?"),
        "Event ID": detail.get("EventID", ""),
        "Event Message": detail.get("Message", ""),
        "Event Time": detail.get("Date") or event.get("time", ""),
        "Source ARN": detail.get("SourceArn"),
    })


# --------------------------------------------------------------------------- Auto Scaling
def format_asg(event: dict) -> dict:
    kind = str(event.get("Event", "")).split(":", 1)[-1]
    failed = kind.endswith("_ERROR")
    group = event.get("AutoScalingGroupName", "?")
    title = f"Auto Scaling {kind.replace('_', ' ').lower()}: {group}"
    details = event.get("Details") or {}
    fields = [
        _field("Group", group),
        _field("Instance", event.get("EC2InstanceId") or "-"),
        _field("Status", event.get("StatusCode", "?")),
        _field("Availability Zone", details.get("Availability Zone", "?")),
    ]
    body = "\n".join(x for x in (event.get("Description"), event.get("Cause"), event.get("StatusMessage")) if x)
    return _message(title, COLOURS["ALARM"] if failed else COLOURS["INFO"], title, fields, body or None,
                    context=f"{event.get('Time', '')} \u2022 activity {event.get('ActivityId', '?')}")


def format_asg_eventbridge(event: dict) -> dict:
    detail = dict(event.get("detail") or {})
    kind = event.get("detail-type", "")
    failed = "Unsuccessful" in kind
    return format_asg({
        "Event": "autoscaling:" + ("EC2_INSTANCE_LAUNCH_ERROR" if failed and "Launch" in kind
                                   else "EC2_INSTANCE_TERMINATE_ERROR" if failed
                                   else kind.upper().replace(" ", "_")),
        "AutoScalingGroupName": detail.get("AutoScalingGroupName"),
        "EC2InstanceId": detail.get("EC2InstanceId"),
        "StatusCode": detail.get("StatusCode"),
        "StatusMessage": detail.get("StatusMessage"),
        "Description": detail.get("Description"),
        "Cause": detail.get("Cause"),
        "Details": detail.get("Details"),
        "Time": event.get("time"),
        "ActivityId": detail.get("ActivityId"),
    })


# --------------------------------------------------------------------------- SES
def format_ses(event: dict) -> dict:
    """A bounce or complaint: configuration-set event publishing ("eventType") or identity
    notifications ("notificationType"); both carry the same bounce/complaint and mail objects."""
    kind = str(event.get("eventType") or event.get("notificationType") or "Event")
    mail = event.get("mail") or {}
    detail = event.get(kind.lower()) or {}
    if kind == "Bounce":
        people = detail.get("bouncedRecipients") or []
        permanent = detail.get("bounceType") == "Permanent"
        what = f"{detail.get('bounceType', '?')} / {detail.get('bounceSubType', '?')}"
        colour = COLOURS["ALARM"] if permanent else COLOURS["WARNING"]
        body = "\n".join(f"{p.get('emailAddress', '?')}: {p.get('diagnosticCode') or p.get('status') or ''}".rstrip(": ")
                         for p in people)
    else:
        people = detail.get("complainedRecipients") or []
        what = detail.get("complaintFeedbackType") or "complaint"
        colour = COLOURS["ALARM"]
        body = "\n".join(p.get("emailAddress", "?") for p in people)
    recipients = ", ".join(p.get("emailAddress", "?") for p in people) or "?"
    subject = (mail.get("commonHeaders") or {}).get("subject")
    config_set = ", ".join((mail.get("tags") or {}).get("ses:configuration-set") or []) or None
    title = f"SES {kind.lower()}: {recipients}"
    fields = [_field("Type", what), _field("Recipients", recipients), _field("Sender", mail.get("source") or "?"),
              _field("Subject", subject or "-")]
    if config_set:
        fields.append(_field("Configuration set", config_set))
    return _message(_clip(title, 500), colour, _clip(title, 150), fields, body or None,
                    context=f"Message {mail.get('messageId', '?')} \u2022 {detail.get('timestamp') or mail.get('timestamp', '')}")


# --------------------------------------------------------------------------- fallback
def format_other(subject, message, topic_arn, note: str | None = None) -> dict:
    """Any message, readable: JSON pretty-printed, anything else as text."""
    message = _str(message)
    try:
        body = "```" + json.dumps(json.loads(message), indent=2, sort_keys=True) + "```"
    except (TypeError, ValueError, RecursionError):
        body = message
    title = _str(subject).strip() or "Notification"
    topic = _str(topic_arn).rsplit(":", 1)[-1] or "?"
    context = f"SNS topic {topic}" + (f" \u2022 {note}" if note else "")
    return _message(f"{title}: {message}", COLOURS["INFO"], title, [], _clip(body.strip() or "(empty message)"),
                    context=context)


def format_record(sns) -> dict:
    """The Slack payload for one SNS notification (the ``Sns`` object of a Lambda record).

    A known source whose fields have unexpected types or shapes is not lost: it is shown as
    the generic message, with a note, and the formatter's error is logged."""
    sns = sns if isinstance(sns, dict) else {"Message": sns}
    try:
        return _format_known(sns)
    except Exception:  # noqa: BLE001 (any formatter bug must still deliver the message)
        LOG.warning("unexpected shape in SNS message %s; sent as a generic message",
                    _str(sns.get("MessageId")), exc_info=True)
        return format_other(sns.get("Subject"), sns.get("Message"), sns.get("TopicArn"),
                            note="shown unformatted: its fields were not in the expected shape")


def _format_known(sns: dict) -> dict:
    message = _str(sns.get("Message"))
    attributes = _dict(sns.get("MessageAttributes"))
    try:
        data = json.loads(message)
    except (TypeError, ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        if "AlarmName" in data and "NewStateValue" in data:
            return format_alarm(data)
        if "Event Message" in data and "Source ID" in data:
            return format_rds(data)
        if str(data.get("Event", "")).startswith("autoscaling:"):
            return format_asg(data)
        if (data.get("eventType") or data.get("notificationType")) in ("Bounce", "Complaint") and "mail" in data:
            return format_ses(data)
        source = data.get("source")
        if source == "aws.backup":
            return format_backup_eventbridge(data)
        if source == "aws.rds":
            return format_rds_eventbridge(data)
        if source == "aws.autoscaling":
            return format_asg_eventbridge(data)
    elif "EventType" in attributes or "AWS Backup" in _str(sns.get("Subject")) or message.startswith("An AWS Backup"):
        return format_backup(message, attributes)
    return format_other(sns.get("Subject"), message, sns.get("TopicArn"))


# --------------------------------------------------------------------------- delivery
def post(url: str, payload: dict, deadline: float | None = None) -> None:
    """POST to the webhook; retry 429 (honouring Retry-After) and 5xx with backoff, then raise.

    ``deadline`` (time.monotonic()) bounds every attempt's timeout and every wait: a retry that
    could not finish before it is not started, so the function raises before Lambda's timeout."""
    attempts = int(os.environ.get("SLACK_MAX_ATTEMPTS", "4"))
    base = float(os.environ.get("SLACK_BACKOFF_SECONDS", "1"))
    max_wait = float(os.environ.get("SLACK_MAX_RETRY_AFTER", "20"))
    data = json.dumps(payload).encode()
    last = "no attempt"
    for attempt in range(1, attempts + 1):
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left < MIN_ATTEMPT:
            raise SlackDeliveryError(f"Slack did not accept the message before the function's timeout "
                                     f"({attempt - 1} attempts): {last}")
        request = urllib.request.Request(url, data=data, method="POST",
                                         headers={"Content-Type": "application/json; charset=utf-8"})
        wait = base * 2 ** (attempt - 1)
        timeout = REQUEST_TIMEOUT if left is None else min(REQUEST_TIMEOUT, left)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 (https webhook)
                answer.read()
                return
        except urllib.error.HTTPError as err:
            reason = err.read().decode(errors="replace")[:200]
            last = f"HTTP {err.code} {reason}"
            if err.code == 429:
                try:
                    wait = min(float(err.headers.get("Retry-After") or wait), max_wait)
                except ValueError:  # an HTTP-date Retry-After: the backoff instead
                    pass
            elif err.code < 500:
                # 4xx other than 429 (bad payload, revoked webhook) will not heal by retrying.
                raise SlackDeliveryError(f"Slack rejected the message: {last}") from err
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            # The URL is in the exception text only as the host; keep it out of the logs anyway.
            last = f"connection error: {type(err).__name__}"
        if attempt < attempts:
            if deadline is not None and time.monotonic() + wait + MIN_ATTEMPT > deadline:
                raise SlackDeliveryError(f"Slack did not accept the message before the function's timeout "
                                         f"({attempt} attempts, next wait {wait:.0f} s): {last}")
            LOG.warning("Slack attempt %d/%d failed (%s); retrying in %.2f s", attempt, attempts, last, wait)
            time.sleep(wait)
    raise SlackDeliveryError(f"Slack did not accept the message after {attempts} attempts: {last}")


def _deadline(context) -> float | None:
    """When this invocation must stop trying (time.monotonic()), from Lambda's remaining time."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return time.monotonic() + remaining() / 1000 - DEADLINE_MARGIN


def handler(event, context):
    deadline = _deadline(context)
    records = _dict(event).get("Records")
    records = [r for r in records if isinstance(r, dict) and "Sns" in r] if isinstance(records, list) else []
    if not records:
        raise ValueError("not an SNS event: no Records[].Sns")
    url = _webhook_url()
    delivered = []
    for record in records:
        sns = record["Sns"] if isinstance(record["Sns"], dict) else {"Message": record["Sns"]}
        payload = format_record(sns)
        post(url, payload, deadline)
        LOG.info("delivered SNS message %s from %s", _str(sns.get("MessageId")), _str(sns.get("TopicArn")))
        delivered.append(sns.get("MessageId"))
    return {"delivered": delivered}
