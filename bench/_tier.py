"""Shared by the tier benchmarks: time converge, no-op and --check runs of one tier
playbook against an emulator, and write the numbers with the machine's load."""
from __future__ import annotations

import json
import os
import platform
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.helpers import run_playbook  # noqa: E402

RUNS = (("converge", False), ("noop", False), ("check", True))

# Bench runs only (not ansible.cfg): ansible.posix's profile_tasks and timer next to the stdout
# callback, the profile as its closing summary only (no timestamp line per task), ten tasks long.
PROFILE_ENV = {
    "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks,ansible.posix.timer",
    "PROFILE_TASKS_SUMMARY_ONLY": "true",
    "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "10",
    "PROFILE_TASKS_SORT_ORDER": "descending",
}
# profile_tasks' summary line: the task's name, dashes up to the column, its seconds.
PROFILE_LINE = re.compile(r"^(?P<task>.+?) -* ?(?P<seconds>\d+\.\d\d)s$")
TIMER_LINE = re.compile(r"Playbook run took (\d+) days, (\d+) hours, (\d+) minutes, (\d+) seconds")


def slowest_tasks(stdout: str) -> list[dict]:
    """The slowest tasks as profile_tasks summed them ("role : task" and seconds), slowest first,
    from its summary after TASKS RECAP; [] when the run printed none."""
    lines = stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("TASKS RECAP ")), None)
    if start is None:
        return []
    tasks, rule_seen = [], False
    for line in lines[start + 1:]:
        if not rule_seen:
            rule_seen = line.startswith("=====")
            continue
        match = PROFILE_LINE.match(line.rstrip())
        if not match:
            break
        tasks.append({"task": match["task"], "seconds": float(match["seconds"])})
    return tasks


def timer_seconds(stdout: str) -> int | None:
    """The timer callback's whole-run figure, in seconds (it counts whole seconds)."""
    match = TIMER_LINE.search(stdout)
    if not match:
        return None
    days, hours, mins, secs = (int(x) for x in match.groups())
    return ((days * 24 + hours) * 60 + mins) * 60 + secs


def profile(stdout: str) -> dict:
    """What the profiling callbacks said about one run, for the results next to its figures."""
    return {"timer_seconds": timer_seconds(stdout), "slowest_tasks": slowest_tasks(stdout)}


def measure(emu, playbook: str, *, extra: dict | None = None, tags: str | None = None,
            env: dict | None = None) -> dict:
    """Wall seconds, AWS calls and changed tasks of each run, with the timer's figure and the ten
    slowest tasks (profile_tasks); stops at the first failure."""
    runs = {}
    for name, check in RUNS:
        before = emu.call_count()
        start = time.monotonic()
        run = run_playbook(playbook, endpoint=emu.endpoint, extra_vars=extra, tags=tags, check=check, diff=check,
                           env={**PROFILE_ENV, **(env or {})})
        seconds = round(time.monotonic() - start, 1)
        if run.rc != 0:
            raise SystemExit(run.explain())
        runs[name] = {"seconds": seconds, "aws_calls": emu.call_count() - before, "changed": run.changed,
                      "tasks_ok": sum(h["ok"] for h in run.recap.values())}
        print(name, runs[name], flush=True)
        runs[name].update(profile(run.stdout))
    return runs


def write(name: str, results: dict) -> None:
    results["machine"] = {
        "cpus": os.cpu_count(),
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = REPO / f"bench/results/{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")
