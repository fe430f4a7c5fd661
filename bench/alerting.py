"""Benchmark the alerting tier against a fresh emulator: first converge, no-op converge, --check.

    .venv/bin/python -m bench.alerting        (from the repository root)

Writes bench/results/alerting.json (wall seconds per run, AWS API calls per run, tasks
changed) with the machine's load average, since the box is shared. Not a test: nothing
here asserts a time.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._tier import measure, write  # noqa: E402
from tests.doubles.slack_double import SlackDouble  # noqa: E402
from tests.localcloud.emulator import Emulator  # noqa: E402
from tests.provisioning.test_alerting import PLAYBOOK, _seed_other_tiers  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, Emulator(tmp) as emu, SlackDouble() as slack:
        _seed_other_tiers(emu)
        # The file system and distribution are found by role stack, as when the tier runs alone.
        extra = {"slack_notifier_webhook_url": slack.webhook_url, "slack_notifier_build_dir": f"{tmp}/build"}
        runs = measure(emu, PLAYBOOK, extra=extra)
    write("alerting", {"playbook": PLAYBOOK, "runs": runs})


if __name__ == "__main__":
    main()
