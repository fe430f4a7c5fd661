"""Region and ordering rules (compat/region_rules.py): each refused as AWS refuses it with the
patch, and accepted as moto ships it without (emulator_factory(disable=[name]))."""
from __future__ import annotations

import io
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

from tests.localcloud.compat.region_rules import sns_lambda_refusal

pytestmark = pytest.mark.emulator

CERT = "region-cloudfront-viewer-certificate"
LOG_REGION = "region-cloudfront-log-bucket-region"
LOG_ACL = "region-cloudfront-log-bucket-acl"
ALARM = "region-cloudwatch-alarm-action-region"
SNS_LAMBDA = "region-sns-lambda-opt-in"
ACCOUNT = "123456789012"
CERT_MESSAGE = ("The specified SSL certificate doesn't exist, isn't in us-east-1 region, isn't valid, "
                "or doesn't include a valid certificate chain.")


def _error(exc: pytest.ExceptionInfo) -> tuple[str, str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


# --- CloudFront -------------------------------------------------------------------------------
def _distribution_config(ref: str, certificate_arn: str | None = None, log_bucket: str | None = None) -> dict:
    config = {
        "CallerReference": ref,
        "Comment": ref,
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{
            "Id": "alb", "DomainName": "origin.shop.example.com",
            "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"},
        }]},
        "DefaultCacheBehavior": {"TargetOriginId": "alb", "ViewerProtocolPolicy": "redirect-to-https",
                                 "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"},
    }
    if certificate_arn:
        config["ViewerCertificate"] = {"ACMCertificateArn": certificate_arn, "SSLSupportMethod": "sni-only",
                                       "MinimumProtocolVersion": "TLSv1.2_2021"}
    if log_bucket:
        config["Logging"] = {"Enabled": True, "IncludeCookies": False, "Bucket": log_bucket, "Prefix": "cf/"}
    return config


def _request_certificate(emu, region: str) -> str:
    return emu.client("acm", region=region).request_certificate(
        DomainName="shop.example.com", ValidationMethod="DNS")["CertificateArn"]


def _issued_wait(emu, arn: str) -> None:
    acm = emu.client("acm", region=arn.split(":")[3])
    deadline = time.monotonic() + 30
    while acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] != "ISSUED":
        assert time.monotonic() < deadline, "certificate never issued"
        time.sleep(0.5)


def test_viewer_certificate_pending_validation_is_refused(emulator_factory):
    # Validation that takes a while, as on AWS (the session emulator issues after 2 s).
    emu = emulator_factory(env={"MOTO_ACM_VALIDATION_WAIT": "3600"})
    pending = _request_certificate(emu, "us-east-1")
    with pytest.raises(ClientError) as exc:
        emu.client("cloudfront", region="us-east-1").create_distribution(
            DistributionConfig=_distribution_config("pending", pending))
    assert _error(exc) == ("InvalidViewerCertificate", CERT_MESSAGE, 400)
    assert emu.client("acm", region="us-east-1").describe_certificate(
        CertificateArn=pending)["Certificate"]["Status"] == "PENDING_VALIDATION"


def test_viewer_certificate_must_be_issued_and_in_us_east_1(clean_emulator):
    emu = clean_emulator
    cf = emu.client("cloudfront", region="us-east-1")
    pending = _request_certificate(emu, "us-east-1")

    regional = _request_certificate(emu, "af-south-1")
    _issued_wait(emu, regional)
    with pytest.raises(ClientError) as exc:
        cf.create_distribution(DistributionConfig=_distribution_config("regional", regional))
    assert _error(exc) == ("InvalidViewerCertificate", CERT_MESSAGE, 400)
    missing = pending.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    with pytest.raises(ClientError) as exc:
        cf.create_distribution(DistributionConfig=_distribution_config("missing", missing))
    assert _error(exc)[0] == "InvalidViewerCertificate"

    # Waiting for issuance (what roles/acm tasks/wait.yml does before roles/cloudfront) makes it pass.
    _issued_wait(emu, pending)
    dist = cf.create_distribution(DistributionConfig=_distribution_config("issued", pending))["Distribution"]
    assert dist["DistributionConfig"]["ViewerCertificate"]["ACMCertificateArn"] == pending
    # UpdateDistribution applies the same rule.
    config = cf.get_distribution_config(Id=dist["Id"])
    body = config["DistributionConfig"]
    body["ViewerCertificate"]["ACMCertificateArn"] = regional
    with pytest.raises(ClientError) as exc:
        cf.update_distribution(Id=dist["Id"], IfMatch=config["ETag"], DistributionConfig=body)
    assert _error(exc)[0] == "InvalidViewerCertificate"


def test_viewer_certificate_without_patch_is_moto_stock(emulator_factory):
    emu = emulator_factory(disable=[CERT])
    cf = emu.client("cloudfront", region="us-east-1")
    for ref, region in (("pending", "us-east-1"), ("regional", "af-south-1")):
        arn = _request_certificate(emu, region)
        dist = cf.create_distribution(DistributionConfig=_distribution_config(ref, arn))["Distribution"]
        assert dist["DistributionConfig"]["ViewerCertificate"]["ACMCertificateArn"] == arn


def _bucket(emu, name: str, region: str, ownership: str | None = "BucketOwnerPreferred") -> None:
    s3 = emu.client("s3", region=region)
    extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **extra)
    if ownership:
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": ownership}]})


def test_log_bucket_in_an_opt_in_region_is_refused(clean_emulator):
    emu = clean_emulator
    cf = emu.client("cloudfront", region="us-east-1")
    _bucket(emu, "logs-cape-town", "af-south-1")
    _bucket(emu, "logs-milan", "eu-south-1")
    _bucket(emu, "logs-virginia", "us-east-1")
    for bucket in ("logs-cape-town.s3.amazonaws.com", "logs-milan.s3.amazonaws.com", "logs-nowhere.s3.amazonaws.com"):
        with pytest.raises(ClientError) as exc:
            cf.create_distribution(DistributionConfig=_distribution_config(bucket, log_bucket=bucket))
        assert _error(exc) == (
            "InvalidArgument", f"The S3 bucket that you specified for CloudFront logs doesn't exist: {bucket}", 400)
    regional = "logs-cape-town.s3.af-south-1.amazonaws.com"
    with pytest.raises(ClientError) as exc:
        cf.create_distribution(DistributionConfig=_distribution_config("regional", log_bucket=regional))
    code, message, status = _error(exc)
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(f"You don't have permission to access the S3 bucket for CloudFront logs: {regional}")
    dist = cf.create_distribution(DistributionConfig=_distribution_config(
        "virginia", log_bucket="logs-virginia.s3.amazonaws.com"))["Distribution"]
    assert dist["DistributionConfig"]["Logging"]["Bucket"] == "logs-virginia.s3.amazonaws.com"
    # The same rule on update: moving the logs to Cape Town is refused.
    config = cf.get_distribution_config(Id=dist["Id"])
    body = config["DistributionConfig"]
    body["Logging"]["Bucket"] = "logs-cape-town.s3.amazonaws.com"
    with pytest.raises(ClientError) as exc:
        cf.update_distribution(Id=dist["Id"], IfMatch=config["ETag"], DistributionConfig=body)
    assert _error(exc)[0] == "InvalidArgument"


def test_log_bucket_region_without_patch_is_moto_stock(emulator_factory):
    emu = emulator_factory(disable=[LOG_REGION])
    _bucket(emu, "logs-cape-town", "af-south-1")
    cf = emu.client("cloudfront", region="us-east-1")
    for ref, bucket in (("global", "logs-cape-town.s3.amazonaws.com"), ("missing", "logs-nowhere.s3.amazonaws.com")):
        dist = cf.create_distribution(DistributionConfig=_distribution_config(ref, log_bucket=bucket))["Distribution"]
        assert dist["DistributionConfig"]["Logging"]["Bucket"] == bucket


def test_log_bucket_without_acls_is_refused(clean_emulator):
    emu = clean_emulator
    cf = emu.client("cloudfront", region="us-east-1")
    _bucket(emu, "logs-default", "us-east-1", ownership=None)  # S3's default: BucketOwnerEnforced
    _bucket(emu, "logs-enforced", "us-east-1", ownership="BucketOwnerEnforced")
    for bucket in ("logs-default.s3.amazonaws.com", "logs-enforced.s3.amazonaws.com"):
        with pytest.raises(ClientError) as exc:
            cf.create_distribution(DistributionConfig=_distribution_config(bucket, log_bucket=bucket))
        assert _error(exc) == (
            "InvalidArgument", f"The S3 bucket that you specified for CloudFront logs does not enable ACL access: {bucket}", 400)


def test_log_bucket_acl_without_patch_is_moto_stock(emulator_factory):
    emu = emulator_factory(disable=[LOG_ACL])
    _bucket(emu, "logs-default", "us-east-1", ownership=None)
    cf = emu.client("cloudfront", region="us-east-1")
    dist = cf.create_distribution(DistributionConfig=_distribution_config(
        "default", log_bucket="logs-default.s3.amazonaws.com"))["Distribution"]
    assert dist["DistributionConfig"]["Logging"]["Enabled"] is True


# --- CloudWatch -------------------------------------------------------------------------------
def _alarm(emu, region: str, topic: str, **actions) -> None:
    emu.client("cloudwatch", region=region).put_metric_alarm(
        AlarmName="cf-5xx", Namespace="AWS/CloudFront", MetricName="5xxErrorRate", Statistic="Average",
        Dimensions=[{"Name": "DistributionId", "Value": "E1"}, {"Name": "Region", "Value": "Global"}],
        Period=300, EvaluationPeriods=1, Threshold=5, ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[topic], **actions)


def test_alarm_actions_must_be_in_the_alarm_region(clean_emulator):
    emu = clean_emulator
    cape_town = emu.client("sns", region="af-south-1").create_topic(Name="alarms")["TopicArn"]
    virginia = emu.client("sns", region="us-east-1").create_topic(Name="edge-alarms")["TopicArn"]
    with pytest.raises(ClientError) as exc:
        _alarm(emu, "us-east-1", cape_town)
    assert _error(exc) == ("ValidationError", "Invalid region af-south-1 specified. Only us-east-1 is supported.", 400)
    with pytest.raises(ClientError) as exc:
        _alarm(emu, "us-east-1", virginia, OKActions=[cape_town])
    assert _error(exc)[1] == "Invalid region af-south-1 specified. Only us-east-1 is supported."
    with pytest.raises(ClientError) as exc:
        _alarm(emu, "us-east-1", virginia, InsufficientDataActions=[cape_town])
    assert _error(exc)[0] == "ValidationError"
    assert emu.client("cloudwatch", region="us-east-1").describe_alarms()["MetricAlarms"] == []
    _alarm(emu, "us-east-1", virginia, OKActions=[virginia])
    [alarm] = emu.client("cloudwatch", region="us-east-1").describe_alarms()["MetricAlarms"]
    assert alarm["AlarmActions"] == [virginia]


def test_alarm_actions_without_patch_is_moto_stock(emulator_factory):
    emu = emulator_factory(disable=[ALARM])
    cape_town = emu.client("sns", region="af-south-1").create_topic(Name="alarms")["TopicArn"]
    _alarm(emu, "us-east-1", cape_town)
    [alarm] = emu.client("cloudwatch", region="us-east-1").describe_alarms()["MetricAlarms"]
    assert alarm["AlarmActions"] == [cape_town]


# --- SNS -> Lambda across Regions ---------------------------------------------------------------
RECORDER = '''
import boto3
def handler(event, context):
    sns = event["Records"][0]["Sns"]
    boto3.client("ssm").put_parameter(Name="/region-rules/" + sns["MessageId"], Value=sns["TopicArn"], Type="String")
'''


def _function(emu, region: str, principal: str | None) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("recorder.py", RECORDER)
    iam = emu.client("iam")
    try:
        role = iam.create_role(RoleName="recorder-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName="recorder-role")["Role"]["Arn"]
    lam = emu.client("lambda", region=region)
    arn = lam.create_function(FunctionName="recorder", Runtime="python3.12", Role=role, Handler="recorder.handler",
                              Timeout=30, Code={"ZipFile": buf.getvalue()})["FunctionArn"]
    if principal:
        lam.add_permission(FunctionName="recorder", StatementId="sns", Action="lambda:InvokeFunction",
                           Principal=principal)
    return arn


def _publish(emu, topic_region: str, function_arn: str) -> tuple[str, str]:
    sns = emu.client("sns", region=topic_region)
    topic = sns.create_topic(Name="ops")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)
    return sns.publish(TopicArn=topic, Message="hello")["MessageId"], function_arn.split(":")[3]


def _delivered(emu, message_id: str, region: str, timeout: float) -> bool:
    ssm = emu.client("ssm", region=region)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ssm.get_parameters(Names=[f"/region-rules/{message_id}"])["Parameters"]:
            return True
        time.sleep(0.3)
    return False


def _log_says(emu, message_id: str) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [line for line in emu.log_path.read_text(errors="replace").splitlines()
                 if f"message {message_id} not delivered" in line]
        if lines:
            return lines[-1]
        time.sleep(0.2)
    return ""


def test_sns_lambda_across_an_opt_in_region_follows_the_documented_rule(clean_emulator):
    emu = clean_emulator
    # us-east-1 topic -> af-south-1 function: not supported by AWS, even with the permission.
    cape_town_fn = _function(emu, "af-south-1", "sns.amazonaws.com")
    refused, _ = _publish(emu, "us-east-1", cape_town_fn)
    assert "(enabled by default) to af-south-1 (opt-in)" in _log_says(emu, refused)
    # af-south-1 topic -> us-east-1 function: only with the opt-in Region's SNS principal.
    virginia_fn = _function(emu, "us-east-1", "sns.amazonaws.com")
    wrong_principal, _ = _publish(emu, "af-south-1", virginia_fn)
    assert "does not allow sns.af-south-1.amazonaws.com" in _log_says(emu, wrong_principal)
    lam = emu.client("lambda", region="us-east-1")
    lam.remove_permission(FunctionName="recorder", StatementId="sns")
    lam.add_permission(FunctionName="recorder", StatementId="sns-af", Action="lambda:InvokeFunction",
                       Principal="sns.af-south-1.amazonaws.com")
    allowed, region = _publish(emu, "af-south-1", virginia_fn)
    assert _delivered(emu, allowed, region, timeout=60)
    assert not _delivered(emu, refused, "af-south-1", timeout=0.5)
    assert not _delivered(emu, wrong_principal, "us-east-1", timeout=0.5)
    # Same Region: unaffected.
    same, region = _publish(emu, "af-south-1", cape_town_fn)
    assert _delivered(emu, same, region, timeout=60)


def test_sns_lambda_without_patch_is_moto_stock(emulator_factory):
    emu = emulator_factory(disable=[SNS_LAMBDA])
    cape_town_fn = _function(emu, "af-south-1", None)
    message_id, region = _publish(emu, "us-east-1", cape_town_fn)
    assert _delivered(emu, message_id, region, timeout=60)


@pytest.mark.parametrize("topic,function,statement,refused", [
    ("eu-west-1", "us-east-1", None, False),  # two default Regions: the standard rules apply
    ("us-east-1", "af-south-1", None, True),
    ("af-south-1", "eu-south-1", {"Principal": {"Service": "sns.af-south-1.amazonaws.com"}}, True),
    ("af-south-1", "us-east-1", {"Principal": {"Service": "sns.af-south-1.amazonaws.com"}}, False),
    ("af-south-1", "us-east-1", {"Principal": {"Service": "sns.amazonaws.com"}}, True),
    ("af-south-1", "us-east-1", {"Principal": {"Service": "sns.af-south-1.amazonaws.com"},
                                 "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:sns:af-south-1:1:other"}}}, True),
    ("af-south-1", "us-east-1", {"Principal": {"Service": "sns.af-south-1.amazonaws.com"},
                                 "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:sns:af-south-1:1:*"}}}, False),
])
def test_sns_lambda_refusal_rule(topic, function, statement, refused):
    policy = {"Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", **statement}]} if statement else None
    reason = sns_lambda_refusal(f"arn:aws:sns:{topic}:1:ops", f"arn:aws:lambda:{function}:1:function:f", policy)
    assert (reason is not None) is refused, reason
