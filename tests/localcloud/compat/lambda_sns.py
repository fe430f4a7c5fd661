"""Lambda: dead-letter config, and SNS -> Lambda deliveries that really run the function.

moto runs Lambda functions only in Docker, which this machine does not have, so an SNS
message to a ``lambda`` subscription goes nowhere. The ``lambda-sns-delivery`` patch runs
the deployed function's own zip (as uploaded, taken from moto's Lambda backend) in a
``python3`` subprocess, the way Lambda invokes a function asynchronously for SNS:

* the event is the SNS record AWS sends (real TopicArn, subscription ARN, MessageId,
  Subject, MessageAttributes, Timestamp); the call returns to the publisher at once and the
  function runs in a background thread;
* the environment is the function's own variables plus AWS_REGION/AWS_DEFAULT_REGION,
  AWS_LAMBDA_FUNCTION_NAME/..., fake credentials and AWS_ENDPOINT_URL pointing at this
  emulator (so the function's boto3 calls, e.g. SSM GetParameter, hit the emulator);
* the function's timeout is enforced; its log lines go to CloudWatch Logs
  (/aws/lambda/<name>, stream ``YYYY/MM/DD/[$LATEST]<id>``) with START/END/REPORT lines;
* a failed invocation is retried (MaximumRetryAttempts of the function's event invoke
  config, default 2 as on AWS), then the event goes to the function's DeadLetterConfig
  target when it is an SQS queue, with the RequestID/ErrorCode/ErrorMessage attributes.

Limits (documented in tests/localcloud/README.md): the interpreter is the emulator's own
``python3`` (3.11, with boto3), not the python3.12 runtime image; no sandbox, layers,
memory limit, concurrency limit or container reuse (every delivery is a cold start);
retries happen immediately instead of after ~1 and ~2 minutes; SNS DLQ targets and
on-success/on-failure *destinations* are not emulated; only zip functions (no images).
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from datetime import datetime, timezone

from . import Patch

# Runs inside the subprocess: import the handler from the unpacked zip and call it.
_RUNNER = r"""
import json, logging, sys, time, traceback
code_dir, module_name, function_name, request_id, deadline = sys.argv[1:6]
sys.path.insert(0, code_dir)
logging.basicConfig(stream=sys.stderr, format="[%(levelname)s]\t%(asctime)s\t" + request_id + "\t%(message)s")

class Context:
    function_name = __import__("os").environ["AWS_LAMBDA_FUNCTION_NAME"]
    function_version = "$LATEST"
    invoked_function_arn = __import__("os").environ["PROTEA_FUNCTION_ARN"]
    memory_limit_in_mb = int(__import__("os").environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
    aws_request_id = request_id
    log_group_name = __import__("os").environ["AWS_LAMBDA_LOG_GROUP_NAME"]
    log_stream_name = __import__("os").environ["AWS_LAMBDA_LOG_STREAM_NAME"]
    def get_remaining_time_in_millis(self):
        return max(0, int((float(deadline) - time.time()) * 1000))

event = json.loads(sys.stdin.read())
try:
    module = __import__(module_name)
    result = getattr(module, function_name)(event, Context())
except Exception as err:
    traceback.print_exc()
    print("\x1eRESULT" + json.dumps({"errorType": type(err).__name__, "errorMessage": str(err)}))
    sys.exit(1)
print("\x1eRESULT" + json.dumps(result, default=str))
"""


# --- DeadLetterConfig ---------------------------------------------------------------------
def _apply_dead_letter_config() -> None:
    from moto.awslambda.models import LambdaFunction

    init, get_configuration, update_configuration = (
        LambdaFunction.__init__, LambdaFunction.get_configuration, LambdaFunction.update_configuration)

    def __init__(self, account_id, spec, region, version=1):
        init(self, account_id, spec, region, version)
        self.dead_letter_config = spec.get("DeadLetterConfig") or {}

    def get_configuration_(self, on_create=False):
        config = get_configuration(self, on_create)
        target = getattr(self, "dead_letter_config", {}).get("TargetArn")
        if target:
            config["DeadLetterConfig"] = {"TargetArn": target}
        return config

    def update_configuration_(self, config_updates):
        if "DeadLetterConfig" in config_updates:
            self.dead_letter_config = config_updates["DeadLetterConfig"] or {}
        return update_configuration(self, config_updates)

    LambdaFunction.__init__ = __init__
    LambdaFunction.get_configuration = get_configuration_
    LambdaFunction.update_configuration = update_configuration_


# --- SNS -> Lambda delivery ---------------------------------------------------------------
def _endpoint() -> str:
    try:
        from flask import has_request_context, request

        if has_request_context():
            return request.host_url.rstrip("/")
    except ImportError:  # pragma: no cover - moto server always has flask
        pass
    return f"http://127.0.0.1:{os.environ.get('MOTO_PORT', '5000')}"


def _sns_event(sub, message: str, message_id: str, subject, attributes) -> dict:
    region = sub.topic.arn.split(":")[3]
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return {"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": sub.arn,
        "Sns": {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": sub.topic.arn,
            "Subject": subject,
            "Message": message,
            "Timestamp": now,
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertUrl": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-local.pem",
            "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={sub.arn}",
            "MessageAttributes": {k: {"Type": v.get("Type"), "Value": v.get("Value")}
                                  for k, v in (attributes or {}).items()},
        },
    }]}


def _log(fn, stream: str, lines: list[str]) -> None:
    group = fn.logs_backend.groups.get(fn.logs_group_name)
    if group is None:  # AWS creates the group on first write when the role may do so
        group = fn.logs_backend.create_log_group(fn.logs_group_name, {})
    if stream not in group.streams:
        group.create_log_stream(stream)
    now = int(time.time() * 1000)
    group.put_log_events(stream, [{"timestamp": now, "message": line} for line in lines if line])


def invoke_zip(fn, event: dict, endpoint: str) -> tuple[bool, object, list[str]]:
    """Run the function's zip once: (succeeded, result or error dict, log lines)."""
    request_id = str(uuid.uuid4())
    stream = datetime.now(timezone.utc).strftime("%Y/%m/%d/") + "[$LATEST]" + uuid.uuid4().hex
    module_name, function_name = fn.handler.rsplit(".", 1)
    started = time.time()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        **{k: str(v) for k, v in (fn.environment_vars or {}).items()},
        "AWS_REGION": fn.region,
        "AWS_DEFAULT_REGION": fn.region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": fn.logs_group_name,
        "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
        "PROTEA_FUNCTION_ARN": fn.function_arn,
    }
    lines = [f"START RequestId: {request_id} Version: $LATEST"]
    with tempfile.TemporaryDirectory(prefix="localcloud-lambda-") as code_dir:
        with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as zf:
            zf.extractall(code_dir)
        try:
            proc = subprocess.run(
                [sys.executable, "-c", _RUNNER, code_dir, module_name, function_name, request_id,
                 str(started + float(fn.timeout))],
                input=json.dumps(event), capture_output=True, text=True, env=env, cwd=code_dir,
                timeout=float(fn.timeout))
            out, err, ok = proc.stdout, proc.stderr, proc.returncode == 0
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            ok = False
            out += "\n\x1eRESULT" + json.dumps({"errorType": "Sandbox.Timedout",
                                                "errorMessage": f"Task timed out after {fn.timeout:.2f} seconds"})
    printed, _, result_text = out.rpartition("\x1eRESULT")
    try:
        result = json.loads(result_text)
    except ValueError:
        result = {"errorType": "Runtime.ExitError", "errorMessage": "the runtime exited without a result"}
        ok = False
    lines += printed.splitlines() + err.splitlines()
    lines.append(f"END RequestId: {request_id}")
    lines.append(f"REPORT RequestId: {request_id}\tDuration: {(time.time() - started) * 1000:.2f} ms\t"
                 f"Memory Size: {fn.memory_size} MB")
    _log(fn, stream, lines)
    return ok, result, lines


def _to_dead_letter_queue(fn, event: dict, error: dict) -> None:
    target = getattr(fn, "dead_letter_config", {}).get("TargetArn", "")
    parts = target.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        return
    from moto.sqs.models import sqs_backends

    sqs_backends[parts[4]][parts[3]].send_message(
        parts[5], json.dumps(event),
        message_attributes={
            "RequestID": {"DataType": "String", "StringValue": str(uuid.uuid4())},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": str(error.get("errorMessage", ""))[:1000]},
        })


def _deliver(account_id: str, endpoint_arn: str, event: dict, endpoint: str) -> None:
    from moto.awslambda.utils import get_backend

    arn = endpoint_arn.split(":")
    qualifier = arn[7] if len(arn) == 8 else None
    fn = get_backend(account_id, arn[3]).get_function(arn[6], qualifier)
    retries = 2
    if fn.event_invoke_config:
        retries = int(fn.event_invoke_config[0].config.get("MaximumRetryAttempts", 2))
    result: object = None
    for _ in range(1 + retries):
        ok, result, _lines = invoke_zip(fn, event, endpoint)
        if ok:
            return
    _to_dead_letter_queue(fn, event, result if isinstance(result, dict) else {})


def _apply_sns_delivery() -> None:
    from moto.sns.models import Subscription

    original = Subscription.publish

    def publish(self, message, message_id, subject=None, message_attributes=None, group_id=None,
                deduplication_id=None, message_structure=None):
        if self.protocol != "lambda":
            return original(self, message, message_id, subject, message_attributes, group_id,
                            deduplication_id, message_structure)
        if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(
                message_attributes, message):
            return None
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        event = _sns_event(self, message, message_id, subject, message_attributes)
        threading.Thread(target=_deliver, args=(self.account_id, self.endpoint, event, _endpoint()),
                         name=f"sns-lambda-{message_id}", daemon=True).start()
        return None

    Subscription.publish = publish


PATCHES = [
    Patch(
        name="lambda-dead-letter-config",
        api="lambda:CreateFunction, lambda:UpdateFunctionConfiguration, lambda:GetFunction",
        moto_does="Accepts DeadLetterConfig but neither stores nor returns it, so amazon.aws.lambda updates the function on every run.",
        aws_does="Stores the dead-letter queue/topic and returns it as DeadLetterConfig.TargetArn in the function configuration.",
        doc="AWS Lambda API Reference, CreateFunction / FunctionConfiguration: "
            "https://docs.aws.amazon.com/lambda/latest/api/API_FunctionConfiguration.html",
        apply=_apply_dead_letter_config,
    ),
    Patch(
        name="lambda-sns-delivery",
        api="sns:Publish -> lambda:Invoke (asynchronous)",
        moto_does="Runs the subscribed function only in Docker (absent here): the message is lost and the event it "
                  "builds carries placeholder TopicArn/attributes.",
        aws_does="Invokes the function asynchronously with the SNS record, retries twice on error, then sends the "
                 "event to the dead-letter queue; logs go to /aws/lambda/<name>.",
        doc="Amazon SNS Developer Guide, Fanout to Lambda functions; AWS Lambda Developer Guide, Asynchronous "
            "invocation: https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html",
        apply=_apply_sns_delivery,
    ),
]
