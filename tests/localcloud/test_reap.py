"""Leftovers of a local cloud whose emulator was killed (instances.reap_dead_clouds).

A killed session leaves the instance-mode cloud's podman networks behind; their subnets
(10.20.x.0/24 in every test stack) then make the next cloud's ``podman network create``
fail. A new emulator removes the leftovers of every cloud whose process no longer holds its
owner lock, and never touches a live one."""
from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from tests.helpers import REPO
from tests.localcloud import instances

pytestmark = [pytest.mark.containers]


def _podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF",
                                                           str(REPO / "tests/containers/containers.conf"))}
    return subprocess.run(["podman", *args], env=env, capture_output=True, text=True, check=check, timeout=120)


def _exists(network: str) -> bool:
    return _podman("network", "exists", network, check=False).returncode == 0


def test_a_dead_clouds_networks_are_removed_and_a_live_ones_kept() -> None:
    tag = uuid.uuid4().hex[:8]
    dead, live = f"deadcloud{tag}", f"livecloud{tag}"
    nets = {dead: (f"{instances.PREFIX}reaptest-dead-{tag}", "10.251.1.0/24"),
            live: (f"{instances.PREFIX}reaptest-live-{tag}", "10.251.2.0/24")}
    lock = instances.hold_owner_lock(live)  # this process plays the live cloud's emulator
    try:
        for cid, (name, cidr) in nets.items():
            _podman("network", "create", "--internal", "--subnet", cidr, "--label", f"{instances.LABEL}={cid}", name)
        # The trap: while the dead cloud's network exists, its subnet cannot be created again.
        again = _podman("network", "create", "--subnet", nets[dead][1], f"{instances.PREFIX}reaptest-again-{tag}",
                        check=False)
        assert again.returncode != 0, "podman accepted an overlapping subnet: the leftover would not matter"

        reaped = instances.reap_dead_clouds(among={dead, live})
        assert dead in reaped and live not in reaped, reaped
        assert not _exists(nets[dead][0]), "the dead cloud's network is still there"
        assert _exists(nets[live][0]), "the live cloud's network was removed"
        _podman("network", "create", "--subnet", nets[dead][1], f"{instances.PREFIX}reaptest-again-{tag}")
    finally:
        lock.close()
        for cid in (dead, live):
            instances._owner_lock_path(cid).unlink(missing_ok=True)
        for name in (nets[dead][0], nets[live][0], f"{instances.PREFIX}reaptest-again-{tag}"):
            _podman("network", "rm", "-f", name, check=False)
