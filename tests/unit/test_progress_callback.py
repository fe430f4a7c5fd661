"""The stdout callback protea.platform.progress (ansible.cfg): a task that waits says what it
awaits (kind and name), the state last reported and the time spent against the time that kind of
AWS operation usually takes (or the time allowed, for what the callback does not know); a no_log
task's state stays hidden; everything else is the default callback's output."""
from __future__ import annotations

import re
import subprocess

import yaml

from plugins.callback.progress import TASK_VAR, awaited_for, describe, state_of
from tests.helpers import REPO

PLAY = [{"hosts": "localhost", "gather_facts": False, "tasks": [
    {"name": "Wait until the database is available", "ansible.builtin.set_fact": {"status": "creating"},
     "until": False, "retries": 2, "delay": 1, "ignore_errors": True},
    {"name": "Wait with a secret", "ansible.builtin.set_fact": {"status": "s3cr3t-value"}, "no_log": True,
     "until": False, "retries": 1, "delay": 0, "ignore_errors": True},
    {"name": "An ordinary task", "ansible.builtin.debug": {"msg": "hello"}},
    # Named from the module's arguments (the table's URL entry), without the password or query.
    {"name": "Wait for the front door", "ansible.builtin.uri": {"url": "http://admin:pw@127.0.0.1:9/healthz?token=t0k",
                                                                 "timeout": 2},
     "register": "front", "until": "front.status | default(0) == 200", "retries": 1, "delay": 0,
     "ignore_errors": True},
    # Named by the task variable, rendered with the play's variables; its usual time is soon exceeded.
    {"name": "Wait until the copy is done", "ansible.builtin.set_fact": {"status": "catchup"},
     "vars": {TASK_VAR: {"what": "Subscription {{ subscription }} initial table copy", "minutes": 0.01}},
     "until": False, "retries": 2, "delay": 1, "ignore_errors": True},
    {"name": "Wait on a secret resource", "ansible.builtin.set_fact": {"status": "s3cr3t-state"}, "no_log": True,
     "vars": {TASK_VAR: {"what": "Replica {{ subscription }}"}},
     "until": False, "retries": 1, "delay": 0, "ignore_errors": True},
], "vars": {"subscription": "protea_sub"}}]


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
    # The declared words are shown, the state is not.
    assert re.search(r"^Waiting: \[localhost\]: Replica protea_sub: not ready yet, 0:0\d \(attempt 1 of 2\)"
                     r"( Result was: .*)?$", out, re.M), out
    assert "s3cr3t-state" not in out


def test_what_is_awaited_comes_from_the_module_or_the_task_variable(tmp_path):
    out = run(tmp_path)
    # ansible.builtin.uri: the URL from the task's arguments, without user, password or query.
    assert re.search(r"^Waiting: \[localhost\]: URL http://127\.0\.0\.1:9/healthz: not ready yet, 0:0\d "
                     r"\(attempt 1 of 2\)$", out, re.M), out
    waiting = [line for line in out.splitlines() if line.startswith("Waiting:")]
    assert not [line for line in waiting if "pw@" in line or "t0k" in line], waiting
    # protea_progress, its template rendered; past its usual time the line says so.
    assert re.search(r"^Waiting: \[localhost\]: Subscription protea_sub initial table copy: catchup, 0:00 of ~1 s "
                     r"\(attempt 1 of 3\)$", out, re.M), out
    assert re.search(r"^Waiting: \[localhost\]: Subscription protea_sub initial table copy: catchup, 0:0[1-9], "
                     r"longer than the usual ~1 s \(attempt 2 of 3\)$", out, re.M), out


# rds_instance_info's result while the instance is created (keys as its RETURN documents them).
RDS_CREATING = {"changed": False, "attempts": 12, "retries": 91, "instances": [{
    "db_instance_identifier": "shopper-prod-db", "db_instance_status": "creating", "multi_az": True,
    "engine": "postgres", "endpoint": {}}]}
RDS_ARGS = {"db_instance_identifier": "shopper-prod-db", "region": "af-south-1"}


def _describe(action, result, args=None, declared=None, *, no_log=False, spent=360.0, allowed=1800.0):
    return describe((action,), result, args or {}, declared, no_log=no_log, task_name="Wait until the instance is available",
                    spent=spent, allowed=allowed, attempts=int(result.get("attempts", 1)),
                    retries=int(result.get("retries", 1)))


def test_an_rds_wait_names_the_instance_and_the_usual_aws_time():
    assert _describe("amazon.aws.rds_instance_info", RDS_CREATING, RDS_ARGS) == \
        "RDS shopper-prod-db: creating, 6:00 of ~15 min (attempt 12 of 91)"
    single = {**RDS_CREATING, "instances": [{**RDS_CREATING["instances"][0], "multi_az": False}]}
    assert _describe("amazon.aws.rds_instance_info", single, RDS_ARGS) == \
        "RDS shopper-prod-db: creating, 6:00 of ~10 min (attempt 12 of 91)"
    # Before the instance is listed at all, the name comes from the task's arguments.
    assert _describe("rds_instance_info", {"attempts": 1, "retries": 91, "instances": []}, RDS_ARGS,
                     spent=5) == "RDS shopper-prod-db: not ready yet, 0:05 of ~15 min (attempt 1 of 91)"


def test_past_the_usual_time_the_line_says_so():
    assert _describe("amazon.aws.rds_instance_info", RDS_CREATING, RDS_ARGS, spent=17 * 60 + 5) == \
        "RDS shopper-prod-db: creating, 17:05, longer than the usual ~15 min (attempt 12 of 91)"
    refresh = {"attempts": 3, "retries": 61, "instance_refreshes": [{"auto_scaling_group_name": "shopper-prod-web",
                                                                     "status": "InProgress"}]}
    assert _describe("amazon.aws.autoscaling_instance_refresh_info", refresh, {"name": "shopper-prod-web"}, spent=90) == \
        "Auto Scaling group shopper-prod-web instance refresh: InProgress, 1:30 of ~10 min (attempt 3 of 61)"
    nat = {"attempts": 2, "retries": 10, "result": [{"nat_gateway_id": "nat-0abc", "state": "pending"}]}
    assert _describe("amazon.aws.ec2_vpc_nat_gateway_info", nat, spent=95) == \
        "NAT gateway nat-0abc: pending, 1:35, longer than the usual ~1.5 min (attempt 2 of 10)"
    bastions = {"attempts": 4, "retries": 60, "instances": [{"instance_id": "i-0abc", "state": {"name": "pending"},
                                                             "tags": {"Name": "shopper-prod-bastion-a"}}]}
    assert _describe("amazon.aws.ec2_instance_info", bastions, {"instance_ids": ["i-0abc"]}, spent=20) == \
        "EC2 instance shopper-prod-bastion-a: pending, 0:20 of ~1 min (attempt 4 of 60)"


def test_an_unknown_module_keeps_the_retry_budget_wording():
    assert _describe("ansible.builtin.command", {"attempts": 3, "retries": 11, "stdout": "1"}, spent=42, allowed=600) == \
        "Wait until the instance is available - not ready yet, 0:42 of ~10 min (attempt 3 of 11)"
    assert _describe("community.general.foo_info", {"attempts": 1, "retries": 4, "status": "pending"}, spent=1,
                     allowed=3) == "Wait until the instance is available - pending, 0:01 of ~3 s (attempt 1 of 4)"
    # Only amazon.aws and community.aws share module names (redirects); another collection's rds_instance_info is not RDS.
    assert awaited_for("community.aws.lambda") is awaited_for("amazon.aws.lambda")
    assert awaited_for("example.other.rds_instance_info") is None


def test_a_no_log_wait_names_nothing_from_its_result_or_arguments():
    assert _describe("amazon.aws.rds_instance_info", RDS_CREATING, RDS_ARGS, no_log=True) == \
        "RDS: not ready yet, 6:00 of ~15 min (attempt 12 of 91)"
    assert _describe("amazon.aws.rds_instance_info", RDS_CREATING, RDS_ARGS, {"what": "The database"}, no_log=True) == \
        "The database: not ready yet, 6:00 of ~15 min (attempt 12 of 91)"


def test_the_task_variable_overrides_the_table():
    assert _describe("amazon.aws.rds_instance_info", RDS_CREATING, RDS_ARGS, {"what": "Read replica", "minutes": 20}) == \
        "Read replica: creating, 6:00 of ~20 min (attempt 12 of 91)"
    assert _describe("ansible.builtin.command", {"attempts": 1, "retries": 31}, {}, {"what": "Replica IO thread"},
                     spent=2, allowed=30) == "Replica IO thread: not ready yet, 0:02 of ~30 s (attempt 1 of 31)"


def _tasks(node):
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        if "until" in node:
            yield node
        for key in ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always"):
            yield from _tasks(node.get(key))


KEYWORDS = {"name", "register", "until", "retries", "delay", "vars", "when", "tags", "loop", "loop_control",
            "changed_when", "failed_when", "check_mode", "no_log", "environment", "delegate_to", "run_once",
            "ignore_errors", "become", "notify", "args", "module_defaults"}


def test_every_wait_in_the_roles_and_playbooks_says_what_it_awaits():
    waits = []
    for path in sorted([*REPO.glob("roles/*/tasks/**/*.yml"), *REPO.glob("playbooks/*.yml")]):
        for task in _tasks(yaml.safe_load(path.read_text())):
            module = next(k for k in task if k not in KEYWORDS)
            waits.append((path.relative_to(REPO), task["name"], module,
                          awaited_for(module) is not None or TASK_VAR in (task.get("vars") or {})))
    # A floor that proves the scan finds the waits (the cut-over's catch-up polls inside migrate_cutover).
    assert len(waits) >= 12, waits
    assert [w for w in waits if not w[3]] == []


def test_the_state_word_is_found_where_services_put_it():
    assert state_of({"instances": [{"db_instance_status": "backing-up", "endpoint": {}}]}) == "backing-up"
    assert state_of({"distribution": {"status": "InProgress"}}) == "InProgress"
    assert state_of({"certificate": {"status": "PENDING_VALIDATION"}}) == "PENDING_VALIDATION"
    assert state_of({"instances": [{"state": {"name": "pending", "code": 0}}]}) == "pending"
    assert state_of({"msg": "a long message: not a state"}) == ""
    assert state_of({"status": "x" * 60}) == ""
