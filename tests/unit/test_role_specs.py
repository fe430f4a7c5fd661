"""Every role option documents the default it really runs with.

The value a role runs with comes from defaults/main.yml; ansible-doc -t role and the role's
argument validation read meta/argument_specs.yml. They must agree (scripts/sync-spec-defaults
copies the first into the second), an option without a default must be required, and a required one has no default (ansible-core
refuses the pair).
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml

from tests.helpers import REPO

ROLES = sorted(p.parents[1] for p in REPO.glob("roles/*/meta/argument_specs.yml"))


def _options(role):
    specs = yaml.safe_load((role / "meta/argument_specs.yml").read_text())["argument_specs"]
    for entry, spec in specs.items():
        for name, option in (spec.get("options") or {}).items():
            yield entry, name, option


def _defaults(role) -> dict:
    path = role / "defaults/main.yml"
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_spec_defaults_are_the_role_defaults(role):
    defaults = _defaults(role)
    wrong = []
    for entry, name, option in _options(role):
        if option.get("required"):
            if "default" in option:  # ansible-core refuses the pair ("mutually exclusive")
                wrong.append(f"{entry}/{name}: required, and yet a default")
        elif name in defaults:
            if "default" not in option:
                wrong.append(f"{entry}/{name}: no default in argument_specs (defaults/main.yml has {defaults[name]!r})")
            elif option["default"] != defaults[name]:
                wrong.append(f"{entry}/{name}: argument_specs says {option['default']!r}, "
                             f"defaults/main.yml {defaults[name]!r}")
        elif option.get("default") is not None:
            wrong.append(f"{entry}/{name}: a default in argument_specs that defaults/main.yml does not set")
        elif "default" not in option:
            wrong.append(f"{entry}/{name}: neither required nor defaulted in defaults/main.yml")
    assert not wrong, "run scripts/sync-spec-defaults, or fix by hand:\n" + "\n".join(wrong)


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_every_role_default_is_a_documented_option(role):
    documented = {name for _entry, name, _option in _options(role)}
    undocumented = sorted(k for k in _defaults(role) if not k.startswith("_") and k not in documented)
    assert not undocumented, f"{role.name}: defaults/main.yml sets options argument_specs does not document: {undocumented}"


def test_ansible_doc_shows_the_real_defaults():
    """What a user reads: ansible-doc -t role on the installed collection path."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    out = subprocess.run(["ansible-doc", "-t", "role", "--json", "protea.platform.acm", "protea.platform.rds"],
                         capture_output=True, text=True, check=True, env=env, cwd=REPO).stdout
    docs = json.loads(out)
    acm_wait = docs["protea.platform.acm"]["entry_points"]["wait"]["options"]
    rds = docs["protea.platform.rds"]["entry_points"]["main"]["options"]
    assert acm_wait["acm_wait_retries"]["default"] == 120
    assert rds["rds_wait_delay"]["default"] == _defaults(REPO / "roles/rds")["rds_wait_delay"]
    assert rds["rds_engine"]["required"] is True
