"""Measure the migration's write-downtime per engine: runs tests/migration/test_migrate.py
(real PostgreSQL / MariaDB servers in podman containers, the emulator's Route 53) and
collects what its cut-over test measured.

    .venv/bin/python -m bench.migration        (from the repository root)

Write-downtime = first write the old site refused -> first write the new stack accepted,
as seen by the test's writer (a client that re-resolves the site's record before every
request, so DNS caching is not in the number), and as reported by the playbook (old
database read-only -> DNS switched and the new front door healthy).
Writes bench/results/migration.json with the machine's load. Not a test: nothing here
asserts a time.
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
        collected = Path(tmp) / "migration.json"
        env = dict(os.environ, PROTEA_MIGRATION_RESULTS=str(collected), PROTEA_MIGRATION_ENGINES="postgres,mariadb",
                   CONTAINERS_CONF=str(REPO / "tests/containers/containers.conf"))
        start = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "pytest", "tests/migration", "-q", "-s", "-p", "no:cacheprovider"],
                              cwd=REPO, env=env, check=False)
        seconds = round(time.monotonic() - start, 1)
        if proc.returncode != 0 or not collected.exists():
            raise SystemExit(f"tests/migration failed (rc={proc.returncode})")
        engines = json.loads(collected.read_text())
    write("migration", {"command": "pytest tests/migration", "test_file_seconds": seconds, "engines": engines})


if __name__ == "__main__":
    main()
