"""Shared by the tier benchmarks: time converge, no-op and --check runs of one tier
playbook against an emulator, and write the numbers with the machine's load."""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.helpers import run_playbook  # noqa: E402

RUNS = (("converge", False), ("noop", False), ("check", True))


def measure(emu, playbook: str, *, extra: dict | None = None, tags: str | None = None,
            env: dict | None = None) -> dict:
    """Wall seconds, AWS calls and changed tasks of each run; stops at the first failure."""
    runs = {}
    for name, check in RUNS:
        before = emu.call_count()
        start = time.monotonic()
        run = run_playbook(playbook, endpoint=emu.endpoint, extra_vars=extra, tags=tags, check=check, diff=check,
                           env=env)
        seconds = round(time.monotonic() - start, 1)
        if run.rc != 0:
            raise SystemExit(run.explain())
        runs[name] = {"seconds": seconds, "aws_calls": emu.call_count() - before, "changed": run.changed,
                      "tasks_ok": sum(h["ok"] for h in run.recap.values())}
        print(name, runs[name], flush=True)
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
