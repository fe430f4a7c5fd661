"""destroy.yml's pieces that need no cloud: the closing report (filter teardown_report) and the
teardown module's tag matching. The teardown itself runs against the emulator at the end of
tests/provisioning/test_data.py, test_edge_*.py and test_alerting.py."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from tests.helpers import load_plugin

report = load_plugin("plugins/filter/teardown.py").teardown_report
module = load_plugin("plugins/modules/environment_teardown.py")

KEPT = {"kind": "DB snapshot", "id": "shopper-x-db-final-1", "region": "af-south-1", "why": "keep_backups: a restore"}


def test_report_counts_each_part_and_names_what_was_kept():
    results = [{"part": "web", "deleted": ["instance i-1 (af-south-1)"], "kept": []},
               {"skipped": True, "skip_reason": "Conditional result was False"},
               {"part": "data", "deleted": ["database shopper-x-db (af-south-1)"], "kept": [KEPT]}]
    assert report(results, "shopper-x") == [
        "shopper-x: removed in dependency order",
        "web: removed 1 (instance i-1 (af-south-1))",
        "data: removed 1 (database shopper-x-db (af-south-1))",
        "kept 1:",
        "  DB snapshot shopper-x-db-final-1 (af-south-1): keep_backups: a restore"]
    assert report(results, "shopper-x", True)[0] == "shopper-x: would remove in dependency order"


def test_report_of_a_second_destroy_says_nothing_was_left():
    lines = report([{"part": "web", "deleted": [], "kept": []}], "shopper-x")
    assert lines == ["shopper-x: nothing left to remove", "web: removed 0", "kept nothing"]


@pytest.mark.parametrize("bad", ["not a list", [{"changed": True}], ["text"]])
def test_report_refuses_what_is_not_teardown_results(bad):
    with pytest.raises(AnsibleFilterError, match="teardown_report"):
        report(bad, "shopper-x")


@pytest.mark.parametrize("tags,expect", [
    ([{"Key": "Project", "Value": "shopper"}, {"Key": "Environment", "Value": "x"}, {"Key": "ManagedBy", "Value": "protea"},
      {"Key": "Component", "Value": "rds"}], True),
    ({"Project": "shopper", "Environment": "x", "ManagedBy": "protea"}, True),
    ([{"TagKey": "Project", "TagValue": "shopper"}, {"TagKey": "Environment", "TagValue": "x"},
      {"TagKey": "ManagedBy", "TagValue": "protea"}], True),
    # Another environment of the project, or one that someone else manages: never ours.
    ({"Project": "shopper", "Environment": "production", "ManagedBy": "protea"}, False),
    ({"Project": "shopper", "Environment": "x"}, False),
    (None, False),
])
def test_only_resources_with_every_tag_of_the_environment_are_its(tags, expect):
    class Fake:
        params = {"names": {"prefix": "shopper-x"}, "tags": {"Project": "shopper", "Environment": "x", "ManagedBy": "protea"},
                  "regions": ["af-south-1"], "keep_backups": True}
    teardown = module.Teardown(Fake())
    if isinstance(tags, list) and tags and "TagKey" in tags[0]:
        tags = module.tags_of(tags, "TagKey", "TagValue")
    assert teardown.ours(tags) is expect


@pytest.mark.parametrize("fs,expect", [
    ({"Tags": [{"Key": "Component", "Value": "efs-replica"}]}, True),
    ({"Tags": [{"Key": "Component", "Value": "efs"}], "FileSystemProtection": {"ReplicationOverwriteProtection": "REPLICATING"}}, True),
    ({"Tags": [{"Key": "Component", "Value": "efs"}], "FileSystemProtection": {"ReplicationOverwriteProtection": "ENABLED"}}, False),
    ({}, False),
])
def test_a_replica_is_told_from_the_file_system_it_copies(fs, expect):
    assert module.is_replica(fs) is expect
