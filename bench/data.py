"""Benchmark the data tier against a fresh emulator: first converge, no-op converge, --check.

    .venv/bin/python -m bench.data        (from the repository root)

Writes bench/results/data.json (wall seconds per run, AWS API calls per run, tasks
changed) with the machine's load average, since the box is shared. Not a test: nothing
here asserts a time.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._tier import measure, write  # noqa: E402
from tests.localcloud.__main__ import ensure_ssh_key  # noqa: E402
from tests.localcloud.emulator import Emulator  # noqa: E402
from tests.provisioning.test_data import DATA, OPTIONS, converge_network  # noqa: E402


def main() -> None:
    results = {"playbook": DATA, "options": OPTIONS, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp, Emulator(tmp) as emu:
        # The network tier (run first, not timed) reads the local cloud's ssh key from here.
        ensure_ssh_key(Path(tmp))
        os.environ["PROTEA_LOCALCLOUD_DIR"] = tmp
        converge_network(emu)
        extra = dict(OPTIONS)
        results["runs"] = measure(emu, DATA, extra=extra)
    write("data", results)


if __name__ == "__main__":
    main()
