"""Crash sweep: kill a tier's from-nothing converge right after each of its mutating AWS calls,
re-run it, and count the points after which the re-run converged with nothing duplicated.

    .venv/bin/python -m bench.crash_sweep [--tier network] [--every N] [--max-seconds S]

For each tier (network, then data: the tiers that converge on the emulator alone; the edge and
alerting tiers need stand-ins for the other tiers and the bake needs instance containers, so
their crash points are the tests') a reference converge from nothing records the tier's mutating calls (the emulator's
/_localcloud/mutations: N calls). Then for point k in 1..N (every --every-th): reset, the
tier's prerequisites converged, the tier killed (SIGKILL, whole process tree) by the emulator
right after its k-th mutating call, the tier re-run to the end, then tests/crash.py's duplicate
finder. A point is survived when the re-run succeeded and nothing is duplicated. Results go to
bench/results/crash_sweep.json as they come (survived / tried per tier, and each point's call
and findings; a tier swept again replaces its entry, the others stay). Not a test: the tests run a handful of these points (tests/provisioning/*).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._tier import write  # noqa: E402
from tests.crash import duplicates  # noqa: E402
from tests.helpers import run_playbook  # noqa: E402
from tests.localcloud.__main__ import ensure_ssh_key  # noqa: E402
from tests.localcloud.emulator import Emulator, mutations  # noqa: E402

REGIONS = ["af-south-1", "us-east-1"]
# tier: (playbook, extra vars, skip tags, tags) and what is converged before it. The data tier
# needs the VPC and its security groups only; its application login needs a bastion that answers
# ssh (instance containers): left out here.
TIERS = {
    "network": (("playbooks/network.yml", {}, None, None), []),
    "data": (("playbooks/data.yml", {}, "rds_app_user", None), [("playbooks/network.yml", {}, None, "vpc,security_groups")]),
}


def _run(emu: Emulator, step: tuple, **kwargs):
    playbook, extra, skip, tags = step
    return run_playbook(playbook, endpoint=emu.endpoint, extra_vars=extra or None, skip_tags=skip, tags=tags,
                        **kwargs)


def _prepare(emu: Emulator, before: list) -> None:
    emu.reset()
    for step in before:
        run = _run(emu, step)
        assert run.rc == 0, run.explain()


def sweep(emu: Emulator, tier: str, every: int, deadline: float) -> dict:
    step, before = TIERS[tier]
    _prepare(emu, before)
    start = len(mutations(emu.endpoint))
    reference = _run(emu, step)
    assert reference.rc == 0, reference.explain()
    calls = mutations(emu.endpoint)[start:]
    points = []
    for k in range(1, len(calls) + 1, every):
        if time.monotonic() > deadline:
            break
        _prepare(emu, before)
        t0 = time.monotonic()
        crashed = _run(emu, step, crash_after=k)
        rerun = _run(emu, step)
        found = duplicates(emu.endpoint, REGIONS)
        points.append({
            "point": k, "call": calls[k - 1], "crashed_at": crashed.crashed_at, "killed": crashed.rc == -9,
            "rerun_rc": rerun.rc, "duplicates": found, "survived": rerun.rc == 0 and not found,
            "seconds": round(time.monotonic() - t0, 1),
            **({"rerun_tail": rerun.stdout[-1500:]} if rerun.rc else {}),
        })
        print(f"{tier} {k}/{len(calls)} {calls[k - 1]}: {'ok' if points[-1]['survived'] else 'FAILED'} "
              f"{found or ''}", flush=True)
    return {"mutating_calls": len(calls), "every": every, "tried": len(points),
            "survived": sum(p["survived"] for p in points), "points": points}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.crash_sweep")
    parser.add_argument("--tier", action="append", choices=sorted(TIERS), help="default: all")
    parser.add_argument("--every", type=int, default=1, help="try every N-th mutating call (default 1: all)")
    parser.add_argument("--max-seconds", type=float, default=6 * 3600, help="stop starting new points after this")
    args = parser.parse_args()
    deadline = time.monotonic() + args.max_seconds
    # Tiers swept earlier stay in the file (each tier records its own command).
    previous = REPO / "bench/results/crash_sweep.json"
    results: dict = json.loads(previous.read_text()) if previous.exists() else {}
    results.setdefault("tiers", {})
    command = " ".join(["python -m bench.crash_sweep", *sys.argv[1:]])
    with tempfile.TemporaryDirectory() as tmp:
        ensure_ssh_key(Path(tmp))
        import os

        os.environ["PROTEA_LOCALCLOUD_DIR"] = tmp
        with Emulator(tmp) as emu:
            for tier in args.tier or list(TIERS):
                results["tiers"][tier] = {"command": command, **sweep(emu, tier, args.every, deadline)}
                results["survived"] = sum(t["survived"] for t in results["tiers"].values())
                results["tried"] = sum(t["tried"] for t in results["tiers"].values())
                write("crash_sweep", results)


if __name__ == "__main__":
    main()
