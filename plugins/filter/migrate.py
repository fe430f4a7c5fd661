# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""The migration's DNS switch as records for protea.platform.route53_records (role migrate_dns)."""
from __future__ import annotations

from ansible.errors import AnsibleFilterError


def site_switch_records(names, target):
    """The site's records pointing at ``target``: {alias, alias_zone} (CloudFront: A and AAAA
    aliases) or {address} (an IPv4 address: one A record each, TTL from the module)."""
    if isinstance(names, str) or not names:
        raise AnsibleFilterError(f"site_switch_records: names must be a non-empty list of DNS names, not {names!r}")
    target = target or {}
    alias, address = str(target.get("alias") or ""), str(target.get("address") or "")
    if alias:
        zone = str(target.get("alias_zone") or "")
        if not zone:
            raise AnsibleFilterError("site_switch_records: an alias needs alias_zone (the target's hosted zone id)")
        return [{"name": n, "type": t, "value": alias, "alias_zone": zone, "alias_evaluate_target_health": False}
                for n in names for t in ("A", "AAAA")]
    if address:
        return [{"name": n, "type": "A", "value": address} for n in names]
    raise AnsibleFilterError("site_switch_records: the target has neither an alias nor an address "
                             "(migrate_dns_new_alias / migrate_dns_new_address / migrate_dns_legacy_address)")


class FilterModule:
    """protea.platform migration filters."""

    def filters(self):
        return {"site_switch_records": site_switch_records}
