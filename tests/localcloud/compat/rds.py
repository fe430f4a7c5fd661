"""RDS: parameter-group lookups, engine-default parameters and gp3 storage figures as AWS answers them."""
from __future__ import annotations

import functools
import json
import re
from pathlib import Path

from . import Patch


def _apply_parameter_group_not_found():
    from moto.rds.exceptions import DBParameterGroupNotFoundError
    from moto.rds.models import RDSBackend

    original = RDSBackend.describe_db_parameter_groups

    def describe_db_parameter_groups(self, db_parameter_group_kwargs):
        found = original(self, db_parameter_group_kwargs)
        name = db_parameter_group_kwargs.get("db_parameter_group_name")
        if name and not found:
            raise DBParameterGroupNotFoundError(name)
        return found

    RDSBackend.describe_db_parameter_groups = describe_db_parameter_groups


_CATALOGUE_FILE = Path(__file__).with_name("rds_parameters.json")

# Parameters RDS adds to the engine's own (RDS User Guide, "Working with parameters on your
# RDS for PostgreSQL DB instance" and the MySQL/MariaDB parameter pages), and MySQL 8.0 names
# the MariaDB list lacks. Row: [name, DataType, AllowedValues, ApplyType, Description].
_RDS_EXTRA = {
    "postgres": [
        ["rds.force_ssl", "boolean", "0,1", "dynamic", "Force SSL connections."],
        ["rds.log_retention_period", "integer", "1440-10080", "dynamic", "Amazon RDS will delete PostgreSQL logs older than N minutes."],
        ["rds.logical_replication", "boolean", "0,1", "static", "Enables logical decoding."],
        ["rds.rds_superuser_reserved_connections", "integer", "0-8388607", "static", "Connections reserved for rds_superusers."],
        ["rds.restrict_password_commands", "boolean", "0,1", "static", "Restricts password-related commands to members of rds_password."],
        ["rds.accepted_password_auth_method", "string", "md5+scram,scram", "dynamic", "Force authentication for connections with password stored locally."],
        ["pg_stat_statements.max", "integer", "100-2147483647", "static", "Sets the maximum number of statements tracked by pg_stat_statements."],
        ["pg_stat_statements.track", "string", "all,none,top", "dynamic", "Selects which statements are tracked by pg_stat_statements."],
        ["pg_stat_statements.save", "boolean", "0,1", "dynamic", "Save pg_stat_statements statistics across server shutdowns."],
        ["auto_explain.log_min_duration", "integer", "-1-2147483647", "dynamic", "Sets the minimum execution time above which plans will be logged."],
    ],
    "mysql": [
        ["time_zone", "string", "", "dynamic", "The time zone of the server."],
        ["sql_require_primary_key", "boolean", "0,1", "dynamic", "Whether statements that create or alter a table require a primary key."],
        ["activate_all_roles_on_login", "boolean", "0,1", "dynamic", "Whether all granted roles are active at login."],
        ["innodb_dedicated_server", "boolean", "0,1", "static", "Size InnoDB from the memory of the server."],
        ["log_error_verbosity", "integer", "1-3", "dynamic", "Verbosity of the error log."],
    ],
}


@functools.lru_cache(maxsize=None)
def _engine_parameters(engine: str) -> dict[str, dict]:
    """Every parameter a new group of the engine lists, by name (no values: engine-default)."""
    rows = json.loads(_CATALOGUE_FILE.read_text())[engine] + _RDS_EXTRA[engine]
    params = {}
    for name, data_type, allowed, apply_type, description in rows:
        param = {
            "ParameterName": name,
            "Description": description or name,
            "Source": "engine-default",
            "ApplyType": apply_type,
            "DataType": data_type,
            "IsModifiable": True,
            "ApplyMethod": "pending-reboot",
        }
        if allowed:
            param["AllowedValues"] = allowed
        params[name] = param
    return params


def _catalogue(family: str) -> list[dict]:
    """The engine-default parameters of a new group of this family, as DescribeDBParameters lists them.

    The engine's own parameters (rds_parameters.json: what the PostgreSQL server and the
    MariaDB server list as their settings, the same list for every major version of a
    family; MySQL 8.0 shares it, plus the few MySQL-only names in _RDS_EXTRA) and the
    parameters RDS adds. Engine defaults carry no ParameterValue, except rds.force_ssl:
    1 from PostgreSQL 15 on, 0 before (RDS User Guide, "Requiring an SSL connection to a
    PostgreSQL DB instance").
    """
    family = (family or "").lower()
    match = re.match(r"^postgres(\d+)", family)
    if match:
        params = {k: dict(v) for k, v in _engine_parameters("postgres").items()}
        params["rds.force_ssl"]["ParameterValue"] = "1" if int(match.group(1)) >= 15 else "0"
        return list(params.values())
    if family.startswith(("mysql", "mariadb")):
        return [dict(v) for v in _engine_parameters("mysql").values()]
    return []


def _apply_engine_defaults():
    from moto.rds.exceptions import RDSClientError
    from moto.rds.models import DBParameterGroup

    original_init = DBParameterGroup.__init__

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        for param in _catalogue(self.family):
            self.parameters[param["ParameterName"]] = param

    def update_parameters(self, new_parameters):
        new_parameters = list(new_parameters)
        # AWS checks the whole request first: one unknown name and nothing is changed.
        if self.parameters:
            for new in new_parameters:
                if new["ParameterName"] not in self.parameters:
                    raise RDSClientError("InvalidParameterValue", f"Could not find parameter with name: {new['ParameterName']}")
            # A static parameter takes effect only on reboot: AWS refuses to apply it immediately.
            for new in new_parameters:
                param = self.parameters[new["ParameterName"]]
                if param.get("ApplyType") == "static" and new.get("ApplyMethod") == "immediate":
                    raise RDSClientError("InvalidParameterCombination",
                                         "cannot use immediate apply method for static parameter")
        for new in new_parameters:
            param = self.parameters[new["ParameterName"]]
            param.update(new)
            # A value set through ModifyDBParameterGroup is reported with Source "user".
            param["Source"] = "user"

    DBParameterGroup.__init__ = __init__
    DBParameterGroup.update_parameters = update_parameters


# The default minor version RDS picks for a major version (DescribeDBEngineVersions
# --default-only per major), as RDS listed them in late 2025. Data, not behaviour: update it
# when RDS moves a default; a test only relies on "a full version of the major".
_DEFAULT_MINOR = {
    "postgres": {"13": "13.20", "14": "14.20", "15": "15.15", "16": "16.11", "17": "17.7", "18": "18.1"},
    "mysql": {"8.0": "8.0.43", "8.4": "8.4.6"},
    "mariadb": {"10.5": "10.5.29", "10.6": "10.6.23", "10.11": "10.11.14", "11.4": "11.4.8"},
}


def _bare_major(engine: str, version: str) -> bool:
    """True for a major version alone: "16" (PostgreSQL 10+), "8.0" / "10.11" (MySQL, MariaDB)."""
    shape = r"^\d+$" if engine == "postgres" else r"^\d+\.\d+$"
    return engine in _DEFAULT_MINOR and bool(re.match(shape, version or ""))


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version or ""))


def _default_minor(engine: str, major: str) -> str:
    from moto.rds.exceptions import RDSClientError

    found = _DEFAULT_MINOR[engine].get(major)
    if found is None:
        raise RDSClientError("InvalidParameterCombination", f"Cannot find version {major} for {engine}")
    return found


def _apply_engine_version_default_minor():
    from moto.rds.models import DBInstance

    original_init = DBInstance.__init__
    original_update = DBInstance.update

    def __init__(self, *args, **kwargs):
        engine, version = kwargs.get("engine") or "", kwargs.get("engine_version") or ""
        if _bare_major(engine, version):
            kwargs["engine_version"] = _default_minor(engine, version)
        original_init(self, *args, **kwargs)

    def update(self, **db_kwargs):
        wanted = db_kwargs.get("engine_version") or ""
        if _bare_major(self.engine, wanted):
            current = self.engine_version or ""
            default = _default_minor(self.engine, wanted)
            # ModifyDBInstance: a major alone moves to the default minor only if the current one is lower.
            same_major = current == wanted or current.startswith(wanted + ".")
            db_kwargs["engine_version"] = current if same_major and _version_key(current) >= _version_key(default) else default
        original_update(self, **db_kwargs)

    DBInstance.__init__ = __init__
    DBInstance.update = update


def _gp3_baseline(allocated: int, engine: str) -> tuple[int, int]:
    """(StorageThroughput MiB/s, Iops) RDS reports for gp3 without explicit values.

    RDS User Guide, "gp3 storage": below the threshold (400 GiB; 200 GiB for
    Oracle) 125 MiB/s and 3000 IOPS, at or above it 500 MiB/s and 12000 IOPS.
    """
    threshold = 200 if (engine or "").startswith("oracle") else 400
    return (125, 3000) if (allocated or 0) < threshold else (500, 12000)


def _apply_gp3_throughput():
    from moto.rds.models import DBInstance

    prop = DBInstance.storage_throughput

    def getter(self):
        value = prop.fget(self)
        if value is None and getattr(self, "storage_type", None) == "gp3":
            return _gp3_baseline(int(self.allocated_storage or 0), self.engine)[0]
        return value

    DBInstance.storage_throughput = property(getter, prop.fset)

    original_init = DBInstance.__init__

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        if getattr(self, "storage_type", None) == "gp3" and not getattr(self, "iops", None):
            self.iops = _gp3_baseline(int(self.allocated_storage or 0), self.engine)[1]

    DBInstance.__init__ = __init__


def _apply_performance_insights():
    from moto.rds.models import DBInstance

    original_init = DBInstance.__init__
    original_update = DBInstance.update

    def _set(self, kwargs):
        if "enable_performance_insights" in kwargs:
            self.performance_insights_enabled = bool(kwargs["enable_performance_insights"])
        if not getattr(self, "performance_insights_enabled", False):
            self.performance_insights_enabled = False
            self.performance_insights_kms_key_id = None
            self.performance_insights_retention_period = None
            return
        # AWS: without an explicit key, the account's default key (the storage key here);
        # without a retention, 7 days (the free tier).
        self.performance_insights_kms_key_id = (
            kwargs.get("performance_insights_kms_key_id")
            or getattr(self, "performance_insights_kms_key_id", None)
            or self.kms_key_id
        )
        self.performance_insights_retention_period = int(
            kwargs.get("performance_insights_retention_period")
            or getattr(self, "performance_insights_retention_period", None)
            or 7
        )

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        _set(self, kwargs)

    def update(self, **db_kwargs):
        original_update(self, **db_kwargs)
        _set(self, db_kwargs)

    DBInstance.__init__ = __init__
    DBInstance.update = update


def _apply_automated_backups() -> None:
    """Each instance its own DbiResourceId; retained automated backups listed with it and
    deletable by it (DeleteDBInstanceAutomatedBackup), as AWS serves them."""
    from moto.moto_api._internal import mock_random
    from moto.rds.exceptions import RDSClientError
    from moto.rds.models import DBInstance, DBInstanceAutomatedBackup, RDSBackend
    from moto.rds.responses import RDSResponse

    original_init = DBInstance.__init__

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        self.dbi_resource_id = "db-" + "".join(mock_random.choice(alphabet) for _ in range(26))

    DBInstance.__init__ = __init__

    def _first(self, name):
        return getattr(self.automated_snapshots[0], name, None) if self.automated_snapshots else None

    DBInstanceAutomatedBackup.dbi_resource_id = property(lambda self: _first(self, "dbi_resource_id"))
    DBInstanceAutomatedBackup.region = property(lambda self: self.backend.region_name)
    DBInstanceAutomatedBackup.db_instance_automated_backups_arn = property(
        lambda self: f"arn:aws:rds:{self.backend.region_name}:{self.backend.account_id}:auto-backup:ab-"
                     f"{(_first(self, 'dbi_resource_id') or '').lower()[3:]}")

    def delete_db_instance_automated_backup(self, dbi_resource_id=None, db_instance_automated_backups_arn=None, **_):
        found = [b for b in self.describe_db_instance_automated_backups()
                 if (dbi_resource_id and b.dbi_resource_id == dbi_resource_id)
                 or (db_instance_automated_backups_arn and b.db_instance_automated_backups_arn == db_instance_automated_backups_arn)]
        if not found:
            raise RDSClientError("DBInstanceAutomatedBackupNotFoundFault",
                                 f"Automated backups {dbi_resource_id or db_instance_automated_backups_arn} not found")
        backup = found[0]
        if backup.status != "retained":
            raise RDSClientError("InvalidDBInstanceAutomatedBackupState",
                                 "The automated backups of a DB instance that still exists cannot be deleted")
        doomed = {id(snapshot) for snapshot in backup.automated_snapshots}
        for name in [n for n, snap in self.database_snapshots.items() if id(snap) in doomed]:
            del self.database_snapshots[name]
        return backup

    RDSBackend.delete_db_instance_automated_backup = delete_db_instance_automated_backup

    def delete_db_instance_automated_backup_response(self):
        from moto.core.responses import ActionResult as Result

        backup = self.backend.delete_db_instance_automated_backup(
            dbi_resource_id=self.params.get("DbiResourceId"),
            db_instance_automated_backups_arn=self.params.get("DBInstanceAutomatedBackupsArn"))
        return Result({"DBInstanceAutomatedBackup": backup})

    RDSResponse.delete_db_instance_automated_backup = delete_db_instance_automated_backup_response


def _apply_secondary_availability_zone() -> None:
    """A Multi-AZ instance's standby AZ: another AZ of its subnet group than the primary's."""
    from moto.rds.models import DBInstance

    def getter(self):
        if not getattr(self, "multi_az", False):
            return None
        group = getattr(self, "db_subnet_group", None)
        zones = sorted({s.availability_zone for s in getattr(group, "_subnets", None) or []})
        others = [zone for zone in zones if zone != self.availability_zone]
        return others[0] if others else None

    DBInstance.secondary_availability_zone = property(getter)


# RestoreDBInstanceFromDBSnapshot parameters whose false is a choice, and the DBInstance attribute each sets.
_RESTORE_FLAGS = {"DeletionProtection": "deletion_protection", "MultiAZ": "multi_az",
                  "PubliclyAccessible": "publicly_accessible"}


def _apply_restore_false_flags() -> None:
    from moto.rds.models import RDSBackend

    original = RDSBackend.restore_db_instance_from_db_snapshot

    def restore_db_instance_from_db_snapshot(self, from_snapshot_id, overrides):  # type: ignore[no-untyped-def]
        db = original(self, from_snapshot_id, overrides)
        for param, attr in _RESTORE_FLAGS.items():
            if overrides.get(param) is False:
                setattr(db, attr, False)
        return db

    RDSBackend.restore_db_instance_from_db_snapshot = restore_db_instance_from_db_snapshot  # type: ignore[method-assign]



def _apply_no_endpoint_while_creating() -> None:
    from moto.rds.models import DBInstance

    original = DBInstance.endpoint

    def endpoint(self):  # type: ignore[no-untyped-def]
        # The status as every other patch reports it (instance mode, the delay layer).
        return None if self.status == "creating" else original.fget(self)

    DBInstance.endpoint = property(endpoint)  # type: ignore[assignment,method-assign]


PATCHES = [
    Patch(
        name="rds-parameter-group-not-found",
        api="rds:DescribeDBParameterGroups",
        moto_does="Answers 200 with an empty list for a group name that does not exist, so rds_instance_param_group never creates it.",
        aws_does="Answers DBParameterGroupNotFound (404) when DBParameterGroupName names no group.",
        doc="Amazon RDS API Reference, DescribeDBParameterGroups (Errors): "
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBParameterGroups.html",
        apply=_apply_parameter_group_not_found,
    ),
    Patch(
        name="rds-engine-default-parameters",
        api="rds:CreateDBParameterGroup, DescribeDBParameters, ModifyDBParameterGroup",
        moto_does="A new group has no parameters at all, so modules that check a parameter exists silently apply nothing "
        "(amazon.aws.rds_instance_param_group reports every parameter as unavailable); ModifyDBParameterGroup accepts any "
        "name, and modified parameters lose DataType/IsModifiable.",
        aws_does="A new group lists its family's engine-default parameters (the engine's settings plus the rds.* ones, with "
        "DataType, AllowedValues, ApplyType, IsModifiable, Source engine-default); a modified one keeps them with Source user; "
        "a name the family does not have is refused (InvalidParameterValue, Could not find parameter with name); a static "
        "parameter with ApplyMethod immediate is refused (InvalidParameterCombination).",
        doc="Amazon RDS API Reference, DescribeDBParameters / Parameter / ModifyDBParameterGroup: "
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_Parameter.html; RDS User Guide, "
        "Modifying parameters in a DB parameter group (static parameters need pending-reboot): "
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithParamGroups.Modifying.html",
        apply=_apply_engine_defaults,
    ),
    Patch(
        name="rds-gp3-storage-throughput",
        api="rds:DescribeDBInstances",
        moto_does="Omits StorageThroughput and Iops for a gp3 instance created without them; "
        "amazon.aws.rds_instance fails with KeyError on its second run.",
        aws_does="Reports the gp3 baseline: 125 MiB/s and 3000 IOPS below 400 GiB (500 and 12000 from 400 GiB).",
        doc="Amazon RDS User Guide, Amazon RDS DB instance storage, gp3 storage: "
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Storage.html#gp3-storage",
        apply=_apply_gp3_throughput,
    ),
    Patch(
        name="rds-performance-insights",
        api="rds:CreateDBInstance, ModifyDBInstance, DescribeDBInstances",
        moto_does="Ignores EnablePerformanceInsights and its key/retention; DescribeDBInstances never reports them "
        "(amazon.aws.rds_instance then fails on its second run splitting a missing PerformanceInsightsKMSKeyId).",
        aws_does="Stores and reports PerformanceInsightsEnabled, PerformanceInsightsKMSKeyId (the default key when none "
        "is given) and PerformanceInsightsRetentionPeriod (7 days by default).",
        doc="Amazon RDS API Reference, CreateDBInstance (EnablePerformanceInsights, PerformanceInsightsKMSKeyId, "
        "PerformanceInsightsRetentionPeriod): https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html",
        apply=_apply_performance_insights,
    ),
    Patch(
        name="rds-engine-version-default-minor",
        api="rds:CreateDBInstance, ModifyDBInstance",
        moto_does="Stores a major version alone (EngineVersion \"16\", \"8.0\", \"10.11\") as the instance's version, so "
        "DescribeDBInstances reports \"16\" and no role ever sees the full version AWS reports.",
        aws_does="Runs the default minor version of that major and reports it (e.g. 16.11); ModifyDBInstance with a major "
        "alone moves to the default minor only if the current minor is lower; a major RDS does not offer is refused "
        "(InvalidParameterCombination, Cannot find version 9 for postgres).",
        doc="Amazon RDS API Reference, ModifyDBInstance (EngineVersion: \"If you specify only a major version, Amazon RDS "
        "updates the DB instance to the default minor version\") and DescribeDBEngineVersions (DefaultOnly: the default "
        "version of an engine and major version): https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html",
        apply=_apply_engine_version_default_minor,
    ),
    Patch(
        name="rds-automated-backups",
        api="rds:CreateDBInstance, DescribeDBInstanceAutomatedBackups, DeleteDBInstanceAutomatedBackup",
        moto_does="Gives every instance the same DbiResourceId, lists automated backups without it, and has no "
        "DeleteDBInstanceAutomatedBackup (500), so retained automated backups can be neither told apart nor deleted.",
        aws_does="Each instance has its own DbiResourceId; DescribeDBInstanceAutomatedBackups lists it with the backups' "
        "ARN and Status (retained once the instance is deleted); DeleteDBInstanceAutomatedBackup by DbiResourceId or "
        "DBInstanceAutomatedBackupsArn deletes retained ones (DBInstanceAutomatedBackupNotFoundFault for unknown ones, "
        "InvalidDBInstanceAutomatedBackupState while the instance exists).",
        doc="Amazon RDS API Reference, DeleteDBInstanceAutomatedBackup and DBInstanceAutomatedBackup: "
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBInstanceAutomatedBackup.html",
        apply=_apply_automated_backups,
    ),
    Patch(
        name="rds-restore-false-flags",
        api="rds:RestoreDBInstanceFromDBSnapshot (DeletionProtection, MultiAZ, PubliclyAccessible)",
        moto_does="Copies the snapshot's source instance and applies only the parameters that are true: a restore asking "
        "for DeletionProtection=false, MultiAZ=false or PubliclyAccessible=false of a protected Multi-AZ source gets a "
        "protected Multi-AZ instance, which then cannot be deleted.",
        aws_does="The restored instance has the settings the request gives (DeletionProtection defaults to false, "
        "MultiAZ to false), whatever the source instance had.",
        doc="Amazon RDS API Reference, RestoreDBInstanceFromDBSnapshot (DeletionProtection, MultiAZ): "
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBInstanceFromDBSnapshot.html",
        apply=_apply_restore_false_flags,
    ),
    Patch(
        name="rds-secondary-availability-zone",
        api="rds:DescribeDBInstances, CreateDBInstance",
        moto_does="Never reports SecondaryAvailabilityZone, so a Multi-AZ instance looks like a single-AZ one "
        "(nothing shows where the standby runs).",
        aws_does="Reports SecondaryAvailabilityZone for a Multi-AZ (one standby) instance: an AZ of its subnet group other "
        "than the primary's; a single-AZ instance has none.",
        doc="Amazon RDS API Reference, DBInstance (SecondaryAvailabilityZone: \"If present, specifies the name of the "
        "secondary Availability Zone for a DB instance with multi-AZ support\"): "
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBInstance.html",
        apply=_apply_secondary_availability_zone,
    ),
    Patch(
        name="rds-no-endpoint-while-creating",
        api="rds:DescribeDBInstances, CreateDBInstance",
        moto_does="Reports an Endpoint (address and port) for a DB instance from the moment it is created.",
        aws_does="Has no Endpoint while the instance is `creating`: the address exists once it is ready, so a "
        "playbook that reads it must wait for the instance first.",
        doc="Amazon RDS API Reference, DBInstance (Endpoint: the connection endpoint; absent while creating): "
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBInstance.html",
        apply=_apply_no_endpoint_while_creating,
    ),
]
