"""IAM: a request signed by an IAM user or a role session may do only what their policies allow.

moto authorizes nothing unless ``INITIAL_NO_AUTH_ACTION_COUNT`` is set, and then for every caller
at once (the test harness and the instances' credentials included) and against the resource
``*`` for most services, so a policy scoped to ARNs denies everything and one allowing ``*``
passes everything. AWS evaluates the caller's identity-based policies for the action and for
each resource the request names (IAM User Guide, "Policy evaluation logic"), and a request that
hands a role to a service also needs ``iam:PassRole`` on that role.

Here a request is authorized when its access key belongs to an IAM user of the emulator (a
deployer the tests create) or to an STS session of a role (the credentials the metadata service
gives an instance, tests/localcloud/imds.py): the role's policies then apply. The harness's fake
key (and the Lambda runner's) belongs to neither and passes as before. The action is ``<IAM prefix>:<operation>`` (a few operations
map to other IAM actions, as the Service Authorization Reference lists them). The resources are
the ARNs the request names (``_resources``); a request that names none, or an operation not
listed there, is evaluated against ``*``, as AWS does for actions without resource-level
permissions, so a policy that scopes such an action fails here as it would there. Condition
keys given: ``aws:RequestedRegion``, and ``iam:PassedToService`` for ``iam:PassRole``.

``PROTEA_IAM_AUDIT`` (a file path) records every decision as a JSON line; with
``PROTEA_IAM_AUDIT_ONLY=1`` nothing is denied (to list what a run needs while writing a policy).
"""
from __future__ import annotations

import json
import os
import re
import threading
from typing import Any, Callable
from urllib.parse import unquote, urlparse

from tests.localcloud.compat import Patch
from tests.localcloud.compat.iam import _principal_documents, evaluate

# Signing name -> IAM service prefix where they differ.
PREFIX = {"monitoring": "cloudwatch", "email": "ses", "tagging": "tag"}
# Operations whose IAM action has another name (Service Authorization Reference).
ACTION = {
    "cloudfront:CreateDistributionWithTags": ["cloudfront:CreateDistribution", "cloudfront:TagResource"],
    "sts:GetCallerIdentity": [],  # always allowed
}
# Roles handed to a service: (action, request parameter holding a role ARN or name, service).
PASS_ROLE = {
    "lambda:CreateFunction": ("Role", "lambda.amazonaws.com"),
    "lambda:UpdateFunctionConfiguration": ("Role", "lambda.amazonaws.com"),
    "backup:CreateBackupSelection": ("IamRoleArn", "backup.amazonaws.com"),
    "backup:StartBackupJob": ("IamRoleArn", "backup.amazonaws.com"),
    "backup:StartRestoreJob": ("IamRoleArn", "backup.amazonaws.com"),
    "ec2:RunInstances": ("IamInstanceProfile", "ec2.amazonaws.com"),
    "ec2:AssociateIamInstanceProfile": ("IamInstanceProfile", "ec2.amazonaws.com"),
    "ec2:CreateFlowLogs": ("DeliverLogsPermissionArn", "vpc-flow-logs.amazonaws.com"),
    # The instance profile of the launch template the group will launch from.
    "autoscaling:CreateAutoScalingGroup": ("LaunchTemplate", "ec2.amazonaws.com"),
    "autoscaling:UpdateAutoScalingGroup": ("LaunchTemplate", "ec2.amazonaws.com"),
}
# REST-JSON services answer a JSON error even to a request without a JSON body (a GET).
JSON_ERRORS = {"lambda", "elasticfilesystem", "backup", "ses"}
# S3 bucket-level requests by method and sub-resource -> IAM action (moto names some of them
# after the API, e.g. HeadBucket, or falls back to a default for the ones it does not list).
S3_BUCKET_ACTIONS = {
    "GET": {"encryption": "GetEncryptionConfiguration", "ownershipControls": "GetBucketOwnershipControls",
            "publicAccessBlock": "GetBucketPublicAccessBlock", "policy": "GetBucketPolicy", "tagging": "GetBucketTagging",
            "versioning": "GetBucketVersioning", "lifecycle": "GetLifecycleConfiguration", "acl": "GetBucketAcl",
            "requestPayment": "GetBucketRequestPayment", "object-lock": "GetBucketObjectLockConfiguration",
            "accelerate": "GetAccelerateConfiguration", "website": "GetBucketWebsite", "logging": "GetBucketLogging",
            "cors": "GetBucketCORS", "replication": "GetReplicationConfiguration", "notification": "GetBucketNotification",
            "location": "GetBucketLocation", "policyStatus": "GetBucketPolicyStatus", "": "ListBucket"},
    "HEAD": {"": "ListBucket"},
    "PUT": {"encryption": "PutEncryptionConfiguration", "ownershipControls": "PutBucketOwnershipControls",
            "publicAccessBlock": "PutBucketPublicAccessBlock", "policy": "PutBucketPolicy", "tagging": "PutBucketTagging",
            "versioning": "PutBucketVersioning", "lifecycle": "PutLifecycleConfiguration", "acl": "PutBucketAcl",
            "logging": "PutBucketLogging", "notification": "PutBucketNotification", "": "CreateBucket"},
    "DELETE": {"policy": "DeleteBucketPolicy", "tagging": "PutBucketTagging", "encryption": "PutEncryptionConfiguration",
               "lifecycle": "PutLifecycleConfiguration", "publicAccessBlock": "PutBucketPublicAccessBlock",
               "ownershipControls": "PutBucketOwnershipControls", "": "DeleteBucket"},
}
# IAM operations on a principal that name a managed policy: the resource is the principal, the
# policy is the condition key iam:PolicyARN.
ATTACH = {"AttachRolePolicy", "DetachRolePolicy", "AttachUserPolicy", "DetachUserPolicy", "AttachGroupPolicy",
          "DetachGroupPolicy"}
_LOCK = threading.Lock()


def _flatten(self: Any) -> dict[str, Any]:
    """Request parameters by their last name: query strings (Foo.member.1 -> Foo list) and JSON bodies."""
    params: dict[str, Any] = {}
    for key, values in (getattr(self, "querystring", None) or {}).items():
        parts = [p for p in key.split(".") if p not in ("member",) and not p.isdigit()]
        values = values if isinstance(values, list) else [values]
        for name in {parts[-1] if parts else key, ".".join(parts)}:
            params[name] = params.get(name, []) + values
    body = getattr(self, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if body and body.lstrip().startswith("{"):
        try:
            def walk(obj: Any) -> None:
                if isinstance(obj, dict):
                    for k, v in obj.items():
                        if isinstance(v, (str, int)):
                            params.setdefault(k, []).append(str(v))
                        elif isinstance(v, list) and all(isinstance(i, str) for i in v):
                            params.setdefault(k, []).extend(v)
                        else:
                            walk(v)
                elif isinstance(obj, list):
                    for item in obj:
                        walk(item)
            walk(json.loads(body))
        except ValueError:
            pass
    return params


def _resources(prefix: str, op: str, p: dict[str, list[str]], path: str, region: str, acct: str) -> list[str]:
    """The ARNs a request names, for the operations the platform's deployer calls."""
    first = lambda k: (p.get(k) or [""])[0]  # noqa: E731
    arn = f"arn:aws:{prefix}:{region}:{acct}"
    if prefix == "ssm":
        names = p.get("Names") or p.get("Name") or ([first("ResourceId")] if first("ResourceType") == "Parameter" else [])
        if op == "GetParametersByPath":
            names = [first("Path")]
        return [f"{arn}:parameter/{n.lstrip('/')}" for n in names if n and not n.startswith("arn:")] + \
            [n for n in names if n.startswith("arn:")]
    if prefix == "iam":
        out = []
        for key, kind in (("RoleName", "role"), ("UserName", "user"), ("InstanceProfileName", "instance-profile"),
                          ("GroupName", "group")):
            if first(key):
                out.append(f"arn:aws:iam::{acct}:{kind}/{first(key)}")
        if first("PolicyArn") and op not in ATTACH:
            out.append(first("PolicyArn"))
        elif op == "CreatePolicy":
            out.append(f"arn:aws:iam::{acct}:policy{first('Path') or '/'}{first('PolicyName')}")
        if op == "CreateServiceLinkedRole":
            out.append(f"arn:aws:iam::{acct}:role/aws-service-role/{first('AWSServiceName')}/*")
        return out
    if prefix == "lambda":
        m = re.search(r"/functions/([^/?]+)", path)
        name = unquote(m.group(1)) if m else first("FunctionName")
        if not name:
            return []
        return [name if name.startswith("arn:") else f"{arn}:function:{name}"]
    if prefix == "sns":
        topics = p.get("TopicArn") or p.get("ResourceArn") or []
        if op == "CreateTopic":
            topics = [f"{arn}:{first('Name')}"]
        if first("SubscriptionArn").count(":") >= 6:
            topics = [first("SubscriptionArn").rsplit(":", 1)[0]]
        return topics
    if prefix == "cloudwatch":
        if op == "PutDashboard" or op == "GetDashboard":
            return [f"arn:aws:cloudwatch::{acct}:dashboard/{first('DashboardName')}"]
        if op in ("TagResource", "UntagResource", "ListTagsForResource"):
            return p.get("ResourceARN", [])
        return [f"{arn}:alarm:{n}" for n in (p.get("AlarmNames") or p.get("AlarmName") or [])]
    if prefix == "logs":
        names = p.get("logGroupName", [])
        return [f"{arn}:log-group:{n}" for n in names] + p.get("resourceArn", [])
    if prefix == "rds":
        out = [f"{arn}:db:{n}" for n in p.get("DBInstanceIdentifier", [])]
        out += [f"{arn}:subgrp:{n}" for n in p.get("DBSubnetGroupName", [])]
        out += [f"{arn}:pg:{n}" for n in p.get("DBParameterGroupName", [])]
        out += [f"{arn}:es:{n}" for n in p.get("SubscriptionName", [])]
        out += [f"{arn}:snapshot:{n}" for n in p.get("DBSnapshotIdentifier", []) + p.get("FinalDBSnapshotIdentifier", [])]
        return out + p.get("ResourceName", [])
    if prefix == "elasticloadbalancing":
        out = []
        for key in ("LoadBalancerArn", "TargetGroupArn", "ListenerArn", "RuleArn", "ResourceArns", "LoadBalancerArns",
                    "TargetGroupArns", "ListenerArns", "RuleArns"):
            out += p.get(key, [])
        if op == "CreateLoadBalancer":
            out.append(f"{arn}:loadbalancer/app/{first('Name')}/*")
        if op == "CreateTargetGroup":
            out.append(f"{arn}:targetgroup/{first('Name')}/*")
        if op in ("CreateListener",) and first("LoadBalancerArn"):
            out.append(first("LoadBalancerArn").replace(":loadbalancer/", ":listener/") + "/*")
        if op in ("CreateRule",) and first("ListenerArn"):
            out.append(first("ListenerArn").replace(":listener/", ":listener-rule/") + "/*")
        return [o for o in out if o.startswith("arn:")]
    if prefix == "autoscaling":
        names = p.get("AutoScalingGroupName", [])
        if op.startswith("Describe"):
            names = []
        return [f"{arn}:autoScalingGroup:*:autoScalingGroupName/{n}" for n in names]
    if prefix == "backup":
        out = []
        m = re.search(r"/backup-vaults/([^/?]+)", path)
        if m:
            out.append(f"{arn}:backup-vault:{unquote(m.group(1))}")
        m = re.search(r"/backup/plans/([^/?]+)", path)
        if m:
            out.append(f"{arn}:backup-plan:{unquote(m.group(1))}")
        elif op == "CreateBackupPlan":
            out.append(f"{arn}:backup-plan:*")
        if op == "StartBackupJob":
            out.append(f"{arn}:backup-vault:{first('BackupVaultName')}")
        if op == "StartRestoreJob":
            out.append(first("RecoveryPointArn"))
        return out
    if prefix == "kms":
        key = first("KeyId") or first("TargetKeyId")
        out = []
        if key.startswith("arn:"):
            out.append(key)
        elif key.startswith("alias/"):
            out.append(f"{arn}:{key}")
        elif key:
            out.append(f"{arn}:key/{key}")
        if op in ("CreateAlias", "DeleteAlias", "UpdateAlias") and first("AliasName"):
            out.append(f"{arn}:{first('AliasName')}")
        return out
    if prefix == "sqs":
        names = p.get("QueueName", []) + [u.rstrip("/").rsplit("/", 1)[-1] for u in p.get("QueueUrl", [])]
        return [f"{arn}:{n}" for n in names]
    if prefix == "route53":
        m = re.search(r"/hostedzone/([^/?]+)", path)
        return [f"arn:aws:route53:::hostedzone/{m.group(1)}"] if m else []
    if prefix == "cloudfront":
        m = re.search(r"/distribution/([^/?]+)", path)
        if m:
            return [f"arn:aws:cloudfront::{acct}:distribution/{m.group(1)}"]
        if op in ("CreateDistribution", "CreateDistributionWithTags"):
            return [f"arn:aws:cloudfront::{acct}:distribution/*"]
        return p.get("Resource", [])
    if prefix == "elasticfilesystem":
        out = [f"{arn}:file-system/{i}" for i in re.findall(r"/file-systems/(fs-[^/?]+)", path)]
        out += [f"{arn}:access-point/{i}" for i in re.findall(r"/access-points/(fsap-[^/?]+)", path)]
        out += [f"{arn}:file-system/{i}" for i in p.get("FileSystemId", [])]
        out += [f"{arn}:file-system/{i}" for i in re.findall(r"/(?:create|delete)-tags/(fs-[^/?]+)", path)]
        if op == "CreateFileSystem":
            out.append(f"{arn}:file-system/*")
        m = re.search(r"/resource-tags/([^/?]+)", path)
        if m:
            rid = unquote(m.group(1))
            out.append(f"{arn}:{'access-point' if rid.startswith('fsap-') else 'file-system'}/{rid}")
        return out
    if prefix == "acm":
        return p.get("CertificateArn") or ([f"{arn}:certificate/*"] if op == "RequestCertificate" else [])
    if prefix == "ses":
        out = [f"{arn}:identity/{unquote(i)}" for i in re.findall(r"/identities/([^/?]+)", path)]
        out += [f"{arn}:configuration-set/{unquote(i)}" for i in re.findall(r"/configuration-sets/([^/?]+)", path)]
        out += [f"{arn}:identity/{i}" for i in p.get("Identity", []) + p.get("EmailIdentity", [])]
        out += [f"{arn}:identity/{d}" for d in p.get("Domain", [])]
        out += [f"{arn}:configuration-set/{c}" for c in p.get("ConfigurationSetName", []) + p.get("ConfigurationSet.Name", [])]
        return list(dict.fromkeys(out))
    return []


def _template_profiles(p: dict[str, list[str]], acct: str, region: str) -> list[str]:
    """The instance profile (ARN or name) of the launch template version an Auto Scaling request names."""
    from moto.ec2.models import ec2_backends
    ec2 = ec2_backends[acct][region]
    tid, name = (p.get("LaunchTemplate.LaunchTemplateId") or [""])[0], (p.get("LaunchTemplate.LaunchTemplateName") or [""])[0]
    try:
        template = ec2.get_launch_template(tid) if tid else ec2.get_launch_template_by_name(name) if name else None
        version = template.get_version((p.get("LaunchTemplate.Version") or ["$Default"])[0]) if template else None
    except Exception:  # noqa: BLE001 - the service reports an unknown template itself
        return []
    profile = (version.data.get("IamInstanceProfile") or {}) if version else {}
    return [v for v in (profile.get("Arn"), profile.get("Name")) if v][:1]


def _roles_passed(action: str, p: dict[str, list[str]], acct: str, iam: Any,
                  region: str = "") -> list[tuple[str, str]]:
    spec = PASS_ROLE.get(action)
    if not spec:
        return []
    key, service = spec
    if key == "LaunchTemplate":
        values = _template_profiles(p, acct, region)
        key = "IamInstanceProfile"
    else:
        values = (p.get("IamInstanceProfile.Arn") or p.get("IamInstanceProfile.Name") if key == "IamInstanceProfile"
                  else p.get(key))
    roles = []
    for value in values or []:
        if key == "IamInstanceProfile":
            name = value.rsplit("/", 1)[-1]
            try:
                profile = iam.get_instance_profile(name)
            except Exception:  # noqa: BLE001 - the service reports an unknown profile itself
                continue
            roles += [r.arn for r in profile.roles]
        else:
            roles.append(value if value.startswith("arn:") else f"arn:aws:iam::{acct}:role/{value}")
    return [(r, service) for r in roles]


def _principal_for_key(iam: Any, account: str, key_id: str) -> str | None:
    """The IAM user whose access key this is, or the role of the STS session (an instance's
    credentials from the metadata service are such a session); None for any other key."""
    for user in iam.users.values():
        if any(k.access_key_id == key_id for k in user.access_keys):
            return user.arn
    from moto.sts.models import sts_backends
    for session in sts_backends[account]["aws"].assumed_roles:
        if session.access_key_id == key_id:
            return session.role_arn
    return None


def _audit(record: dict[str, Any]) -> None:
    path = os.environ.get("PROTEA_IAM_AUDIT")
    if path:
        with _LOCK, open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")


def _apply() -> None:
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.models import iam_backends
    from moto.core.exceptions import AccessDeniedError, JsonRESTError
    from moto import settings

    original: Callable[..., None] = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        if ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT:
            return original(self, iam_request_cls, resource)  # moto's own mode, when asked for
        auth = self.headers.get("Authorization") or ""
        scope = auth.partition("Credential=")[2].partition(",")[0].split("/")
        if len(scope) < 4:
            return original(self, iam_request_cls, resource)
        key_id, region, service = scope[0], scope[2], scope[3]
        iam = iam_backends[self.current_account]["aws"]
        user = _principal_for_key(iam, self.current_account, key_id)
        if user is None:
            return original(self, iam_request_cls, resource)
        prefix = PREFIX.get(service, service)
        op = self._get_action()
        op = op[0] if isinstance(op, list) else op
        if prefix == "s3":
            # moto computes the resource; bucket-level actions are named here (S3_BUCKET_ACTIONS).
            if resource.removeprefix("arn:aws:s3:::") not in ("*", resource) and "/" not in resource.removeprefix("arn:aws:s3:::"):
                query = urlparse(self.uri).query
                sub = next((k.split("=")[0] for k in query.split("&") if k.split("=")[0] in S3_BUCKET_ACTIONS.get(
                    self.method, {})), "") if query else ""
                op = S3_BUCKET_ACTIONS.get(self.method, {}).get(sub, op)
            actions, resources = [f"s3:{op}"], [resource]
            params: dict[str, list[str]] = {}
        else:
            params = _flatten(self)
            actions = ACTION.get(f"{prefix}:{op}", [f"{prefix}:{op}"])
            path = unquote(getattr(self, "path", "") or "")
            resources = _resources(prefix, op, params, path, region, self.current_account) or ["*"]
        docs = _principal_documents(iam, user)
        base = {"aws:requestedregion": [region]}
        if op in ATTACH and params.get("PolicyArn"):
            base["iam:policyarn"] = params["PolicyArn"]
        checks = [(a, r, base) for a in actions for r in resources]
        for a in actions:
            checks += [("iam:PassRole", role, {"aws:requestedregion": [region], "iam:passedtoservice": [svc]})
                       for role, svc in _roles_passed(a, params, self.current_account, iam, region)]
        for action, res, context in checks:
            decision = evaluate(docs, action, res, context)
            _audit({"principal": user, "operation": f"{prefix}:{op}", "action": action, "resource": res,
                    "context": context, "decision": decision})
            if decision != "allowed" and os.environ.get("PROTEA_IAM_AUDIT_ONLY") != "1":
                message = f"User: {user} is not authorized to perform: {action} on resource: {res}"
                if prefix == "s3":
                    from moto.s3.exceptions import S3AccessDeniedError
                    raise S3AccessDeniedError()
                if "json" in (self.headers.get("Content-Type") or "") or prefix in JSON_ERRORS:
                    raise JsonRESTError("AccessDeniedException", message)
                raise AccessDeniedError(user_arn=user, action=f"{action} on resource: {res}")
        ActionAuthenticatorMixin.request_count += 1

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize  # type: ignore[method-assign]


PATCHES = [
    Patch(
        name="iam-requests-authorized",
        api="every API request signed by an IAM user's key or a role session's credentials",
        moto_does="Authorizes no request unless INITIAL_NO_AUTH_ACTION_COUNT is set, and then every caller at once, "
        "against the resource * for most services (a policy scoped to ARNs denies everything), with no iam:PassRole.",
        aws_does="Evaluates the caller's identity-based policies (an IAM user's, or the role's for an STS session such "
        "as an instance's credentials) for the action and each resource the request names; "
        "handing a role to a service also needs iam:PassRole on it (with iam:PassedToService).",
        doc="IAM User Guide, Policy evaluation logic: "
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html; Granting a user "
        "permissions to pass a role to an AWS service: "
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html",
        apply=_apply,
    ),
]
