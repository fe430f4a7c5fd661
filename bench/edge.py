"""Benchmark the web/edge compute tier (playbooks/edge.yml --tags alb,asg) against a fresh
emulator: first converge, no-op converge, --check.

    .venv/bin/python -m bench.edge        (from the repository root)

Writes bench/results/edge.json (wall seconds per run, AWS API calls per run, tasks changed)
with the machine's load average, since the box is shared. Not a test: nothing here asserts
a time.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._tier import measure, write  # noqa: E402
from tests.helpers import run_playbook  # noqa: E402
from tests.localcloud.__main__ import ensure_ssh_key  # noqa: E402
from tests.localcloud.emulator import Emulator  # noqa: E402
from tests.provisioning.test_edge_alb_asg import EDGE, NETWORK, TAGS, self_signed_cert  # noqa: E402


def main() -> None:
    results = {"playbook": EDGE, "tags": TAGS, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp, Emulator(tmp) as emu:
        # The network tier (run first, not timed) reads the local cloud's ssh key from here.
        ensure_ssh_key(Path(tmp))
        os.environ["PROTEA_LOCALCLOUD_DIR"] = tmp
        net = run_playbook(NETWORK, endpoint=emu.endpoint, tags="vpc,security_groups")
        if net.rc != 0:
            raise SystemExit(net.explain())
        extra = {"alb_certificate_arn": self_signed_cert(emu)}
        results["runs"] = measure(emu, EDGE, extra=extra, tags=TAGS)
    write("edge", results)


if __name__ == "__main__":
    main()
