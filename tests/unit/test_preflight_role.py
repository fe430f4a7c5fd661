"""The preflight role's mechanics, on the control node only (no emulator, no AWS):
validate once per run, select check files with preflight_checks, name unknown ones,
and keep the README's table of checks complete.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO, run_playbook

ROLE = REPO / "roles" / "preflight"
CHECK_FILES = sorted(p.stem for p in (ROLE / "tasks").glob("*.yml") if p.stem != "main")
# The check files this README documents row by row; a tier adding tasks/<tier>.yml adds its rows and its name here.
DOCUMENTED = ["common", "network"]


def flat(text: str) -> str:
    return " ".join(text.split())


def write_play(tmp_path: Path, plays: int, **role_vars) -> str:
    """A playbook of `plays` plays on the control node, each starting with preflight (as tier playbooks do)."""
    entry = {"role": "protea.platform.preflight", **role_vars}
    doc = [{"name": f"Tier {i}", "hosts": "control", "gather_facts": False, "roles": [entry]} for i in range(1, plays + 1)]
    path = tmp_path / "tiers.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def check_runs(stdout: str, name: str) -> int:
    """How many times a check file's task actually ran (ok/failed lines after its TASK header)."""
    blocks = re.split(r"^TASK \[", stdout, flags=re.M)
    return sum(1 for b in blocks if b.startswith(f"protea.platform.preflight : {name} |") and re.search(r"^(ok|fatal):", b, re.M))


def test_validates_once_per_run(tmp_path):
    run = run_playbook(write_play(tmp_path, plays=3))
    assert run.rc == 0, run.explain()
    assert check_runs(run.stdout, "Common") == 1, run.explain()
    assert check_runs(run.stdout, "Network") == 1, run.explain()
    names = ", ".join(CHECK_FILES)
    out = flat(run.stdout)  # the callback wraps long messages
    assert out.count(f"Preflight passed: {names} checks found no problem.") == 1, run.explain()
    assert out.count(f"Preflight already passed in this run for {names}: skipping.") == 2, run.explain()
    # The later plays end the role (meta: end_role) instead of skipping the checks task by task.
    assert run.stdout.count("TASK [protea.platform.preflight : Preflight | Report every problem at once]") == 1, \
        run.explain()


def test_a_failure_is_not_remembered_as_validated(tmp_path):
    # First tier fails: the run stops there, so no later tier runs unvalidated.
    run = run_playbook(write_play(tmp_path, plays=2), extra_vars={"protea_domain": "bad_domain"})
    assert run.rc != 0
    assert "PLAY [Tier 2]" not in run.stdout, run.explain()


def test_preflight_checks_selects_check_files(tmp_path):
    bad = {"protea_domain": "", "vpc_cidr": "8.8.0.0/16"}
    run = run_playbook(write_play(tmp_path, plays=1, preflight_checks=["common"]), extra_vars=bad)
    out = flat(run.stdout)
    assert run.rc != 0
    assert "Preflight found 1 configuration problem(s)" in out, run.explain()
    assert "protea_domain is not set" in out
    assert "vpc_cidr" not in out  # network.yml was not selected
    assert check_runs(run.stdout, "Network") == 0


def test_unknown_check_name_is_reported_with_the_rest(tmp_path):
    run = run_playbook(write_play(tmp_path, plays=1, preflight_checks=["common", "nosuch"]),
                       extra_vars={"protea_alert_emails": []})
    out = flat(run.stdout)
    assert run.rc != 0
    assert "Preflight found 2 configuration problem(s)" in out, run.explain()
    assert 'preflight_checks names ["nosuch"] but the preflight role has no such check file' in out
    assert "protea_alert_emails is empty" in out


def _checks() -> list[tuple[str, str]]:
    """(check file, variable named first in the message) for every check the role ships."""
    found = []
    for path in [ROLE / "tasks" / f"{name}.yml" for name in DOCUMENTED]:
        for task in yaml.safe_load(path.read_text()) or []:
            for check in (task.get("vars") or {}).get("__preflight_checks", []):
                found.append((path.stem, check["msg"].split()[0]))
    return found


def test_every_check_is_documented():
    checks = _checks()
    assert len(checks) >= 20
    assert set(DOCUMENTED) <= set(CHECK_FILES)
    readme = (ROLE / "README.md").read_text()
    table = [line for line in readme.splitlines() if line.startswith("|")]
    for stem, variable in checks:
        assert any(f"`{variable}`" in row and f"{stem}.yml" in row for row in table), (stem, variable)


@pytest.mark.parametrize("path", sorted((ROLE / "tasks").glob("*.yml")), ids=lambda p: p.name)
def test_no_aws_call_in_the_role(path):
    """Preflight must run before any AWS call: no AWS module, no AWS lookup."""
    text = path.read_text()
    assert not re.search(r"amazon\.aws|community\.aws|\baws_\w+|boto", text), path


def test_checks_fall_back_to_the_tier_roles_own_defaults_not_copies():
    """A tier role's variable read by preflight falls back to preflight_defaults_<role>.<var>,
    which tasks/main.yml reads from that role's defaults/main.yml: no copied default can drift
    (one did: asg_refresh_min_healthy_percentage was 90 here and 100 in roles/asg)."""
    owner = {var: path.parts[-3] for path in REPO.glob("roles/*/defaults/main.yml") if path.parts[-3] != "preflight"
             for var in (yaml.safe_load(path.read_text()) or {})}
    # Defaults that are not a copy: derived from preflight's own plan, or a role default that needs
    # that role's other variables (documented where they are read).
    derived = {"bastion_count", "slack_notifier_regions", "rds_engine_version"}
    copies, roles_read = [], set()
    for path in [*ROLE.glob("tasks/*.yml"), ROLE / "defaults/main.yml", ROLE / "vars/main.yml"]:
        for var, fallback in re.findall(r"\b([a-z][a-z0-9_]*) \| default\(([^)|]*)", path.read_text()):
            if var in owner and var not in derived:
                if fallback != f"preflight_defaults_{owner[var]}.{var}":
                    copies.append(f"{path.name}: {var} | default({fallback}")
                roles_read.add(owner[var])
    assert copies == []
    listed = yaml.safe_load((ROLE / "vars/main.yml").read_text())["__preflight_tier_roles"]
    assert sorted(roles_read) == sorted(listed)


def test_a_tier_default_reaches_the_checks(tmp_path):
    # roles/vpc's default CIDR 10.20.0.0/16 overlaps this on-prem range: preflight must say so
    # although no vpc_cidr is set anywhere in the run.
    run = run_playbook(write_play(tmp_path, plays=1, preflight_checks=["network"]),
                       extra_vars={"protea_on_prem_cidrs": ["10.20.8.0/24"]})
    assert run.rc != 0
    assert "10.20.0.0/16" in flat(run.stdout), run.explain()


def test_the_aws_connection_is_resolved_once_per_run_and_never_printed(tmp_path):
    """Preflight turns module_defaults' protea_aws_connection into plain values (a fact), so the AWS
    tasks of later plays template nothing; the fact may carry keys, so even -vvv shows none of it."""
    secret = "not-a-real-secret-3f9a1c"
    doc = [{"name": "Tier 1", "hosts": "control", "gather_facts": False,
            "roles": [{"role": "protea.platform.preflight"}]},
           # A later play's own value of an input no longer changes the connection of this run.
           {"name": "Tier 2", "hosts": "control", "gather_facts": False,
            "vars": {"protea_aws_endpoint_url": "http://127.0.0.9:1"},
            "tasks": [{"name": "Show", "ansible.builtin.debug": {
                "msg": "ENDPOINT {{ protea_aws_connection.endpoint_url }} KEY-SET {{ protea_aws_connection.secret_key == '"
                       + secret + "' }}"}}]}]
    path = tmp_path / "tiers.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    run = run_playbook(str(path), endpoint="http://127.0.0.1:5999", verbosity=3,
                       extra_vars={"protea_aws_access_key": "AKIDEXAMPLE", "protea_aws_secret_key": secret})
    assert run.rc == 0, run.explain()
    assert "ENDPOINT http://127.0.0.1:5999 KEY-SET True" in run.stdout, run.explain()
    assert secret not in run.stdout + run.stderr
