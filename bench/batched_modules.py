"""Side by side, in one run: the no-op cost of what the project modules batch (issue 15 item 4).

    .venv/bin/python -m bench.batched_modules        (from the repository root)

Against one emulator with the network tier converged, each pair is run alternately
(before, after, before, after, ...) so both see the same machine load:
  * stack discovery: eight info modules (bench/reference/discover_per_module.yml, the role as it
    was) vs role stack's one protea.platform.stack_info run;
  * 19 alarms and 14 Route 53 records (the alerts and dns roles' counts): amazon.aws's one
    module run per item vs protea.platform.cloudwatch_metric_alarms and route53_records.
Writes bench/results/batched_modules.json: median wall seconds and AWS calls of each side,
the ratio after/before, and each side's slowest tasks (ansible.posix.profile_tasks, last round). Not a test: nothing here asserts a time.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._tier import PROFILE_ENV, slowest_tasks, write  # noqa: E402
from tests.helpers import run_playbook  # noqa: E402
from tests.localcloud.__main__ import ensure_ssh_key  # noqa: E402
from tests.localcloud.emulator import Emulator  # noqa: E402

ROUNDS = 3
REGION = "af-south-1"


def _alarms(topic: str) -> list[dict]:
    return [{"name": f"bench-alarm-{i:02d}", "namespace": "AWS/EC2", "metric_name": "CPUUtilization", "statistic": "Average",
             "dimensions": {"AutoScalingGroupName": f"bench-{i}"}, "period": 300, "evaluation_periods": 3,
             "comparison": "GreaterThanThreshold", "threshold": 80.0, "treat_missing_data": "missing",
             "alarm_actions": [topic], "ok_actions": [topic]} for i in range(19)]


def _records(domain: str) -> list[dict]:
    return [{"name": f"r{i:02d}.{domain}", "type": "TXT", "value": f'"bench {i}"'} for i in range(14)]


def _timed(emu, playbook: str, extra: dict | None, env: dict) -> tuple[float, int, list[dict]]:
    before, start = emu.call_count(), time.monotonic()
    run = run_playbook(playbook, endpoint=emu.endpoint, extra_vars=extra, env={**PROFILE_ENV, **env})
    seconds = time.monotonic() - start
    if run.rc != 0 or run.changed:
        raise SystemExit(f"{playbook} {extra and extra.get('bench_mode')}: not a no-op\n" + run.explain())
    return seconds, emu.call_count() - before, slowest_tasks(run.stdout)


def _pair(emu, name: str, before: tuple, after: tuple, env: dict) -> dict:
    sides = {"before": [], "after": []}
    for _ in range(ROUNDS):
        for side, (playbook, extra) in (("before", before), ("after", after)):
            sides[side].append(_timed(emu, playbook, extra, env))
    # The slowest tasks (ansible.posix.profile_tasks) of each side's last round.
    out = {side: {"median_seconds": round(statistics.median(s for s, _, _ in runs), 2), "aws_calls": runs[-1][1],
                  "slowest_tasks": runs[-1][2]}
           for side, runs in sides.items()}
    out["ratio_after_before"] = round(out["after"]["median_seconds"] / out["before"]["median_seconds"], 3)
    print(name, out, flush=True)
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, Emulator(tmp) as emu:
        ensure_ssh_key(Path(tmp))
        env = {"PROTEA_LOCALCLOUD_DIR": tmp}
        network = run_playbook("playbooks/network.yml", endpoint=emu.endpoint, env=env)
        if network.rc != 0:
            raise SystemExit(network.explain())
        topic = emu.client("sns", region=REGION).create_topic(Name="bench-alarms")["TopicArn"]
        zone = emu.client("route53", region="us-east-1").create_hosted_zone(
            Name="bench.example.com", CallerReference=str(time.time()))["HostedZone"]["Id"].split("/")[-1]
        extra = {"bench_alarms": _alarms(topic), "bench_records": _records("bench.example.com"), "bench_zone_id": zone}
        book = "bench/reference/alarms_and_records.yml"
        # First converge (creates), then both sides must be no-ops on what the other made.
        for mode in ("batched", "per_item"):
            first = run_playbook(book, endpoint=emu.endpoint, extra_vars=dict(extra, bench_mode=mode), env=env)
            if first.rc != 0:
                raise SystemExit(first.explain())
        results = {
            "stack_discovery": _pair(emu, "stack discovery", ("bench/reference/discover_per_module.yml", None),
                                     ("bench/reference/discover_stack_role.yml", None), env),
            "alarms_19_and_records_14": _pair(emu, "alarms and records", (book, dict(extra, bench_mode="per_item")),
                                              (book, dict(extra, bench_mode="batched")), env),
            "rounds": ROUNDS,
            "note": "no-op runs, each side's median; each playbook run also pays ~1 s of ansible-playbook start-up",
        }
    write("batched_modules", results)


if __name__ == "__main__":
    main()
