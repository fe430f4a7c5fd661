"""The stdout callback protea.platform.progress (ansible.cfg): a task that waits says what it
awaits, the state last reported and the time spent against the time allowed; a no_log task's
state stays hidden; everything else is the default callback's output."""
from __future__ import annotations

import re
import subprocess

import yaml

from plugins.callback.progress import state_of
from tests.helpers import REPO

PLAY = [{"hosts": "localhost", "gather_facts": False, "tasks": [
    {"name": "Wait until the database is available", "ansible.builtin.set_fact": {"status": "creating"},
     "until": False, "retries": 2, "delay": 1, "ignore_errors": True},
    {"name": "Wait with a secret", "ansible.builtin.set_fact": {"status": "s3cr3t-value"}, "no_log": True,
     "until": False, "retries": 1, "delay": 0, "ignore_errors": True},
    {"name": "An ordinary task", "ansible.builtin.debug": {"msg": "hello"}},
]}]


def run(tmp_path, *args: str) -> str:
    play = tmp_path / "wait.yml"
    play.write_text(yaml.safe_dump(PLAY, sort_keys=False))
    out = subprocess.run([str(REPO / ".venv/bin/ansible-playbook") if (REPO / ".venv/bin/ansible-playbook").exists()
                          else "ansible-playbook", "-i", "localhost,", "-c", "local", str(play), *args],
                         capture_output=True, text=True, timeout=120, cwd=REPO,
                         env={"ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                              "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_a_wait_is_reported_in_plain_words(tmp_path):
    out = run(tmp_path)
    for attempt in (1, 2):
        assert re.search(rf"^Waiting: \[localhost\]: Wait until the database is available - creating, \d+:\d\d of ~3 s"
                         rf" \(attempt {attempt} of 3\)$", out, re.M), out
    assert "FAILED - RETRYING" not in out
    # The rest is the default callback's output.
    assert "TASK [An ordinary task] ***" in out and 'msg: hello' in out and "PLAY RECAP ***" in out


def test_a_no_log_wait_shows_no_state(tmp_path):
    out = run(tmp_path, "-vvv")
    assert "Waiting: [localhost]: Wait with a secret - not ready yet" in out
    assert "s3cr3t-value" not in out


def test_the_state_word_is_found_where_services_put_it():
    assert state_of({"instances": [{"db_instance_status": "backing-up", "endpoint": {}}]}) == "backing-up"
    assert state_of({"distribution": {"status": "InProgress"}}) == "InProgress"
    assert state_of({"certificate": {"status": "PENDING_VALIDATION"}}) == "PENDING_VALIDATION"
    assert state_of({"instances": [{"state": {"name": "pending", "code": 0}}]}) == "pending"
    assert state_of({"msg": "a long message: not a state"}) == ""
    assert state_of({"status": "x" * 60}) == ""
