"""Runs every molecule scenario (molecule/*/molecule.yml) as one pytest test:
`molecule test -s NAME` (destroy, create, prepare, converge, idempotence,
verify, destroy; see molecule/config.yml). A failure shows the tail of
molecule's output. A bench run (bench/molecule.sh sets PROTEA_MOLECULE_RESULTS) gets the
wall times (whole scenario and per step) merged into that file, and runs the single-role
scenarios that the suite verifies inside web_host (IN_WEB_HOST); a test run leaves the
checkout as it found it. Nothing here asserts on time."""
from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ALL_SCENARIOS = sorted(p.parent.name for p in (REPO / "molecule").glob("*/molecule.yml"))
# Single-role scenarios whose tests molecule/web_host also runs, on the instance composed as
# the image is (its verifier's additional_files_or_dirs), after converging those roles twice:
# the suite runs them there only; bench/molecule.sh (PROTEA_MOLECULE_ALL=1) runs each alone too.
IN_WEB_HOST = ("base", "efs_mount", "ses_relay", "cloudwatch_agent")
SCENARIOS = [s for s in ALL_SCENARIOS if os.environ.get("PROTEA_MOLECULE_ALL") == "1" or s not in IN_WEB_HOST]
# Where a bench run collects the timings (bench/molecule.sh sets it); unset: not recorded.
RESULTS = os.environ.get("PROTEA_MOLECULE_RESULTS")
STEP = re.compile(r"\[(?P<scenario>[\w.-]+) > (?P<step>\w+)\] (?P<what>Executing|Executed: \w+)")

pytestmark = [pytest.mark.containers, pytest.mark.slow]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{REPO / '.venv/bin'}:{env.get('PATH', '')}"
    env.setdefault("CONTAINERS_CONF", str(REPO / "tests/containers/containers.conf"))
    env.update(NO_COLOR="1", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PY_COLORS="0")
    return env


@pytest.fixture(scope="session")
def host_image() -> str:
    """Builds the host image if missing (cached; a no-op when present) and starts
    the package proxy the scenarios' prepare step points apt at."""
    for script in ("build-image", "apt-proxy"):
        proc = subprocess.run([str(REPO / "tests/containers" / script)], cwd=REPO, env=_env(),
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return "localhost/protea-debian12:latest"


def _record(scenario: str, seconds: float, steps: dict[str, float], ok: bool, load: float) -> None:
    """Merge this scenario's timings into the shared results file (others may
    write it concurrently: hold a lock while reading and rewriting)."""
    if not RESULTS:
        return
    path = Path(RESULTS)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(Path(tempfile.gettempdir()) / "protea-molecule-results.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            data = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            data = {}
        data.setdefault("scenarios", {})[scenario] = {
            "command": f"molecule test -s {scenario}",
            "wall_seconds": round(seconds, 1),
            "steps_seconds": {k: round(v, 1) for k, v in steps.items()},
            "passed": ok,
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "cores": os.cpu_count(),
            # Other jobs on the same cores stretch these times: keep the context.
            "loadavg_1m_at_start": round(load, 1),
        }
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(scenario: str, host_image: str) -> None:
    started, load = time.monotonic(), os.getloadavg()[0]
    steps: dict[str, float] = {}
    step_start: dict[str, float] = {}
    lines: list[str] = []
    proc = subprocess.Popen(["molecule", "test", "-s", scenario], cwd=REPO, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "Found installed collection" in line:
            continue  # ansible-galaxy's inventory of bundled collections: noise
        lines.append(line)
        m = STEP.search(line)
        if m and m["scenario"] == scenario:
            key = m["step"] if m["step"] not in steps else f"{m['step']}_2"
            if m["what"] == "Executing":
                step_start[m["step"]] = time.monotonic()
            elif m["step"] in step_start:
                steps[key] = time.monotonic() - step_start.pop(m["step"])
    rc = proc.wait(timeout=1800)
    output = "".join(lines)
    _record(scenario, time.monotonic() - started, steps, rc == 0, load)
    tail = "".join(lines[-120:])
    assert rc == 0, f"molecule test -s {scenario} failed (rc={rc}):\n{tail}"
    assert f"[{scenario} > idempotence] Executed: Successful" in output, (
        f"idempotence did not run for {scenario}:\n{tail}")
    assert f"[{scenario} > verify] Executed: Successful" in output, f"verify did not run for {scenario}:\n{tail}"
    if scenario == "web_host":  # the role scenarios' tests ran here (IN_WEB_HOST)
        for role in IN_WEB_HOST:
            assert f"test_{role}.py" in output, f"web_host's verify did not run {role}'s tests:\n{tail}"
