# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""Where a group of resources stands while a task waits for all of them (an until loop).

The vpc role waits for its new NAT gateways, the bastion role for its new instances: one poll for
the whole group, stopping as soon as every resource reached its goal or one reached a state it
never leaves (a failed NAT gateway, a terminated instance), so that a lost cause fails at once
instead of after the whole timeout. The rule is the same for both, so it lives here, tested.
"""
from __future__ import annotations

from ansible.errors import AnsibleFilterError

VERDICTS = ("done", "waiting", "failed")


def _state(item, path):
    value = item
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def wait_verdict(items, state, goal, failed=()):
    """'failed' when one item's state is in `failed`, else 'waiting' while one is not `goal`, else 'done'
    (also for no items: nothing to wait for)."""
    if not isinstance(state, str) or not state:
        raise AnsibleFilterError(f"wait_verdict: state must be a dotted key such as 'state.name', got {state!r}")
    if isinstance(failed, str):
        failed = [failed]
    states = [_state(item, state) for item in (items or [])]
    if any(s in failed for s in states):
        return "failed"
    return "waiting" if any(s != goal for s in states) else "done"


class FilterModule:
    """protea.platform wait filters."""

    def filters(self):
        return {"wait_verdict": wait_verdict}
