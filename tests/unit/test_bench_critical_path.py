"""bench/critical_path.py: the critical path and the idle time per operation, on small graphs and
on the site's own graph with AWS's usual durations."""
from __future__ import annotations

import pytest

from bench.critical_path import OPERATIONS, Operation, critical_path, scaled_polls, waited_on_nothing
from plugins.callback.progress import USUAL_MINUTES

MINUTES = {"short": 1.0, "long": 10.0, "mid": 3.0}


def test_the_longest_chain_wins_over_the_longest_single_operation():
    ops = {"a": Operation("long"), "b": Operation("mid"), "c": Operation("mid", ("b",)), "d": Operation("mid", ("c",)),
           "e": Operation("mid", ("d",)), "f": Operation("short", ("a",))}
    assert critical_path(ops, MINUTES) == (12.0, ["b", "c", "d", "e"])


def test_a_cycle_or_an_unknown_operation_is_refused():
    with pytest.raises(ValueError, match="cycle: a -> b -> a"):
        critical_path({"a": Operation("short", ("b",)), "b": Operation("short", ("a",))}, MINUTES)
    with pytest.raises(ValueError, match="a needs 'x'"):
        critical_path({"a": Operation("short", ("x",))}, MINUTES)


def test_the_sites_critical_path_is_the_database_then_the_web_instances():
    minutes, path = critical_path(OPERATIONS, USUAL_MINUTES)
    # RDS Multi-AZ 15 min, then the first instances 1 min; the image chain (NAT 1.5 + 1 + 10 + 1) is shorter.
    assert (minutes, path) == (16.0, ["database", "web_instances"])
    assert all(op.duration in USUAL_MINUTES for op in OPERATIONS.values())


def test_idle_time_is_the_start_after_the_last_input_was_ready():
    ops = {"a": Operation("mid"), "b": Operation("short"), "c": Operation("long", ("a", "b"))}
    # a started at 2 s and takes 3 * 2 = 6 s: ready at 8; b ready at 1 + 2 = 3; c started at 20: idle 12.
    assert waited_on_nothing(ops, {"a": 2.0, "b": 1.0, "c": 20.0}, MINUTES, 2.0) == {"a": 2.0, "b": 1.0, "c": 12.0}
    # Started before its input was ready cannot be below zero; an operation never started is left out.
    assert waited_on_nothing(ops, {"a": 2.0, "c": 5.0}, MINUTES, 2.0) == {"a": 2.0, "c": 0.0}


def test_poll_delays_scale_like_the_operations_never_below_a_second():
    polls = scaled_polls(6.0)
    assert polls["rds_wait_delay"] == 3 and polls["bastion_wait_delay"] == 1
