"""plugins/filter/parameters.py: the SSM parameters protea_runtime_parameters names."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from plugins.filter.parameters import parameter_path, parameter_paths


def test_a_field_reference_names_its_parameter() -> None:
    assert parameter_path("rds/app-credentials#password") == "rds/app-credentials"
    assert parameter_path("rds/endpoint-port", "/shopper/prod/") == "/shopper/prod/rds/endpoint-port"


def test_every_parameter_once_sorted() -> None:
    refs = {"db_user": "rds/app-credentials#username", "db_password": "rds/app-credentials#password",
            "db_host": "rds/endpoint-address"}
    assert parameter_paths(refs, "/s/p") == ["/s/p/rds/app-credentials", "/s/p/rds/endpoint-address"]
    assert parameter_paths(list(refs.values())) == ["rds/app-credentials", "rds/endpoint-address"]


@pytest.mark.parametrize("bad", ["", "/rds/x", "rds//x", "rds/x#", "rds/x#a#b", "rds/x y"])
def test_a_malformed_reference_is_named(bad: str) -> None:
    with pytest.raises(AnsibleFilterError, match="is not 'path/of/parameter'"):
        parameter_path(bad)
