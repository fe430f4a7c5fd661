"""protea.platform rds_engine_major / rds_parameter_group_family / rds_engine_version_request."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from tests.helpers import load_plugin


rds = load_plugin("plugins/filter/rds.py")


@pytest.mark.parametrize(("version", "engine", "major"), [
    ("16", "postgres", "16"), ("16.4", "postgres", "16"), (16, "postgres", "16"), ("17.7", "postgres", "17"),
    ("8.0", "mysql", "8.0"), ("8.0.39", "mysql", "8.0"), ("8.4.6", "mysql", "8.4"),
    ("10.11", "mariadb", "10.11"), ("10.11.9", "mariadb", "10.11"), ("11.4.8", "mariadb", "11.4"),
    # No major: preflight turns '' into its message.
    ("8", "mysql", ""), ("10", "mariadb", ""), ("16.x", "postgres", ""), ("", "postgres", ""), (None, "postgres", ""),
    ("16", "oracle", ""), ("16.4", "postgress", ""), ("1.2.3.4", "postgres", ""),
])
def test_engine_major(version, engine, major):
    assert rds.rds_engine_major(version, engine) == major


@pytest.mark.parametrize(("version", "engine", "family"), [
    ("16", "postgres", "postgres16"), ("16.4", "postgres", "postgres16"), ("13.20", "postgres", "postgres13"),
    ("8.0", "mysql", "mysql8.0"), ("8.0.39", "mysql", "mysql8.0"),
    ("10.11", "mariadb", "mariadb10.11"), ("10.11.9", "mariadb", "mariadb10.11"),
])
def test_parameter_group_family(version, engine, family):
    assert rds.rds_parameter_group_family(version, engine) == family


@pytest.mark.parametrize(("version", "engine"), [("8", "mysql"), ("abc", "postgres"), ("16", "oracle")])
def test_parameter_group_family_refuses_what_is_not_a_version(version, engine):
    with pytest.raises(AnsibleFilterError, match=f"'{version}' is not a {engine} engine version"):
        rds.rds_parameter_group_family(version, engine)


@pytest.mark.parametrize(("wanted", "running", "engine", "expected"), [
    # Nothing runs: ask for what is wanted (a major alone lets RDS pick its default minor).
    ("16", "", "postgres", "16"), ("16", None, "postgres", "16"), ("16", "0", "postgres", "16"),
    ("16.4", "", "postgres", "16.4"), ("10.11", "", "mariadb", "10.11"),
    # A major alone, the instance on a minor of it (RDS reports "16.11" for "16"): keep it.
    ("16", "16.11", "postgres", "16.11"), ("8.0", "8.0.43", "mysql", "8.0.43"), ("10.11", "10.11.14", "mariadb", "10.11.14"),
    # A minor the instance already has or passed (RDS upgraded it in the window): no downgrade.
    ("16.4", "16.4", "postgres", "16.4"), ("16.4", "16.11", "postgres", "16.11"), ("8.0.39", "8.0.43", "mysql", "8.0.43"),
    # A later minor: a deliberate minor upgrade.
    ("16.12", "16.11", "postgres", "16.12"), ("10.11.15", "10.11.14", "mariadb", "10.11.15"),
    # Majors compare as numbers, not strings: 10.11 is later than 10.6, 17 than 9.6.
    ("10.11", "10.6.23", "mariadb", "10.11"), ("10.6", "10.11.14", "mariadb", "10.11.14"),
    # A later major wanted: a deliberate major upgrade; an earlier one: never a downgrade.
    ("17", "16.11", "postgres", "17"), ("16", "17.7", "postgres", "17.7"), ("8.4", "8.0.43", "mysql", "8.4"),
])
def test_engine_version_request(wanted, running, engine, expected):
    assert rds.rds_engine_version_request(wanted, running, engine) == expected


def test_engine_version_request_refuses_a_bad_wanted_version():
    with pytest.raises(AnsibleFilterError, match="'8' is not a mysql engine version"):
        rds.rds_engine_version_request("8", "8.0.43", "mysql")


def test_registered_names():
    assert set(rds.FilterModule().filters()) == {"rds_engine_major", "rds_parameter_group_family", "rds_engine_version_request"}
