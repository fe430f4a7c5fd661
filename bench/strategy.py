"""Mitogen for the AWS plays or not: the network tier, side by side, under both strategies.

    .venv/bin/python -m bench.strategy [rounds]     (from the repository root; default 2 rounds)

Each round runs the network tier (converge, no-op, --check --diff) against a fresh emulator under
ansible.builtin.linear, under protea.platform.local_mitogen without its botocore model cache
(bench/plugins/strategy/local_mitogen_uncached.py), then under protea.platform.local_mitogen
(ansible.cfg's choice), so all see the same load. Writes bench/results/strategy.json: per round
and strategy the wall seconds of each run, and the ratios of the summed seconds: mitogen / linear
and mitogen / mitogen without the cache. Not a test: nothing here
asserts a time.
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
STRATEGIES = ("ansible.builtin.linear", "local_mitogen_uncached", "protea.platform.local_mitogen")
BENCH_STRATEGIES = str(REPO / "bench/plugins/strategy")


def one(strategy: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp, Emulator(tmp) as emu:
        ensure_ssh_key(Path(tmp))
        return measure(emu, PLAYBOOK, env={"PROTEA_LOCALCLOUD_DIR": tmp, "ANSIBLE_STRATEGY": strategy,
                                           "ANSIBLE_STRATEGY_PLUGINS": BENCH_STRATEGIES})


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    results = []
    for _ in range(rounds):
        runs = {strategy: one(strategy) for strategy in STRATEGIES}
        total = {s: round(sum(r["seconds"] for r in runs[s].values()), 1) for s in STRATEGIES}
        linear, uncached, mitogen = (total[s] for s in STRATEGIES)
        results.append({"runs": runs, "total_seconds": total,
                        "ratio_mitogen_to_linear": round(mitogen / linear, 3),
                        "ratio_mitogen_to_uncached": round(mitogen / uncached, 3)})
        print(total, results[-1]["ratio_mitogen_to_linear"], results[-1]["ratio_mitogen_to_uncached"], flush=True)
    write("strategy", {"playbook": PLAYBOOK, "rounds": results})


if __name__ == "__main__":
    main()
