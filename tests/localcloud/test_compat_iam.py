"""iam:SimulatePrincipalPolicy: AWS's evaluation of identity policies when patched, moto's gap without."""
from __future__ import annotations

import json

import botocore.exceptions
import botocore.parsers
import pytest

from tests.localcloud.compat.iam import evaluate

pytestmark = pytest.mark.emulator

PATCH = "iam-simulate-principal-policy"
ACCOUNT = "123456789012"
PARAM = f"arn:aws:ssm:af-south-1:{ACCOUNT}:parameter"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                  "Action": "sts:AssumeRole"}]}


def _role(emu):
    iam = emu.client("iam")
    arn = iam.create_role(RoleName="web", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    iam.put_role_policy(RoleName="web", PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters"],
             "Resource": [f"{PARAM}/shop/prod/rds/app-password"]},
            {"Effect": "Deny", "Action": "ssm:*", "Resource": f"{PARAM}/shop/prod/forbidden"},
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
             "Condition": {"StringEquals": {"kms:ViaService": "ssm.af-south-1.amazonaws.com"}}}]}))
    iam.attach_role_policy(RoleName="web", PolicyArn="arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy")
    return iam, arn


def _decisions(iam, arn, actions, resources, context=None):
    res = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=actions, ResourceArns=resources,
                                        **({"ContextEntries": context} if context else {}))
    return {(r["EvalActionName"], r["EvalResourceName"]): r["EvalDecision"] for r in res["EvaluationResults"]}


def test_simulator_evaluates_inline_and_managed_policies(clean_emulator):
    iam, arn = _role(clean_emulator)
    own, master = f"{PARAM}/shop/prod/rds/app-password", f"{PARAM}/shop/prod/rds/master-password"
    got = _decisions(iam, arn, ["ssm:GetParameter", "ssm:PutParameter"], [own, master, f"{PARAM}/shop/prod/forbidden"])
    assert got == {
        ("ssm:GetParameter", own): "allowed",
        ("ssm:GetParameter", master): "implicitDeny",
        ("ssm:GetParameter", f"{PARAM}/shop/prod/forbidden"): "explicitDeny",
        ("ssm:PutParameter", own): "implicitDeny",
        ("ssm:PutParameter", master): "implicitDeny",
        ("ssm:PutParameter", f"{PARAM}/shop/prod/forbidden"): "explicitDeny",
    }
    # The attached AWS managed policy counts (CloudWatchAgentServerPolicy: cloudwatch:PutMetricData on *).
    assert _decisions(iam, arn, ["cloudwatch:PutMetricData"], ["*"]) == {("cloudwatch:PutMetricData", "*"): "allowed"}
    # A conditional statement applies only with its context key.
    key = f"arn:aws:kms:af-south-1:{ACCOUNT}:key/abc"
    assert _decisions(iam, arn, ["kms:Decrypt"], [key])[("kms:Decrypt", key)] == "implicitDeny"
    ctx = [{"ContextKeyName": "kms:ViaService", "ContextKeyValues": ["ssm.af-south-1.amazonaws.com"],
            "ContextKeyType": "string"}]
    assert _decisions(iam, arn, ["kms:Decrypt"], [key], ctx)[("kms:Decrypt", key)] == "allowed"


def test_simulator_without_patch_is_moto_stock(emulator_factory):
    iam, arn = _role(emulator_factory(disable=[PATCH]))
    with pytest.raises((botocore.exceptions.ClientError, botocore.parsers.ResponseParserError, NotImplementedError)):
        iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["ssm:GetParameter"], ResourceArns=["*"])


@pytest.mark.parametrize(("pattern", "resource", "decision"), [
    ("arn:aws:ssm:*:*:parameter/a/*", "arn:aws:ssm:af-south-1:1:parameter/a/b", "allowed"),
    ("arn:aws:ssm:*:*:parameter/a/*", "arn:aws:ssm:af-south-1:1:parameter/ab", "implicitDeny"),
    # "." is literal (a regex dot would let parameter/aXb through).
    ("arn:aws:ssm:*:*:parameter/a.b", "arn:aws:ssm:af-south-1:1:parameter/aXb", "implicitDeny"),
    ("arn:aws:ssm:*:*:parameter/a?b", "arn:aws:ssm:af-south-1:1:parameter/aXb", "allowed"),
    # Resources match case-sensitively.
    ("arn:aws:ssm:*:*:parameter/A", "arn:aws:ssm:af-south-1:1:parameter/a", "implicitDeny"),
])
def test_resource_wildcards(pattern, resource, decision):
    doc = {"Statement": [{"Effect": "Allow", "Action": "SSM:getparameter", "Resource": pattern}]}
    assert evaluate([doc], "ssm:GetParameter", resource) == decision
