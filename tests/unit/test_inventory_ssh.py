"""The ssh_jump role's config file, read back by the real ssh client (`ssh -G -F`).

With the bastion addresses and private ranges given, the role makes no AWS call. ssh's
own config parser decides, for an address, which user, key, host-key policy and jump host
apply: private addresses inside the ranges go through the first bastion, the bastion and
addresses outside do not, and both hops carry the same settings.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO, ssh_add_once, start_ssh_agent

pytestmark = pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the OpenSSH client")

PLAY = """
- name: ssh_jump
  hosts: localhost
  gather_facts: false
  roles:
    - role: protea.platform.ssh_jump
"""


def run_role(tmp_path: Path, extra: dict, agent: str | None = None) -> subprocess.CompletedProcess:
    """agent: the SSH_AUTH_SOCK the run sees (None: none at all)."""
    (tmp_path / "play.yml").write_text(PLAY)
    (tmp_path / "vars.json").write_text(json.dumps(extra))
    exe = REPO / ".venv/bin/ansible-playbook"
    cmd = [str(exe) if exe.exists() else "ansible-playbook", "-i", "localhost,", "-c", "local",
           "-e", f"@{tmp_path / 'vars.json'}", str(tmp_path / "play.yml")]
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    env.pop("SSH_AUTH_SOCK", None)
    if agent:
        env["SSH_AUTH_SOCK"] = agent
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def base_vars(tmp: Path) -> dict:
    return {
        "protea_project": "shopper", "protea_environment": "unit",
        "protea_tags": {"Project": "shopper", "Environment": "unit"},
        "ansible_python_interpreter": str(REPO / ".venv/bin/python") if (REPO / ".venv/bin/python").exists() else "python3",
        "ssh_jump_dir": str(tmp / "ssh"),
        "ssh_jump_bastion_addresses": ["127.100.0.5", "127.100.0.6"],
        "ssh_jump_private_cidrs": ["10.20.0.0/20", "10.30.0.0/16"],
    }


def effective(config: Path, host: str) -> dict[str, str]:
    out = subprocess.run(["ssh", "-G", "-F", str(config), host], capture_output=True, text=True, check=True).stdout
    return {k: v for k, _, v in (line.partition(" ") for line in out.splitlines())}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ssh_jump")
    key = tmp / "id_ed25519"
    key.write_text("not a real key: ssh -G never reads it\n")
    key.chmod(0o600)
    extra = base_vars(tmp) | {"ssh_jump_identity_file": str(key)}
    first = run_role(tmp, extra)
    second = run_role(tmp, extra)
    return {"dir": tmp / "ssh", "key": key, "first": first, "second": second}


def test_written_once_then_unchanged(rendered):
    assert rendered["first"].returncode == 0, rendered["first"].stdout + rendered["first"].stderr
    assert "changed=1" in rendered["first"].stdout or "changed=2" in rendered["first"].stdout
    assert rendered["second"].returncode == 0 and "changed=0" in rendered["second"].stdout, rendered["second"].stdout
    config = rendered["dir"] / "config"
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    assert oct(rendered["dir"].stat().st_mode & 0o777) == "0o700"


@pytest.mark.parametrize("host", ["10.20.0.4", "10.20.15.254", "10.30.200.9"])
def test_private_addresses_go_through_the_first_bastion(rendered, host):
    conf = effective(rendered["dir"] / "config", host)
    assert conf["proxyjump"].replace("[", "").replace("]", "") == "admin@127.100.0.5:22"
    assert conf["user"] == "admin"
    assert conf["identityfile"] == str(rendered["key"])
    assert conf["identitiesonly"] == "yes"
    assert conf["stricthostkeychecking"] == "accept-new"
    assert conf["userknownhostsfile"] == str(rendered["dir"] / "known_hosts")


@pytest.mark.parametrize("host", ["127.100.0.5", "127.100.0.6"])
def test_bastions_direct_with_the_same_settings(rendered, host):
    """The jump hop reads this block: same user, key and host-key policy."""
    conf = effective(rendered["dir"] / "config", host)
    assert "proxyjump" not in conf
    assert conf["port"] == "22"
    assert conf["user"] == "admin"
    assert conf["identityfile"] == str(rendered["key"])
    assert conf["identitiesonly"] == "yes"
    assert conf["stricthostkeychecking"] == "accept-new"
    assert conf["userknownhostsfile"] == str(rendered["dir"] / "known_hosts")


@pytest.mark.parametrize("host", ["10.20.16.1", "10.21.0.4", "192.168.1.10"])
def test_addresses_outside_the_ranges_are_not_jumped(rendered, host):
    assert "proxyjump" not in effective(rendered["dir"] / "config", host)


# -- no key file: the key is in an ssh agent (as AWX's Machine credential provides it) --------
@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    """A real ssh-agent; `add()` loads a fresh key into it. Yields (socket, add)."""
    tmp = tmp_path_factory.mktemp("agent")
    sock = tmp / "agent.sock"
    proc = start_ssh_agent(sock)
    try:
        def add() -> None:
            key = tmp / "agent_key"
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
            ssh_add_once(sock, key)
        yield str(sock), add
    finally:
        proc.terminate()
        proc.wait(10)


def test_with_an_empty_agent_or_none_the_run_stops_naming_the_variable(tmp_path, agent):
    sock, _ = agent
    extra = base_vars(tmp_path) | {"ssh_jump_identity_file": ""}
    for where, run in (("empty agent", run_role(tmp_path, extra, agent=sock)), ("no agent", run_role(tmp_path, extra))):
        text = " ".join(run.stdout.split())
        assert run.returncode != 0, where
        assert "ssh_jump_identity_file is empty" in text, (where, run.stdout)
        assert ("the agent holds no key" if where == "empty agent" else "no agent answers") in text, (where, run.stdout)
        assert not (tmp_path / "ssh" / "config").exists(), where


def test_with_the_key_in_the_agent_the_config_names_no_key_file(tmp_path, agent):
    sock, add = agent
    add()
    extra = base_vars(tmp_path) | {"ssh_jump_identity_file": ""}
    first, second = run_role(tmp_path, extra, agent=sock), run_role(tmp_path, extra, agent=sock)
    assert first.returncode == 0, first.stdout + first.stderr
    assert second.returncode == 0 and "changed=0" in second.stdout, second.stdout
    config = tmp_path / "ssh" / "config"
    assert "IdentityFile" not in config.read_text()
    for host in ("10.20.0.4", "127.100.0.5"):
        conf = effective(config, host)
        assert conf["identitiesonly"] == "no", host  # agent keys are offered
        assert conf["user"] == "admin" and conf["stricthostkeychecking"] == "accept-new", host
    assert effective(config, "10.20.0.4")["proxyjump"].replace("[", "").replace("]", "") == "admin@127.100.0.5:22"


# -- the bastion hop is multiplexed: one session to the bastion carries every private host ------
def test_the_bastion_hop_shares_one_session_per_environment(rendered, tmp_path):
    conf = effective(rendered["dir"] / "config", "127.100.0.5")
    assert (conf["controlmaster"], conf["controlpersist"]) == ("auto", "60")
    control_dir = Path(os.environ["HOME"]) / ".ssh" / "cm"
    assert Path(conf["controlpath"]).parent == control_dir
    assert oct(control_dir.stat().st_mode & 0o777) == "0o700"
    # The private hop is Ansible's own (its ssh_args): the config leaves it alone.
    assert effective(rendered["dir"] / "config", "10.20.0.4")["controlmaster"] == "false"
    # Another environment's config (another directory) never shares the session.
    other = run_role(tmp_path, base_vars(tmp_path) | {"ssh_jump_identity_file": str(rendered["key"])})
    assert other.returncode == 0, other.stdout
    other_path = effective(tmp_path / "ssh" / "config", "127.100.0.5")["controlpath"]
    assert Path(other_path).parent == control_dir and other_path != conf["controlpath"]


def test_a_control_dir_too_long_for_a_socket_stops_the_run_naming_the_variable(tmp_path):
    key = tmp_path / "id_ed25519"
    key.write_text("not a real key\n")
    extra = base_vars(tmp_path) | {"ssh_jump_identity_file": str(key), "ssh_jump_control_dir": str(tmp_path / ("d" * 40))}
    run = run_role(tmp_path, extra)
    text = " ".join(run.stdout.split())
    assert run.returncode != 0 and "ssh_jump_control_dir" in text and "too long" in text, run.stdout
    assert not (tmp_path / "ssh" / "config").exists()
    # Either fix the message names passes.
    for fix in ({"ssh_jump_control_dir": "~/.ssh/cm"}, {"ssh_jump_control_persist": ""}):
        run = run_role(tmp_path, extra | fix)
        assert run.returncode == 0, (fix, run.stdout)
        conf = effective(tmp_path / "ssh" / "config", "127.100.0.6")
        assert conf["controlmaster"] == ("auto" if "ssh_jump_control_dir" in fix else "false"), fix


def test_the_control_socket_fits_under_a_long_home_and_its_directory_is_no_change(tmp_path):
    # ansible-runner jobs may get a long HOME (tests/e2e: <tmp>/e2e-localcloud0/ee-job-1, 51 characters
    # under xdist); the default control directory lives there. An execution environment's job starts
    # with a fresh file system: the directory made again is not reported as a change.
    key = tmp_path / "id_ed25519"
    key.write_text("not a real key\n")
    extra = base_vars(tmp_path) | {"ssh_jump_identity_file": str(key), "ssh_jump_bastion_addresses": ["203.113.200.255"]}
    (tmp_path / "play.yml").write_text(PLAY)
    (tmp_path / "vars.json").write_text(json.dumps(extra))
    exe = REPO / ".venv/bin/ansible-playbook"
    home = Path("/tmp") / ("h" * 45)
    runs = []
    try:
        for _ in range(2):
            shutil.rmtree(home, ignore_errors=True)
            home.mkdir()
            runs.append(subprocess.run(
                [str(exe) if exe.exists() else "ansible-playbook", "-i", "localhost,", "-c", "local",
                 "-e", f"@{tmp_path / 'vars.json'}", str(tmp_path / "play.yml")], cwd=REPO,
                env=dict(os.environ, HOME=str(home), ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1"),
                capture_output=True, text=True, timeout=300))
            assert runs[-1].returncode == 0, runs[-1].stdout
            assert oct((home / ".ssh" / "cm").stat().st_mode & 0o777) == "0o700"
        path = effective(tmp_path / "ssh" / "config", "203.113.200.255")["controlpath"]
        assert path.startswith(f"{home}/.ssh/cm/") and len(path) <= 86, path
        assert "changed=0" in runs[1].stdout, runs[1].stdout
    finally:
        shutil.rmtree(home, ignore_errors=True)
