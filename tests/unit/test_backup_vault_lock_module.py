"""protea.platform.backup_vault_lock: the lock read from DescribeBackupVault, and when it can no longer change.

Against the emulator (governance lock converged, preflight refusing an unconfirmed compliance
lock): tests/provisioning/test_data.py."""
from __future__ import annotations

import datetime

from tests.helpers import load_plugin


lock = load_plugin("plugins/modules/backup_vault_lock.py")
UTC = datetime.timezone.utc


def test_modes_read_from_the_vault():
    assert lock.current_lock({"BackupVaultName": "v", "Locked": False}) == {"mode": "none"}
    assert lock.current_lock({"Locked": True, "MinRetentionDays": 7}) == {
        "mode": "governance", "min_retention_days": 7, "max_retention_days": None, "lock_date": None}
    date = datetime.datetime(2026, 12, 6, tzinfo=UTC)
    assert lock.current_lock({"Locked": True, "MinRetentionDays": 7, "MaxRetentionDays": 365, "LockDate": date})["mode"] == "compliance"


def test_a_compliance_lock_is_immutable_from_its_lock_date():
    date = datetime.datetime(2026, 12, 6, tzinfo=UTC)
    vault = {"Locked": True, "MinRetentionDays": 7, "LockDate": date}
    assert not lock.immutable(vault, now=date - datetime.timedelta(seconds=1))
    assert lock.immutable(vault, now=date)
    assert not lock.immutable({"Locked": True, "MinRetentionDays": 7}, now=date)  # governance never is
    assert lock.immutable({"Locked": True, "LockDate": date.timestamp()}, now=date + datetime.timedelta(days=1))
