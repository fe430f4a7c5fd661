#!/usr/bin/python
# Copyright: Protea contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Refresh apt's package lists when their content says so.

Why a project module: ansible.builtin.apt's ``cache_valid_time`` judges the lists by the
mtime of ``/var/lib/apt/lists`` (or Ubuntu's update-success-stamp). An image whose lists
were emptied at build time has a fresh directory mtime and no lists at all, so the apt
module skips the update and every install fails with "No package matching". This module
decides from content instead: every configured suite must have a package index, and the
last refresh this module recorded (a timestamp written inside a stamp file, not a file
mtime) must be younger than ``max_age``.
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: apt_lists
short_description: Make sure apt has current package lists, judged by their content
version_added: 0.1.0
description:
  - Refreshes the package lists (C(apt-get update)) when a configured suite has no package
    index on disk, when this module has never refreshed them on this host, or when its last
    refresh is older than O(max_age).
  - Never trusts a directory's mtime, so images built with empty lists, lists with a fresh
    mtime and no content, and stale lists all get refreshed.
  - Fails when a suite still has no package index after the refresh (three attempts, five seconds apart), naming the suites.
  - Supports check mode (reports whether it would refresh).
options:
  max_age:
    description:
      - Seconds after the last refresh by this module before the lists count as stale.
      - V(0) refreshes on every run.
    type: int
    default: 3600
  stamp_path:
    description: Where the time of the last successful refresh is recorded (as text).
    type: path
    default: /var/lib/apt/periodic/protea-lists-refreshed
author: Protea contributors
"""

EXAMPLES = r"""
- name: Package lists (images ship without them)
  protea.platform.apt_lists:

- name: Install nginx
  ansible.builtin.apt:
    name: nginx
"""

RETURN = r"""
refreshed:
  description: Whether the lists were refreshed (or, in check mode, would be).
  returned: always
  type: bool
reason:
  description: Why the lists were (or were not) refreshed.
  returned: always
  type: str
  sample: "no package index for http://deb.example/debian/dists/bookworm/"
missing_suites:
  description: Configured suites (base URIs) that had no package index before the run.
  returned: always
  type: list
  elements: str
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

# Targets of "deb" lines (binary package indexes); "deb-src" ones are Sources.
_TARGET_FILTER = "Created-By: Packages"
# Clock skew tolerated before a stamp "from the future" counts as invalid.
_FUTURE_SLACK = 300
# apt-get update attempts, and seconds between them.
_ATTEMPTS = 3
_RETRY_DELAY = 5


def _targets(module, release_info):
    """(base_uri, filename) of every Packages index target.

    Without release info apt lists every configured target; with it, only the targets
    its downloaded Release files announce (none when the lists are empty)."""
    cmd = [module.get_bin_path("apt-get", required=True), "indextargets",
           "--format", "$(BASE_URI) $(FILENAME)", _TARGET_FILTER]
    if not release_info:
        cmd.insert(2, "--no-release-info")
    rc, out, err = module.run_command(cmd, environ_update={"LC_ALL": "C"})
    if rc != 0:
        module.fail_json(msg=f"apt-get indextargets failed (rc={rc}): {err.strip()}")
    pairs = []
    for line in out.splitlines():
        if " " in line:
            base, filename = line.split(" ", 1)
            pairs.append((base, filename))
    return pairs


def missing_suites(configured, present):
    """Suites configured in sources with no package index file on disk.

    ``configured``: base URIs of the sources; ``present``: (base_uri, filename, exists)."""
    have = {base for base, _filename, exists in present if exists}
    return sorted(set(configured) - have)


def read_stamp(path):
    """The epoch recorded in the stamp file, or None when absent or unreadable."""
    try:
        with open(path, encoding="ascii") as fh:
            return float(fh.read().strip())
    except (OSError, ValueError):
        return None


def decide(missing, stamp, now, max_age):
    """(refresh?, reason) from the lists' content and the recorded refresh time."""
    if missing:
        return True, "no package index for " + ", ".join(missing)
    if stamp is None:
        return True, "no refresh recorded on this host"
    if stamp > now + _FUTURE_SLACK:
        return True, "the recorded refresh time lies in the future"
    age = now - stamp
    if age >= max_age:
        return True, f"last refresh {int(age)} s ago (max_age {max_age} s)"
    return False, f"lists complete, refreshed {int(age)} s ago"


def _present(module):
    configured = sorted({base for base, _f in _targets(module, release_info=False)})
    present = [(base, f, os.path.exists(f)) for base, f in _targets(module, release_info=True)]
    return configured, missing_suites(configured, present)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            max_age=dict(type="int", default=3600),
            stamp_path=dict(type="path", default="/var/lib/apt/periodic/protea-lists-refreshed"),
        ),
        supports_check_mode=True,
    )
    max_age = module.params["max_age"]
    if max_age < 0:
        module.fail_json(msg="max_age must be 0 or more seconds (e.g. max_age: 3600)")
    stamp_path = module.params["stamp_path"]

    configured, missing = _present(module)
    if not configured:
        module.fail_json(msg="apt has no configured 'deb' sources: check /etc/apt/sources.list{,.d}")
    refresh, reason = decide(missing, read_stamp(stamp_path), time.time(), max_age)
    result = dict(changed=refresh, refreshed=refresh, reason=reason, missing_suites=missing)
    if not refresh or module.check_mode:
        module.exit_json(**result)

    # Error-Mode=any: a suite that fails to download is an error, not a warning. A mirror in
    # the middle of a sync (hash sum mismatch) or a proxy hiccup passes: try a few times.
    for attempt in range(_ATTEMPTS):
        rc, out, err = module.run_command(
            [module.get_bin_path("apt-get", required=True), "update", "-q",
             "-o", "APT::Update::Error-Mode=any"],
            environ_update={"LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"})
        _configured, still_missing = _present(module)
        if rc == 0 and not still_missing:
            break
        if attempt + 1 < _ATTEMPTS:
            time.sleep(_RETRY_DELAY)
    if rc != 0 or still_missing:
        module.fail_json(
            msg=("apt-get update did not produce package lists"
                 + (" for " + ", ".join(still_missing) if still_missing else "")
                 + f" (rc={rc}): check the sources and that the mirror (or proxy) is reachable"),
            stdout=out[-2000:], stderr=err[-2000:], **result)
    os.makedirs(os.path.dirname(stamp_path), exist_ok=True)
    tmp = f"{stamp_path}.tmp"
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write(f"{time.time():.0f}\n")
    os.replace(tmp, stamp_path)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
