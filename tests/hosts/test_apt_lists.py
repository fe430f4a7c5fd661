"""protea.platform.apt_lists on a real container from the host image.

The regression behind it: tests/containers/build-image empties /var/lib/apt/lists, so
an image's lists directory has a fresh mtime and no content, and ansible.builtin.apt's
``cache_valid_time`` (judged by that mtime) skipped the refresh: "No package matching".
Each case sets up the lists' state seconds before the module runs, then installs a
package that is not in the image (chrony, as the base role does)."""
from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from typing import Iterator

import pytest

from tests.helpers import REPO

pytestmark = [pytest.mark.containers]

IMAGE = "localhost/protea-debian12:latest"
STAMP = "/var/lib/apt/periodic/protea-lists-refreshed"
LISTS = "/var/lib/apt/lists"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{REPO / '.venv/bin'}:{env.get('PATH', '')}"
    env.setdefault("CONTAINERS_CONF", str(REPO / "tests/containers/containers.conf"))
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    return env


def _podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], env=_env(), capture_output=True, text=True, check=check, timeout=300)


@pytest.fixture(scope="module")
def host() -> Iterator[str]:
    """A container from the host image on the project's test network, apt through the
    package proxy (the only way out)."""
    for script in ("build-image", "apt-proxy"):
        proc = subprocess.run([str(REPO / "tests/containers" / script)], cwd=REPO, env=_env(),
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"{script}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    proxy = proc.stdout.strip().splitlines()[-1]
    name = f"protea-test-aptlists-{uuid.uuid4().hex[:8]}"
    _podman("run", "-d", "--name", name, "--label", "protea.test=apt-lists", "--network", "protea-test",
            IMAGE, "sleep", "infinity")
    try:
        _podman("exec", name, "sh", "-c",
                f"echo 'Acquire::http::Proxy \"{proxy}\";' > /etc/apt/apt.conf.d/01protea-test-proxy")
        yield name
    finally:
        _podman("rm", "-f", "-t", "0", name, check=False)


def _module(host: str, module: str, args: str, check: bool = False) -> dict:
    """One module run through the podman connection; the task result as a dict."""
    cmd = ["ansible", "all", "-i", f"{host},", "-c", "containers.podman.podman", "-m", module, "-a", args]
    if check:
        cmd.append("--check")
    proc = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600)
    out = proc.stdout
    data = json.loads(out[out.index("{"):])
    return data["plays"][0]["tasks"][0]["hosts"][host]


def _sh(host: str, script: str) -> str:
    return _podman("exec", host, "sh", "-c", script).stdout


def _empty_lists(host: str) -> None:
    """The just-built image: no lists, a lists directory touched seconds ago."""
    _sh(host, f"find {LISTS} -mindepth 1 -maxdepth 1 -type f -delete; rm -f {STAMP}; "
              f"apt-get -q remove -y chrony >/dev/null 2>&1 || true; touch {LISTS}")


def _indexes(host: str) -> list[str]:
    return _sh(host, f"ls {LISTS} | grep _Packages || true").split()


def test_empty_lists_with_fresh_mtime_are_refreshed(host: str) -> None:
    _empty_lists(host)
    # The trap, reproduced on this very container: apt's cache_valid_time trusts the mtime.
    old = _module(host, "ansible.builtin.apt", "name=chrony update_cache=true cache_valid_time=3600")
    assert old.get("failed") and "No package matching 'chrony'" in old.get("msg", ""), old

    res = _module(host, "protea.platform.apt_lists", "")
    assert res.get("changed") is True and res["refreshed"] is True, res
    assert res["missing_suites"], res  # every suite was missing before
    assert _indexes(host), "no Packages index after the refresh"
    installed = _module(host, "ansible.builtin.apt", "name=chrony")
    assert not installed.get("failed"), installed
    assert "install ok installed" in _sh(host, "dpkg-query -W -f='${Status}' chrony")


def test_complete_recent_lists_are_kept_and_check_mode_changes_nothing(host: str) -> None:
    _module(host, "protea.platform.apt_lists", "")  # make sure a refresh is recorded
    before = _sh(host, f"cat {STAMP}")
    res = _module(host, "protea.platform.apt_lists", "")
    assert res.get("changed") is False and res["refreshed"] is False, res
    assert _sh(host, f"cat {STAMP}") == before
    # Lists emptied behind the stamp's back: content wins over the recent stamp, and
    # check mode reports the refresh without doing it.
    _sh(host, f"find {LISTS} -mindepth 1 -maxdepth 1 -type f -delete; touch {LISTS}")
    checked = _module(host, "protea.platform.apt_lists", "", check=True)
    assert checked.get("changed") is True and "no package index" in checked["reason"], checked
    assert _indexes(host) == []
    assert _module(host, "protea.platform.apt_lists", "")["refreshed"] is True
    assert _indexes(host)


def test_stale_lists_are_refreshed(host: str) -> None:
    _module(host, "protea.platform.apt_lists", "")
    # Lists with content whose last refresh is two hours old (mtimes made fresh on purpose).
    _sh(host, f"echo {int(time.time()) - 7200} > {STAMP}; touch {LISTS} {LISTS}/*")
    res = _module(host, "protea.platform.apt_lists", "")
    assert res["refreshed"] is True and "last refresh" in res["reason"], res
    assert abs(float(_sh(host, f"cat {STAMP}")) - time.time()) < 120


def test_unreachable_mirror_fails_with_the_suites_named(host: str) -> None:
    _empty_lists(host)
    _sh(host, "mv /etc/apt/apt.conf.d/01protea-test-proxy /root/proxy.off")
    try:
        _sh(host, "echo 'Acquire::http::Proxy \"http://127.0.0.1:9\";' > /etc/apt/apt.conf.d/01protea-test-proxy")
        res = _module(host, "protea.platform.apt_lists", "")
        assert res.get("failed") and "did not produce package lists" in res["msg"], res
        assert "bookworm" in res["msg"], res
    finally:
        _sh(host, "mv /root/proxy.off /etc/apt/apt.conf.d/01protea-test-proxy")
