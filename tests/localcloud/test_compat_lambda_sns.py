"""Lambda/SNS compat patches: a dead-letter config that sticks, and SNS -> Lambda deliveries
that run the function's zip (AWS behaviour), against moto as shipped (Docker only, no DLQ)."""
from __future__ import annotations

import io
import json
import time
import zipfile

import pytest

pytestmark = pytest.mark.emulator

DLC = "lambda-dead-letter-config"
DELIVERY = "lambda-sns-delivery"

# A function that records the event it got, through its own boto3 (so it must reach the
# emulator through AWS_ENDPOINT_URL), or fails when the message says so.
RECORDER = '''
import json, os, boto3
def handler(event, context):
    sns = event["Records"][0]["Sns"]
    if sns["Message"] == "fail":
        raise RuntimeError("asked to fail")
    print("handling", sns["MessageId"], context.aws_request_id)
    boto3.client("ssm").put_parameter(Name="/compat/" + sns["MessageId"], Value=json.dumps(event), Type="String")
    return {"ok": True, "region": os.environ["AWS_REGION"], "mine": os.environ["MY_SETTING"]}
'''


def _zip(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("recorder.py", source)
    return buf.getvalue()


def _function(emu, name="recorder", dlq_arn=None):
    role = emu.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    extra = {"DeadLetterConfig": {"TargetArn": dlq_arn}} if dlq_arn else {}
    return emu.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="recorder.handler", Timeout=30,
        Code={"ZipFile": _zip(RECORDER)}, Environment={"Variables": {"MY_SETTING": "x1"}}, **extra)


def _wait(fetch, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = fetch()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError("nothing arrived before the deadline")


def _log_messages(emu, name):
    logs = emu.client("logs")
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}").get("events", [])
    except logs.exceptions.ResourceNotFoundException:  # the first invocation has not logged yet
        return []
    return [e["message"] for e in events]


def test_dead_letter_config_is_stored_and_updated(clean_emulator):
    sqs = clean_emulator.client("sqs")
    q1 = sqs.get_queue_attributes(QueueUrl=sqs.create_queue(QueueName="dlq1")["QueueUrl"],
                                  AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    fn = _function(clean_emulator, dlq_arn=q1)
    lam = clean_emulator.client("lambda")
    assert fn["DeadLetterConfig"] == {"TargetArn": q1}
    assert lam.get_function(FunctionName="recorder")["Configuration"]["DeadLetterConfig"] == {"TargetArn": q1}
    q2 = q1.replace("dlq1", "dlq2")
    lam.update_function_configuration(FunctionName="recorder", DeadLetterConfig={"TargetArn": q2})
    assert lam.get_function_configuration(FunctionName="recorder")["DeadLetterConfig"] == {"TargetArn": q2}


def test_dead_letter_config_without_patch_is_moto_stock(emulator_factory):
    emu = emulator_factory(disable=[DLC, DELIVERY])
    fn = _function(emu, dlq_arn="arn:aws:sqs:af-south-1:123456789012:dlq1")
    assert "DeadLetterConfig" not in fn
    assert "DeadLetterConfig" not in emu.client("lambda").get_function(FunctionName="recorder")["Configuration"]


def test_sns_delivery_runs_the_zip_with_the_real_event(clean_emulator):
    emu = clean_emulator
    fn = _function(emu)
    sns = emu.client("sns")
    topic = sns.create_topic(Name="ops")["TopicArn"]
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn["FunctionArn"])["SubscriptionArn"]
    msg_id = sns.publish(TopicArn=topic, Message="hello", Subject="greeting",
                         MessageAttributes={"Kind": {"DataType": "String", "StringValue": "test"}})["MessageId"]
    ssm = emu.client("ssm")

    def recorded():
        found = ssm.get_parameters(Names=[f"/compat/{msg_id}"])["Parameters"]
        return json.loads(found[0]["Value"]) if found else None

    record = _wait(recorded)["Records"][0]
    assert record["EventSource"] == "aws:sns" and record["EventSubscriptionArn"] == sub
    assert record["Sns"]["TopicArn"] == topic and record["Sns"]["MessageId"] == msg_id
    assert record["Sns"]["Subject"] == "greeting" and record["Sns"]["Message"] == "hello"
    assert record["Sns"]["MessageAttributes"] == {"Kind": {"Type": "String", "Value": "test"}}
    lines = _wait(lambda: [m for m in _log_messages(emu, "recorder") if m.startswith("REPORT")] and _log_messages(emu, "recorder"))
    assert any(m.startswith("START RequestId:") for m in lines)
    assert any(m.startswith(f"handling {msg_id}") for m in lines)


def test_sns_delivery_failure_is_retried_then_dead_lettered(clean_emulator):
    emu = clean_emulator
    sqs = emu.client("sqs")
    url = sqs.create_queue(QueueName="recorder-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    fn = _function(emu, dlq_arn=arn)
    sns = emu.client("sns")
    topic = sns.create_topic(Name="ops")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn["FunctionArn"])
    msg_id = sns.publish(TopicArn=topic, Message="fail")["MessageId"]
    [dead] = _wait(lambda: sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=1).get("Messages"))
    assert json.loads(dead["Body"])["Records"][0]["Sns"]["MessageId"] == msg_id
    assert dead["MessageAttributes"]["ErrorMessage"]["StringValue"] == "asked to fail"
    # AWS: the first attempt and two retries.
    assert sum(m.startswith("START RequestId:") for m in _log_messages(emu, "recorder")) == 3


def test_sns_delivery_without_patch_is_moto_stock(emulator_factory):
    emu = emulator_factory(disable=[DLC, DELIVERY])
    fn = _function(emu)
    sns = emu.client("sns")
    topic = sns.create_topic(Name="ops")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn["FunctionArn"])
    msg_id = sns.publish(TopicArn=topic, Message="hello")["MessageId"]
    # Stock moto invokes synchronously through Docker, which is not there: only its error is logged.
    assert any("error running docker" in m for m in _log_messages(emu, "recorder"))
    assert emu.client("ssm").get_parameters(Names=[f"/compat/{msg_id}"])["Parameters"] == []
