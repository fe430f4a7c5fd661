"""protea.platform.efs_replication: what a run does given the file system's replication.

Against the emulator (replication created, tagged, second run unchanged): tests/provisioning/test_data.py;
the emulator's replication calls: tests/localcloud/test_compat_data.py."""
from __future__ import annotations

import datetime

from tests.helpers import load_plugin

mod = load_plugin("plugins/modules/efs_replication.py")
SRC, DST = "fs-0123456789abcdef0", "fs-0fedcba9876543210"
WHEN = datetime.datetime(2026, 12, 3, 10, 0, tzinfo=datetime.timezone.utc)


def _current(source=SRC, region="eu-west-1"):
    return mod.summary({"SourceFileSystemId": source, "Destinations": [
        {"FileSystemId": DST, "Region": region, "Status": "ENABLED", "LastReplicatedTimestamp": WHEN}]})


def test_summary_of_a_describe_item():
    assert mod.summary({}) == {} and mod.summary(None) == {}
    assert _current() == {"source_file_system_id": SRC, "destination_file_system_id": DST,
                          "destination_region": "eu-west-1", "status": "ENABLED",
                          "last_replicated_timestamp": "2026-12-03T10:00:00+00:00"}
    fresh = mod.summary({"SourceFileSystemId": SRC, "Destinations": [{"FileSystemId": DST, "Region": "af-south-1",
                                                                      "Status": "ENABLING"}]})
    assert fresh["last_replicated_timestamp"] == "" and fresh["status"] == "ENABLING"


def test_present_creates_once_then_changes_nothing():
    assert mod.plan(SRC, {}, "present", "eu-west-1", False) == ("create", None)
    assert mod.plan(SRC, _current(), "present", "eu-west-1", False) == ("none", None)


def test_present_never_moves_a_replica_to_another_region():
    action, message = mod.plan(SRC, _current(region="af-south-1"), "present", "eu-west-1", False)
    assert action == "fail"
    assert "already replicates to fs-0fedcba9876543210 in af-south-1, not eu-west-1" in message
    assert "allow_delete=true" in message


def test_present_needs_a_region():
    assert mod.plan(SRC, {}, "present", None, False) == ("fail", "destination_region is required with state=present")


def test_absent_deletes_only_when_allowed():
    action, message = mod.plan(SRC, _current(), "absent", None, False)
    assert action == "fail" and "without allow_delete=true" in message and DST in message
    assert mod.plan(SRC, _current(), "absent", None, True) == ("delete", None)
    assert mod.plan(SRC, {}, "absent", None, False) == ("none", None)


def test_a_replica_is_not_a_source():
    action, message = mod.plan(DST, _current(), "present", "eu-west-1", False)
    assert action == "fail" and f"{DST} is the destination of {SRC}'s replication" in message
    assert mod.plan(DST, _current(), "absent", None, True)[0] == "fail"


def test_only_missing_or_different_tags_are_set():
    assert mod.tags_to_set({"Name": "r", "Project": "shopper"}, {"Name": "r", "Project": "shopper"}) == {}
    assert mod.tags_to_set({"Name": "old", "Other": "x"}, {"Name": "r", "Port": 2049}) == {"Name": "r", "Port": "2049"}
