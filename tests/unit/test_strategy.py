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


# A module that asks two botocore sessions for the STS model, twice (two tasks): each session parses
# the model file itself unless something keeps the parsed file.
MODEL_PROBE = """#!/usr/bin/python
import os
import botocore.loaders
import botocore.session
from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={})
    first, second = (botocore.session.Session().get_component("data_loader").load_service_model("sts", "service-2")
                     for _ in range(2))
    # What a third session's loader looks up on disk to find the model and list the services.
    lookups = []
    exists, listdir = botocore.loaders.JSONFileLoader.exists, os.listdir
    botocore.loaders.JSONFileLoader.exists = lambda self, path: lookups.append(path) or exists(self, path)
    os.listdir = lambda path: lookups.append(path) or listdir(path)
    try:
        loader = botocore.session.Session().get_component("data_loader")
        loader.load_service_model("sts", "service-2")
        loader.list_available_services("service-2")
    finally:
        botocore.loaders.JSONFileLoader.exists, os.listdir = exists, listdir
    module.exit_json(changed=False, shared_in_task=first is second, model_id=id(first), pid=os.getpid(),
                     lookups=len(lookups))


main()
"""
MODEL_PLAY = [{"name": "models", "hosts": "control", "gather_facts": False, "tasks": [
    {"name": f"models {n}", "botocore_models": {}, "register": f"m{n}"} for n in (1, 2)] + [
    {"ansible.builtin.debug": {"msg": "MODELS {{ [m1.shared_in_task, m2.shared_in_task, m1.model_id == m2.model_id,"
                                      " m1.pid == m2.pid, m2.lookups] | to_json }}"}}]}]


def run(tmp_path, strategy: str | None = None, plays=PLAYS, extra_env: dict | None = None) -> str:
    (tmp_path / "library").mkdir(exist_ok=True)
    (tmp_path / "library" / "botocore_models.py").write_text(MODEL_PROBE)
    (tmp_path / "play.yml").write_text(yaml.safe_dump(plays, sort_keys=False))
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(INVENTORY))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_PYTHON_INTERPRETER=str(REPO / ".venv/bin/python"), ANSIBLE_LIBRARY=str(tmp_path / "library"))
    env.pop("ANSIBLE_STRATEGY", None)
    env.update(extra_env or {})
    if strategy:
        env["ANSIBLE_STRATEGY"] = strategy
    exe = REPO / ".venv/bin/ansible-playbook"
    out = subprocess.run([str(exe) if exe.exists() else "ansible-playbook", "-i", str(tmp_path / "hosts.yml"),
                          str(tmp_path / "play.yml")], capture_output=True, text=True, timeout=180, cwd=REPO, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def printed(out: str, marker: str):
    line = next(line for line in out.splitlines() if f"{marker} " in line)
    return json.loads(line.split(f"{marker} ", 1)[1].strip().strip("'\""))


def parents(out: str) -> set[str]:
    return set(printed(out, "PIDS"))


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


def test_mitogen_plays_parse_each_botocore_model_once(tmp_path):
    pytest.importorskip("ansible_mitogen")
    shared_in_first, shared_in_second, shared_across_tasks, one_process, lookups = printed(
        run(tmp_path, plays=MODEL_PLAY), "MODELS")
    assert one_process
    # Two sessions of one task, and the two tasks, got the one parsed model.
    assert shared_in_first and shared_in_second and shared_across_tasks
    # A new session's loader answers from what an earlier one found: no file lookup, no directory listing.
    assert lookups == 0


def test_the_stock_strategy_parses_a_model_per_botocore_session(tmp_path):
    """The control case: without the cache each session parses the file again."""
    shared_in_first, shared_in_second, _, one_process, lookups = printed(
        run(tmp_path, "ansible.builtin.linear", plays=MODEL_PLAY), "MODELS")
    assert not one_process
    assert not shared_in_first and not shared_in_second
    assert lookups > 0


@pytest.mark.parametrize("connections, expected", [
    (["local"], True), (["local", "local"], True), (["local", "ssh"], False),
    (["containers.podman.podman"], False), ([], False)])
def test_only_plays_with_every_host_local_are_mitogen_plays(connections, expected):
    assert _all_local(connections) is expected


def test_without_the_mitogen_package_every_play_runs_linear(tmp_path):
    """Mitogen is optional (requirements.txt installs it): when it cannot be imported the plugin still
    loads and runs the local play with a Python per task."""
    shadow = tmp_path / "shadow" / "ansible_mitogen"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('ansible_mitogen hidden by the test')\n")
    pythonpath = os.pathsep.join(filter(None, [str(shadow.parent), os.environ.get("PYTHONPATH", "")]))
    out = run(tmp_path, extra_env={"PYTHONPATH": pythonpath})
    assert len(parents(out)) == 2, out
    assert "Data could not be sent to remote host" in out, out


# Run in a fresh interpreter: the collection finder (as ansible-playbook installs it) cannot take over
# in a pytest process that imported ansible_collections as a plain namespace package already.
COLLECTIONS_PROBE = """
import json
import ansible.collections.list
import ansible_mitogen.planner as planner
from ansible.plugins.loader import init_plugin_loader
from plugins.strategy import local_mitogen

class Invocation:
    def __init__(self):
        self._extra_sys_paths = set()

init_plugin_loader()
original = planner._load_collections
expected = Invocation()
original(expected)
local_mitogen._cache_collection_dirs()
walks = []
listed = ansible.collections.list.list_collection_dirs
ansible.collections.list.list_collection_dirs = lambda *a, **k: walks.append(1) or listed(*a, **k)
task = Invocation()
planner._load_collections(task)
after_cache = len(walks)
original(Invocation())
print(json.dumps({"paths": sorted(expected._extra_sys_paths), "same": task._extra_sys_paths == expected._extra_sys_paths,
                  "walks_after_cache": after_cache, "walks_of_mitogens_own": len(walks) - after_cache}))
"""


def test_mitogen_lists_the_collections_once_per_run_not_once_per_task():
    """Mitogen's planner walks every collection directory for each module of a collection it runs, in
    the task's worker process (its cache dies with it). The strategy lists them once, in the process
    the workers fork from; a task then adds the same paths without walking the disk."""
    pytest.importorskip("ansible_mitogen")
    exe = REPO / ".venv/bin/python"
    out = subprocess.run([str(exe) if exe.exists() else "python3", "-c", COLLECTIONS_PROBE], capture_output=True,
                         text=True, timeout=120, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert out.returncode == 0, out.stdout + out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["paths"], found  # the ansible package's collections at least
    assert found["same"], found
    assert found["walks_after_cache"] == 0, found
    assert found["walks_of_mitogens_own"] == 1, found  # the control: Mitogen's own walks them on every call
