"""The environment's run lock (role run_lock, module protea.platform.run_lock) on the emulator:
one run at a time; a second refuses naming the holder, or waits; a lock left by a run that was
killed on this machine, an expired one, or one broken by its id is taken over; --check only reads.
site.yml and bake_image.yml take it (tests/e2e checks it is released after a site run)."""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.helpers import run_playbook

pytestmark = pytest.mark.emulator

HOLDER = "tests/provisioning/run_lock_holder.yml"
LOCK = "/shopper/local/run-lock"


def _hold(emu, name: str, seconds: int, **extra):
    return run_playbook(HOLDER, endpoint=emu.endpoint, timeout=300,
                        extra_vars={"test_holder_name": name, "test_hold_seconds": seconds, **extra})


def _lock(emu) -> dict | None:
    ssm = emu.client("ssm")
    try:
        return json.loads(ssm.get_parameter(Name=LOCK)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return None


def _in_background(fn):
    out: list = []
    thread = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    thread.start()
    return thread, out


def _wait_for_lock(emu, timeout=60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lock = _lock(emu)
        if lock:
            return lock
        time.sleep(0.5)
    raise AssertionError("the first run never took the lock")


def test_a_second_run_refuses_naming_the_holder_then_runs_once_it_is_free(clean_emulator):
    emu = clean_emulator
    thread, first = _in_background(lambda: _hold(emu, "first.yml", 25))
    held = _wait_for_lock(emu)
    assert held["holder"]["playbook"] == "first.yml" and held["holder"]["pid"] > 1
    second = _hold(emu, "second.yml", 0)
    assert second.rc != 0, second.explain()
    assert "is held by another run (host " in second.stdout and "playbook first.yml" in second.stdout, second.explain()
    assert f"-e run_lock_break={held['id']}" in second.stdout
    thread.join(120)
    assert first[0].rc == 0, first[0].explain()
    assert _lock(emu) is None, "released at the end of the run"
    third = _hold(emu, "second.yml", 0)
    assert third.rc == 0 and third.changed == 0, third.explain()
    assert _lock(emu) is None


def test_a_second_run_may_wait_for_the_lock(clean_emulator):
    emu = clean_emulator
    thread, first = _in_background(lambda: _hold(emu, "first.yml", 10))
    _wait_for_lock(emu)
    waiting = _hold(emu, "patient.yml", 0, run_lock_wait_seconds=120, run_lock_poll_seconds=1)
    thread.join(120)
    assert first[0].rc == 0 and waiting.rc == 0, waiting.explain()


def test_a_lock_left_by_a_killed_run_on_this_machine_is_taken_over(clean_emulator):
    emu = clean_emulator
    killed = run_playbook(HOLDER, endpoint=emu.endpoint, kill_at="TASK [Hold the lock]",
                          extra_vars={"test_holder_name": "killed.yml", "test_hold_seconds": 600})
    assert killed.rc == -9
    left = _lock(emu)
    assert left and left["holder"]["playbook"] == "killed.yml", "SIGKILL leaves the lock behind"
    time.sleep(1)  # the killed process is reaped
    after = _hold(emu, "next.yml", 0)
    assert after.rc == 0, after.explain()
    assert f"Took over the run lock {left['id']}" in after.stdout


def _foreign_lock(emu, expires: datetime) -> str:
    """A lock taken on another machine (an AWX job's container)."""
    lock = {"id": "awx0job0lock0id", "holder": {"playbook": "site.yml", "host": "awx-job-42", "pid": 7, "user": "awx"},
            "since": "2026-12-01T08:00:00Z", "expires": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}
    emu.client("ssm").put_parameter(Name=LOCK, Type="String", Value=json.dumps(lock))
    return lock["id"]


def test_another_machine_s_lock_is_broken_only_by_its_id_and_an_expired_one_is_free(clean_emulator):
    emu = clean_emulator
    lock_id = _foreign_lock(emu, datetime.now(timezone.utc) + timedelta(hours=1))
    refused = _hold(emu, "mine.yml", 0)
    assert refused.rc != 0 and "host awx-job-42" in refused.stdout, refused.explain()
    wrong = _hold(emu, "mine.yml", 0, run_lock_break="not-that-one")
    assert wrong.rc != 0, wrong.explain()
    # --check reads only: it refuses as the run would, and writes nothing.
    check = run_playbook(HOLDER, endpoint=emu.endpoint, check=True,
                         extra_vars={"test_holder_name": "mine.yml", "test_hold_seconds": 0})
    assert check.rc != 0 and _lock(emu)["id"] == lock_id, check.explain()
    broken = _hold(emu, "mine.yml", 0, run_lock_break=lock_id)
    assert broken.rc == 0 and f"Took over the run lock {lock_id}" in broken.stdout, broken.explain()
    assert _lock(emu) is None
    _foreign_lock(emu, datetime.now(timezone.utc) - timedelta(minutes=1))
    expired = _hold(emu, "mine.yml", 0)
    assert expired.rc == 0 and "Took over the run lock awx0job0lock0id" in expired.stdout, expired.explain()
    free_check = run_playbook(HOLDER, endpoint=emu.endpoint, check=True,
                              extra_vars={"test_holder_name": "mine.yml", "test_hold_seconds": 0})
    assert free_check.rc == 0 and _lock(emu) is None, free_check.explain()
