"""protea.platform.stack_names: the one place an environment's cross-tier names are derived."""
from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError

from plugins.filter.stack import stack_names
from tests.helpers import REPO


def test_names_of_an_environment():
    names = stack_names("shopper", "production")
    assert names["prefix"] == "shopper-production"
    assert names["web"] == "shopper-production-web"
    assert names["db"] == "shopper-production-db"
    assert names["parameter_prefix"] == "/shopper/production"
    assert names["parameters_key_alias"] == "alias/shopper-production-parameters"
    assert all(v for v in names.values())


def test_an_override_wins_for_its_key_only():
    names = stack_names("shopper", "production", {"db": "legacy-db"})
    assert names["db"] == "legacy-db"
    assert names["efs"] == "shopper-production-efs"


@pytest.mark.parametrize(("args", "says"), [
    (("Shopper", "production"), "protea_project"),
    (("shopper", "prod_1"), "protea_environment"),
    (("shopper", "production", {"database": "x"}), "protea_name_overrides names ['database']"),
    (("shopper", "production", {"db": ""}), "gives ['db'] no name"),
    (("shopper", "production", ["db"]), "must be a mapping"),
])
def test_bad_input_names_the_variable(args, says):
    with pytest.raises(AnsibleFilterError, match=re.escape(says)):
        stack_names(*args)


def test_no_cross_tier_name_is_derived_outside_the_contract():
    """No role, playbook or inventory rebuilds "<project>-<environment>" (or its SSM path)
    itself: each reads protea_names. ssh_jump's directory and the deployer policy's output
    directory are local paths, not AWS names."""
    pattern = re.compile(r"protea_project\s*}}\s*-\s*{{\s*protea_environment|protea_project\s*~\s*'-'\s*~\s*protea_environment"
                         r"|/{{ protea_project }}/{{ protea_environment }}")
    allowed = {"roles/ssh_jump/defaults/main.yml", "inventories/common/group_vars/all/ssh_jump.yml",
               "roles/deployer_policy/defaults/main.yml"}
    found = sorted(str(p.relative_to(REPO)) for p in [*REPO.glob("roles/*/defaults/main.yml"), *REPO.glob("roles/*/vars/main.yml"),
                                                      *REPO.glob("roles/*/tasks/*.yml"), *REPO.glob("playbooks/*.yml"),
                                                      *REPO.glob("inventories/*/group_vars/all/*.yml")]
                   if pattern.search(p.read_text()) and str(p.relative_to(REPO)) not in allowed)
    assert found == []
