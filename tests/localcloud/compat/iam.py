"""IAM: the policy simulator, so a test can ask the emulator what a principal may do.

``iam:SimulatePrincipalPolicy`` evaluates the identity-based policies of a user or role (inline
and attached managed ones, and a user's groups') for each action and resource, as the IAM
policy evaluation logic does (IAM User Guide, "Policy evaluation logic"): an explicit Deny wins,
otherwise an Allow allows, otherwise the request is implicitly denied. Action and Resource (and
NotAction/NotResource) match with the ``*``/``?`` wildcards; actions case-insensitively. A
statement with a Condition applies only when the caller gives every condition key in
ContextEntries and the condition holds (StringEquals/StringLike/ArnEquals/ArnLike and their
negations; other operators never hold). Resource-based policies and permissions boundaries are
not evaluated (the simulator evaluates them only when given as input).
"""
from __future__ import annotations

import fnmatch
import json
import re
from typing import Any, Iterable

from tests.localcloud.compat import Patch


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _wild(pattern: str, value: str, case: bool) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


_CONDITIONS = {
    "StringEquals": lambda want, got: got == want,
    "StringNotEquals": lambda want, got: got != want,
    "StringEqualsIgnoreCase": lambda want, got: got.lower() == want.lower(),
    "StringLike": lambda want, got: fnmatch.fnmatchcase(got, want),
    "StringNotLike": lambda want, got: not fnmatch.fnmatchcase(got, want),
    "ArnEquals": lambda want, got: got == want,
    "ArnLike": lambda want, got: _wild(want, got, True),
    "ArnNotEquals": lambda want, got: got != want,
    "ArnNotLike": lambda want, got: not _wild(want, got, True),
}


def _conditions_hold(condition: dict[str, Any] | None, context: dict[str, list[str]]) -> bool:
    for operator, keys in (condition or {}).items():
        test = _CONDITIONS.get(operator)
        if test is None:
            return False
        for key, wanted in keys.items():
            got = context.get(key.lower())
            if not got:
                return False
            # Several values of a key are ORed; negated operators must hold for all of them.
            negated = "Not" in operator
            results = [any(test(str(w), g) for w in _as_list(wanted)) for g in got]
            if not (all(results) if negated else any(results)):
                return False
    return True


def statement_applies(stmt: dict[str, Any], action: str, resource: str, context: dict[str, list[str]]) -> bool:
    if "Action" in stmt:
        if not any(_wild(a, action, False) for a in _as_list(stmt["Action"])):
            return False
    elif "NotAction" in stmt:
        if any(_wild(a, action, False) for a in _as_list(stmt["NotAction"])):
            return False
    else:
        return False
    if "Resource" in stmt:
        if not any(_wild(r, resource, True) for r in _as_list(stmt["Resource"])):
            return False
    elif "NotResource" in stmt:
        if any(_wild(r, resource, True) for r in _as_list(stmt["NotResource"])):
            return False
    return _conditions_hold(stmt.get("Condition"), context)


def evaluate(documents: Iterable[Any], action: str, resource: str,
             context: dict[str, list[str]] | None = None) -> str:
    """allowed | explicitDeny | implicitDeny for identity-based policy documents (JSON text or dicts)."""
    allowed = False
    for doc in documents:
        body = json.loads(doc) if isinstance(doc, str) else doc
        for stmt in _as_list(body.get("Statement")):
            if not statement_applies(stmt, action, resource, context or {}):
                continue
            if stmt.get("Effect") == "Deny":
                return "explicitDeny"
            if stmt.get("Effect") == "Allow":
                allowed = True
    return "allowed" if allowed else "implicitDeny"


def _principal_documents(backend: Any, arn: str) -> list[str]:
    kind, _, name = arn.split(":", 5)[5].partition("/")
    name = name.rsplit("/", 1)[-1]
    docs: list[str] = []

    def managed(attached: Iterable[Any]) -> None:
        for policy in attached:
            version = next(v for v in policy.versions if v.is_default)
            docs.append(version.document)

    if kind == "role":
        role = backend.get_role(name)
        docs += [doc for doc in role.policies.values()]
        managed(role.managed_policies.values())
    elif kind == "user":
        user = backend.get_user(name)
        docs += list(user.policies.values())
        managed(user.managed_policies.values())
        for group in backend.get_groups_for_user(name):
            docs += list(group.policies.values())
            managed(group.managed_policies.values())
    else:
        raise ValueError(arn)
    return docs


def _apply_simulate_principal_policy() -> None:
    from moto.core.responses import ActionResult
    from moto.iam.exceptions import NotFoundException
    from moto.iam.responses import IamResponse

    def simulate_principal_policy(self: Any) -> Any:
        source = self._get_param("PolicySourceArn")
        actions = self._get_param("ActionNames", []) or []
        resources = self._get_param("ResourceArns", []) or ["*"]
        context: dict[str, list[str]] = {}
        for entry in self._get_param("ContextEntries", []) or []:
            context[str(entry["ContextKeyName"]).lower()] = [str(v) for v in entry.get("ContextKeyValues", [])]
        try:
            docs = _principal_documents(self.backend, source)
        except (ValueError, KeyError, IndexError) as exc:
            raise NotFoundException(f"The principal {source} does not exist or is not a user or role.") from exc
        results = [{"EvalActionName": action, "EvalResourceName": resource,
                    "EvalDecision": evaluate(docs, action, resource, context)}
                   for action in actions for resource in resources]
        return ActionResult({"EvaluationResults": results, "IsTruncated": False})

    IamResponse.simulate_principal_policy = simulate_principal_policy  # type: ignore[attr-defined]


PATCHES = [
    Patch(
        name="iam-simulate-principal-policy",
        api="iam:SimulatePrincipalPolicy",
        moto_does="Does not implement the policy simulator (the request fails).",
        aws_does="Evaluates the principal's identity-based policies (inline, attached managed, a user's groups') "
        "for each action and resource: explicit Deny wins, an Allow allows, otherwise implicitDeny.",
        doc="IAM API Reference, SimulatePrincipalPolicy: "
        "https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html; IAM User Guide, "
        "Policy evaluation logic: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html",
        apply=_apply_simulate_principal_policy,
    ),
]
