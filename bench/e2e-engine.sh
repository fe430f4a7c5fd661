#!/usr/bin/env bash
# The end-to-end module (tests/e2e) once more with a MySQL-family engine: site.yml from
# nothing, through the bastion, a second run with changed=0, a rolling image replacement.
# The suite runs it with PostgreSQL only (one converge per scenario keeps it inside its time
# budget); this run covers the other engine family and records its outcome and wall time in
# bench/results/e2e_engine.json. Usage: bench/e2e-engine.sh [mariadb|mysql] [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
engine="${1:-mariadb}"; shift || true
./scripts/bootstrap
export PATH="$PWD/.venv/bin:$PATH"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/tests/containers/containers.conf}"
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
export PROTEA_E2E_ENGINE="$engine"
log=$(mktemp /tmp/protea-e2e-engine.XXXXXX)
start=$(date +%s)
set +e
python -m pytest -q -p no:cacheprovider tests/e2e "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
python3 - "$engine" "$rc" "$(( $(date +%s) - start ))" "$log" <<'PY'
import json, os, re, subprocess, sys, time
engine, rc, seconds, log = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
summary = [l for l in open(log).read().splitlines() if re.search(r"\d+ (passed|failed|error)", l)]
out = {"command": f"bench/e2e-engine.sh {engine}", "engine": engine, "exit_code": rc, "wall_seconds": seconds,
       "summary": summary[-1] if summary else "", "cores": os.cpu_count(),
       "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
       "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
path = "bench/results/e2e_engine.json"
open(path, "w").write(json.dumps(out, indent=2) + "\n")
print(f"wrote {path}: {out['summary']}")
PY
rm -f "$log"
exit "$rc"
