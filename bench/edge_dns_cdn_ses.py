"""Benchmark the edge roles (dns, acm, cloudfront, ses) of playbooks/edge.yml against a fresh
emulator: first converge, no-op converge, --check --diff.

    .venv/bin/python -m bench.edge_dns_cdn_ses        (from the repository root)

Same setup as tests/provisioning/test_edge_dns_cdn_ses.py (a stand-in ALB made with boto3,
--tags of the edge roles). Writes bench/results/edge_dns_cdn_ses.json (wall seconds, AWS API
calls and tasks changed per run) with the machine's load average, since the box is shared.
Not a test: nothing here asserts a time.
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
from tests.localcloud.emulator import Emulator  # noqa: E402
from tests.provisioning.test_edge_dns_cdn_ses import EDGE, TAGS, stand_in_alb  # noqa: E402


def main() -> None:
    results = {"playbook": EDGE, "tags": TAGS, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp, Emulator(tmp) as emu:
        extra = stand_in_alb(emu)
        for name, check in (("converge", False), ("noop", False), ("check", True)):
            before = emu.call_count()
            start = time.monotonic()
            run = run_playbook(EDGE, endpoint=emu.endpoint, extra_vars=extra, tags=TAGS, check=check, diff=check)
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
    out = REPO / "bench/results/edge_dns_cdn_ses.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
