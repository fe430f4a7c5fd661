# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""SSM parameter references of protea_runtime_parameters.

A reference is a parameter path relative to the environment's prefix, optionally with one field of
the parameter's JSON object: "rds/app-credentials#username". A user name and its password live in
one parameter, so a reader never sees one rotated and the other not (roles/runtime_config).
"""
from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

_REF = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*(#[A-Za-z0-9_]+)?$")


def parameter_path(ref, prefix=""):
    """The parameter a reference names, under `prefix` when one is given."""
    ref = str(ref)
    if not _REF.match(ref):
        raise AnsibleFilterError(f"parameter_path: {ref!r} is not 'path/of/parameter' or 'path/of/parameter#field'")
    path = ref.split("#", 1)[0]
    return f"{str(prefix).rstrip('/')}/{path}" if prefix else path


def parameter_paths(refs, prefix=""):
    """Every parameter the references name (a mapping's values or a list), once each, sorted."""
    values = refs.values() if isinstance(refs, dict) else (refs or [])
    return sorted({parameter_path(ref, prefix) for ref in values})


class FilterModule:
    """protea.platform parameter filters."""

    def filters(self):
        return {"parameter_path": parameter_path, "parameter_paths": parameter_paths}
