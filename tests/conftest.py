"""Shared fixtures: the local AWS emulator (tests/localcloud).

emulator          one moto server (with the compat layer) for the whole session. Tests that
                  need a clean cloud call ``emulator.reset()`` themselves (or use
                  ``clean_emulator``); PROTEA_LOCALCLOUD_DIR / PROTEA_ENDPOINT_URL point at it.
clean_emulator    the same server, reset before the test.
emulator_factory  emulator_factory(disable=[...], env={...}) -> an extra short-lived server,
                  cached per arguments (tests proving one patch share a server, reset on
                  each request); at most 3 are kept running, all stopped at session end.
stock_emulator    extra server with every compat patch disabled (seeds kept): moto as shipped.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.lanes import lane_of
from tests.localcloud.__main__ import ensure_ssh_key
from tests.localcloud.emulator import Emulator


@pytest.fixture(scope="session")
def localcloud_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """State dir of the session's local cloud (emulator log, ssh/id_ed25519{,.pub})."""
    d = tmp_path_factory.mktemp("localcloud")
    ensure_ssh_key(d)
    return d


@pytest.fixture(scope="session")
def emulator(localcloud_dir: Path) -> Iterator[Emulator]:
    emu = Emulator(localcloud_dir).start()
    saved = {k: os.environ.get(k) for k in ("PROTEA_LOCALCLOUD_DIR", "PROTEA_ENDPOINT_URL")}
    os.environ["PROTEA_LOCALCLOUD_DIR"] = str(localcloud_dir)
    os.environ["PROTEA_ENDPOINT_URL"] = emu.endpoint
    try:
        yield emu
    finally:
        emu.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def clean_emulator(emulator: Emulator) -> Emulator:
    emulator.reset()
    return emulator


@pytest.fixture(scope="session")
def emulator_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Emulator]]:
    started: dict[tuple, Emulator] = {}

    def make(disable: list[str] | tuple[str, ...] = (), env: dict[str, str] | None = None) -> Emulator:
        key = (tuple(sorted(disable)), tuple(sorted((env or {}).items())))
        emu = started.pop(key, None)
        reused = emu is not None
        if emu is None:
            while len(started) >= 3:  # ~100 MB each: keep the most recently used few
                started.pop(next(iter(started))).stop()
            emu = Emulator(tmp_path_factory.mktemp("emulator-extra"), disable=disable, env=env).start()
        started[key] = emu  # registered before reset, so a failing reset still gets it stopped
        if reused:
            emu.reset()
        return emu

    try:
        yield make
    finally:
        for emu in started.values():
            emu.stop()


@pytest.fixture
def stock_emulator(emulator_factory: Callable[..., Emulator]) -> Emulator:
    from tests.localcloud import compat

    return emulator_factory(disable=[p.name for p in compat.all_patches()])


# Three lanes side by side when ./scripts/test runs pytest -n 3 (tests/lanes.py): one lane keeps
# 0.6-0.8 of a core busy and waits on containers and emulators the rest of the time, so two lanes
# left part of the two cores idle. A scheduler of our own: xdist's loadgroup marks do not reach
# the scheduler with pytest 9 (node ids are immutable there). One lane per worker (LoadScope
# gives each worker one scope; with fewer workers than lanes, a worker takes the next lane when
# it has finished one).
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    from xdist.scheduler import LoadScopeScheduling

    class LaneScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return lane_of(nodeid.split("::", 1)[0])

    return LaneScheduling(config, log)


_NICED = False


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """In an xdist worker: the lanes off the critical path (tests/lanes.py BACKGROUND_NICE) run
    at a lower CPU priority, inherited by everything they start (ansible-playbook, emulators,
    podman containers), so that lane "clouds" keeps a core whenever it wants one. Before the
    first test's fixtures start anything. Niceness only goes up: a worker that later runs a
    lane of lower niceness (fewer workers than lanes) keeps the higher one."""
    global _NICED
    if _NICED or not hasattr(item.config, "workerinput"):
        return
    _NICED = True
    from tests.lanes import BACKGROUND_NICE

    increment = BACKGROUND_NICE.get(lane_of(item.nodeid), 0)
    if increment:
        os.nice(increment)


# Time per test file (setup + call + teardown), for the fresh-machine check's budget per
# test group: written only when PROTEA_TEST_TIMINGS names a file (scripts/fresh-machine-check
# sets it). Module-scoped fixtures (converges) count toward the file whose test starts them.
_TIMINGS: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::", 1)[0]
    _TIMINGS[path] = _TIMINGS.get(path, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get("PROTEA_TEST_TIMINGS")
    if not target or not _TIMINGS or hasattr(session.config, "workerinput"):  # the controller writes
        return
    import json

    Path(target).write_text(json.dumps({k: round(v, 1) for k, v in sorted(_TIMINGS.items())}, indent=2) + "\n")
