"""Benchmark the alerting tier against a fresh emulator: first converge, no-op converge, --check.

    .venv/bin/python -m bench.alerting        (from the repository root)

Writes bench/results/alerting.json (wall seconds per run, AWS API calls per run, tasks
changed) with the machine's load average, since the box is shared. Not a test: nothing
here asserts a time.
"""
from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.doubles.slack_double import SlackDouble  # noqa: E402
from tests.helpers import run_playbook  # noqa: E402
from tests.localcloud.emulator import Emulator  # noqa: E402
from tests.provisioning.test_alerting import CF_ID, EFS_ID, PLAYBOOK, _seed_other_tiers  # noqa: E402


def main() -> None:
    results = {"playbook": PLAYBOOK, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp, Emulator(tmp) as emu, SlackDouble() as slack:
        _seed_other_tiers(emu)
        extra = {"slack_notifier_webhook_url": slack.webhook_url, "slack_notifier_build_dir": f"{tmp}/build",
                 "efs_file_system_id": EFS_ID, "cloudfront_distribution_id": CF_ID}
        for name, check in (("converge", False), ("noop", False), ("check", True)):
            before = emu.call_count()
            start = time.monotonic()
            run = run_playbook(PLAYBOOK, endpoint=emu.endpoint, extra_vars=extra, check=check, diff=check)
            seconds = round(time.monotonic() - start, 1)
            if run.rc != 0:
                raise SystemExit(run.explain())
            results["runs"][name] = {"seconds": seconds, "aws_calls": emu.call_count() - before, "changed": run.changed}
            print(name, results["runs"][name], flush=True)
    results["machine"] = {"cpus": os.cpu_count(), "loadavg_after": [round(x, 2) for x in os.getloadavg()],
                          "python": platform.python_version()}
    out = REPO / "bench/results/alerting.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
