"""Bench runs add ansible.posix.profile_tasks and ansible.posix.timer next to the stdout callback
(bench/_tier.py PROFILE_ENV) and keep the ten slowest tasks in their results: one tiny playbook
run with those settings, its output read back by the parsers the benches use."""
from __future__ import annotations

import re
import subprocess

import yaml

from bench._tier import PROFILE_ENV, profile
from tests.helpers import REPO

LONG = "A task whose name is longer than the column profile_tasks pads to with dashes, so it has none"
PLAY = [{"hosts": "localhost", "gather_facts": False, "tasks": [
    {"name": "Quick", "ansible.builtin.debug": {"msg": "quick"}},
    {"name": "Sleep a second", "ansible.builtin.pause": {"seconds": 1}},
    {"name": LONG, "ansible.builtin.pause": {"seconds": 1}},
    {"name": "Wait a little", "ansible.builtin.set_fact": {"status": "creating"},
     "until": False, "retries": 1, "delay": 1, "ignore_errors": True},
    *({"name": f"Filler {i}", "ansible.builtin.debug": {"msg": i}} for i in range(10)),
]}]


def test_the_profiling_callbacks_run_with_the_stdout_callback_and_are_read_back(tmp_path):
    play = tmp_path / "profiled.yml"
    play.write_text(yaml.safe_dump(PLAY, sort_keys=False))
    out = subprocess.run([str(REPO / ".venv/bin/ansible-playbook"), "-i", "localhost,", "-c", "local", str(play)],
                         capture_output=True, text=True, timeout=120, cwd=REPO,
                         env={"ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                              "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **PROFILE_ENV})
    assert out.returncode == 0, out.stdout + out.stderr
    stdout = out.stdout
    # The stdout callback still speaks: its wait line, banners and recap.
    assert re.search(r"^Waiting: \[localhost\]: Wait a little - creating, 0:0\d of ~2 s \(attempt 1 of 2\)$", stdout, re.M)
    assert "TASK [Sleep a second] ***" in stdout and "PLAY RECAP ***" in stdout
    # Summary only: profile_tasks prints its timestamp line once, in its recap, not before every task.
    assert len(re.findall(r"^\w+day \d\d \w+ \d{4} ", stdout, re.M)) == 1, stdout
    assert "TASKS RECAP ***" in stdout and "PLAYBOOK RECAP ***" in stdout

    found = profile(stdout)
    tasks = found["slowest_tasks"]
    assert len(tasks) == 10, tasks  # 14 tasks ran; the summary stops at ten
    assert [t["seconds"] for t in tasks] == sorted((t["seconds"] for t in tasks), reverse=True)
    # The pauses and the wait (two attempts, a second apart) take at least a second each and are kept,
    # with their whole names. Only that lower bound is asserted: under load a quick task can take
    # longer than a second too (the suite's niced lane saw "Quick" at 1.53 s, above a pause's 1.41 s).
    slow = {"Sleep a second", LONG, "Wait a little"}
    assert slow <= {t["task"] for t in tasks}, tasks
    assert all(t["seconds"] >= 1.0 for t in tasks if t["task"] in slow), tasks
    assert {t["task"] for t in tasks} <= slow | {"Quick", *(f"Filler {i}" for i in range(10))}, tasks
    assert isinstance(found["timer_seconds"], int) and found["timer_seconds"] >= 3, found


def test_a_run_without_the_callbacks_has_no_profile():
    assert profile("PLAY RECAP ***\nlocalhost : ok=1 changed=0\n") == {"timer_seconds": None, "slowest_tasks": []}
