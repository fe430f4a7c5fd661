"""Benchmark the edge roles (dns, acm, cloudfront, ses) of playbooks/edge.yml against a fresh
emulator: first converge, no-op converge, --check --diff.

    .venv/bin/python -m bench.edge_dns_cdn_ses        (from the repository root)

Same setup as tests/provisioning/test_edge_dns_cdn_ses.py (a stand-in ALB made with boto3,
--tags of the edge roles). Writes bench/results/edge_dns_cdn_ses.json (wall seconds, AWS API
calls and tasks changed per run) with the machine's load average, since the box is shared.
Not a test: nothing here asserts a time.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._tier import measure, write  # noqa: E402
from tests.localcloud.emulator import Emulator  # noqa: E402
from tests.provisioning.test_edge_dns_cdn_ses import EDGE, TAGS, stand_in_alb  # noqa: E402


def main() -> None:
    results = {"playbook": EDGE, "tags": TAGS, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp, Emulator(tmp) as emu:
        extra = stand_in_alb(emu)
        results["runs"] = measure(emu, EDGE, extra=extra, tags=TAGS)
    write("edge_dns_cdn_ses", results)


if __name__ == "__main__":
    main()
