"""protea.platform.apt_lists: the refresh decision (content and recorded time, never mtime)."""
from __future__ import annotations

import pytest

from tests.helpers import load_plugin


apt_lists = load_plugin("plugins/modules/apt_lists.py")
MAIN = "http://mirror.invalid/debian/dists/bookworm/"
SEC = "http://mirror.invalid/debian-security/dists/bookworm-security/"


def test_missing_suites_by_content() -> None:
    present = [(MAIN, "/l/main_amd64_Packages", True), (MAIN, "/l/main_all_Packages", False),
               (SEC, "/l/sec_amd64_Packages", False)]
    assert apt_lists.missing_suites([MAIN, SEC], present) == [SEC]
    assert apt_lists.missing_suites([MAIN, SEC], []) == sorted([MAIN, SEC])
    assert apt_lists.missing_suites([MAIN], present) == []


@pytest.mark.parametrize(
    ("missing", "stamp", "refresh", "why"),
    [
        ([MAIN], 1000.0, True, "no package index"),    # content missing beats a fresh stamp
        ([], None, True, "no refresh recorded"),       # lists of unknown age (an image's)
        ([], 1000.0 - 3600, True, "last refresh"),     # exactly max_age old
        ([], 1000.0 + 3600, True, "future"),           # a stamp from the future is no proof
        ([], 1000.0 - 60, False, "lists complete"),
    ],
)
def test_decide(missing: list[str], stamp: float | None, refresh: bool, why: str) -> None:
    got, reason = apt_lists.decide(missing, stamp, 1000.0, 3600)
    assert got is refresh and why in reason


def test_max_age_zero_always_refreshes() -> None:
    assert apt_lists.decide([], 999.9, 1000.0, 0)[0] is True


def test_read_stamp(tmp_path) -> None:
    stamp = tmp_path / "stamp"
    assert apt_lists.read_stamp(str(stamp)) is None
    stamp.write_text("garbage\n")
    assert apt_lists.read_stamp(str(stamp)) is None
    stamp.write_text("1234\n")
    assert apt_lists.read_stamp(str(stamp)) == 1234.0
