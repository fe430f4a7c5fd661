"""The migration's cut-over killed at each of its tasks in turn, per engine, then re-run.

    .venv/bin/python -m bench.migration_sweep [ENGINE]   (from the repository root; ENGINE: postgres or
                                                          mariadb, default both: 50-70 min each on 2 cores)

Runs tests/migration with PROTEA_MIGRATION_SWEEP=1: test_cutover_killed_at_every_step_completes_on_a_rerun
takes the task list of a --check cut-over and, for each task, runs a fresh pre-sync, the cut-over SIGKILLed
as that task starts, and a re-run, which must complete with no acknowledged write lost. Writes
bench/results/migration_sweep.json (per engine: every point, the phase the kill left, completed, lost).
Not a test of time: nothing here asserts a duration.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._tier import write  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        collected = Path(tmp) / "sweep.json"
        env = dict(os.environ, PROTEA_MIGRATION_RESULTS=str(collected), PROTEA_MIGRATION_SWEEP="1",
                   PROTEA_MIGRATION_ENGINES="postgres,mariadb",
                   CONTAINERS_CONF=str(REPO / "tests/containers/containers.conf"))
        start = time.monotonic()
        only = f" and {sys.argv[1]}" if len(sys.argv) > 1 else ""
        proc = subprocess.run([sys.executable, "-m", "pytest", "tests/migration", "-q", "-s", "-p", "no:cacheprovider",
                               "-k", f"not dns_switch{only}"], cwd=REPO, env=env, check=False)
        seconds = round(time.monotonic() - start, 1)
        if proc.returncode != 0 or not collected.exists():
            raise SystemExit(f"tests/migration failed (rc={proc.returncode})")
        found = json.loads(collected.read_text())
    sweeps = {k.removesuffix("_sweep"): v for k, v in found.items() if k.endswith("_sweep")}
    # One engine's run keeps the other engine's entries of an earlier run (each engine is ~1 h here).
    results = REPO / "bench/results/migration_sweep.json"
    old = json.loads(results.read_text()) if results.exists() else {}

    def others(key: str) -> dict:
        value = old.get(key)
        return {e: v for e, v in value.items() if e not in sweeps} if isinstance(value, dict) else {}

    write("migration_sweep", {"command": "PROTEA_MIGRATION_SWEEP=1 pytest tests/migration -k ENGINE",
                              "seconds": others("seconds") | {e: seconds for e in sweeps},
                              "points": others("points") | {e: len(v) for e, v in sweeps.items()},
                              "engines": others("engines") | sweeps})
    # write() records this run's machine at the top level: per engine instead, next to the others.
    merged = json.loads(results.read_text())
    merged["machine"] = others("machine") | {e: merged["machine"] for e in sweeps}
    results.write_text(json.dumps(merged, indent=2) + "\n")


if __name__ == "__main__":
    main()
