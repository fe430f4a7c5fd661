"""The strategy protea.platform.local_mitogen (ansible.cfg): Mitogen for plays whose hosts all use
the local connection, the stock linear strategy for any other play."""
from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml

from plugins.strategy.local_mitogen import _all_local
from tests.helpers import REPO

# Two command tasks that print their parent's pid: the stock strategy starts a new Python per
# task (two parents), Mitogen runs both in the one interpreter it keeps (one parent).
PIDS = [{"name": f"parent pid {n}", "ansible.builtin.command": "sh -c 'echo $PPID'", "changed_when": False,
         "register": f"pid{n}"} for n in (1, 2)]
PLAYS = [
    {"name": "local", "hosts": "control", "gather_facts": False,
     "tasks": PIDS + [{"ansible.builtin.debug": {"msg": "PIDS {{ [pid1.stdout, pid2.stdout] | to_json }}"}}]},
    # A host behind ssh on a closed port: the stock ssh connection's own error says who connected.
    {"name": "ssh", "hosts": "remote", "gather_facts": False, "ignore_unreachable": True,
     "tasks": [{"ansible.builtin.command": "true"}]},
]
INVENTORY = {"control": {"hosts": {"localhost": {"ansible_connection": "local"}}},
             "remote": {"hosts": {"closed": {"ansible_connection": "ssh", "ansible_host": "127.0.0.1",
                                             "ansible_port": 9, "ansible_user": "nobody"}}}}


def run(tmp_path, strategy: str | None = None) -> str:
    (tmp_path / "play.yml").write_text(yaml.safe_dump(PLAYS, sort_keys=False))
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(INVENTORY))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_PYTHON_INTERPRETER=str(REPO / ".venv/bin/python"))
    env.pop("ANSIBLE_STRATEGY", None)
    if strategy:
        env["ANSIBLE_STRATEGY"] = strategy
    exe = REPO / ".venv/bin/ansible-playbook"
    out = subprocess.run([str(exe) if exe.exists() else "ansible-playbook", "-i", str(tmp_path / "hosts.yml"),
                          str(tmp_path / "play.yml")], capture_output=True, text=True, timeout=180, cwd=REPO, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def parents(out: str) -> set[str]:
    line = next(line for line in out.splitlines() if "PIDS " in line)
    return set(json.loads(line.split("PIDS ", 1)[1].strip().strip("'\"")))


def test_local_plays_run_under_mitogen_and_ssh_plays_under_the_stock_connection(tmp_path):
    pytest.importorskip("ansible_mitogen")
    out = run(tmp_path)
    assert len(parents(out)) == 1, out
    # The ssh play went through ansible.builtin.ssh (Mitogen's own ssh says otherwise).
    assert "Data could not be sent to remote host" in out, out


def test_the_stock_strategy_starts_one_python_per_task(tmp_path):
    """The control case: without Mitogen the two tasks have two parents, so the check above can fail."""
    out = run(tmp_path, "ansible.builtin.linear")
    assert len(parents(out)) == 2, out
    assert "Data could not be sent to remote host" in out, out


@pytest.mark.parametrize("connections, expected", [
    (["local"], True), (["local", "local"], True), (["local", "ssh"], False),
    (["containers.podman.podman"], False), ([], False)])
def test_only_plays_with_every_host_local_are_mitogen_plays(connections, expected):
    assert _all_local(connections) is expected
