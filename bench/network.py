"""Benchmark the network tier against a fresh emulator: first converge, no-op re-run, --check --diff.

    .venv/bin/python -m bench.network        (from the repository root)

Writes bench/results/network.json (wall seconds per run, AWS API calls per run, tasks
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
from tests.localcloud.__main__ import ensure_ssh_key  # noqa: E402
from tests.localcloud.emulator import Emulator  # noqa: E402

PLAYBOOK = "playbooks/network.yml"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, Emulator(tmp) as emu:
        ensure_ssh_key(Path(tmp))
        runs = measure(emu, PLAYBOOK, env={"PROTEA_LOCALCLOUD_DIR": tmp})
    write("network", {"playbook": PLAYBOOK, "runs": runs})


if __name__ == "__main__":
    main()
