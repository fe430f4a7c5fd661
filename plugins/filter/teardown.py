# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""The closing report of playbooks/destroy.yml, from the module runs of each part."""
from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError


def teardown_report(results: Any, prefix: str, check_mode: bool = False) -> list[str]:
    """Lines saying how much each part removed and each thing kept with its reason.

    `results` are the registered results of protea.platform.environment_teardown, one per part."""
    if not isinstance(results, list):
        raise AnsibleFilterError(f"teardown_report: expected a list of environment_teardown results, not {type(results).__name__}")
    verb = "would remove" if check_mode else "removed"
    lines, kept = [], []
    for result in results:
        if not isinstance(result, dict) or not ("part" in result or result.get("skipped")):
            raise AnsibleFilterError(f"teardown_report: {result!r} is not a result of environment_teardown")
        if result.get("skipped"):
            continue
        deleted = result.get("deleted") or []
        lines.append(f"{result['part']}: {verb} {len(deleted)}" + (f" ({', '.join(deleted)})" if deleted else ""))
        kept.extend(result.get("kept") or [])
    removed_any = any(r.get("deleted") for r in results if not r.get("skipped"))
    lines.insert(0, f"{prefix}: {verb} in dependency order" if removed_any else f"{prefix}: nothing left to remove")
    if kept:
        lines.append(f"kept {len(kept)}:")
        lines.extend(f"  {k['kind']} {k['id']} ({k['region']}): {k['why']}" for k in kept)
    else:
        lines.append("kept nothing")
    return lines


class FilterModule:
    """protea.platform teardown filters."""

    def filters(self):
        return {"teardown_report": teardown_report}
