"""Benchmark the main job on the local cloud with instances: site.yml from nothing, then the
no-op re-run (same cloud), as scripts/site-local runs it, then `--check --diff` on what it built
(the tasks a dry run says it would change, which right after a converge should be none).

    .venv/bin/python -m bench.site        (from the repository root)

Writes bench/results/site_local.json (wall seconds, tasks ok/changed per run, the no-op run's share
of the first run's time, the changed tasks of the no-op and check runs, the timer's figure
and the ten slowest tasks from ansible.posix.profile_tasks) with the machine's load average,
since the box is shared. Not a test: nothing here asserts a time.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._tier import PROFILE_ENV, profile, write  # noqa: E402
from tests.doubles.slack_double import SlackDouble  # noqa: E402
from tests.helpers import run_playbook  # noqa: E402
from tests.localcloud.__main__ import ensure_ssh_key  # noqa: E402
from tests.localcloud.emulator import Emulator  # noqa: E402

INVENTORY = ["inventories/common", "inventories/local", "inventories/local/aws_ec2.yml"]


def main() -> None:
    os.environ.setdefault("CONTAINERS_CONF", str(REPO / "tests/containers/containers.conf"))
    for script in ("build-image", "apt-proxy"):  # cached; not timed
        subprocess.run([str(REPO / "tests/containers" / script)], check=True, capture_output=True)
    runs = {}
    loads = {"before": [round(x, 2) for x in os.getloadavg()]}
    with tempfile.TemporaryDirectory() as tmp:
        ensure_ssh_key(Path(tmp))
        with Emulator(tmp, instances=True) as emu, SlackDouble() as slack:
            measure(emu, slack, tmp, runs, loads)
    share = round(runs["noop"]["seconds"] / runs["from_nothing"]["seconds"], 3)
    write("site_local", {"playbook": "site.yml", "inventory": INVENTORY, "runs": runs,
                         "noop_share_of_first_run": share, "loadavg": loads})


def measure(emu: Emulator, slack: SlackDouble, tmp: str, runs: dict, loads: dict) -> None:
    env = {**PROFILE_ENV, "PROTEA_LOCALCLOUD_DIR": tmp, "PROTEA_SLACK_WEBHOOK_URL": slack.webhook_url}
    for name, check in (("from_nothing", False), ("noop", False), ("check_diff", True)):
        start = time.monotonic()
        run = run_playbook("site.yml", endpoint=emu.endpoint, env=env, inventory=INVENTORY, timeout=3600,
                           check=check, diff=check)
        seconds = round(time.monotonic() - start, 1)
        if run.rc != 0:
            raise SystemExit(run.explain())
        runs[name] = {"seconds": seconds, "changed": run.changed,
                      "tasks_ok": sum(h["ok"] for h in run.recap.values()), "hosts": len(run.recap)}
        if name != "from_nothing":
            runs[name]["changed_tasks"] = run.changed_tasks
        loads[name] = [round(x, 2) for x in os.getloadavg()]
        print(name, runs[name], flush=True)
        runs[name].update(profile(run.stdout))


if __name__ == "__main__":
    main()
