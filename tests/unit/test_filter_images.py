"""plugins/filter/images.py: which baked images the asg role deregisters."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from plugins.filter.images import images_to_prune


def img(n: int) -> dict:
    return {"image_id": f"ami-{n:04d}", "creation_date": f"2026-11-{n:02d}T10:00:00.000Z"}


IMAGES = [img(n) for n in (3, 1, 5, 2, 4)]


def ids(images: list[dict]) -> list[str]:
    return [i["image_id"] for i in images]


def test_keeps_the_newest_and_prunes_the_rest_oldest_first() -> None:
    assert ids(images_to_prune(IMAGES, 2, [])) == ["ami-0001", "ami-0002", "ami-0003"]


def test_never_an_image_in_use_however_old() -> None:
    assert ids(images_to_prune(IMAGES, 2, ["ami-0001", "ami-0003", ""])) == ["ami-0002"]


def test_nothing_when_fewer_than_keep() -> None:
    assert images_to_prune(IMAGES, 5, []) == [] and images_to_prune([], 1, []) == []


@pytest.mark.parametrize("keep", [0, -1, "x", None])
def test_keep_must_be_one_or_more(keep) -> None:
    with pytest.raises(AnsibleFilterError, match="keep must be a whole number of 1 or more"):
        images_to_prune(IMAGES, keep, [])


TEMPLATE = {"latest_version_number": 3, "default_version_number": 1, "versions": [
    {"version_number": n, "launch_template_data": {"image_id": f"ami-{n:04d}"}} for n in (1, 2, 3)]}


@pytest.mark.parametrize(("version", "image"), [("2", "ami-0002"), (2, "ami-0002"), ("$Latest", "ami-0003"),
                                                ("$Default", "ami-0001"), ("9", ""), ("", ""), (None, "")])
def test_launch_template_version_image(version, image) -> None:
    from plugins.filter.images import launch_template_version_image

    assert launch_template_version_image(TEMPLATE, version) == image
    assert launch_template_version_image({}, version) == ""


# --- asg_refresh_plan: start a refresh, wait for one a stopped run left, or nothing ----------------
def group(named: str, *instance_versions: str) -> dict:
    return {"launch_template": {"launch_template_name": "web", "version": named},
            "instances": [{"instance_id": f"i-{n}", "launch_template": {"version": v}}
                          for n, v in enumerate(instance_versions)]}


@pytest.mark.parametrize("before, version, refreshes, start, wait_for", [
    ({}, "1", [], False, None),  # a new group launches from the template
    (group("1", "1", "1"), "2", [], True, None),  # this run moved the template
    # A group that waited without instances for its first baked image: it launches from the template.
    (group("1"), "2", [], False, None),
    (group("2", "2", "2"), "2", [{"instance_refresh_id": "r1", "status": "Successful"}], False, None),
    # A run stopped after updating the group, before starting the refresh: old instances remain.
    (group("2", "1", "2"), "2", [{"instance_refresh_id": "r1", "status": "Successful"}], True, None),
    # A run stopped after starting the refresh: wait for it, never a second one.
    (group("2", "1", "1"), "2", [{"instance_refresh_id": "r1", "status": "Successful", "start_time": "1"},
                                 {"instance_refresh_id": "r2", "status": "InProgress", "start_time": "2"}], False, "r2"),
    (group("1", "1"), "2", [{"instance_refresh_id": "r3", "status": "Pending"}], False, "r3"),
])
def test_asg_refresh_plan(before, version, refreshes, start, wait_for) -> None:
    from plugins.filter.images import asg_refresh_plan

    plan = asg_refresh_plan(before, version, refreshes)
    assert (plan["start"], plan["wait_for"]) == (start, wait_for) and plan["reason"]
