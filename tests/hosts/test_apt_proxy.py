"""tests/containers/apt-proxy after a killed session.

The regression behind it (CI of stop 19): the machine CI ran on had been left by a killed
session. conmon and apt-cacher-ng were gone, but podman still listed protea-apt-proxy as
running and its network namespace still held the address, so every client got
"connection refused" and every test that installs a package failed. ``apt-proxy up``
trusted podman's record; it must judge the proxy by whether it answers."""
from __future__ import annotations

import os
import socket
import subprocess
import time
from typing import Iterator

import pytest

from tests.helpers import REPO

pytestmark = [pytest.mark.containers]

SCRIPT = REPO / "tests/containers/apt-proxy"
# A proxy of its own: the shared one serves the scenarios that may run at the same time.
NAME, ADDRESS = "protea-apt-proxy-killtest", "10.213.250.252"


def _env() -> dict[str, str]:
    return {**os.environ, "PROTEA_APT_PROXY_NAME": NAME, "PROTEA_APT_PROXY_ADDRESS": ADDRESS,
            "CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF", str(REPO / "tests/containers/containers.conf"))}


def _run(*argv: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), env=_env(), capture_output=True, text=True, timeout=timeout)


def _answers(url: str) -> bool:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        return True
    except OSError:
        return False


def _up() -> str:
    proc = _run(str(SCRIPT), "up")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture
def own_proxy() -> Iterator[None]:
    yield
    _run(str(SCRIPT), "down")


def test_a_started_proxy_lets_the_next_caller_in(own_proxy: None) -> None:
    # `up` serialises its callers with a lock; the container it starts (conmon, aardvark-dns)
    # must not inherit the lock, or the next `up` (the local cloud's, the other lane's) waits forever.
    _run(str(SCRIPT), "down")
    url = _up()
    try:
        again = _run(str(SCRIPT), "up", timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("a second apt-proxy up waited for the lock the running proxy still holds")
    assert again.returncode == 0 and again.stdout.strip().splitlines()[-1] == url, again.stderr[-2000:]


def test_a_proxy_left_running_by_a_killed_session_is_replaced(own_proxy: None) -> None:
    url = _up()
    assert _answers(url)
    pids = _run("podman", "inspect", "-f", "{{.State.Pid}} {{.State.ConmonPid}}", NAME).stdout.split()
    # What a killed session leaves: conmon first (so nobody records the exit), then the proxy.
    for pid in reversed(pids):
        os.kill(int(pid), 9)
    deadline = time.monotonic() + 10
    while _answers(url) and time.monotonic() < deadline:
        time.sleep(0.2)
    state = _run("podman", "inspect", "-f", "{{.State.Status}}", NAME).stdout.strip()
    assert not _answers(url), "the simulated killed session left the proxy answering"
    assert state == "running", f"podman no longer lists the dead proxy as running ({state}): the trap is gone"

    assert _up() == url
    assert _answers(url), "apt-proxy up returned but the proxy does not answer"
    # Installing through it works again (the proxy forwards to the machine's mirror).
    proc = _run("podman", "run", "--rm", "--network", "protea-test", "localhost/protea-debian12:latest", "sh", "-c",
                f"echo 'Acquire::http::Proxy \"{url}\";' > /etc/apt/apt.conf.d/01p && apt-get update -qq")
    assert proc.returncode == 0, proc.stderr[-2000:]
