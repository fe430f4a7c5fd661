"""Data-tier compat patches (compat/efs.py, backup.py, rds.py).

Each patch: the AWS behaviour through boto3 on the patched server, and moto's own
behaviour on a server started without it (stock_emulator: every patch disabled).
"""
from __future__ import annotations

import json

import botocore.exceptions
from botocore.parsers import ResponseParserError
import pytest

pytestmark = pytest.mark.emulator

ROLE = "arn:aws:iam::123456789012:role/backup"
TOPIC = "arn:aws:sns:af-south-1:123456789012:backup-events"


def _error(call, *args, **kwargs) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(*args, **kwargs)
    return info.value.response["Error"]["Code"]


def _http_status(call, *args, **kwargs) -> int:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(*args, **kwargs)
    return info.value.response["ResponseMetadata"]["HTTPStatusCode"]


# --- EFS -------------------------------------------------------------------------------------
def _fs(emu):
    efs = emu.client("efs")
    return efs, efs.create_file_system(CreationToken="compat-fs", Encrypted=True)["FileSystemId"]


def test_efs_legacy_tags(clean_emulator):
    efs, fs = _fs(clean_emulator)
    efs.create_tags(FileSystemId=fs, Tags=[{"Key": "Backup", "Value": "daily"}, {"Key": "Name", "Value": "n"}])
    assert {t["Key"]: t["Value"] for t in efs.describe_tags(FileSystemId=fs)["Tags"]} == {"Backup": "daily", "Name": "n"}
    # Same store as the resource-tags API.
    assert {t["Key"] for t in efs.list_tags_for_resource(ResourceId=fs)["Tags"]} == {"Backup", "Name"}
    efs.delete_tags(FileSystemId=fs, TagKeys=["Backup"])
    assert [t["Key"] for t in efs.describe_tags(FileSystemId=fs)["Tags"]] == ["Name"]
    assert _error(efs.describe_tags, FileSystemId="fs-00000000") == "FileSystemNotFound"


def test_efs_legacy_tags_without_patch(stock_emulator):
    efs, fs = _fs(stock_emulator)
    assert "efs-legacy-tags" in stock_emulator.info["disabled"]
    assert _http_status(efs.describe_tags, FileSystemId=fs) == 404


def test_efs_update_file_system(clean_emulator):
    efs, fs = _fs(clean_emulator)
    out = efs.update_file_system(FileSystemId=fs, ThroughputMode="provisioned", ProvisionedThroughputInMibps=64)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 202
    got = efs.describe_file_systems(FileSystemId=fs)["FileSystems"][0]
    assert (got["ThroughputMode"], got["ProvisionedThroughputInMibps"]) == ("provisioned", 64)


def test_efs_update_file_system_without_patch(stock_emulator):
    efs, fs = _fs(stock_emulator)
    assert "efs-update-file-system" in stock_emulator.info["disabled"]
    assert _http_status(efs.update_file_system, FileSystemId=fs, ThroughputMode="provisioned",
                        ProvisionedThroughputInMibps=64) >= 400


def test_efs_put_backup_policy(clean_emulator):
    efs, fs = _fs(clean_emulator)
    assert _error(efs.describe_backup_policy, FileSystemId=fs) == "PolicyNotFound"
    assert efs.put_backup_policy(FileSystemId=fs, BackupPolicy={"Status": "ENABLED"})["BackupPolicy"]["Status"] == "ENABLED"
    assert efs.describe_backup_policy(FileSystemId=fs)["BackupPolicy"]["Status"] == "ENABLED"
    efs.put_backup_policy(FileSystemId=fs, BackupPolicy={"Status": "DISABLED"})
    assert efs.describe_backup_policy(FileSystemId=fs)["BackupPolicy"]["Status"] == "DISABLED"


def test_efs_put_backup_policy_without_patch(stock_emulator):
    efs, fs = _fs(stock_emulator)
    assert "efs-put-backup-policy" in stock_emulator.info["disabled"]
    assert _http_status(efs.put_backup_policy, FileSystemId=fs, BackupPolicy={"Status": "ENABLED"}) >= 400


def test_efs_replication(clean_emulator):
    import time

    efs, fs = _fs(clean_emulator)
    dr = clean_emulator.client("efs", region="eu-west-1")
    key = clean_emulator.client("kms", region="eu-west-1").create_key()["KeyMetadata"]["Arn"]
    assert _error(efs.describe_replication_configurations, FileSystemId=fs) == "ReplicationNotFound"
    out = efs.create_replication_configuration(SourceFileSystemId=fs, Destinations=[{"Region": "eu-west-1", "KmsKeyId": key}])
    dest = out["Destinations"][0]
    assert (out["SourceFileSystemId"], dest["Region"], dest["Status"]) == (fs, "eu-west-1", "ENABLING")
    replica = dr.describe_file_systems(FileSystemId=dest["FileSystemId"])["FileSystems"][0]
    assert (replica["Encrypted"], replica["KmsKeyId"]) == (True, key)
    assert replica["FileSystemProtection"] == {"ReplicationOverwriteProtection": "REPLICATING"}
    # One configuration per file system, source or destination.
    assert _error(efs.create_replication_configuration, SourceFileSystemId=fs,
                  Destinations=[{"Region": "af-south-1"}]) == "ValidationException"
    assert _error(dr.create_replication_configuration, SourceFileSystemId=dest["FileSystemId"],
                  Destinations=[{"Region": "af-south-1"}]) == "ValidationException"
    assert _error(efs.delete_file_system, FileSystemId=fs) == "FileSystemInUse"
    time.sleep(1.1)
    for client, ident in ((efs, fs), (dr, dest["FileSystemId"])):  # from either Region
        got = client.describe_replication_configurations(FileSystemId=ident)["Replications"]
        assert [(r["SourceFileSystemId"], r["Destinations"][0]["Status"]) for r in got] == [(fs, "ENABLED")]
        assert got[0]["Destinations"][0]["LastReplicatedTimestamp"]
    assert _error(efs.describe_replication_configurations, FileSystemId="fs-00000000") == "FileSystemNotFound"
    efs.delete_replication_configuration(SourceFileSystemId=fs)
    assert _error(efs.describe_replication_configurations, FileSystemId=fs) == "ReplicationNotFound"
    assert _error(efs.delete_replication_configuration, SourceFileSystemId=fs) == "ReplicationNotFound"
    replica = dr.describe_file_systems(FileSystemId=dest["FileSystemId"])["FileSystems"][0]
    assert replica["FileSystemProtection"] == {"ReplicationOverwriteProtection": "ENABLED"}  # writable again
    efs.delete_file_system(FileSystemId=fs)


def test_efs_replication_without_patch(stock_emulator):
    efs, fs = _fs(stock_emulator)
    assert "efs-replication" in stock_emulator.info["disabled"]
    assert _http_status(efs.create_replication_configuration, SourceFileSystemId=fs,
                        Destinations=[{"Region": "eu-west-1"}]) >= 400


# --- AWS Backup ------------------------------------------------------------------------------
def test_backup_vault_missing_is_access_denied(clean_emulator):
    backup = clean_emulator.client("backup")
    assert _error(backup.describe_backup_vault, BackupVaultName="nope") == "AccessDeniedException"
    backup.create_backup_vault(BackupVaultName="v")
    assert backup.describe_backup_vault(BackupVaultName="v")["BackupVaultName"] == "v"


def test_backup_vault_missing_without_patch(stock_emulator):
    assert "backup-vault-access-denied" in stock_emulator.info["disabled"]
    backup = stock_emulator.client("backup")
    assert _error(backup.describe_backup_vault, BackupVaultName="nope") == "ResourceNotFoundException"


def test_backup_vault_notifications(clean_emulator):
    backup = clean_emulator.client("backup")
    backup.create_backup_vault(BackupVaultName="v")
    assert _error(backup.get_backup_vault_notifications, BackupVaultName="v") == "ResourceNotFoundException"
    backup.put_backup_vault_notifications(
        BackupVaultName="v", SNSTopicArn=TOPIC, BackupVaultEvents=["BACKUP_JOB_COMPLETED", "RESTORE_JOB_COMPLETED"]
    )
    got = backup.get_backup_vault_notifications(BackupVaultName="v")
    assert (got["SNSTopicArn"], sorted(got["BackupVaultEvents"])) == (TOPIC, ["BACKUP_JOB_COMPLETED", "RESTORE_JOB_COMPLETED"])
    assert got["BackupVaultArn"].endswith(":backup-vault:v")
    assert _error(backup.put_backup_vault_notifications, BackupVaultName="v", SNSTopicArn=TOPIC,
                  BackupVaultEvents=["NOT_AN_EVENT"]) == "InvalidParameterValueException"
    backup.delete_backup_vault_notifications(BackupVaultName="v")
    assert _error(backup.get_backup_vault_notifications, BackupVaultName="v") == "ResourceNotFoundException"


def test_backup_vault_notifications_without_patch(stock_emulator):
    assert "backup-vault-notifications" in stock_emulator.info["disabled"]
    backup = stock_emulator.client("backup")
    backup.create_backup_vault(BackupVaultName="v")
    assert _http_status(backup.put_backup_vault_notifications, BackupVaultName="v", SNSTopicArn=TOPIC,
                        BackupVaultEvents=["BACKUP_JOB_COMPLETED"]) == 404


def _job_setup(emu):
    """A vault that notifies a topic, an SQS queue subscribed to it (to read what SNS delivers),
    and the role AWS Backup assumes."""
    iam, sns, sqs, backup = (emu.client(s) for s in ("iam", "sns", "sqs", "backup"))
    role = iam.create_role(RoleName="backup", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    topic = sns.create_topic(Name="backup-events")["TopicArn"]
    queue = sqs.create_queue(QueueName="backup-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    backup.create_backup_vault(BackupVaultName="v")
    return backup, sqs, queue, role, topic


def test_backup_jobs_notify_the_vaults_topic(clean_emulator):
    backup, sqs, queue, role, topic = _job_setup(clean_emulator)
    backup.put_backup_vault_notifications(BackupVaultName="v", SNSTopicArn=topic,
                                          BackupVaultEvents=["BACKUP_JOB_COMPLETED"])
    resource = "arn:aws:elasticfilesystem:af-south-1:123456789012:file-system/fs-0123456789abcdef0"
    job = backup.start_backup_job(BackupVaultName="v", ResourceArn=resource, IamRoleArn=role)
    got = backup.describe_backup_job(BackupJobId=job["BackupJobId"])
    assert (got["State"], got["ResourceArn"], got["RecoveryPointArn"]) == ("COMPLETED", resource, job["RecoveryPointArn"])
    # AWS Backup's own name of the type (DescribeBackupJob: "EFS"), on the job and its recovery point.
    assert got["ResourceType"] == "EFS"
    assert [p["ResourceType"] for p in backup.list_recovery_points_by_backup_vault(BackupVaultName="v")["RecoveryPoints"]] == ["EFS"]
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
    bodies = [json.loads(m["Body"]) for m in messages]
    # Only the event type the vault asked for (COMPLETED, not STARTED).
    assert len(bodies) == 1, bodies
    assert job["BackupJobId"] in bodies[0]["Message"] and resource in bodies[0]["Message"]
    attrs = {k: v["Value"] for k, v in bodies[0]["MessageAttributes"].items()}
    assert (attrs["EventType"], attrs["State"], attrs["Id"]) == ("BACKUP_JOB", "COMPLETED", job["BackupJobId"])
    assert _error(backup.start_backup_job, BackupVaultName="v", ResourceArn=resource,
                  IamRoleArn="arn:aws:iam::123456789012:role/missing") == "InvalidParameterValueException"
    assert _error(backup.describe_backup_job, BackupJobId="NOPE") == "ResourceNotFoundException"


def test_backup_jobs_outside_the_vault_locks_retention_fail(clean_emulator):
    backup, sqs, queue, role, topic = _job_setup(clean_emulator)
    backup.put_backup_vault_notifications(BackupVaultName="v", SNSTopicArn=topic,
                                          BackupVaultEvents=["BACKUP_JOB_COMPLETED"])
    backup.put_backup_vault_lock_configuration(BackupVaultName="v", MinRetentionDays=7, MaxRetentionDays=35)
    resource = "arn:aws:elasticfilesystem:af-south-1:123456789012:file-system/fs-0123456789abcdef0"

    def state(**lifecycle):
        job = backup.start_backup_job(BackupVaultName="v", ResourceArn=resource, IamRoleArn=role, **lifecycle)
        return backup.describe_backup_job(BackupJobId=job["BackupJobId"])["State"]

    # Shorter than the minimum, longer than the maximum, or kept for ever under a maximum: the job fails.
    assert [state(Lifecycle={"DeleteAfterDays": 3}), state(Lifecycle={"DeleteAfterDays": 40}), state()] == ["FAILED"] * 3
    assert backup.list_recovery_points_by_backup_vault(BackupVaultName="v")["RecoveryPoints"] == []
    assert state(Lifecycle={"DeleteAfterDays": 7}) == "COMPLETED"
    assert len(backup.list_recovery_points_by_backup_vault(BackupVaultName="v")["RecoveryPoints"]) == 1
    bodies = [json.loads(m["Body"]) for m in
              sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])]
    assert sorted(b["MessageAttributes"]["State"]["Value"] for b in bodies) == ["COMPLETED"] + ["FAILED"] * 3


def test_backup_jobs_without_patch(stock_emulator):
    assert "backup-jobs" in stock_emulator.info["disabled"]
    backup = stock_emulator.client("backup")
    backup.create_backup_vault(BackupVaultName="v")
    assert _http_status(backup.start_backup_job, BackupVaultName="v", IamRoleArn=ROLE,
                        ResourceArn="arn:aws:elasticfilesystem:af-south-1:123456789012:file-system/fs-1") == 404


def test_restore_jobs_restore_an_efs_recovery_point(clean_emulator):
    backup, sqs, queue, role, topic = _job_setup(clean_emulator)
    backup.put_backup_vault_notifications(BackupVaultName="v", SNSTopicArn=topic,
                                          BackupVaultEvents=["RESTORE_JOB_STARTED", "RESTORE_JOB_COMPLETED"])
    efs = clean_emulator.client("efs")
    fs = efs.create_file_system(CreationToken="source", Encrypted=False)
    point = backup.start_backup_job(BackupVaultName="v", ResourceArn=fs["FileSystemArn"], IamRoleArn=role,
                                    IdempotencyToken="drill-1")["RecoveryPointArn"]
    # A retried StartBackupJob with the same token is the same job (no second recovery point).
    again = backup.start_backup_job(BackupVaultName="v", ResourceArn=fs["FileSystemArn"], IamRoleArn=role,
                                    IdempotencyToken="drill-1")["RecoveryPointArn"]
    assert again == point
    assert len(backup.list_recovery_points_by_backup_vault(BackupVaultName="v")["RecoveryPoints"]) == 1
    # Item-level restore into the source file system: no new file system.
    meta = {"file-system-id": fs["FileSystemId"], "newFileSystem": "false", "Encrypted": "false",
            "PerformanceMode": "generalPurpose", "CreationToken": "drill", "ItemsToRestore": '["/d/canary"]'}
    job = backup.start_restore_job(RecoveryPointArn=point, IamRoleArn=role, Metadata=meta, IdempotencyToken="r-1")
    assert backup.start_restore_job(RecoveryPointArn=point, IamRoleArn=role, Metadata=meta,
                                    IdempotencyToken="r-1")["RestoreJobId"] == job["RestoreJobId"]
    got = backup.describe_restore_job(RestoreJobId=job["RestoreJobId"])
    assert (got["Status"], got["RecoveryPointArn"], got["CreatedResourceArn"], got["ResourceType"]) == \
        ("COMPLETED", point, fs["FileSystemArn"], "EFS")
    assert len(efs.describe_file_systems()["FileSystems"]) == 1
    # A full restore into a new file system creates one.
    new = backup.start_restore_job(RecoveryPointArn=point, IamRoleArn=role,
                                   Metadata={"file-system-id": fs["FileSystemId"], "newFileSystem": "true",
                                             "CreationToken": "restored", "Encrypted": "false"})
    created = backup.describe_restore_job(RestoreJobId=new["RestoreJobId"])["CreatedResourceArn"]
    assert created != fs["FileSystemArn"]
    assert {f["FileSystemArn"] for f in efs.describe_file_systems()["FileSystems"]} == {fs["FileSystemArn"], created}
    # The vault's topic hears both events of both restores.
    bodies = [json.loads(m["Body"]) for m in
              sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])]
    states = sorted((b["MessageAttributes"]["EventType"]["Value"], b["MessageAttributes"]["State"]["Value"]) for b in bodies)
    assert states == [("RESTORE_JOB", "COMPLETED")] * 2 + [("RESTORE_JOB", "CREATED")] * 2, states
    # What AWS refuses.
    assert _error(backup.start_restore_job, RecoveryPointArn=point + "0", IamRoleArn=role,
                  Metadata=meta) == "ResourceNotFoundException"
    assert _error(backup.start_restore_job, RecoveryPointArn=point, IamRoleArn=role + "-missing",
                  Metadata=meta) == "InvalidParameterValueException"
    assert _error(backup.start_restore_job, RecoveryPointArn=point, IamRoleArn=role,
                  Metadata=meta | {"ItemsToRestore": '["relative"]'}) == "InvalidParameterValueException"
    assert _error(backup.describe_restore_job, RestoreJobId="NOPE") == "ResourceNotFoundException"


def test_restore_jobs_without_patch(stock_emulator):
    assert "backup-restore-jobs" in stock_emulator.info["disabled"]
    backup = stock_emulator.client("backup")
    assert _http_status(backup.start_restore_job, IamRoleArn=ROLE, Metadata={"newFileSystem": "false"},
                        RecoveryPointArn="arn:aws:backup:af-south-1:123456789012:recovery-point:X") == 404


def _session_client(emu, creds: dict):
    import boto3

    return boto3.session.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                                 aws_session_token=creds.get("SessionToken"), region_name="af-south-1").client(
        "backup", endpoint_url=emu.endpoint)


def test_vault_policy_denies_recovery_point_deletion_to_all_but_the_break_glass_role(clean_emulator):
    emu = clean_emulator
    backup, _sqs, _queue, role, _topic = _job_setup(emu)
    iam, sts = emu.client("iam"), emu.client("sts")
    everything = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "backup:*", "Resource": "*"}]})
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]})
    glass = iam.create_role(RoleName="break-glass", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(RoleName="break-glass", PolicyName="backup", PolicyDocument=everything)
    iam.create_user(UserName="admin")
    iam.put_user_policy(UserName="admin", PolicyName="backup", PolicyDocument=everything)
    admin = _session_client(emu, iam.create_access_key(UserName="admin")["AccessKey"])
    resource = "arn:aws:elasticfilesystem:af-south-1:123456789012:file-system/fs-0123456789abcdef0"
    points = [backup.start_backup_job(BackupVaultName="v", ResourceArn=resource, IamRoleArn=role)["RecoveryPointArn"]
              for _ in range(3)]
    listed = backup.list_recovery_points_by_backup_vault(BackupVaultName="v")["RecoveryPoints"]
    assert [p["RecoveryPointArn"] for p in listed] == points and listed[0]["ResourceArn"] == resource
    # No policy: whoever may call DeleteRecoveryPoint deletes.
    assert _error(backup.get_backup_vault_access_policy, BackupVaultName="v") == "ResourceNotFoundException"
    admin.delete_recovery_point(BackupVaultName="v", RecoveryPointArn=points[0])
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": ["backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle"],
        "Resource": "*", "Condition": {"ArnNotLike": {"aws:PrincipalArn": [glass]}}}]})
    backup.put_backup_vault_access_policy(BackupVaultName="v", Policy=policy)
    assert json.loads(backup.get_backup_vault_access_policy(BackupVaultName="v")["Policy"]) == json.loads(policy)
    # The admin's backup:* and the account's own key: denied by the vault policy.
    assert _error(admin.delete_recovery_point, BackupVaultName="v", RecoveryPointArn=points[1]) == "AccessDeniedException"
    assert _error(backup.delete_recovery_point, BackupVaultName="v", RecoveryPointArn=points[1]) == "AccessDeniedException"
    # The break-glass role's session deletes.
    creds = sts.assume_role(RoleArn=glass, RoleSessionName="incident")["Credentials"]
    _session_client(emu, creds).delete_recovery_point(BackupVaultName="v", RecoveryPointArn=points[1])
    left = backup.list_recovery_points_by_backup_vault(BackupVaultName="v")["RecoveryPoints"]
    assert [p["RecoveryPointArn"] for p in left] == [points[2]]
    assert _error(backup.put_backup_vault_access_policy, BackupVaultName="v", Policy="not json") == "InvalidParameterValueException"
    backup.delete_backup_vault_access_policy(BackupVaultName="v")
    backup.delete_recovery_point(BackupVaultName="v", RecoveryPointArn=points[2])


def test_vault_policy_and_recovery_points_without_patch(stock_emulator):
    assert "backup-vault-access-policy-and-recovery-points" in stock_emulator.info["disabled"]
    backup = stock_emulator.client("backup")
    backup.create_backup_vault(BackupVaultName="v")
    assert _http_status(backup.put_backup_vault_access_policy, BackupVaultName="v", Policy="{}") == 404


def _plan(backup):
    backup.create_backup_vault(BackupVaultName="v")
    return backup.create_backup_plan(
        BackupPlan={"BackupPlanName": "p", "Rules": [{"RuleName": "r", "TargetBackupVaultName": "v"}]}
    )["BackupPlanId"]


def test_backup_selections(clean_emulator):
    backup = clean_emulator.client("backup")
    plan = _plan(backup)
    tag = {"ConditionKey": "aws:ResourceTag/Backup", "ConditionValue": "daily"}
    sel = backup.create_backup_selection(
        BackupPlanId=plan,
        BackupSelection={"SelectionName": "s", "IamRoleArn": ROLE, "Resources": ["arn:aws:elasticfilesystem:*:*:file-system/*"],
                         "Conditions": {"StringEquals": [tag]}},
    )["SelectionId"]
    assert [(s["SelectionName"], s["IamRoleArn"]) for s in backup.list_backup_selections(BackupPlanId=plan)["BackupSelectionsList"]] == [("s", ROLE)]
    got = backup.get_backup_selection(BackupPlanId=plan, SelectionId=sel)["BackupSelection"]
    assert got["Conditions"] == {"StringEquals": [tag], "StringLike": [], "StringNotEquals": [], "StringNotLike": []}
    assert _error(backup.delete_backup_plan, BackupPlanId=plan) == "InvalidRequestException"
    backup.delete_backup_selection(BackupPlanId=plan, SelectionId=sel)
    assert backup.list_backup_selections(BackupPlanId=plan)["BackupSelectionsList"] == []
    assert _error(backup.get_backup_selection, BackupPlanId=plan, SelectionId=sel) == "ResourceNotFoundException"
    backup.delete_backup_plan(BackupPlanId=plan)


def test_backup_selections_without_patch(stock_emulator):
    assert "backup-selections" in stock_emulator.info["disabled"]
    backup = stock_emulator.client("backup")
    plan = _plan(backup)
    assert _http_status(backup.create_backup_selection, BackupPlanId=plan,
                        BackupSelection={"SelectionName": "s", "IamRoleArn": ROLE, "Resources": ["*"]}) >= 400


# --- RDS -------------------------------------------------------------------------------------
def test_rds_parameter_group_not_found(clean_emulator):
    rds = clean_emulator.client("rds")
    assert _error(rds.describe_db_parameter_groups, DBParameterGroupName="nope") == "DBParameterGroupNotFound"


def test_rds_parameter_group_not_found_without_patch(stock_emulator):
    assert "rds-parameter-group-not-found" in stock_emulator.info["disabled"]
    rds = stock_emulator.client("rds")
    assert rds.describe_db_parameter_groups(DBParameterGroupName="nope")["DBParameterGroups"] == []


def _params(rds, name, family):
    rds.create_db_parameter_group(DBParameterGroupName=name, DBParameterGroupFamily=family, Description="d")
    return {p["ParameterName"]: p for p in rds.describe_db_parameters(DBParameterGroupName=name)["Parameters"]}


def test_rds_engine_default_parameters(clean_emulator):
    rds = clean_emulator.client("rds")
    pg16 = _params(rds, "pg16", "postgres16")["rds.force_ssl"]
    assert (pg16["Source"], pg16["DataType"], pg16["IsModifiable"], pg16["ParameterValue"]) == ("engine-default", "boolean", True, "1")
    assert _params(rds, "pg14", "postgres14")["rds.force_ssl"]["ParameterValue"] == "0"
    mysql = _params(rds, "my80", "mysql8.0")["require_secure_transport"]
    assert mysql["Source"] == "engine-default" and "ParameterValue" not in mysql
    rds.modify_db_parameter_group(
        DBParameterGroupName="my80",
        Parameters=[{"ParameterName": "require_secure_transport", "ParameterValue": "1", "ApplyMethod": "immediate"}],
    )
    after = {p["ParameterName"]: p for p in rds.describe_db_parameters(DBParameterGroupName="my80")["Parameters"]}
    assert {k: after["require_secure_transport"][k] for k in ("ParameterValue", "Source", "DataType", "IsModifiable")} == {
        "ParameterValue": "1", "Source": "user", "DataType": "boolean", "IsModifiable": True}


def test_rds_static_parameter_only_on_reboot(clean_emulator):
    rds = clean_emulator.client("rds")
    assert _params(rds, "pg16", "postgres16")["shared_preload_libraries"]["ApplyType"] == "static"
    change = {"ParameterName": "shared_preload_libraries", "ParameterValue": "pg_stat_statements"}
    assert _error(rds.modify_db_parameter_group, DBParameterGroupName="pg16",
                  Parameters=[{**change, "ApplyMethod": "immediate"}]) == "InvalidParameterCombination"
    rds.modify_db_parameter_group(DBParameterGroupName="pg16", Parameters=[{**change, "ApplyMethod": "pending-reboot"}])
    after = {p["ParameterName"]: p for p in rds.describe_db_parameters(DBParameterGroupName="pg16")["Parameters"]}
    assert after["shared_preload_libraries"]["ParameterValue"] == "pg_stat_statements"


def _set(rds, group, **values):
    rds.modify_db_parameter_group(DBParameterGroupName=group, Parameters=[
        {"ParameterName": k, "ParameterValue": v, "ApplyMethod": "immediate"} for k, v in values.items()])
    return {p["ParameterName"]: p for p in rds.describe_db_parameters(DBParameterGroupName=group)["Parameters"]}


def test_rds_engine_default_parameters_any_engine_parameter(clean_emulator):
    # Any real engine parameter, not only the TLS ones; unknown names refused as AWS refuses them.
    rds = clean_emulator.client("rds")
    pg = _params(rds, "pg16", "postgres16")
    assert len(pg) > 250
    assert (pg["log_min_duration_statement"]["DataType"], pg["log_min_duration_statement"]["ApplyType"]) == ("integer", "dynamic")
    assert pg["shared_preload_libraries"]["ApplyType"] == "static"
    after = _set(rds, "pg16", log_min_duration_statement="500")
    assert (after["log_min_duration_statement"]["ParameterValue"], after["log_min_duration_statement"]["Source"]) == ("500", "user")
    my = _params(rds, "maria", "mariadb10.11")
    assert my["max_connections"]["DataType"] == "integer" and my["slow_query_log"]["DataType"] == "boolean"
    after = _set(rds, "maria", max_connections="200", slow_query_log="1")
    assert (after["max_connections"]["ParameterValue"], after["slow_query_log"]["ParameterValue"]) == ("200", "1")
    assert "max_connections" in _params(rds, "my80b", "mysql8.0")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        _set(rds, "pg16", log_min_duration_statement="100", log_min_duration_statment="100")
    err = info.value.response["Error"]
    assert (err["Code"], err["Message"]) == ("InvalidParameterValue", "Could not find parameter with name: log_min_duration_statment")
    # The whole request is refused: the valid half was not applied either.
    assert _set(rds, "pg16")["log_min_duration_statement"]["ParameterValue"] == "500"


def test_rds_engine_default_parameters_without_patch(stock_emulator):
    assert "rds-engine-default-parameters" in stock_emulator.info["disabled"]
    rds = stock_emulator.client("rds")
    assert _params(rds, "pg16", "postgres16") == {}
    # moto takes any name, real or not.
    assert "log_min_duration_statment" in _set(rds, "pg16", log_min_duration_statment="100")


def _db_version(rds, ident, engine, version):
    return rds.create_db_instance(
        DBInstanceIdentifier=ident, Engine=engine, EngineVersion=version, DBInstanceClass="db.t3.medium",
        AllocatedStorage=20, MasterUsername="u", MasterUserPassword="p" * 20)["DBInstance"]["EngineVersion"]


def test_rds_engine_version_default_minor(clean_emulator):
    rds = clean_emulator.client("rds")
    pg = _db_version(rds, "pg", "postgres", "16")
    assert pg.startswith("16.") and pg != "16"
    assert _db_version(rds, "maria", "mariadb", "10.11").startswith("10.11.")
    assert _db_version(rds, "my", "mysql", "8.0").startswith("8.0.")
    assert _db_version(rds, "full", "postgres", "16.4") == "16.4"  # a full version is kept as asked
    assert _error(_db_version, rds, "old", "postgres", "9") == "InvalidParameterCombination"
    # ModifyDBInstance with the major alone: the current minor stays when it is not lower than the default.
    rds.modify_db_instance(DBInstanceIdentifier="pg", EngineVersion="16", ApplyImmediately=True)
    assert rds.describe_db_instances(DBInstanceIdentifier="pg")["DBInstances"][0]["EngineVersion"] == pg


def test_rds_engine_version_default_minor_without_patch(stock_emulator):
    assert "rds-engine-version-default-minor" in stock_emulator.info["disabled"]
    assert _db_version(stock_emulator.client("rds"), "pg", "postgres", "16") == "16"


def _gp3(rds, **extra):
    return rds.create_db_instance(
        DBInstanceIdentifier="gp3", Engine="postgres", EngineVersion="16.4", DBInstanceClass="db.t3.medium",
        AllocatedStorage=20, StorageType="gp3", MasterUsername="u", MasterUserPassword="p" * 20, **extra
    )["DBInstance"]


def test_rds_gp3_storage_throughput(clean_emulator):
    rds = clean_emulator.client("rds")
    _gp3(rds)
    got = rds.describe_db_instances(DBInstanceIdentifier="gp3")["DBInstances"][0]
    assert (got["StorageThroughput"], got["Iops"]) == (125, 3000)


def test_rds_gp3_storage_throughput_without_patch(stock_emulator):
    assert "rds-gp3-storage-throughput" in stock_emulator.info["disabled"]
    rds = stock_emulator.client("rds")
    _gp3(rds)
    assert "StorageThroughput" not in rds.describe_db_instances(DBInstanceIdentifier="gp3")["DBInstances"][0]


def test_rds_performance_insights(clean_emulator):
    rds = clean_emulator.client("rds")
    _gp3(rds, StorageEncrypted=True, KmsKeyId="arn:aws:kms:af-south-1:123456789012:key/k1", EnablePerformanceInsights=True)
    got = rds.describe_db_instances(DBInstanceIdentifier="gp3")["DBInstances"][0]
    assert (got["PerformanceInsightsEnabled"], got["PerformanceInsightsRetentionPeriod"]) == (True, 7)
    assert got["PerformanceInsightsKMSKeyId"] == "arn:aws:kms:af-south-1:123456789012:key/k1"
    rds.modify_db_instance(DBInstanceIdentifier="gp3", EnablePerformanceInsights=False, ApplyImmediately=True)
    got = rds.describe_db_instances(DBInstanceIdentifier="gp3")["DBInstances"][0]
    assert got["PerformanceInsightsEnabled"] is False and "PerformanceInsightsKMSKeyId" not in got


def test_rds_performance_insights_without_patch(stock_emulator):
    assert "rds-performance-insights" in stock_emulator.info["disabled"]
    rds = stock_emulator.client("rds")
    _gp3(rds, EnablePerformanceInsights=True)
    assert "PerformanceInsightsEnabled" not in rds.describe_db_instances(DBInstanceIdentifier="gp3")["DBInstances"][0]


def _multi_az(emu, name: str, multi_az: bool) -> dict:
    ec2, rds = emu.client("ec2"), emu.client("rds")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"af-south-1{z}")["Subnet"]["SubnetId"]
               for i, z in enumerate("ab")]
    rds.create_db_subnet_group(DBSubnetGroupName=f"{name}-subnets", DBSubnetGroupDescription="x", SubnetIds=subnets)
    rds.create_db_instance(DBInstanceIdentifier=name, Engine="postgres", DBInstanceClass="db.t3.micro", MultiAZ=multi_az,
                           DBSubnetGroupName=f"{name}-subnets", AvailabilityZone="af-south-1a",
                           MasterUsername="master", MasterUserPassword="p" * 24, AllocatedStorage=20)
    return rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]


def test_rds_secondary_availability_zone(clean_emulator):
    multi = _multi_az(clean_emulator, "multi", True)
    assert (multi["AvailabilityZone"], multi["SecondaryAvailabilityZone"]) == ("af-south-1a", "af-south-1b")
    assert "SecondaryAvailabilityZone" not in _multi_az(clean_emulator, "single", False)


def test_rds_secondary_availability_zone_without_patch(stock_emulator):
    assert "rds-secondary-availability-zone" in stock_emulator.info["disabled"]
    assert "SecondaryAvailabilityZone" not in _multi_az(stock_emulator, "multi", True)


# --- RDS automated backups ---------------------------------------------------------------------
def _two_databases(emu):
    rds = emu.client("rds")
    for name in ("keep-a", "keep-b"):
        rds.create_db_instance(DBInstanceIdentifier=name, Engine="postgres", DBInstanceClass="db.t3.micro",
                               MasterUsername="master", MasterUserPassword="p" * 24, AllocatedStorage=20,
                               BackupRetentionPeriod=7)
    return rds


def test_rds_retained_automated_backups_are_told_apart_and_deleted(clean_emulator):
    rds = _two_databases(clean_emulator)
    ids = {d["DBInstanceIdentifier"]: d["DbiResourceId"] for d in rds.describe_db_instances()["DBInstances"]}
    assert len(set(ids.values())) == 2, ids  # each instance its own resource id
    rds.delete_db_instance(DBInstanceIdentifier="keep-a", SkipFinalSnapshot=True, DeleteAutomatedBackups=False)
    listed = {b["DBInstanceIdentifier"]: b for b in rds.describe_db_instance_automated_backups()["DBInstanceAutomatedBackups"]}
    assert (listed["keep-a"]["Status"], listed["keep-a"]["DbiResourceId"]) == ("retained", ids["keep-a"])
    assert listed["keep-b"]["Status"] == "active"
    # The live instance's backups cannot be deleted; the retained ones can, by resource id, once.
    assert _error(rds.delete_db_instance_automated_backup, DbiResourceId=ids["keep-b"]) == \
        "InvalidDBInstanceAutomatedBackupState"
    rds.delete_db_instance_automated_backup(DbiResourceId=ids["keep-a"])
    assert [b["DBInstanceIdentifier"] for b in rds.describe_db_instance_automated_backups()["DBInstanceAutomatedBackups"]] == ["keep-b"]
    assert _error(rds.delete_db_instance_automated_backup, DbiResourceId=ids["keep-a"]).startswith(
        "DBInstanceAutomatedBackupNotFound")


def test_rds_automated_backups_without_patch(stock_emulator):
    assert "rds-automated-backups" in stock_emulator.info["disabled"]
    rds = _two_databases(stock_emulator)
    ids = [d["DbiResourceId"] for d in rds.describe_db_instances()["DBInstances"]]
    assert ids[0] == ids[1]  # moto: one resource id for every instance
    rds.delete_db_instance(DBInstanceIdentifier="keep-a", SkipFinalSnapshot=True, DeleteAutomatedBackups=False)
    # moto has no DeleteDBInstanceAutomatedBackup: an HTML 500 that botocore cannot parse.
    with pytest.raises(ResponseParserError, match="500 Internal Server Error"):
        rds.delete_db_instance_automated_backup(DbiResourceId=ids[0])


def _restored(emu, **flags):
    rds = emu.client("rds")
    rds.create_db_instance(DBInstanceIdentifier="src", Engine="postgres", DBInstanceClass="db.t4g.micro",
                           MasterUsername="m", MasterUserPassword="secret-password-1", AllocatedStorage=20,
                           MultiAZ=True, DeletionProtection=True)
    rds.create_db_snapshot(DBInstanceIdentifier="src", DBSnapshotIdentifier="snap")
    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="copy", DBSnapshotIdentifier="snap", **flags)
    return rds.describe_db_instances(DBInstanceIdentifier="copy")["DBInstances"][0]


def test_rds_restore_false_flags(clean_emulator):
    got = _restored(clean_emulator, DeletionProtection=False, MultiAZ=False, PubliclyAccessible=False)
    assert (got["DeletionProtection"], got["MultiAZ"], got["PubliclyAccessible"]) == (False, False, False)
    clean_emulator.client("rds").delete_db_instance(DBInstanceIdentifier="copy", SkipFinalSnapshot=True)


def test_rds_restore_false_flags_without_patch(emulator_factory):
    emu = emulator_factory(disable=["rds-restore-false-flags"])
    emu.reset()
    got = _restored(emu, DeletionProtection=False, MultiAZ=False)
    assert (got["DeletionProtection"], got["MultiAZ"]) == (True, True)
