"""plugins/filter/waits.py: the verdict of a wait for several resources at once."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from plugins.filter.waits import wait_verdict

TERMINAL = ["shutting-down", "terminated", "stopped"]


def instance(state: str) -> dict:
    return {"instance_id": "i-1", "state": {"name": state, "code": 0}}


def test_waiting_until_every_one_reached_the_goal() -> None:
    assert wait_verdict([instance("running"), instance("pending")], "state.name", "running", TERMINAL) == "waiting"
    assert wait_verdict([instance("running"), instance("running")], "state.name", "running", TERMINAL) == "done"


def test_one_lost_cause_fails_the_whole_wait_at_once() -> None:
    assert wait_verdict([instance("pending"), instance("terminated")], "state.name", "running", TERMINAL) == "failed"
    nats = [{"nat_gateway_id": "nat-1", "state": "available"}, {"nat_gateway_id": "nat-2", "state": "failed"}]
    assert wait_verdict(nats, "state", "available", "failed") == "failed"


def test_nothing_to_wait_for_is_done_and_a_missing_state_is_waiting() -> None:
    assert wait_verdict([], "state", "available") == "done"
    assert wait_verdict(None, "state", "available") == "done"
    assert wait_verdict([{"nat_gateway_id": "nat-1"}], "state", "available") == "waiting"


def test_a_bad_state_key_is_refused() -> None:
    with pytest.raises(AnsibleFilterError, match="state must be a dotted key"):
        wait_verdict([], "", "running")
