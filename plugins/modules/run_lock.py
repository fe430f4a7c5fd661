#!/usr/bin/python
# Copyright: Protea contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An environment's run lock, as one SSM parameter created with Overwrite=False.

Why a project module: the lock must be taken atomically (PutParameter without overwrite
succeeds for exactly one caller, ParameterAlreadyExists for the others); community.aws's
ssm_parameter reads before it writes, so two runs could both believe they hold it.
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: run_lock
short_description: Take or release an environment's run lock (an SSM parameter)
version_added: 0.1.0
description:
  - V(present) creates the parameter with PutParameter(Overwrite=false), which AWS lets
    exactly one caller do. The value names the holder (who, where, which playbook, since when,
    until when). Taking a lock this run already holds (same O(lock_id)) only extends it.
  - A lock held by another run makes the module wait up to O(wait_seconds), then fail with a
    message naming the holder and how to break the lock.
  - A stale lock is taken over, that is one that expired (locks expire after O(ttl_minutes) without being
    extended), or one taken on this machine by a process (O(pid)) that no longer runs (a run that
    failed or was killed). O(break_lock_id) takes over the lock with that id at once (a crashed
    run on another machine, e.g. an AWX job).
  - V(absent) deletes the parameter if this run (O(lock_id)) holds it, else leaves it.
  - Check mode reads only, and fails as a real run would when another run holds the lock.
options:
  name:
    description: The SSM parameter that is the lock.
    type: str
    required: true
  lock_id:
    description: This run's id (one per ansible-playbook run, e.g. a UUID made at its start).
    type: str
    required: true
  holder:
    description: What to tell the others about this run (e.g. user, playbook); the module adds
      this machine's host name and O(pid).
    type: dict
    default: {}
  pid:
    description: The process id of this run's ansible-playbook (0 = unknown; then only expiry and
      O(break_lock_id) free a lock this run leaves behind).
    type: int
    default: 0
  state:
    description: Take (V(present)) or release (V(absent)) the lock.
    type: str
    choices: [present, absent]
    default: present
  ttl_minutes:
    description: Minutes after which a lock that was not extended counts as a crashed run's.
    type: int
    default: 180
  wait_seconds:
    description: How long to wait for another run's lock before failing (0 fails at once).
    type: int
    default: 0
  poll_seconds:
    description: Pause between attempts while waiting.
    type: int
    default: 10
  break_lock_id:
    description: The id of a lock to take over now (from the message of a refused run).
    type: str
    default: ""
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author: Protea contributors
"""

EXAMPLES = r"""
- name: Take the run lock of the environment
  protea.platform.run_lock:
    name: /shopper/production/run-lock
    lock_id: "{{ run_lock_id }}"
    holder: {playbook: site.yml}

- name: Release it
  protea.platform.run_lock:
    name: /shopper/production/run-lock
    lock_id: "{{ run_lock_id }}"
    state: absent
"""

RETURN = r"""
lock:
  description: The lock as stored after the run (empty when released or absent).
  returned: always
  type: dict
  sample: {"id": "6f1c...", "holder": {"playbook": "site.yml"}, "since": "2026-12-01T10:00:00Z", "expires": "2026-12-01T13:00:00Z"}
taken_over:
  description: The id of an expired or broken lock this run replaced, else empty.
  returned: always
  type: str
  sample: ""
"""

import json
import os
import socket
import time
from datetime import datetime, timedelta, timezone

try:
    import botocore  # noqa: F401
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

ISO = "%Y-%m-%dT%H:%M:%SZ"


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _read(client, name: str) -> dict | None:
    try:
        value = client.get_parameter(aws_retry=True, Name=name)["Parameter"]["Value"]
    except is_boto3_error_code("ParameterNotFound"):
        return None
    try:
        lock = json.loads(value)
    except ValueError:
        lock = {}
    return lock if isinstance(lock, dict) else {}


def _expired(lock: dict) -> bool:
    try:
        return datetime.strptime(lock.get("expires", ""), ISO).replace(tzinfo=timezone.utc) <= _now()
    except ValueError:
        return True  # unreadable: nobody can be extending it


def _gone(lock: dict) -> bool:
    """Taken on this machine by a process that no longer runs."""
    holder = lock.get("holder") or {}
    if holder.get("host") != socket.gethostname() or not isinstance(holder.get("pid"), int) or holder["pid"] <= 0:
        return False
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _value(module) -> dict:
    now = _now()
    holder = dict(module.params["holder"], host=socket.gethostname(), pid=module.params["pid"])
    return {"id": module.params["lock_id"], "holder": holder, "since": now.strftime(ISO),
            "expires": (now + timedelta(minutes=module.params["ttl_minutes"])).strftime(ISO)}


def _put(client, name: str, value: dict, overwrite: bool) -> None:
    client.put_parameter(aws_retry=True, Name=name, Type="String", Overwrite=overwrite, Value=json.dumps(value, sort_keys=True),
                         Description="Protea run lock: the run named here is changing this environment")


def _refusal(module, lock: dict) -> str:
    holder = ", ".join(f"{k} {v}" for k, v in sorted((lock.get("holder") or {}).items())) or "unknown holder"
    return (f"{module.params['name']} is held by another run ({holder}; since {lock.get('since', '?')}, "
            f"expires {lock.get('expires', '?')}, lock id {lock.get('id', '?')}). Wait for it to end "
            f"(run_lock_wait_seconds waits for you), or, if that run is gone (crashed, cancelled), "
            f"re-run with -e run_lock_break={lock.get('id', '?')}")


def acquire(module, client) -> dict:
    name, mine = module.params["name"], module.params["lock_id"]
    deadline = time.monotonic() + module.params["wait_seconds"]
    while True:
        lock = _read(client, name)
        if lock is not None and lock.get("id") == mine:
            # Held by this run: extend it (each playbook of one run takes it again).
            if not module.check_mode:
                value = dict(_value(module), since=lock.get("since"))
                _put(client, name, value, overwrite=True)
                lock = value
            return {"changed": False, "lock": lock, "taken_over": ""}
        taken_over = ""
        broken = module.params["break_lock_id"] and lock is not None and lock.get("id") == module.params["break_lock_id"]
        if lock is not None and (_expired(lock) or _gone(lock) or broken):
            taken_over = str(lock.get("id", ""))
            if module.check_mode:
                return {"changed": True, "lock": _value(module), "taken_over": taken_over}
            client.delete_parameter(aws_retry=True, Name=name)
            lock = None
        if lock is None:
            value = _value(module)
            if module.check_mode:
                return {"changed": True, "lock": value, "taken_over": taken_over}
            try:
                _put(client, name, value, overwrite=False)
                return {"changed": True, "lock": value, "taken_over": taken_over}
            except is_boto3_error_code("ParameterAlreadyExists"):
                continue  # another run was faster: read who
        if time.monotonic() + module.params["poll_seconds"] > deadline:
            module.fail_json(msg=_refusal(module, lock), lock=lock)
        time.sleep(module.params["poll_seconds"])


def release(module, client) -> dict:
    name = module.params["name"]
    lock = _read(client, name)
    if lock is None or lock.get("id") != module.params["lock_id"]:
        return {"changed": False, "lock": lock or {}, "taken_over": ""}
    if not module.check_mode:
        try:
            client.delete_parameter(aws_retry=True, Name=name)
        except is_boto3_error_code("ParameterNotFound"):
            pass
    return {"changed": True, "lock": {}, "taken_over": ""}


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            lock_id=dict(type="str", required=True),
            holder=dict(type="dict", default={}),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            ttl_minutes=dict(type="int", default=180),
            wait_seconds=dict(type="int", default=0),
            poll_seconds=dict(type="int", default=10),
            pid=dict(type="int", default=0),
            break_lock_id=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    client = module.client("ssm", retry_decorator=AWSRetry.jittered_backoff())
    try:
        result = acquire(module, client) if module.params["state"] == "present" else release(module, client)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:  # pylint: disable=duplicate-except
        module.fail_json_aws(err, msg=f"Could not {'take' if module.params['state'] == 'present' else 'release'} "
                                      f"the run lock {module.params['name']}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
