"""RDS: parameter-group lookups, engine-default parameters and gp3 storage figures as AWS answers them."""
from __future__ import annotations

import re

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


def _boolean(name, description, value=None, apply_type="dynamic"):
    param = {
        "ParameterName": name,
        "Description": description,
        "Source": "engine-default",
        "ApplyType": apply_type,
        "DataType": "boolean",
        "AllowedValues": "0,1",
        "IsModifiable": True,
        "ApplyMethod": "pending-reboot",
    }
    if value is not None:
        param["ParameterValue"] = value
    return param


def _catalogue(family: str) -> list[dict]:
    """The engine-default parameters we rely on, as DescribeDBParameters lists them for a new group.

    Only the TLS parameters the rds role sets; AWS lists a few hundred per family.
    rds.force_ssl defaults to 1 from PostgreSQL 15 on, 0 before (RDS User Guide,
    "Requiring an SSL connection to a PostgreSQL DB instance").
    """
    family = (family or "").lower()
    match = re.match(r"^postgres(\d+)", family)
    if match:
        default = "1" if int(match.group(1)) >= 15 else "0"
        return [_boolean("rds.force_ssl", "Force SSL connections.", default)]
    if family.startswith(("mysql", "mariadb")):
        return [_boolean("require_secure_transport", "Whether client connections must use a secure transport.")]
    return []


def _apply_engine_defaults():
    from moto.rds.models import DBParameterGroup

    original_init = DBParameterGroup.__init__

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        for param in _catalogue(self.family):
            self.parameters[param["ParameterName"]] = dict(param)

    def update_parameters(self, new_parameters):
        for new in new_parameters:
            param = self.parameters[new["ParameterName"]]
            param.update(new)
            # A value set through ModifyDBParameterGroup is reported with Source "user".
            param["Source"] = "user"

    DBParameterGroup.__init__ = __init__
    DBParameterGroup.update_parameters = update_parameters


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
        moto_does="A new group has no parameters at all, so modules that check a parameter exists silently apply nothing; "
        "modified parameters lose DataType/IsModifiable.",
        aws_does="A new group lists its family's engine-default parameters (DataType, AllowedValues, IsModifiable, "
        "Source engine-default); a modified one keeps them with Source user. Served here for rds.force_ssl "
        "(postgres*) and require_secure_transport (mysql*/mariadb*).",
        doc="Amazon RDS API Reference, DescribeDBParameters / Parameter: "
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_Parameter.html",
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
]
