# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""RDS engine versions for the rds and preflight roles.

Why our own: no bundled filter knows RDS's version scheme. The major version is the
first number for PostgreSQL 10 and later ("16.4" -> "16") but the first two for MySQL
and MariaDB ("8.0.39" -> "8.0", "10.11.9" -> "10.11"); the parameter group family is
the engine name and that major ("postgres16", "mysql8.0", "mariadb10.11"). And RDS
reports the full version it runs ("16.11") even when it was asked for a major alone
("16"), so what to ask for on a later run is a rule, kept here in one tested place:

* nothing runs yet: ask for what is wanted (RDS picks the default minor of a major);
* the running version is of the wanted major and the wanted version is the major alone,
  or a minor the instance already has or passed (RDS upgrades minors itself in the
  maintenance window): ask for the running version, so nothing is modified;
* the running version is of a later major: ask for it (RDS never downgrades; the run
  changes nothing rather than fail);
* otherwise (a later minor, or a later major: a deliberate upgrade): what is wanted.
"""
from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

ENGINES = ("postgres", "mysql", "mariadb")
# The parts of a version that make its major: 1 for PostgreSQL (10+), 2 for MySQL/MariaDB.
_MAJOR_PARTS = {"postgres": 1, "mysql": 2, "mariadb": 2}
_SHAPE = re.compile(r"^[0-9]+(\.[0-9]+){0,2}$")


def _parts(version):
    version = "" if version is None else str(version).strip()
    if not _SHAPE.match(version):
        return None
    return [int(p) for p in version.split(".")]


def rds_engine_major(version, engine):
    """The major version of `version` for `engine` ("16.4" -> "16", "8.0.39" -> "8.0"), '' if it has none.

    Lenient on purpose (preflight reports bad input itself): an unknown engine, a version
    that is not dotted numbers, or a MySQL/MariaDB version without its second number gives ''.
    """
    engine = str(engine or "")
    parts = _parts(version)
    if engine not in _MAJOR_PARTS or parts is None or len(parts) < _MAJOR_PARTS[engine]:
        return ""
    return ".".join(str(p) for p in parts[: _MAJOR_PARTS[engine]])


def _major_or_fail(version, engine, what):
    major = rds_engine_major(version, engine)
    if not major:
        raise AnsibleFilterError(
            f"{what}: {version!r} is not a {engine} engine version (engines: {', '.join(ENGINES)}; "
            "versions like 16 or 16.4 for postgres, 8.0 or 8.0.39 for mysql, 10.11 or 10.11.9 for mariadb)"
        )
    return major


def rds_parameter_group_family(version, engine):
    """The DB parameter group family of `engine` at `version`: "postgres16", "mysql8.0", "mariadb10.11"."""
    return f"{engine}{_major_or_fail(version, engine, 'rds_parameter_group_family')}"


def rds_engine_version_request(wanted, running, engine):
    """The EngineVersion to send for `wanted` when the instance runs `running` ('' or None: no instance)."""
    wanted_major = _major_or_fail(wanted, engine, "rds_engine_version_request")
    running = "" if running is None else str(running).strip()
    if not running or running == "0":
        return str(wanted).strip()
    running_major = _major_or_fail(running, engine, "rds_engine_version_request (running version)")
    if running_major == wanted_major:
        wanted_parts, running_parts = _parts(wanted), _parts(running)
        if wanted_parts == _parts(wanted_major) or running_parts >= wanted_parts:
            return running
        return str(wanted).strip()
    # Both majors passed _major_or_fail: dotted numbers, so _parts gives lists to compare.
    if _parts(running_major) > _parts(wanted_major):
        return running
    return str(wanted).strip()


class FilterModule:
    """protea.platform RDS filters."""

    def filters(self):
        return {
            "rds_engine_major": rds_engine_major,
            "rds_parameter_group_family": rds_parameter_group_family,
            "rds_engine_version_request": rds_engine_version_request,
        }
