"""Data tier (playbooks/data.yml) against the emulator: converge, converge again (no change),
--check (no change), then every promised property read back through boto3.

Setup converges the real network tier first (network.yml --tags vpc,security_groups: the
bastion hosts are not needed here), so data.yml finds the VPC, private subnets and
security groups through role stack's discovery, as it does on AWS when run alone.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from tests.crash import duplicates
from tests.helpers import PlaybookRun, assert_refused_before_any_aws_call, bad_input_sweep, run_playbook
from tests.sweep import assert_only_the_reported_is_left, destroy, destroy_report, environment_resources

pytestmark = pytest.mark.emulator

DATA = "playbooks/data.yml"
NETWORK = "playbooks/network.yml"
NAME = "shopper-local"
DB = f"{NAME}-db"
PASSWORD = "/shopper/local/rds/master-password"
DR_REGION = "eu-west-1"
# Engine parameters beyond the TLS one: any real parameter of the family must work, a
# static one too (AWS refuses to apply those immediately).
EXTRA_PARAMETERS = {"log_min_duration_statement": 500, "shared_preload_libraries": "pg_stat_statements"}
# RDS is in the backup plan by default (backup_include_rds): not set here.
# The file system's replica in the DR region too (default: protea_region), so its KMS key is the DR region's.
OPTIONS = {"backup_copy_region": DR_REGION, "rds_extra_parameters": EXTRA_PARAMETERS, "efs_replication_region": DR_REGION}


def flat(text: str) -> str:
    return " ".join(text.split())


def network_ids(emu) -> dict:
    """The network tier's private subnets and security groups, read back by their tags/names."""
    ec2 = emu.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [NAME]}])["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                            {"Name": "tag:Name", "Values": [f"{NAME}-private-*"]}])["Subnets"]
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]
    by_name = {g["GroupName"]: g["GroupId"] for g in groups}
    return {
        "vpc_id": vpc,
        "vpc_private_subnet_ids": sorted(s["SubnetId"] for s in subnets),
        "security_groups_ids": {n: by_name[f"{NAME}-{n}"] for n in ("alb", "bastion", "web", "rds", "efs")},
    }


def converge_network(emu) -> dict:
    run = run_playbook(NETWORK, endpoint=emu.endpoint, tags="vpc,security_groups")
    assert run.rc == 0, run.explain()
    net = network_ids(emu)
    assert len(net["vpc_private_subnet_ids"]) == 2
    return net


@dataclass
class Stack:
    emu: object
    net: dict
    crashes: list[PlaybookRun]
    first: PlaybookRun
    second: PlaybookRun
    check: PlaybookRun

    def client(self, service, region="af-south-1"):
        return self.emu.client(service, region=region)


@pytest.fixture(scope="module")
def stack(emulator) -> Stack:
    emulator.reset()
    net = converge_network(emulator)
    extra = dict(OPTIONS)  # no network facts: data.yml looks them up
    # No bastion here (no instance containers): the application login, created through a
    # bastion, is left out and checked end to end (tests/e2e).
    skip = "rds_app_user"
    # Crash-safe re-runs: the converge is killed (SIGKILL) right after AWS made a KMS key the run
    # never named, then right after it started creating the database; "first" resumes it.
    crashes = [run_playbook(DATA, endpoint=emulator.endpoint, extra_vars=extra, skip_tags=skip, crash_action=action)
               for action in CRASH_POINTS]
    first = run_playbook(DATA, endpoint=emulator.endpoint, extra_vars=extra, skip_tags=skip)
    assert first.rc == 0, first.explain()
    second = run_playbook(DATA, endpoint=emulator.endpoint, extra_vars=extra, skip_tags=skip)
    check = run_playbook(DATA, endpoint=emulator.endpoint, extra_vars=extra, check=True, diff=True, skip_tags=skip)
    return Stack(emulator, net, crashes, first, second, check)


CRASH_POINTS = ("CreateKey", "CreateDBInstance")


def test_runs_killed_right_after_aws_acted_resume_with_nothing_duplicated(stack):
    assert [(run.rc, run.crashed_at) for run in stack.crashes] == [
        (-9, "kms@af-south-1 CreateKey"), (-9, "rds@af-south-1 CreateDBInstance")], stack.crashes[-1].explain()
    assert duplicates(stack.emu.endpoint, REGIONS) == []
    # The key the killed run made is the one in use: adopted by the next run, not replaced.
    kms = stack.client("kms")
    keys = [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in kms.list_keys()["Keys"]]
    first_key = min((k for k in keys if k["KeyManager"] == "CUSTOMER"), key=lambda k: k["CreationDate"])
    assert kms.describe_key(KeyId=f"alias/{NAME}-parameters")["KeyMetadata"]["KeyId"] == first_key["KeyId"]
    assert ("protea.platform.parameters_key : Adopt the key a stopped run created but never named -> localhost"
            in stack.crashes[1].changed_tasks), stack.crashes[1].explain()
    rds = stack.client("rds").describe_db_instances()["DBInstances"]
    assert [db["DBInstanceIdentifier"] for db in rds] == [DB]


def test_the_application_login_needs_a_bastion(stack):
    run = run_playbook("playbooks/database_users.yml", endpoint=stack.emu.endpoint)
    assert run.rc != 0
    text = flat(run.stdout)
    assert "No running bastion tagged Project=shopper Environment=local" in text, run.explain()
    assert "TASK [protea.platform.rds" not in text, "nothing ran against a database"


def test_the_web_servers_settings_are_published(stack):
    """What the image's boot unit reads (protea_runtime_parameters), written by the rds role."""
    ssm = stack.client("ssm")
    got = {p["Name"].removeprefix("/shopper/local/"): p for p in ssm.get_parameters(Names=[
        f"/shopper/local/rds/{n}" for n in ("endpoint-address", "endpoint-port", "database-name",
                                            "app-credentials")], WithDecryption=True)["Parameters"]}
    db = _db(stack)
    assert got["rds/endpoint-address"]["Value"] == db["Endpoint"]["Address"]
    assert got["rds/endpoint-port"]["Value"] == str(db["Endpoint"]["Port"])
    assert got["rds/database-name"]["Value"] == db["DBName"]
    # The login in use and its password: one SecureString, so no reader sees one rotated and not the other.
    assert got["rds/app-credentials"]["Type"] == "SecureString"
    app = json.loads(got["rds/app-credentials"]["Value"])
    assert set(app) == {"username", "password"}
    assert app["username"] == "shopper_app" != db["MasterUsername"]
    assert len(app["password"]) >= 32
    master = ssm.get_parameter(Name=PASSWORD, WithDecryption=True)["Parameter"]["Value"]
    assert app["password"] != master


def test_the_passwords_use_the_environments_own_key(stack):
    kms, ssm = stack.client("kms"), stack.client("ssm")
    key = kms.describe_key(KeyId=f"alias/{NAME}-parameters")["KeyMetadata"]
    assert key["KeyManager"] == "CUSTOMER" and key["Enabled"] is True
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    params = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [
        PASSWORD, "/shopper/local/rds/app-credentials"]}])["Parameters"]
    assert len(params) == 2
    assert {p["KeyId"] for p in params} <= {f"alias/{NAME}-parameters", key["KeyId"], key["Arn"]}, params


def test_converge_creates_then_changes_nothing(stack):
    assert stack.first.changed > 0 and stack.first.failed == 0
    # The network ids came from role stack's discovery (run alone, as on AWS), described once
    # although rds, efs and backup each depend on it.
    assert stack.first.task_runs("protea.platform.stack : Stack | Describe the environment's shared resources") == 1, \
        stack.first.explain()
    assert stack.second.rc == 0 and stack.second.changed == 0, stack.second.explain()


def test_check_mode_on_converged_stack_reports_no_change(stack):
    assert stack.check.rc == 0 and stack.check.changed == 0, stack.check.explain()


def _db(stack):
    return stack.client("rds").describe_db_instances(DBInstanceIdentifier=DB)["DBInstances"][0]


def test_rds_instance(stack):
    db = _db(stack)
    assert db["MultiAZ"] is True
    assert db["StorageEncrypted"] is True
    key = stack.client("kms").describe_key(KeyId=f"alias/{NAME}-rds")["KeyMetadata"]["Arn"]
    assert db["KmsKeyId"] == key
    # The default asks for the major version alone: RDS runs (and reports) its default minor, and
    # the second converge (changed=0) did not try to move "16.x" to "16".
    assert (db["Engine"], db["DBInstanceClass"]) == ("postgres", "db.t3.medium")
    assert db["EngineVersion"].startswith("16.") and db["EngineVersion"] != "16"
    assert db["Endpoint"]["Port"] == 5432
    assert (db["StorageType"], db["AllocatedStorage"], db["MaxAllocatedStorage"]) == ("gp3", 20, 100)
    assert db["BackupRetentionPeriod"] == 7
    assert db["PreferredBackupWindow"] == "23:00-23:30"
    assert db["PreferredMaintenanceWindow"] == "sun:00:00-sun:00:30"
    assert db["DeletionProtection"] is True
    assert db["CopyTagsToSnapshot"] is True
    assert db["AutoMinorVersionUpgrade"] is True
    assert db["PubliclyAccessible"] is False
    assert sorted(db["EnabledCloudwatchLogsExports"]) == ["postgresql", "upgrade"]
    assert db["PerformanceInsightsEnabled"] is True and db["PerformanceInsightsKMSKeyId"] == key
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == f"{NAME}-db"
    assert sorted(s["SubnetIdentifier"] for s in db["DBSubnetGroup"]["Subnets"]) == sorted(stack.net["vpc_private_subnet_ids"])
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [stack.net["security_groups_ids"]["rds"]]
    assert [g["DBParameterGroupName"] for g in db["DBParameterGroups"]] == [f"{NAME}-postgres16"]
    tags = {t["Key"]: t["Value"] for t in db["TagList"]}
    assert tags["Component"] == "rds" and tags["Backup"] == f"{NAME}-daily"


def test_rds_parameter_group_forces_tls(stack):
    rds = stack.client("rds")
    group = rds.describe_db_parameter_groups(DBParameterGroupName=f"{NAME}-postgres16")["DBParameterGroups"][0]
    assert group["DBParameterGroupFamily"] == "postgres16"
    params = {p["ParameterName"]: p for p in rds.describe_db_parameters(DBParameterGroupName=f"{NAME}-postgres16")["Parameters"]}
    assert params["rds.force_ssl"]["ParameterValue"] == "1"
    # rds_extra_parameters: applied as AWS reports a user-set value.
    assert (params["log_min_duration_statement"]["ParameterValue"], params["log_min_duration_statement"]["Source"]) == ("500", "user")
    static = params["shared_preload_libraries"]
    assert (static["ParameterValue"], static["ApplyType"], static["ApplyMethod"]) == ("pg_stat_statements", "static", "pending-reboot")


def test_rds_extra_parameter_the_family_lacks_fails_the_run(stack):
    # amazon.aws.rds_instance_param_group only lists such a parameter in `errors` and succeeds:
    # the role must fail rather than leave the setting silently unapplied.
    run = run_playbook(DATA, endpoint=stack.emu.endpoint, tags="rds",
                       extra_vars={**OPTIONS, "rds_extra_parameters": {"log_min_duration_statment": 500}})
    assert run.rc != 0
    assert "Parameter log_min_duration_statment is not an available parameter for the postgres16 engine" in flat(run.stdout), run.explain()
    params = stack.client("rds").describe_db_parameters(DBParameterGroupName=f"{NAME}-postgres16")["Parameters"]
    assert "log_min_duration_statment" not in {p["ParameterName"] for p in params}


def test_master_password_generated_once_and_never_logged(stack):
    ssm = stack.client("ssm")
    param = ssm.get_parameter(Name=PASSWORD, WithDecryption=True)["Parameter"]
    assert param["Type"] == "SecureString"
    assert param["Version"] == 1, "a re-run must not rotate the password"
    value = param["Value"]
    assert len(value) == 32 and value.isalnum()
    for run in (stack.first, stack.second, stack.check):
        assert value not in run.stdout and value not in run.stderr


def test_efs_file_system(stack):
    efs = stack.client("efs")
    fs = [f for f in efs.describe_file_systems()["FileSystems"] if f["CreationToken"] == f"{NAME}-efs"]
    assert len(fs) == 1
    fs = fs[0]
    assert fs["Encrypted"] is True
    assert fs["KmsKeyId"] == stack.client("kms").describe_key(KeyId=f"alias/{NAME}-efs")["KeyMetadata"]["Arn"]
    fs_id = fs["FileSystemId"]
    policies = efs.describe_lifecycle_configuration(FileSystemId=fs_id)["LifecyclePolicies"]
    assert {"TransitionToIA": "AFTER_30_DAYS"} in policies
    assert efs.describe_backup_policy(FileSystemId=fs_id)["BackupPolicy"]["Status"] == "ENABLED"
    tags = {t["Key"]: t["Value"] for t in efs.list_tags_for_resource(ResourceId=fs_id)["Tags"]}
    assert tags["Backup"] == f"{NAME}-daily" and tags["Component"] == "efs"

    targets = efs.describe_mount_targets(FileSystemId=fs_id)["MountTargets"]
    assert sorted(t["SubnetId"] for t in targets) == sorted(stack.net["vpc_private_subnet_ids"])
    for target in targets:
        groups = efs.describe_mount_target_security_groups(MountTargetId=target["MountTargetId"])["SecurityGroups"]
        assert groups == [stack.net["security_groups_ids"]["efs"]]

    points = efs.describe_access_points(FileSystemId=fs_id)["AccessPoints"]
    assert len(points) == 1
    point = points[0]
    assert point["PosixUser"] == {"Uid": 1001, "Gid": 1001}
    assert point["RootDirectory"] == {
        "Path": "/shopper", "CreationInfo": {"OwnerUid": 1001, "OwnerGid": 1001, "Permissions": "0750"}}


def test_efs_replicates_to_a_replica_in_the_chosen_region(stack):
    efs = stack.client("efs")
    fs_id = [f for f in efs.describe_file_systems()["FileSystems"] if f["CreationToken"] == f"{NAME}-efs"][0]["FileSystemId"]
    reps = efs.describe_replication_configurations(FileSystemId=fs_id)["Replications"]
    assert [r["SourceFileSystemId"] for r in reps] == [fs_id]
    dest = reps[0]["Destinations"]
    assert [d["Region"] for d in dest] == [DR_REGION]
    dr = stack.client("efs", region=DR_REGION)
    replica = dr.describe_file_systems(FileSystemId=dest[0]["FileSystemId"])["FileSystems"][0]
    # Encrypted with the role's key of the DR region (a KMS key never leaves its region), read only.
    assert replica["Encrypted"] is True
    assert replica["KmsKeyId"] == stack.client("kms", region=DR_REGION).describe_key(
        KeyId=f"alias/{NAME}-efs")["KeyMetadata"]["Arn"]
    assert replica["FileSystemProtection"] == {"ReplicationOverwriteProtection": "REPLICATING"}
    tags = {t["Key"]: t["Value"] for t in dr.list_tags_for_resource(ResourceId=replica["FileSystemId"])["Tags"]}
    assert (tags["Component"], tags["Name"], tags["Project"], tags["Environment"]) == (
        "efs-replica", f"{NAME}-efs-replica", "shopper", "local")
    assert "Backup" not in tags, "the backup plan selects the source only"
    # One replication, made by the first converge; the second and --check found it in place.
    assert len([f for f in dr.describe_file_systems()["FileSystems"] if f["FileSystemId"] == replica["FileSystemId"]]) == 1
    for run in (stack.second, stack.check):
        assert "Replicate the file system to eu-west-1" in run.stdout, run.explain()


def test_backup_vault_plan_and_selection(stack):
    backup = stack.client("backup")
    vault = backup.describe_backup_vault(BackupVaultName=NAME)
    assert vault["EncryptionKeyArn"] == stack.client("kms").describe_key(KeyId=f"alias/{NAME}-backup")["KeyMetadata"]["Arn"]
    dr = stack.client("backup", region=DR_REGION).describe_backup_vault(BackupVaultName=f"{NAME}-dr")
    assert dr["EncryptionKeyArn"] == stack.client("kms", region=DR_REGION).describe_key(
        KeyId=f"alias/{NAME}-backup")["KeyMetadata"]["Arn"]

    plans = [p for p in backup.list_backup_plans()["BackupPlansList"] if p["BackupPlanName"] == f"{NAME}-daily"]
    assert len(plans) == 1
    plan_id = plans[0]["BackupPlanId"]
    rules = backup.get_backup_plan(BackupPlanId=plan_id)["BackupPlan"]["Rules"]
    assert len(rules) == 1
    rule = rules[0]
    assert rule["TargetBackupVaultName"] == NAME
    assert rule["ScheduleExpression"] == "cron(0 3 ? * * *)"
    assert rule["ScheduleExpressionTimezone"] == "Africa/Johannesburg"
    assert rule["Lifecycle"]["DeleteAfterDays"] == 35
    assert [c["DestinationBackupVaultArn"] for c in rule["CopyActions"]] == [dr["BackupVaultArn"]]
    assert rule["CopyActions"][0]["Lifecycle"]["DeleteAfterDays"] == 35

    selections = backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"]
    assert [s["SelectionName"] for s in selections] == [f"{NAME}-tagged"]
    selection = backup.get_backup_selection(BackupPlanId=plan_id, SelectionId=selections[0]["SelectionId"])["BackupSelection"]
    role = stack.client("iam").get_role(RoleName=f"{NAME}-backup")["Role"]
    assert selection["IamRoleArn"] == role["Arn"]
    attached = stack.client("iam").list_attached_role_policies(RoleName=f"{NAME}-backup")["AttachedPolicies"]
    assert {p["PolicyName"] for p in attached} == {"AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores"}
    assert sorted(selection["Resources"]) == ["arn:aws:elasticfilesystem:*:*:file-system/*", "arn:aws:rds:*:*:db:*"]
    assert selection["Conditions"]["StringEquals"] == [
        {"ConditionKey": "aws:ResourceTag/Backup", "ConditionValue": f"{NAME}-daily"}]


def test_recovery_points_deletable_only_by_the_break_glass_role(stack):
    # The vault's access policy (protea.platform.backup_vault_access_policy); the emulator
    # enforces its Deny on DeleteRecoveryPoint for every caller it applies to, as AWS does.
    import boto3

    backup, iam = stack.client("backup"), stack.client("iam")
    account = stack.client("sts").get_caller_identity()["Account"]
    policy = json.loads(backup.get_backup_vault_access_policy(BackupVaultName=NAME)["Policy"])
    [statement] = policy["Statement"]
    assert (statement["Effect"], statement["Principal"]) == ("Deny", "*")
    assert set(statement["Action"]) == {"backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle"}
    glass = f"arn:aws:iam::{account}:role/{NAME}-break-glass"
    assert statement["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": [glass]}}
    # A backup of the file system, then its deletion: refused to the account's own key (root here),
    # done by a session of the break-glass role (created only now, as an operator would).
    fs = stack.client("efs").describe_file_systems(CreationToken=f"{NAME}-efs")["FileSystems"][0]["FileSystemArn"]
    role = iam.get_role(RoleName=f"{NAME}-backup")["Role"]["Arn"]
    point = backup.start_backup_job(BackupVaultName=NAME, ResourceArn=fs, IamRoleArn=role)["RecoveryPointArn"]
    with pytest.raises(backup.exceptions.ClientError) as denied:
        backup.delete_recovery_point(BackupVaultName=NAME, RecoveryPointArn=point)
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName=f"{NAME}-break-glass", AssumeRolePolicyDocument=json.dumps(trust))
    try:
        iam.put_role_policy(RoleName=f"{NAME}-break-glass", PolicyName="recovery-points", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "backup:DeleteRecoveryPoint", "Resource": "*"}]}))
        creds = stack.client("sts").assume_role(RoleArn=glass, RoleSessionName="incident")["Credentials"]
        boto3.session.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                              aws_session_token=creds["SessionToken"], region_name="af-south-1").client(
            "backup", endpoint_url=stack.emu.endpoint).delete_recovery_point(BackupVaultName=NAME, RecoveryPointArn=point)
    finally:
        iam.delete_role_policy(RoleName=f"{NAME}-break-glass", PolicyName="recovery-points")
        iam.delete_role(RoleName=f"{NAME}-break-glass")
    assert point not in [p["RecoveryPointArn"] for p in backup.list_recovery_points_by_backup_vault(BackupVaultName=NAME)["RecoveryPoints"]]


def test_vault_lock_in_governance_mode_by_default(stack):
    vault = stack.client("backup").describe_backup_vault(BackupVaultName=NAME)
    # Governance: locked, with a minimum retention and no lock date (a lock date means compliance,
    # which becomes immutable on that date).
    assert (vault["Locked"], vault["MinRetentionDays"], vault.get("LockDate")) == (True, 7, None), vault


def test_backup_vault_events_are_left_to_the_alerting_tier(stack):
    """No email-only topic: playbooks/alerting.yml points the vault at the events topic, which mails
    the operators and feeds Slack (tests/provisioning/test_alerting.py checks it)."""
    topics = [t["TopicArn"] for t in stack.client("sns").list_topics()["Topics"]]
    assert not [t for t in topics if t.endswith("-backup-events")]
    backup = stack.client("backup")
    with pytest.raises(backup.exceptions.ResourceNotFoundException):
        backup.get_backup_vault_notifications(BackupVaultName=NAME)


def test_rds_endpoint_exported_by_wait(stack):
    assert flat(f"TASK [protea.platform.rds : Wait until the instance is available]") in flat(stack.first.stdout)
    # The wait is the last step: it comes after the EFS and Backup work, not before.
    out = stack.first.stdout
    assert out.index("Wait until the instance is available") > out.index("Select the tagged file systems")
    assert out.index("Multi-AZ DB instance (started, not waited for)") < out.index("Encrypted file system")


def test_an_environment_from_before_the_credentials_parameter_keeps_its_app_password(stack):
    # Upgrade: the password alone in rds/app-password (earlier versions) seeds rds/app-credentials,
    # so the servers still running the old image keep logging in.
    ssm = stack.client("ssm")
    name = "/shopper/local/rds/app-credentials"
    kept = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    ssm.delete_parameter(Name=name)
    ssm.put_parameter(Name="/shopper/local/rds/app-password", Value="LegacyPassword0123456789abcdefXYZ",
                      Type="SecureString", KeyId=f"alias/{NAME}-parameters")
    try:
        run = run_playbook(DATA, endpoint=stack.emu.endpoint, tags="rds", extra_vars=OPTIONS)
        assert run.rc == 0, run.explain()
        seeded = json.loads(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
        assert seeded == {"username": "shopper_app", "password": "LegacyPassword0123456789abcdefXYZ"}
        assert "LegacyPassword0123456789abcdefXYZ" not in run.stdout
    finally:
        ssm.delete_parameter(Name="/shopper/local/rds/app-password")
        ssm.put_parameter(Name=name, Value=kept, Type="SecureString", KeyId=f"alias/{NAME}-parameters", Overwrite=True)


def test_rds_delete_needs_confirmation(stack):
    run = run_playbook(DATA, endpoint=stack.emu.endpoint, tags="rds",
                       extra_vars={**OPTIONS, "rds_state": "absent"})
    assert run.rc != 0
    assert f"Set rds_confirm_delete={DB} to confirm" in flat(run.stdout), run.explain()
    assert _db(stack)["DBInstanceStatus"] == "available"


# --- preflight: bad data-tier input stops the run before any AWS call -------------------------
FIX = "in inventories/<env>/group_vars/all"
BAD = [
    ("engine_typo", {"rds_engine": "postgress"}, "rds_engine 'postgress' is not supported (did you mean postgres?)"),
    ("version_unknown", {"rds_engine_version": "9.6"}, "rds_engine_version '9.6' is not a postgres version RDS offers"),
    ("mysql_version_for_mariadb", {"rds_engine": "mariadb", "rds_engine_version": "8.0.39"},
     "rds_engine_version '8.0.39' is not a mariadb version RDS offers: set rds_engine_version to a major version RDS offers, "
     "10.5, 10.6, 10.11, 11.4 (e.g. '10.11': RDS picks its default minor), or to a full version of one (e.g. '10.11.9')"),
    ("mysql_major_without_minor", {"rds_engine": "mysql", "rds_engine_version": "8"},
     "rds_engine_version '8' is not a mysql version RDS offers: set rds_engine_version to a major version RDS offers, 8.0, 8.4"),
    ("postgres_major_unknown", {"rds_engine_version": "12"}, "rds_engine_version '12' is not a postgres version RDS offers"),
    ("class_unknown", {"rds_instance_class": "db.x9.large"}, "rds_instance_class 'db.x9.large' is not a class RDS offers"),
    ("class_shape", {"rds_instance_class": "t3.medium"}, "rds_instance_class 't3.medium' is not a class RDS offers"),
    ("retention_zero", {"rds_backup_retention_days": 0}, "rds_backup_retention_days '0' is out of range"),
    ("retention_36", {"rds_backup_retention_days": 36}, "rds_backup_retention_days '36' is out of range: set rds_backup_retention_days to a whole number of days from 1 to 35"),
    ("backup_window_format", {"rds_backup_window": "1am-2am"}, "rds_backup_window '1am-2am' is not a UTC window of at least 30 minutes"),
    ("backup_window_short", {"rds_backup_window": "23:00-23:10"}, "rds_backup_window '23:00-23:10' is not a UTC window of at least 30 minutes"),
    ("maintenance_format", {"rds_maintenance_window": "sunday 02:00"}, "rds_maintenance_window 'sunday 02:00' is not a UTC window"),
    ("windows_overlap", {"rds_maintenance_window": "wed:23:15-wed:23:45"},
     "rds_maintenance_window 'wed:23:15-wed:23:45' overlaps the daily rds_backup_window '23:00-23:30'"),
    ("windows_overlap_across_midnight", {"rds_backup_window": "23:45-00:30", "rds_maintenance_window": "mon:00:00-mon:00:30"},
     "rds_maintenance_window 'mon:00:00-mon:00:30' overlaps the daily rds_backup_window '23:45-00:30'"),
    ("backup_retention_zero", {"backup_retention_days": 0}, "backup_retention_days '0' is out of range"),
    ("copy_region_same", {"backup_copy_region": "af-south-1"}, "backup_copy_region 'af-south-1' is not another known AWS region"),
    ("copy_region_typo", {"backup_copy_region": "eu-west1"}, "backup_copy_region 'eu-west1' is not another known AWS region"),
    ("efs_ia_days", {"efs_transition_to_ia": "45"}, "efs_transition_to_ia '45' is not one of 7, 14, 30, 60, 90, None"),
    ("efs_replica_region", {"efs_replication_region": "eu-west1"}, "efs_replication_region 'eu-west1' is not a known AWS region"),
    ("vault_lock_mode", {"backup_vault_lock_mode": "legal-hold"}, "backup_vault_lock_mode 'legal-hold' is not a Vault Lock mode"),
    ("vault_lock_min_above_retention", {"backup_vault_lock_min_retention_days": 40},
     "backup_vault_lock_min_retention_days '40' does not fit backup_retention_days '35' (the locked vault would refuse every daily backup)"),
    ("vault_lock_compliance_unconfirmed", {"backup_vault_lock_mode": "compliance"},
     "backup_vault_lock_mode compliance cannot be undone once backup_vault_lock_changeable_for_days ('3', at least 3) have passed"),
]


# Through data.yml itself (preflight first, before role stack and rds); every case's message is
# checked on the preflight role in one run, a host per case (tests.helpers.run_preflight_cases).
THROUGH_DATA = ("engine_typo", "windows_overlap")


@pytest.fixture(scope="module")
def bad_runs(emulator) -> tuple[dict[str, PlaybookRun], dict[str, PlaybookRun], int]:
    return bad_input_sweep(emulator, DATA, {case: bad for case, bad, _ in BAD}, THROUGH_DATA)


@pytest.mark.parametrize("case,bad,expect", BAD, ids=[c[0] for c in BAD])
def test_bad_data_input_fails_before_any_aws_call(bad_runs, case, bad, expect):
    runs, role_runs, calls = bad_runs
    assert_refused_before_any_aws_call([role_runs[case]] + ([runs[case]] if case in runs else []), expect, FIX,
                                       "protea.platform.rds")
    assert calls == 0


# --- the MySQL family: the engine's port from the network tier to the instance -----------------
MARIADB = {"protea_environment": "mariadb", "rds_engine": "mariadb", "rds_extra_parameters": {"slow_query_log": 1}}
MARIADB_NAME = "shopper-mariadb"


@dataclass
class MariaDBStack:
    emu: object
    network: PlaybookRun
    first: PlaybookRun
    second: PlaybookRun


@pytest.fixture(scope="module")
def mariadb(emulator) -> MariaDBStack:
    """network (vpc, security_groups) + data (rds) of a second environment with rds_engine=mariadb, twice.

    Another environment in the same emulator: the PostgreSQL stack above stays as it is."""
    network = run_playbook(NETWORK, endpoint=emulator.endpoint, tags="vpc,security_groups", extra_vars=MARIADB)
    assert network.rc == 0, network.explain()
    first = run_playbook(DATA, endpoint=emulator.endpoint, tags="rds", extra_vars=MARIADB)
    assert first.rc == 0, first.explain()
    second = run_playbook(DATA, endpoint=emulator.endpoint, tags="rds", extra_vars=MARIADB)
    return MariaDBStack(emulator, network, first, second)


def _groups(emu, name):
    ec2 = emu.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [name]}])["Vpcs"][0]["VpcId"]
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]
    return {g["GroupName"][len(name) + 1:]: g for g in groups if g["GroupName"].startswith(name + "-")}


def _rules(permissions):
    return {(p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), pair["GroupId"])
            for p in permissions for pair in p.get("UserIdGroupPairs", [])}


def test_mariadb_security_groups_open_3306(mariadb):
    groups = _groups(mariadb.emu, MARIADB_NAME)
    web, bastion, rds = groups["web"]["GroupId"], groups["bastion"]["GroupId"], groups["rds"]["GroupId"]
    assert _rules(groups["rds"]["IpPermissions"]) == {("tcp", 3306, 3306, web), ("tcp", 3306, 3306, bastion)}
    assert ("tcp", 3306, 3306, rds) in _rules(groups["web"]["IpPermissionsEgress"])
    assert ("tcp", 3306, 3306, rds) in _rules(groups["bastion"]["IpPermissionsEgress"])
    assert not any(5432 in (r[1], r[2]) for g in groups.values()
                   for r in _rules(g["IpPermissions"]) | _rules(g["IpPermissionsEgress"]))


def test_mariadb_instance_listens_on_3306(mariadb):
    assert mariadb.second.rc == 0 and mariadb.second.changed == 0, mariadb.second.explain()
    rds = mariadb.emu.client("rds")
    db = rds.describe_db_instances(DBInstanceIdentifier=f"{MARIADB_NAME}-db")["DBInstances"][0]
    assert (db["Engine"], db["Endpoint"]["Port"]) == ("mariadb", 3306)
    assert db["EngineVersion"].startswith("10.11.")  # the major alone: RDS's default minor
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [_groups(mariadb.emu, MARIADB_NAME)["rds"]["GroupId"]]
    assert sorted(db["EnabledCloudwatchLogsExports"]) == ["error", "slowquery"]
    group = f"{MARIADB_NAME}-mariadb10-11"
    assert [g["DBParameterGroupName"] for g in db["DBParameterGroups"]] == [group]
    family = rds.describe_db_parameter_groups(DBParameterGroupName=group)["DBParameterGroups"][0]["DBParameterGroupFamily"]
    assert family == "mariadb10.11"
    params = {p["ParameterName"]: p for p in rds.describe_db_parameters(DBParameterGroupName=group)["Parameters"]}
    assert params["require_secure_transport"]["ParameterValue"] == "1"
    assert (params["slow_query_log"]["ParameterValue"], params["slow_query_log"]["Source"]) == ("1", "user")


def test_rds_delete_keeps_a_final_snapshot_and_the_automated_backups(mariadb):
    # The second environment's database (the last test of this module to use it): confirmed,
    # deleted with a final snapshot, its automated backups retained (amazon.aws.rds_instance
    # state=absent would leave DeleteAutomatedBackups at the API default, true, and drop them).
    rds = mariadb.emu.client("rds")
    db = f"{MARIADB_NAME}-db"
    assert rds.describe_db_snapshots(DBInstanceIdentifier=db, SnapshotType="automated")["DBSnapshots"], "no automated backup to keep"
    run = run_playbook(DATA, endpoint=mariadb.emu.endpoint, tags="rds",
                       extra_vars={**MARIADB, "rds_state": "absent", "rds_confirm_delete": db})
    assert run.rc == 0, run.explain()
    assert not [d for d in rds.describe_db_instances()["DBInstances"] if d["DBInstanceIdentifier"] == db]
    finals = [s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots(DBInstanceIdentifier=db, SnapshotType="manual")["DBSnapshots"]]
    assert len(finals) == 1 and finals[0].startswith(f"{db}-final-"), finals
    retained = rds.describe_db_instance_automated_backups(DBInstanceIdentifier=db)["DBInstanceAutomatedBackups"]
    assert retained, "the automated backups went with the instance"
    again = run_playbook(DATA, endpoint=mariadb.emu.endpoint, tags="rds",
                         extra_vars={**MARIADB, "rds_state": "absent", "rds_confirm_delete": db})
    assert again.rc == 0 and again.changed == 0, again.explain()



# --- destroy.yml: the two partial deploys above, removed (the last tests of this module) -------
# This stack's regions: the platform's, us-east-1, and the backup copy's (set here by the user).
REGIONS = ["af-south-1", "us-east-1", DR_REGION]


def test_destroy_refuses_unless_the_environments_name_is_typed(stack):
    before = stack.emu.call_count()
    # No prompt answer (stdin is not a terminal: the prompt's default, empty), then a wrong name.
    for extra, expect in (({}, "pass -e destroy_confirm=local"),
                          ({"destroy_confirm": "production"}, "pass -e destroy_confirm=local"),
                          ({"destroy_confirm": "local", "destroy_delete_backups": "yes"},
                           "destroy_delete_backups=yes is not the environment's name: pass -e destroy_delete_backups=local")):
        run = destroy(stack.emu, extra, REGIONS)
        assert run.rc != 0, run.explain()
        assert expect in flat(run.stdout), run.explain()
    assert stack.emu.call_count() == before, "an AWS call was made before the confirmation"
    assert _db(stack)["DBInstanceStatus"] == "available"


def test_destroy_check_mode_lists_what_would_go_and_changes_nothing(stack):
    before = environment_resources(stack.emu, "shopper", "local", REGIONS)
    run = destroy(stack.emu, {}, REGIONS, check=True)
    assert run.rc == 0, run.explain()
    report = destroy_report(run)
    assert "shopper-local: would remove in dependency order" in report, report
    assert f"database {DB} (af-south-1)" in report and "file system fs-" in report and "VPC vpc-" in report, report
    assert environment_resources(stack.emu, "shopper", "local", REGIONS) == before


def test_destroy_removes_the_data_tier_and_keeps_what_a_restore_needs(stack):
    """After network + data (no web or edge tier: a partial deploy), everything the environment's
    tags still find is what the report says it kept, and a second destroy changes nothing."""
    backup = stack.client("backup")
    efs_points = len([p for p in backup.list_recovery_points_by_backup_vault(BackupVaultName=NAME)["RecoveryPoints"]
                      if p["ResourceType"] == "EFS"])
    ssm = stack.client("ssm")
    secrets = [ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
               for name in (PASSWORD, "/shopper/local/rds/app-credentials")]
    run = destroy(stack.emu, {"destroy_confirm": "local"}, REGIONS, verbosity=3)
    left = assert_only_the_reported_is_left(stack.emu, "shopper", "local", REGIONS, run)
    # At -vvv (module arguments and results shown): no stored secret in the output.
    assert not [s for s in secrets if s in run.stdout + run.stderr]
    report = destroy_report(run)
    # The database's final snapshot, and the file system's final backup in the vault.
    finals = [i for k, i, _ in left if k == "db snapshot" and i.startswith(f"{DB}-final-")]
    assert len(finals) == 1, sorted(left)
    points = backup.list_recovery_points_by_backup_vault(BackupVaultName=NAME)["RecoveryPoints"]
    assert len([p for p in points if p["ResourceType"] == "EFS"]) == efs_points + 1
    assert f"backup vault {NAME} ({len(points)} recovery points)" in report, report
    assert {i for k, i, _ in left if k == "ssm parameter"} == {PASSWORD}, sorted(left)
    assert not [k for k, _, _ in left if k in ("db instance", "file system", "vpc")]
    # The replication ended before the source went; the replica is kept (data), writable now.
    replicas = [(i, r) for k, i, r in left if k == "efs replica"]
    assert [r for _, r in replicas] == [DR_REGION], sorted(left)
    assert "EFS replication fs-" in report and f"EFS replica {replicas[0][0]} ({DR_REGION})" in report, report
    replica = stack.client("efs", region=DR_REGION).describe_file_systems(FileSystemId=replicas[0][0])["FileSystems"][0]
    assert replica["FileSystemProtection"] == {"ReplicationOverwriteProtection": "ENABLED"}
    again = destroy(stack.emu, {"destroy_confirm": "local"}, REGIONS)
    assert again.rc == 0 and again.changed == 0, again.explain()
    assert "shopper-local: nothing left to remove" in destroy_report(again)
    assert environment_resources(stack.emu, "shopper", "local", REGIONS) == left


def test_destroy_of_a_half_built_environment_deletes_the_backups_when_told_twice(mariadb):
    """The MySQL-family environment has only its network and a deleted database (final snapshot,
    retained automated backups): with destroy_delete_backups those go too, the KMS keys wait out
    KMS's deletion window, and nothing else of the environment is left."""
    emu = mariadb.emu
    before = environment_resources(emu, "shopper", "mariadb", REGIONS)
    kinds = {kind for kind, _, _ in before}
    # The database: deleted above with a final snapshot (or still there when run alone with -k).
    assert "vpc" in kinds and kinds & {"db snapshot", "db instance"}, sorted(before)
    told = {**MARIADB, "destroy_confirm": "mariadb", "destroy_delete_backups": "mariadb"}
    run = destroy(emu, told, REGIONS)
    assert_only_the_reported_is_left(emu, "shopper", "mariadb", REGIONS, run, allowed={"pending deletion"})
    assert "kept nothing" in destroy_report(run)
    again = destroy(emu, told, REGIONS)
    assert again.rc == 0 and again.changed == 0, again.explain()
