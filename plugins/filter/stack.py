# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""The stack contract's names: every name one part of an environment gives a resource that
another part must find again, defined here once.

inventories/common/group_vars/all/protea.yml sets
  protea_names: "{{ protea_project | protea.platform.stack_names(protea_environment, protea_name_overrides) }}"
and every role default, playbook and inventory file that names a cross-tier resource reads
protea_names.<key>. A suffix used inside one role only (a queue's "-dlq") stays in that role.
"""
from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

_PART = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def _names(project, environment):
    prefix = f"{project}-{environment}"
    return {
        # The base name every tier role prefixes its own resources with.
        "prefix": prefix,
        # The web tier: Auto Scaling group, target group, instance role and profile, AMI names.
        "web": f"{prefix}-web",
        "alb": f"{prefix}-alb",
        "db": f"{prefix}-db",
        "efs": f"{prefix}-efs",
        "efs_kms_alias": f"alias/{prefix}-efs",
        # The bastions' key pair, also the web instances' (admin access goes through a bastion).
        "bastion_key": f"{prefix}-bastion",
        "certificate": prefix,
        "regional_certificate": f"{prefix}-regional",
        "slack_notifier": f"{prefix}-slack-notifier",
        "alarms_topic": f"{prefix}-alarms",
        "events_topic": f"{prefix}-events",
        "edge_alarms_topic": f"{prefix}-edge-alarms",
        # The value of the Backup tag the daily plan selects (efs, rds and backup roles).
        "backup_selection": f"{prefix}-daily",
        # SSM Parameter Store: the environment's prefix, and each parameter one part writes and another reads.
        "parameter_prefix": f"/{project}/{environment}",
        "master_password_parameter": f"/{project}/{environment}/rds/master-password",
        "replication_password_parameter": f"/{project}/{environment}/migrate/replication-password",
        "origin_secret_parameter": f"/{project}/{environment}/alb/origin-secret",
        "ses_configuration_set_parameter": f"/{project}/{environment}/ses/configuration-set",
        "slack_webhook_parameter": f"/{project}/{environment}/slack/webhook-url",
        "parameters_key_alias": f"alias/{prefix}-parameters",
        "log_group_prefix": f"/{project}/{environment}",
    }


def stack_names(project, environment, overrides=None):
    """The names of one environment, with `overrides` (protea_name_overrides) applied."""
    for var, value in (("protea_project", project), ("protea_environment", environment)):
        if not isinstance(value, str) or not _PART.match(value):
            raise AnsibleFilterError(
                f"{var} {value!r} cannot name AWS resources: set {var} to lower-case letters, digits "
                f"and hyphens, starting with a letter or digit (e.g. {var}: shopper)")
    names = _names(project, environment)
    overrides = overrides or {}
    if not isinstance(overrides, dict):
        raise AnsibleFilterError(
            f"protea_name_overrides must be a mapping of name keys to names, not {type(overrides).__name__}: "
            "e.g. protea_name_overrides: {db: legacy-shop-db}, or {}")
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise AnsibleFilterError(
            f"protea_name_overrides names {unknown}, which the stack contract does not have: use some of "
            f"{sorted(names)}, e.g. protea_name_overrides: {{db: legacy-shop-db}}")
    bad = sorted(k for k, v in overrides.items() if not isinstance(v, str) or not v.strip())
    if bad:
        raise AnsibleFilterError(
            f"protea_name_overrides gives {bad} no name: set each to a non-empty string, or remove it")
    names.update(overrides)
    return names


class FilterModule:
    """protea.platform stack contract filters."""

    def filters(self):
        return {"stack_names": stack_names}
