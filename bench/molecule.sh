#!/usr/bin/env bash
# Runs every molecule scenario through the test wrapper and records their wall times
# (whole scenario and per step) in bench/results/molecule.json. Tests alone never
# write results; this bench run asks for them. Extra arguments go to pytest
# (e.g. -k base).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap
export PATH="$PWD/.venv/bin:$PATH"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/tests/containers/containers.conf}"
export PROTEA_MOLECULE_RESULTS="$PWD/bench/results/molecule.json"
export PROTEA_MOLECULE_ALL=1  # also the role scenarios the suite verifies inside web_host
exec python -m pytest -q tests/molecule "$@"
