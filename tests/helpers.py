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
    crashed_at: str | None = None  # the call after which the emulator's crash harness killed the run

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


def start_ssh_agent(sock: Path) -> subprocess.Popen:
    """A real ssh-agent listening at `sock` (ready when this returns); terminate() it when done."""
    import time

    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if sock.exists():
            break
        time.sleep(0.05)
    return agent


def ssh_add_once(sock: Path, key: Path) -> None:
    """Load `key` into the agent at `sock`, then delete the file: the agent holds the only copy."""
    subprocess.run(["ssh-add", "-q", str(key)], check=True, capture_output=True, env=dict(os.environ, SSH_AUTH_SOCK=str(sock)))
    key.unlink()


# The README's command that runs a playbook of the checkout in the execution environment, as AWX
# runs a job (section "Running from AWX / Automation Platform", the bash block after this marker).
EE_RUN_MARKER = "<!-- protea:ee-run -->"


def readme_ee_command() -> list[str]:
    """The README's ansible-runner command, word by word ("$job", "$PWD", "$SSH_AUTH_SOCK" left to expand)."""
    import shlex

    text = (REPO / "README.md").read_text(encoding="utf-8")
    after = text.split(EE_RUN_MARKER, 1)[1]
    block = after.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [c for c in block.replace("\\\n", " ").splitlines() if c.startswith("ansible-runner ")]
    assert len(commands) == 1, f"one ansible-runner command after {EE_RUN_MARKER} in README.md: {commands}"
    return shlex.split(commands[0])


def run_in_ee(
    playbook: str,
    *,
    job: Path,
    env: dict,
    extra_vars: dict | None = None,
    mounts: tuple[str, ...] = (),
    verbosity: int = 0,
    runner_env: dict | None = None,
    timeout: int = 3600,
) -> PlaybookRun:
    """Run a playbook of the checkout inside the execution environment with the README's command.

    job: ansible-runner's private data directory (created); env and extra_vars go into its env/
    files, as AWX writes them (never on a command line). mounts: more host:container[:options]
    volumes; runner_env: the environment of ansible-runner itself (SSH_AUTH_SOCK: the agent the
    README's command mounts into the container, as AWX hands it the Machine credential).
    """
    # The README's preparation lines: env/, an empty job inventory (the project's come with --cmdline).
    (job / "env").mkdir(parents=True, exist_ok=True)
    (job / "inventory").write_text("")
    (job / "env" / "envvars").write_text(json.dumps(env))
    (job / "env" / "envvars").chmod(0o600)
    if extra_vars:
        (job / "env" / "extravars").write_text(json.dumps(extra_vars))
    agent = (runner_env or {}).get("SSH_AUTH_SOCK", os.environ.get("SSH_AUTH_SOCK", ""))
    words = [w.replace("$job", str(job)).replace("$PWD", str(REPO)).replace("$SSH_AUTH_SOCK", agent)
             for w in readme_ee_command()]
    words[words.index("-p") + 1] = playbook
    runner = REPO / ".venv/bin/ansible-runner"
    if words[0] == "ansible-runner" and runner.exists():
        words[0] = str(runner)
    for mount in mounts:
        words += ["--container-volume-mount", mount]
    if verbosity:
        words.append("-" + "v" * verbosity)
    proc = subprocess.run(words, cwd=REPO, env=dict(os.environ) | (runner_env or {}), capture_output=True,
                          text=True, timeout=timeout)
    return PlaybookRun(proc.returncode, proc.stdout, proc.stderr)


def load_plugin(relative: str):
    """A plugin file of the repository (e.g. "plugins/modules/route53_records.py") imported as a
    module of its own, for unit tests of its functions (plugins are not a Python package here)."""
    import importlib.util

    path = REPO / relative
    spec = importlib.util.spec_from_file_location("protea_" + path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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
    kill_at: str | None = None,
    crash_after: int | None = None,
    crash_action: str | None = None,
    verbosity: int = 0,
    bin_dir: Path | None = None,
) -> PlaybookRun:
    """Run a playbook from the repository root against the local inventory.

    endpoint: the emulator URL (exported as PROTEA_ENDPOINT_URL, which only the
    local inventory reads). extra_vars are passed as a JSON file, never on argv.
    kill_at: SIGKILL the run (its whole process group, workers included) as soon as a
    line of its output starts with this text, e.g. "TASK [Detach"; rc is then -9.
    crash_after / crash_action: the emulator kills the run (SIGKILL, process group and descendants)
    right after it served the crash_after-th mutating AWS call of this run (only crash_action calls
    counted, e.g. "CreateNatGateway", when given): tests/localcloud/serve.py. The call that was served
    last is in the result's crashed_at (None: the run ended before the point).
    bin_dir: another venv's bin/ (its ansible-playbook runs, and comes first on PATH), e.g.
    the oldest supported ansible-core's (tests/oldest_core.py).
    """
    exe = REPO / ".venv/bin/ansible-playbook" if bin_dir is None else bin_dir / "ansible-playbook"
    cmd = [str(exe) if exe.exists() or bin_dir is not None else "ansible-playbook"]
    for inv in inventory or ["inventories/common", "inventories/local"]:
        cmd += ["-i", inv]
    cmd.append(playbook)
    run_env = dict(os.environ)
    run_env.setdefault("ANSIBLE_CONFIG", str(REPO / "ansible.cfg"))
    run_env["ANSIBLE_NOCOLOR"] = "1"
    run_env["ANSIBLE_FORCE_COLOR"] = "0"
    if endpoint:
        run_env["PROTEA_ENDPOINT_URL"] = endpoint
    if bin_dir is not None:
        run_env["PATH"] = f"{bin_dir}{os.pathsep}{run_env.get('PATH', '')}"
    if env:
        run_env.update(env)
    vars_file = None
    if extra_vars:
        import tempfile

        fd, vars_file = tempfile.mkstemp(prefix="protea-vars-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(extra_vars, fh)
        cmd += ["-e", f"@{vars_file}"]
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if tags:
        cmd += ["--tags", tags]
    if skip_tags:
        cmd += ["--skip-tags", skip_tags]
    try:
        if kill_at is not None:
            return _run_until(cmd, run_env, kill_at, timeout)
        if crash_after is not None or crash_action is not None:
            assert endpoint, "the crash harness needs the emulator's endpoint"
            return _run_crashing(cmd, run_env, endpoint, crash_after or 1, crash_action, timeout)
        proc = subprocess.run(cmd, cwd=REPO, env=run_env, capture_output=True, text=True, timeout=timeout)
    finally:
        if vars_file:
            os.unlink(vars_file)
    return PlaybookRun(proc.returncode, proc.stdout, proc.stderr)


def run_module(endpoint: str, module: str, args: dict, *, check: bool = False, diff: bool = False,
               region: str = "af-south-1") -> dict:
    """One module of ours run by `ansible localhost -m` against the emulator; its result (JSON)."""
    import sys

    params = {"endpoint_url": endpoint, "access_key": "testing", "secret_key": "testing", "region": region, **args}
    cmd = [str(Path(sys.executable).parent / "ansible"), "localhost", "-c", "local", "-i", "localhost,",
           "-e", f"ansible_python_interpreter={sys.executable}", "-m", module, "-a", json.dumps(params)]
    cmd += (["--check"] if check else []) + (["--diff"] if diff else [])
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    try:
        return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        raise AssertionError(f"{module}: no result (rc={proc.returncode})\n{proc.stdout}\n{proc.stderr}") from None


def bad_input_sweep(emulator, playbook: str, cases: dict[str, dict], through: tuple[str, ...]
                    ) -> tuple[dict[str, PlaybookRun], dict[str, PlaybookRun], int]:
    """A tier's bad-input sweep: every case on the preflight role in one run (run_preflight_cases),
    the cases named in `through` also through the tier's playbook (--tags preflight), side by side.
    Returns (playbook runs, role runs, AWS calls the emulator counted meanwhile)."""
    from concurrent.futures import ThreadPoolExecutor

    before = emulator.call_count()
    with ThreadPoolExecutor(max_workers=min(4, (os.cpu_count() or 1) + 1)) as pool:
        role = pool.submit(run_preflight_cases, cases, endpoint=emulator.endpoint)
        futures = {case: pool.submit(run_playbook, playbook, endpoint=emulator.endpoint, timeout=300, tags="preflight",
                                     extra_vars={"stack_require_network": False, **cases[case]})
                   for case in through}
        runs = {case: f.result() for case, f in futures.items()}
        role_runs = role.result()
    return runs, role_runs, emulator.call_count() - before


def assert_refused_before_any_aws_call(runs: list[PlaybookRun], expect: str, fix: str, tier_task: str) -> None:
    """Each run failed on one preflight finding with its message and fix, before `tier_task` ran."""
    for run in runs:
        out = " ".join((run.stdout + run.stderr).split())
        assert run.rc != 0, run.explain()
        assert "Preflight found 1 configuration problem(s); no AWS call was made." in out, run.explain()
        assert " ".join(expect.split()) in out and fix in out, run.explain()
        assert f"TASK [{tier_task}" not in run.stdout


def run_preflight_cases(cases: dict[str, dict], *, endpoint: str | None = None, timeout: int = 600) -> dict[str, PlaybookRun]:
    """The preflight role on many configurations in ONE ansible-playbook run: each case is a host
    of the group preflight_cases (tests/provisioning/preflight_cases.yml) whose host variables are
    the case's, as -e would give them (host variables win over the inventories' group_vars and
    the roles' defaults). One process instead of one per case: the tiers' preflight sweeps keep a
    few cases through their real playbook (the wiring: first, tagged always, no AWS call) and
    check the rest of their messages here.

    Each case comes back as a PlaybookRun of its own: rc 2 when its host failed (0 else), stdout
    the messages of its results and a PLAY RECAP line for "localhost" with its counters."""
    import tempfile

    hosts = {}
    for case, variables in cases.items():
        assert re.fullmatch(r"[a-z0-9_]+", case), case
        hosts[f"case_{case}"] = {"ansible_connection": "local",
                                 "ansible_python_interpreter": "{{ ansible_playbook_python }}", **variables}
    fd, path = tempfile.mkstemp(prefix="protea-preflight-cases-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump({"preflight_cases": {"hosts": hosts}}, fh)
    try:
        run = run_playbook("tests/provisioning/preflight_cases.yml", endpoint=endpoint, timeout=timeout,
                           inventory=["inventories/common", "inventories/local", path],
                           # JSON: each host's results apart. Linear: the Mitogen strategy runs many
                           # local hosts one after another (twice the time here).
                           env={"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_FORKS": "20",
                                "ANSIBLE_STRATEGY": "linear"})
    finally:
        os.unlink(path)
    try:
        report = json.loads(run.stdout[run.stdout.index("{"):])
    except ValueError as exc:
        raise AssertionError(f"no JSON report from the preflight cases run: {exc}\n{run.explain()}") from None
    out: dict[str, PlaybookRun] = {}
    for case in cases:
        host = f"case_{case}"
        lines = []
        for play in report["plays"]:
            for task in play["tasks"]:
                result = task["hosts"].get(host)
                if result is None or result.get("skipped"):
                    continue
                lines.append(f"TASK [{task['task']['name']}]")
                if "msg" in result:
                    lines.append(str(result["msg"]))
        stats = report["stats"].get(host)
        assert stats is not None, f"case {case} did not run:\n{run.explain()}"
        recap = (f"localhost : ok={stats['ok']} changed={stats['changed']} unreachable={stats['unreachable']} "
                 f"failed={stats['failures']} skipped={stats['skipped']}")
        out[case] = PlaybookRun(2 if stats["failures"] or stats["unreachable"] else 0,
                                "\n".join(lines) + f"\n\nPLAY RECAP\n{recap}\n", run.stderr)
    return out


def _run_until(cmd: list[str], run_env: dict, kill_at: str, timeout: int) -> PlaybookRun:
    """ansible-playbook killed (SIGKILL, no clean-up) when its output reaches kill_at: its process
    group and every descendant (Mitogen's connection multiplexer moves to a session of its own; a
    process group kill left it running, stuck, after the test)."""
    import tempfile
    import time

    from tests.localcloud.serve import kill_tree

    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen(cmd, cwd=REPO, env=run_env, stdout=subprocess.PIPE, stderr=err, text=True,
                                start_new_session=True)
        lines, deadline = [], time.monotonic() + timeout
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith(kill_at) or time.monotonic() > deadline:
                kill_tree(proc.pid)
                break
        lines.append(proc.stdout.read())
        proc.wait()
        err.seek(0)
        return PlaybookRun(proc.returncode, "".join(lines), err.read())


def _run_crashing(cmd: list[str], run_env: dict, endpoint: str, after: int, action: str | None,
                  timeout: int) -> PlaybookRun:
    """ansible-playbook in a session of its own, the emulator armed to kill it (see run_playbook)."""
    import tempfile

    from tests.localcloud.emulator import arm_crash, crash_state

    with tempfile.TemporaryFile(mode="w+") as out, tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen(cmd, cwd=REPO, env=run_env, stdout=out, stderr=err, text=True,
                                start_new_session=True)
        try:
            # Armed before the run's first AWS call: ansible needs seconds to start, this a few ms.
            arm_crash(endpoint, proc.pid, after, action)
            proc.wait(timeout=timeout)
        except BaseException:
            os.killpg(proc.pid, 9)
            proc.wait()
            raise
        finally:
            fired = crash_state(endpoint, disarm=True)["fired"]
        out.seek(0)
        err.seek(0)
        return PlaybookRun(proc.returncode, out.read(), err.read(), crashed_at=fired)


def process_command_lines() -> dict[int, str]:
    """Every process on this machine (container processes included: they are host processes) by pid,
    its command line with spaces between the arguments; kernel threads (no command line) left out."""
    lines = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                raw = (entry / "cmdline").read_bytes()
            except OSError:  # the process ended meanwhile
                continue
            if raw:
                lines[int(entry.name)] = raw.replace(b"\0", b" ").decode(errors="replace").strip()
    return lines


def ssh_connections_to(address: str, port: int = 22) -> dict[int, int]:
    """This machine's established TCP connections to address:port, counted per owning process id
    (ss -p: root sees every process's sockets)."""
    out = subprocess.run(["ss", "-Htnp", "state", "established", "dst", f"{address}:{port}"], capture_output=True,
                         text=True, check=True).stdout
    owners: dict[int, int] = {}
    for pid in re.findall(r"pid=(\d+)", out):
        owners[int(pid)] = owners.get(int(pid), 0) + 1
    return owners


class CommandLineSampler:
    """Every process command line on this machine (container processes included: they are host
    processes) seen while the block runs, sampled every ``interval`` seconds from /proc.

        with CommandLineSampler() as argv:
            run_playbook(...)
        assert not argv.containing(secrets)

    A sample, not a trace: a process shorter than the interval can be missed."""

    def __init__(self, interval: float = 0.1):
        import threading

        self.interval, self.seen = interval, set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cmdline-sampler", daemon=True)

    def _sample(self) -> None:
        self.seen.update(process_command_lines().values())

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> "CommandLineSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def containing(self, values) -> list[str]:
        """The sampled command lines that contain any of ``values``, each value shown as <secret>."""
        values = [v for v in values if v]
        found = []
        for line in sorted(self.seen):
            if any(v in line for v in values):
                for v in values:
                    line = line.replace(v, "<secret>")
                found.append(line[:200])
        return found


def assert_no_secret_shown(label: str, run: PlaybookRun, argv: CommandLineSampler, secrets: dict[str, str]) -> None:
    """Nothing of ``secrets`` in a -vvv run's output or in any command line sampled meanwhile."""
    # Printed at -vvv only, whatever the strategy (Mitogen prints no ESTABLISH lines).
    assert re.search(r"^Parsed \S+ inventory source with", run.stdout, re.M), f"{label}: not a -vvv run"
    assert len(argv.seen) > 20, f"{label}: the sampler saw {len(argv.seen)} command lines"
    leaked = sorted(name for name, value in secrets.items() if value and value in run.stdout + run.stderr)
    assert leaked == [], f"{label} prints the values of {leaked}"
    assert argv.containing(secrets.values()) == [], f"{label}: secrets on command lines"
