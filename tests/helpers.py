"""Helpers shared by the test suites: run ansible-playbook and read its recap."""
from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RECAP = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)",
    re.M,
)


@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str

    @property
    def recap(self) -> dict[str, dict[str, int]]:
        """PLAY RECAP counters per host, e.g. {'localhost': {'changed': 0, ...}}."""
        out: dict[str, dict[str, int]] = {}
        for m in RECAP.finditer(self.stdout):
            out[m["host"]] = {k: int(v) for k, v in m.groupdict().items() if k != "host"}
        return out

    @property
    def changed(self) -> int:
        return sum(h["changed"] for h in self.recap.values())

    @property
    def failed(self) -> int:
        return sum(h["failed"] + h["unreachable"] for h in self.recap.values())

    @property
    def changed_tasks(self) -> list[str]:
        """'TASK name -> host' for every task result reported changed (what a no-op run must not have)."""
        out, task = [], ""
        for line in self.stdout.splitlines():
            if line.startswith("TASK ["):
                task = line[6:].rsplit("]", 1)[0]
            elif line.startswith("changed: ["):
                out.append(f"{task} -> {line[10:].split(']', 1)[0]}")
        return out

    def task_runs(self, task: str) -> int:
        """How many times a task ran (an ok/changed/failed result, not skipping), by 'role : name'."""
        runs, current = 0, ""
        for line in self.stdout.splitlines():
            if line.startswith("TASK ["):
                current = line[6:].rsplit("]", 1)[0]
            elif current == task and line.startswith(("ok: [", "changed: [", "fatal: [")):
                runs += 1
        return runs

    def explain(self) -> str:
        changed = "".join(f"  {t}\n" for t in self.changed_tasks[:40])
        return (f"rc={self.rc}\n--- changed tasks ---\n{changed}--- stdout (tail) ---\n{self.stdout[-6000:]}\n"
                f"--- stderr (tail) ---\n{self.stderr[-3000:]}")


def run_playbook(
    playbook: str,
    *,
    endpoint: str | None = None,
    extra_vars: dict | None = None,
    check: bool = False,
    diff: bool = False,
    tags: str | None = None,
    skip_tags: str | None = None,
    inventory: list[str] | None = None,
    env: dict | None = None,
    timeout: int = 1800,
) -> PlaybookRun:
    """Run a playbook from the repository root against the local inventory.

    endpoint: the emulator URL (exported as PROTEA_ENDPOINT_URL, which only the
    local inventory reads). extra_vars are passed as a JSON file, never on argv.
    """
    cmd = [str(REPO / ".venv/bin/ansible-playbook") if (REPO / ".venv/bin/ansible-playbook").exists() else "ansible-playbook"]
    for inv in inventory or ["inventories/common", "inventories/local"]:
        cmd += ["-i", inv]
    cmd.append(playbook)
    run_env = dict(os.environ)
    run_env.setdefault("ANSIBLE_CONFIG", str(REPO / "ansible.cfg"))
    run_env["ANSIBLE_NOCOLOR"] = "1"
    run_env["ANSIBLE_FORCE_COLOR"] = "0"
    if endpoint:
        run_env["PROTEA_ENDPOINT_URL"] = endpoint
    if env:
        run_env.update(env)
    vars_file = None
    if extra_vars:
        import tempfile

        fd, vars_file = tempfile.mkstemp(prefix="protea-vars-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(extra_vars, fh)
        cmd += ["-e", f"@{vars_file}"]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if tags:
        cmd += ["--tags", tags]
    if skip_tags:
        cmd += ["--skip-tags", skip_tags]
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=run_env, capture_output=True, text=True, timeout=timeout)
    finally:
        if vars_file:
            os.unlink(vars_file)
    return PlaybookRun(proc.returncode, proc.stdout, proc.stderr)
