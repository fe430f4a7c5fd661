"""Benchmark the emulator itself: start, first calls, reset (empty and populated), stop.

    .venv/bin/python -m bench.localcloud        (from the repository root)

Writes bench/results/localcloud.json (median wall seconds of a few rounds) with the machine's
load average, since the box is shared. Not a test: nothing here asserts a time.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.localcloud.emulator import Emulator  # noqa: E402

ROUNDS = 3


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    fn()
    return time.monotonic() - start


def _populate(emu: Emulator) -> None:
    ec2 = emu.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    for i in range(4):
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.50.{i}.0/24")
    emu.client("iam", region="us-east-1").list_policies(Scope="AWS", MaxItems=1)


def main() -> None:
    samples: dict[str, list[float]] = {k: [] for k in ("start", "first_ec2_call", "reset_empty", "reset_populated", "stop")}
    load_before = [round(x, 2) for x in os.getloadavg()]
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory() as tmp:
            emu = Emulator(tmp)
            samples["start"].append(_timed(emu.start))
            ec2 = emu.client("ec2")
            samples["first_ec2_call"].append(_timed(ec2.describe_vpcs))
            samples["reset_empty"].append(_timed(emu.reset))
            _populate(emu)
            samples["reset_populated"].append(_timed(emu.reset))
            samples["stop"].append(_timed(emu.stop))
    results = {
        "what": "tests/localcloud emulator lifecycle, median of rounds (seconds)",
        "rounds": ROUNDS,
        "median_seconds": {k: round(statistics.median(v), 2) for k, v in samples.items()},
        "machine_loadavg_before": load_before,
        "machine_loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    out = REPO / "bench" / "results" / "localcloud.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
