"""Region and ordering rules AWS applies and moto does not.

* CloudFront takes viewer certificates only from ACM in us-east-1, and only ISSUED ones
  (a distribution created before the certificate is validated is refused).
* CloudFront standard logging (legacy) refuses a log bucket that does not exist, that is in
  an opt-in Region, or that has ACLs disabled (S3 Object Ownership BucketOwnerEnforced, the
  default of new buckets).
* CloudWatch alarm actions must be in the alarm's own Region.
* SNS -> Lambda across Regions where one side is an opt-in Region: from an opt-in Region to a
  Region enabled by default only when the function's policy names the opt-in Region's SNS
  principal (sns.<opt-in-region>.amazonaws.com); never from a default Region to an opt-in one,
  nor between two opt-in Regions. AWS documents no error for the Subscribe call, so the
  subscription is accepted and the message is simply not delivered (the emulator log says why).

Error codes and messages are the ones AWS returns (quoted in tests/localcloud/README.md).
"""
from __future__ import annotations

import inspect
import re
import sys
from typing import Any

from . import Patch
from ._states import acm_certificate

# Opt-in Regions (AWS General Reference, "Enable or disable AWS Regions"; the SNS developer
# guide's cross-Region delivery page lists the same ones SNS serves). Kept apart from the
# roles' own list on purpose: the emulator must not share a mistake with the code it tests.
OPT_IN_REGIONS = frozenset({
    "af-south-1", "ap-east-1", "ap-east-2", "ap-south-2", "ap-southeast-3", "ap-southeast-4",
    "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-west-1", "eu-central-2",
    "eu-south-1", "eu-south-2", "il-central-1", "me-central-1", "me-south-1", "mx-central-1",
})

CERTIFICATE_MESSAGE = ("The specified SSL certificate doesn't exist, isn't in us-east-1 region, isn't valid, "
                       "or doesn't include a valid certificate chain.")
# name.s3.amazonaws.com, name.s3.<region>.amazonaws.com, name.s3-<region>.amazonaws.com
_LOG_BUCKET = re.compile(r"^(?P<name>.+?)\.s3(?:[.-](?P<region>[a-z]{2}(?:-[a-z]+)+-\d))?\.amazonaws\.com$")


def _log(line: str) -> None:
    print(f"localcloud: {line}", file=sys.stderr, flush=True)


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


# --- CloudFront ---------------------------------------------------------------------------
def _cloudfront_error(code: str, message: str) -> Exception:
    from moto.cloudfront.exceptions import CloudFrontException

    return CloudFrontException(code, message)


def _check_viewer_certificate(account_id: str, config: dict[str, Any]) -> None:
    arn = ((config or {}).get("ViewerCertificate") or {}).get("ACMCertificateArn")
    if not arn:
        return
    parts = str(arn).split(":")
    cert = acm_certificate(arn) if len(parts) == 6 and parts[3] == "us-east-1" else None
    if cert is None or cert.status != "ISSUED":
        raise _cloudfront_error("InvalidViewerCertificate", CERTIFICATE_MESSAGE)


def _log_bucket(account_id: str, config: dict[str, Any]) -> tuple[str, str | None, Any] | None:
    """(Logging.Bucket as given, its region in the name or None, the moto bucket) when logging is on."""
    logging = (config or {}).get("Logging") or {}
    if not _true(logging.get("Enabled")) or not logging.get("Bucket"):
        return None
    from moto.s3.models import s3_backends

    given = str(logging["Bucket"])
    match = _LOG_BUCKET.match(given)
    if not match:
        raise _cloudfront_error("InvalidArgument", "The parameter Logging Bucket does not refer to a valid S3 bucket.")
    bucket = s3_backends[account_id]["aws"].buckets.get(match["name"])
    return given, match["region"], bucket


def _check_log_bucket_region(account_id: str, config: dict[str, Any]) -> None:
    found = _log_bucket(account_id, config)
    if found is None:
        return
    given, named_region, bucket = found
    if bucket is None or (bucket.region_name in OPT_IN_REGIONS and named_region is None):
        # The global name of a bucket in an opt-in Region does not resolve for CloudFront.
        raise _cloudfront_error("InvalidArgument",
                                f"The S3 bucket that you specified for CloudFront logs doesn't exist: {given}")
    if bucket.region_name in OPT_IN_REGIONS:
        raise _cloudfront_error(
            "AccessDenied",
            f"You don't have permission to access the S3 bucket for CloudFront logs: {given} If you're using IAM, "
            "you need s3:GetBucketAcl and s3:PutBucketAcl permissions to create a distribution or to update log "
            "settings for an existing distribution. In addition, the S3 ACL for the bucket must grant you FULL_CONTROL.")


def _check_log_bucket_acl(account_id: str, config: dict[str, Any]) -> None:
    found = _log_bucket(account_id, config)
    if found is None or found[2] is None:
        return
    given, _, bucket = found
    # A bucket without ownership controls is BucketOwnerEnforced (ACLs disabled): S3's default since April 2023.
    if (bucket.ownership_rule or "BucketOwnerEnforced") == "BucketOwnerEnforced":
        raise _cloudfront_error("InvalidArgument",
                                f"The S3 bucket that you specified for CloudFront logs does not enable ACL access: {given}")


def _wrap_distribution_writes(check) -> None:
    from moto.cloudfront.models import CloudFrontBackend

    create, update = CloudFrontBackend.create_distribution_with_tags, CloudFrontBackend.update_distribution

    def checked(action: str, account_id: str, config: dict[str, Any]) -> None:
        try:
            check(account_id, config)
        except Exception as err:
            # Modules often hide the error (no_log): the emulator log keeps AWS's answer.
            _log(f"cloudfront {action} refused: {err}")
            raise

    def create_distribution_with_tags(self, distribution_config, tags):
        checked("CreateDistribution", self.account_id, distribution_config)
        return create(self, distribution_config, tags)

    def update_distribution(self, dist_config, _id, if_match):
        checked("UpdateDistribution", self.account_id, dist_config)
        return update(self, dist_config, _id, if_match)

    CloudFrontBackend.create_distribution_with_tags = create_distribution_with_tags
    CloudFrontBackend.update_distribution = update_distribution


# --- CloudWatch ---------------------------------------------------------------------------
def _apply_alarm_action_region() -> None:
    from moto.cloudwatch.exceptions import ValidationError
    from moto.cloudwatch.models import CloudWatchBackend

    original = CloudWatchBackend.put_metric_alarm
    signature = inspect.signature(original)

    def put_metric_alarm(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs).arguments
        for key in ("alarm_actions", "ok_actions", "insufficient_data_actions"):
            for arn in bound.get(key) or []:
                parts = str(arn).split(":")
                if len(parts) >= 4 and parts[0] == "arn" and parts[3] and parts[3] != self.region_name:
                    raise ValidationError(f"Invalid region {parts[3]} specified. Only {self.region_name} is supported.")
        return original(self, *args, **kwargs)

    CloudWatchBackend.put_metric_alarm = put_metric_alarm


# --- SNS -> Lambda ------------------------------------------------------------------------
def _principals(statement: dict[str, Any]) -> set[str]:
    principal = statement.get("Principal")
    if isinstance(principal, str):
        return {principal}
    service = (principal or {}).get("Service", [])
    return {service} if isinstance(service, str) else set(service)


def _source_arns(statement: dict[str, Any]) -> list[str]:
    found = []
    for operator in (statement.get("Condition") or {}).values():
        for key, value in operator.items():
            if key.lower() == "aws:sourcearn":
                found += [value] if isinstance(value, str) else list(value)
    return found


def _arn_like(pattern: str, arn: str) -> bool:
    return re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")).replace(r"\?", "."), arn) is not None


def sns_lambda_refusal(topic_arn: str, function_arn: str, policy: dict[str, Any] | None) -> str | None:
    """Why AWS would not deliver from this topic to this function across Regions (None: it would)."""
    topic_region, function_region = topic_arn.split(":")[3], function_arn.split(":")[3]
    if topic_region == function_region:
        return None
    topic_opt_in, function_opt_in = topic_region in OPT_IN_REGIONS, function_region in OPT_IN_REGIONS
    if not topic_opt_in and not function_opt_in:
        return None
    if not topic_opt_in:
        return (f"no cross-Region delivery to Lambda from {topic_region} (enabled by default) to {function_region} "
                "(opt-in)")
    if function_opt_in:
        return f"no cross-Region delivery between opt-in Regions ({topic_region} -> {function_region})"
    principal = f"sns.{topic_region}.amazonaws.com"
    for statement in (policy or {}).get("Statement", []):
        actions = statement.get("Action")
        actions = [actions] if isinstance(actions, str) else list(actions or [])
        sources = _source_arns(statement)
        if (statement.get("Effect") == "Allow" and principal in _principals(statement)
                and any(a in ("lambda:InvokeFunction", "lambda:*", "*") for a in actions)
                and (not sources or any(_arn_like(s, topic_arn) for s in sources))):
            return None
    return f"the function's policy does not allow {principal} (topic in opt-in Region {topic_region})"


def _apply_sns_lambda_opt_in() -> None:
    from moto.awslambda.utils import get_backend
    from moto.sns.models import Subscription

    original = Subscription.publish

    def publish(self, message, message_id, *args, **kwargs):
        if self.protocol == "lambda":
            parts = self.endpoint.split(":")
            policy = None
            try:
                fn = get_backend(parts[4], parts[3]).get_function(parts[6], parts[7] if len(parts) == 8 else None)
                policy = {"Statement": list(fn.policy.statements)}
            except Exception:  # noqa: BLE001 - a missing function is the delivery patch's business
                policy = None
            reason = sns_lambda_refusal(self.topic.arn, self.endpoint, policy)
            if reason:
                _log(f"sns {self.topic.arn} -> {self.endpoint}: message {message_id} not delivered: {reason}")
                return None
        return original(self, message, message_id, *args, **kwargs)

    Subscription.publish = publish


PATCHES = [
    Patch(
        name="region-cloudfront-viewer-certificate",
        api="cloudfront:CreateDistribution, CreateDistributionWithTags, UpdateDistribution",
        moto_does="Accepts any ViewerCertificate.ACMCertificateArn: a certificate in another Region, one that does "
                  "not exist, or one still PENDING_VALIDATION.",
        aws_does="Refuses (400 InvalidViewerCertificate, \"The specified SSL certificate doesn't exist, isn't in "
                 "us-east-1 region, isn't valid, or doesn't include a valid certificate chain.\") unless the ACM "
                 "certificate is in us-east-1 and ISSUED.",
        doc="Amazon CloudFront Developer Guide, Requirements for using SSL/TLS certificates with CloudFront "
            "(certificate in us-east-1, issued): "
            "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html",
        apply=lambda: _wrap_distribution_writes(_check_viewer_certificate),
    ),
    Patch(
        name="region-cloudfront-log-bucket-region",
        api="cloudfront:CreateDistribution, UpdateDistribution (Logging.Bucket)",
        moto_does="Accepts any Logging.Bucket, also a bucket that does not exist or is in an opt-in Region "
                  "(af-south-1, ap-east-1, eu-south-1, me-south-1, ...).",
        aws_does="CloudFront does not deliver standard logs to buckets in opt-in Regions (documented). The "
                 "refusal's wording is observed, not documented: 400 InvalidArgument \"The S3 bucket that you "
                 "specified for CloudFront logs doesn't exist: <name>.s3.amazonaws.com\" for the global name (also "
                 "for a missing bucket), 403 AccessDenied \"You don't have permission to access the S3 bucket for "
                 "CloudFront logs: ...\" for the regional name, as reported in public issue threads.",
        doc="Amazon CloudFront Developer Guide, Configure standard logging (legacy), Choosing an Amazon S3 bucket: "
            "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logging-legacy-s3.html",
        apply=lambda: _wrap_distribution_writes(_check_log_bucket_region),
    ),
    Patch(
        name="region-cloudfront-log-bucket-acl",
        api="cloudfront:CreateDistribution, UpdateDistribution (Logging.Bucket)",
        moto_does="Accepts a log bucket whose ACLs are disabled (Object Ownership BucketOwnerEnforced, the default "
                  "of a new bucket).",
        aws_does="400 InvalidArgument \"The S3 bucket that you specified for CloudFront logs does not enable ACL "
                 "access: <bucket>\": CloudFront grants the awslogsdelivery account through the bucket ACL.",
        doc="Amazon CloudFront Developer Guide, Configure standard logging (legacy), Permissions (ACLs enabled, "
            "BucketOwnerPreferred/ObjectWriter): "
            "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logging-legacy-s3.html",
        apply=lambda: _wrap_distribution_writes(_check_log_bucket_acl),
    ),
    Patch(
        name="region-cloudwatch-alarm-action-region",
        api="cloudwatch:PutMetricAlarm (AlarmActions, OKActions, InsufficientDataActions)",
        moto_does="Stores actions in any Region, e.g. a us-east-1 alarm notifying an af-south-1 topic.",
        aws_does="400 ValidationError \"Invalid region <r> specified. Only <alarm region> is supported.\": actions "
                 "(SNS topics included) must be in the alarm's Region (CloudFront metrics, hence their alarms and "
                 "topics, are in us-east-1).",
        doc="Amazon CloudWatch API Reference, PutMetricAlarm (AlarmActions: arn:aws:sns:region:account-id:topic); "
            "CloudWatch User Guide, Using Amazon SNS with alarms: "
            "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html",
        apply=_apply_alarm_action_region,
    ),
    Patch(
        name="region-sns-lambda-opt-in",
        api="sns:Publish -> lambda (cross-Region subscriptions)",
        moto_does="Delivers to a Lambda function in any Region with any resource policy.",
        aws_does="Across Regions with an opt-in Region: no delivery from a default Region to an opt-in one nor "
                 "between opt-in Regions; from an opt-in Region only if the function policy allows "
                 "sns.<opt-in-region>.amazonaws.com. The message is not delivered (no API error is documented).",
        doc="Amazon SNS Developer Guide, Prerequisites for integrating Amazon SNS with Lambda functions across "
            "Regions: https://docs.aws.amazon.com/sns/latest/dg/lambda-prereq.html",
        apply=_apply_sns_lambda_opt_in,
    ),
]
