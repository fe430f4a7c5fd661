#!/usr/bin/env bash
# Times the host image build three ways and merges the numbers into
# bench/results/molecule.json under "image_build":
#   cold    - empty cache: debootstrap from the mirror, pack, import
#   cached  - rootfs tarball cached, image missing: import only
#   present - image exists: nothing to do
# Uses a throwaway cache directory and image name, so the real image and cache
# (and containers running from them) are not touched.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/tests/containers/containers.conf}"
export PROTEA_IMAGE=localhost/protea-debian12-bench
export PROTEA_CACHE_DIR
PROTEA_CACHE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/protea-bench-cache.XXXXXX")
trap 'rm -rf "$PROTEA_CACHE_DIR"; podman rmi -f "$PROTEA_IMAGE:latest" "$PROTEA_IMAGE:$key" >/dev/null 2>&1 || true' EXIT
key=$(tests/containers/build-image --print-key)
podman rmi -f "$PROTEA_IMAGE:latest" "$PROTEA_IMAGE:$key" >/dev/null 2>&1 || true

timeit() {  # seconds (with ms) one build-image run takes
  local t0; t0=$(date +%s%N); tests/containers/build-image >/dev/null
  local ms=$(( ($(date +%s%N) - t0) / 1000000 )); printf '%d.%03d\n' $((ms / 1000)) $((ms % 1000))
}
cold=$(timeit)
podman rmi -f "$PROTEA_IMAGE:latest" "$PROTEA_IMAGE:$key" >/dev/null
cached=$(timeit)
present=$(timeit)
size=$(stat -c %s "$PROTEA_CACHE_DIR/debian12-$key.tar.zst")

python3 - "$cold" "$cached" "$present" "$size" "$(nproc)" <<'PY'
import json, sys, time
from pathlib import Path
cold, cached, present, size, cores = sys.argv[1:]
path = Path("bench/results/molecule.json")
data = json.loads(path.read_text()) if path.exists() else {}
data["image_build"] = {
    "command": "bench/molecule-image.sh (tests/containers/build-image)",
    "cold_seconds": round(float(cold), 1),
    "cached_tarball_seconds": round(float(cached), 1),
    "image_present_seconds": round(float(present), 1),
    "tarball_bytes": int(size),
    "cores": int(cores),
    "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
}
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
print(json.dumps(data["image_build"], indent=2))
PY
