# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""ansible.builtin.default's screen output, with long waits reported in plain words."""
from __future__ import annotations

DOCUMENTATION = r"""
name: progress
type: stdout
short_description: The default output, with progress in plain words while a task waits
version_added: 0.1.0
description:
  - >-
    Prints exactly what ansible.builtin.default prints, except for a task that retries until a condition holds
    (an C(until) loop, e.g. waiting for RDS, CloudFront or an instance refresh). Instead of
    "FAILED - RETRYING ... (N retries left)" it says what is awaited, the state the last answer reported when it has
    one, and the time spent against the time allowed, e.g.
    "Waiting - [localhost] - Wait until the instance is available - creating, 6:00 of ~15 min (attempt 12 of 30)".
  - Only a short state word is taken from the result (a key such as C(db_instance_status), C(status) or C(state)),
    never the result itself, except at -vv as the default callback does.
extends_documentation_fragment:
  - ansible.builtin.default_callback
  - ansible.builtin.result_format_callback
requirements:
  - set as stdout_callback in ansible.cfg (stdout_callback = protea.platform.progress)
author:
  - Protea founding engineers
"""

import re
import time
from typing import Any

from ansible import constants as C
from ansible.plugins.callback.default import CallbackModule as DefaultCallback

# Where services put the state of what is awaited (RDS, EFS, ACM, CloudFront, Auto Scaling, EC2, ...).
STATE_KEYS = ("db_instance_status", "life_cycle_state", "lifecycle_state", "status", "state", "Status", "State")
STATE_WORD = re.compile(r"^[A-Za-z][A-Za-z_ -]{0,39}$")


def state_of(result: Any, depth: int = 0) -> str:
    """A short state word from a module result: a known key at the top, inside a dict value, or in
    the first element of a list value (e.g. instances[0].db_instance_status)."""
    if depth > 2:
        return ""
    if isinstance(result, list):
        return state_of(result[0], depth + 1) if result else ""
    if not isinstance(result, dict):
        return ""
    for key in STATE_KEYS:
        value = result.get(key)
        if isinstance(value, dict):
            value = value.get("name") or value.get("Name") or value.get("Code")
        if isinstance(value, str) and STATE_WORD.match(value):
            return value
    for key, value in result.items():
        if key.startswith("_ansible") or key in ("invocation", "attempts", "retries"):
            continue
        if isinstance(value, (dict, list)):
            found = state_of(value, depth + 1)
            if found:
                return found
    return ""


def minutes(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


class CallbackModule(DefaultCallback):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "protea.platform.progress"

    def __init__(self) -> None:
        super().__init__()
        self._task_started = time.monotonic()

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_started = time.monotonic()
        super().v2_playbook_on_task_start(task, is_conditional)

    def v2_runner_retry(self, result) -> None:
        task_name = result.task_name or result.task
        res = result.result
        attempts, retries = int(res.get("attempts", 0)), int(res.get("retries", 0))
        try:
            allowed = float(result.task.delay or 0) * retries
        except (TypeError, ValueError, AttributeError):
            allowed = 0.0
        state = "" if res.get("_ansible_no_log") else state_of(res)
        spent = minutes(time.monotonic() - self._task_started)
        limit = f" of ~{max(1, round(allowed / 60))} min" if allowed >= 60 else (f" of ~{int(allowed)} s" if allowed else "")
        msg = (f"Waiting: [{self.host_label(result)}]: {task_name} - {state or 'not ready yet'}, {spent}{limit}"
               f" (attempt {attempts} of {retries})")
        if self._run_is_verbose(result, verbosity=2):
            msg += " Result was: %s" % self._dump_results(res)
        self._display.display(msg, color=C.COLOR_DEBUG)
