"""The suite's two lanes (./scripts/test runs pytest -n 2; the scheduler is in tests/conftest.py).

Lane "clouds" holds everything that starts an instance-mode local cloud (they must not overlap:
their subnets are the same); lane "hosts" the molecule scenarios (their containers, names and
double ports are their own) and the emulator-only tiers. Each lane runs its tests in file order.
No imports: scripts/fresh-machine-check reads it with the system Python.
"""
from __future__ import annotations

LANES = {"e2e": "clouds", "hosts": "clouds", "localcloud": "clouds", "migration": "clouds",
         "molecule": "hosts", "provisioning": "hosts", "unit": "hosts"}
# Single files in the other lane than their directory's, to even the lanes out (emulator-only
# files fit either lane). Measured with PROTEA_TEST_TIMINGS (scripts/fresh-machine-check).
# (Since the four single-role molecule scenarios run inside web_host, test_bake_image.py went
# back to "hosts".)
# tests/provisioning/test_oldest_core.py (ansible-core 2.19.0: its own venv, the emulator only, no
# instance-mode cloud) stays in its directory's lane, "hosts".
# Measured 2026-12-03 at ebf613d (./.ci/run on a clean clone, PROTEA_TEST_TIMINGS, 1008 passed in
# 3296 s): hosts 3288 s, clouds 2889 s; the emulator-only alerting tier (232 s) evens them out.
# Measured 2026-12-04 at 5835a45 (scripts/fresh-machine-check, 1086 passed in 3069 s): clouds 3062 s,
# hosts 2756 s; test_tag_selection.py (88 s) went back to "hosts".
FILE_LANES = {"tests/localcloud/test_compat_region_rules.py": "hosts",
              "tests/provisioning/test_alerting.py": "clouds"}


def lane_of(nodeid: str) -> str:
    """The lane of a test (node id or path under tests/); unknown groups go to "hosts"."""
    path = nodeid.split("::", 1)[0]
    if path in FILE_LANES:
        return FILE_LANES[path]
    parts = path.split("/")
    return LANES.get(parts[1] if len(parts) > 2 and parts[0] == "tests" else "", "hosts")
