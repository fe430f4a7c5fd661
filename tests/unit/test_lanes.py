"""The suite's lanes (tests/lanes.py): every test directory has one, and everything that starts
an instance-mode local cloud (or breaks shared test resources on purpose) is in lane "clouds",
where such tests run one after another."""
from __future__ import annotations

from pathlib import Path

from tests.helpers import REPO
from tests.lanes import LANES, lane_of


def _test_dirs() -> set[str]:
    return {p.parent.relative_to(REPO / "tests").parts[0] for p in (REPO / "tests").rglob("test_*.py")}


def test_every_test_directory_has_a_lane() -> None:
    assert _test_dirs() <= set(LANES), sorted(_test_dirs() - set(LANES))
    assert set(LANES.values()) == {"clouds", "hosts", "emulator"}


def test_instance_mode_clouds_share_one_lane() -> None:
    starters = [p for p in (REPO / "tests").rglob("test_*.py") if p != Path(__file__).resolve()
                and ("instances=True" in p.read_text() or "apt-proxy" in p.read_text() and "killtest" in p.read_text())]
    assert starters, "no test starts an instance-mode cloud: this check looks at the wrong thing"
    lanes = {str(p.relative_to(REPO)): lane_of(str(p.relative_to(REPO))) for p in starters}
    assert set(lanes.values()) == {"clouds"}, lanes


def test_lane_of_a_node_id() -> None:
    assert lane_of("tests/e2e/test_site.py") == "clouds"
    assert lane_of("tests/provisioning/test_bake_image.py::test_a_failed_bake_leaves_no_builder") == "emulator"
    assert lane_of("tests/localcloud/test_compat_region_rules.py::test_x") == "emulator"
    assert lane_of("tests/localcloud/test_instances.py") == "clouds"
    assert lane_of("tests/localcloud/test_launcher.py") == "clouds"
    assert lane_of("tests/provisioning/test_data.py") == "hosts"
    assert lane_of("tests/provisioning/test_alerting.py") == "emulator"
    assert lane_of("tests/provisioning/test_oldest_core.py::test_network_tier_built_as_planned") == "emulator"
    assert lane_of("tests/molecule/test_scenarios.py") == "hosts"
    assert lane_of("tests/unit/test_lanes.py") == "emulator"
    assert lane_of("conftest.py") == "emulator"


def test_files_moved_across_lanes_exist_and_start_no_instance_cloud() -> None:
    from tests.lanes import FILE_LANES

    for path, lane in FILE_LANES.items():
        assert (REPO / path).is_file(), path
        assert lane in {"clouds", "hosts", "emulator"}
        if lane != "clouds":
            assert "instances=True" not in (REPO / path).read_text(), path


def test_only_the_clouds_lane_keeps_the_default_cpu_priority() -> None:
    from tests.lanes import BACKGROUND_NICE

    assert set(BACKGROUND_NICE) == set(LANES.values())
    assert BACKGROUND_NICE["clouds"] == 0
    assert all(n > 0 for lane, n in BACKGROUND_NICE.items() if lane != "clouds"), BACKGROUND_NICE
