"""Benchmark the data tier against a fresh emulator: first converge, no-op converge, --check.

    .venv/bin/python -m bench.data        (from the repository root)

Writes bench/results/data.json (wall seconds per run, AWS API calls per run, tasks
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

from tests.helpers import run_playbook  # noqa: E402
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
        for name, check in (("converge", False), ("noop", False), ("check", True)):
            before = emu.call_count()
            start = time.monotonic()
            run = run_playbook(DATA, endpoint=emu.endpoint, extra_vars=extra, check=check, diff=check)
            seconds = round(time.monotonic() - start, 1)
            if run.rc != 0:
                raise SystemExit(run.explain())
            results["runs"][name] = {"seconds": seconds, "aws_calls": emu.call_count() - before, "changed": run.changed}
            print(name, results["runs"][name], flush=True)
    results["machine"] = {
        "cpus": os.cpu_count(),
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = REPO / "bench/results/data.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
