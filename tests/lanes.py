"""The suite's three lanes (./scripts/test runs pytest -n 3; the scheduler is in tests/conftest.py).

Lane "clouds" holds everything that starts an instance-mode local cloud (they must not overlap:
their subnets are the same) or breaks shared test resources on purpose; lane "hosts" the molecule
scenarios (their containers, names and double ports are their own) and some emulator-only tiers;
lane "emulator" the other emulator-only files (provisioning tiers, compat checks, unit tests).
Each lane runs its tests in file order. "clouds" is the critical path (e2e + migration alone are
~2200 s): the other two lanes run at a lower CPU priority (tests/conftest.py) and fill what it
leaves idle. No imports: scripts/fresh-machine-check reads it with the system Python.
"""
from __future__ import annotations

LANES = {"e2e": "clouds", "hosts": "clouds", "localcloud": "clouds", "migration": "clouds",
         "molecule": "hosts", "provisioning": "emulator", "unit": "emulator"}
# Single files in another lane than their directory's: emulator-only files (no instance-mode
# cloud) out of "clouds", and tiers into "hosts" to even "hosts" and "emulator" out. Measured
# with PROTEA_TEST_TIMINGS (scripts/fresh-machine-check).
# History: 2026-12-03 at ebf613d (two lanes, 1008 passed in 3296 s): hosts 3288 s, clouds 2889 s;
# 2026-12-04 at 5835a45 (two lanes, 1086 passed in 3069 s; ./.ci/run 3349 s): clouds 2974 s,
# hosts 2844 s.
# 2026-12-04, branch suitetime, CPU time / wall time of one file alone (its process tree by
# /usr/bin/time and a cpuacct cgroup, plus the cpuacct cgroups of the podman containers it
# started), while other engineers' runs shared the machine (1.0-1.7 cores busy: pessimistic):
# test_network.py 116 s / 189 s = 0.61 core; molecule web 53 s / 69 s = 0.76; molecule app
# 183 s / 269 s = 0.68 (conmon's shared cgroup left out: +0.1 at most); ./scripts/lint 237 s /
# 255 s = 0.93. The rest of a lane's time it waits (containers, the emulator, the AWS modules'
# fixed sleeps): two lanes left about half a core idle, and lint ran before pytest.
# Three lanes from those per-file times (seconds): clouds 2526 (e2e 1126, migration 1083,
# test_instances 178, tests/hosts 113, ...), hosts 1661 (molecule 850, test_data 372,
# test_edge_dns_cdn_ses 290, test_run_lock 94, test_preflight 55), emulator 1631 (the other
# provisioning tiers, the emulator-only compat files 451, unit 170): the two-lane run's per-file
# times, regrouped; not yet a three-lane full run's. The two niced lanes have ~850 s to spare.
# 2026-12-05 at 4f95583, scripts/fresh-machine-check on a machine with nothing installed (1250 passed
# in 2866 s, bench/results/fresh_machine.json): clouds 2852 s (e2e 1697, migration 736 with both
# engines, tests/localcloud 270, tests/hosts 169), emulator 2316, hosts 2219; the machine's two cores
# were busy 1.66 on average, ~1.2 in the last ten minutes (the clouds lane alone). So the clouds lane
# is the run: the suite now migrates PostgreSQL only (bench/migration.py both engines), and
# tests/hosts/test_apt_lists.py (its own container, no proxy of its own) runs in lane "hosts".
# tests/localcloud files on the session's plain emulator (or emulator_factory's), no instance mode:
_EMULATOR_ONLY = tuple(f"compat_{name}" for name in (
    "asg_notifications", "cloudwatch", "data", "ec2", "iam", "iam_enforce", "lambda_sns", "quotas", "region_rules",
    "registry", "ssm", "timing", "web")) + ("crash_harness",)
FILE_LANES = {f"tests/localcloud/test_{name}.py": "emulator" for name in _EMULATOR_ONLY}
FILE_LANES.update({f"tests/provisioning/test_{name}.py": "hosts"
                   for name in ("data", "edge_dns_cdn_ses", "preflight", "run_lock")})
FILE_LANES["tests/hosts/test_apt_lists.py"] = "hosts"
# The lane a worker's first test is in decides its CPU priority (tests/conftest.py): "clouds"
# keeps the default, the others run niced by this much.
BACKGROUND_NICE = {"clouds": 0, "hosts": 10, "emulator": 10}


def lane_of(nodeid: str) -> str:
    """The lane of a test (node id or path under tests/); unknown groups go to "emulator"."""
    path = nodeid.split("::", 1)[0]
    if path in FILE_LANES:
        return FILE_LANES[path]
    parts = path.split("/")
    return LANES.get(parts[1] if len(parts) > 2 and parts[0] == "tests" else "", "emulator")
