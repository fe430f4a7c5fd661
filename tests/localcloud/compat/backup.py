"""AWS Backup: vault lookups, vault notifications and backup selections as AWS serves them."""
from __future__ import annotations

import json
from urllib.parse import unquote

from . import Patch

_JSON = {"Content-Type": "application/json"}
# Set by compat/instances.py (instance mode, patch instances-backup-data): what a recovery point of
# a file system holds and what a restore writes, kept in the podman volumes that stand for EFS.
DATA_HOOKS: dict = {"efs_backup": None, "efs_restore": None}
_NOTIFICATIONS = "{0}/backup-vaults/(?P<name>[^/]+)/notification-configuration$"
# Every event type PutBackupVaultNotifications accepts (API reference, BackupVaultEvents).
_EVENTS = {
    "BACKUP_JOB_STARTED", "BACKUP_JOB_COMPLETED", "BACKUP_JOB_SUCCESSFUL", "BACKUP_JOB_FAILED",
    "BACKUP_JOB_EXPIRED", "RESTORE_JOB_STARTED", "RESTORE_JOB_COMPLETED", "RESTORE_JOB_SUCCESSFUL",
    "RESTORE_JOB_FAILED", "COPY_JOB_STARTED", "COPY_JOB_SUCCESSFUL", "COPY_JOB_FAILED",
    "RECOVERY_POINT_MODIFIED", "BACKUP_PLAN_CREATED", "BACKUP_PLAN_MODIFIED", "S3_BACKUP_OBJECT_FAILED",
    "S3_RESTORE_OBJECT_FAILED", "CONTINUOUS_BACKUP_INTERRUPTED", "RECOVERY_POINT_INDEX_COMPLETED",
    "RECOVERY_POINT_INDEX_DELETED", "RECOVERY_POINT_INDEXING_FAILED",
}


def _access_denied(name: str):
    from moto.core.exceptions import JsonRESTError

    err = JsonRESTError("AccessDeniedException", f"Insufficient privileges to perform this action on vault {name}")
    err.code = 403
    return err


def _vault(response):
    """The vault a /backup-vaults/<name>/... request names (AccessDenied when there is none)."""
    name = response._get_param("BackupVaultName") or response.path.split("/backup-vaults/", 1)[1].split("/", 1)[0]
    return response.backup_backend.describe_backup_vault(unquote(name))


def _route_first(*patterns) -> None:
    """Send ``patterns`` to moto's backup dispatcher ahead of its own URL patterns (matched in order)."""
    from moto.backup import urls

    items = list(urls.url_paths.items())
    urls.url_paths.clear()
    for pattern in patterns:
        urls.url_paths[pattern] = urls.response.dispatch
    urls.url_paths.update(items)


def _describe_job(response, jobs: dict, what: str):
    """Describe<what>Job: the job the path's last segment names, without the caller's idempotency token."""
    from moto.core.exceptions import JsonRESTError

    job_id = response.path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    job = jobs.get(job_id)
    if job is None:
        raise JsonRESTError("ResourceNotFoundException", f"{what} job {job_id} not found")
    return json.dumps({k: v for k, v in job.items() if k != "IdempotencyToken"}), _JSON


def _apply_vault_access_denied():
    from moto.backup.models import BackupBackend

    def describe_backup_vault(self, backup_vault_name):
        if backup_vault_name not in self.vaults:
            raise _access_denied(backup_vault_name)
        return self.vaults[backup_vault_name]

    BackupBackend.describe_backup_vault = describe_backup_vault


def _apply_vault_notifications():
    from moto.backup import urls
    from moto.backup.responses import BackupResponse
    from moto.core.exceptions import JsonRESTError

    def put_backup_vault_notifications(self):
        vault = _vault(self)
        events = self._get_param("BackupVaultEvents") or []
        topic = self._get_param("SNSTopicArn")
        bad = [e for e in events if e not in _EVENTS]
        if bad or not topic or not events:
            raise JsonRESTError("InvalidParameterValueException", f"Invalid BackupVaultEvents or SNSTopicArn: {bad}")
        vault.protea_notifications = {"SNSTopicArn": topic, "BackupVaultEvents": list(events)}
        return "", _JSON

    def get_backup_vault_notifications(self):
        vault = _vault(self)
        conf = getattr(vault, "protea_notifications", None)
        if not conf:
            # AWS: a vault without a notification configuration answers ResourceNotFoundException.
            raise JsonRESTError("ResourceNotFoundException", f"Vault {vault.backup_vault_name} has no notifications")
        body = {"BackupVaultName": vault.backup_vault_name, "BackupVaultArn": vault.backup_vault_arn, **conf}
        return json.dumps(body), _JSON

    def delete_backup_vault_notifications(self):
        vault = _vault(self)
        vault.protea_notifications = None
        return "", _JSON

    BackupResponse.put_backup_vault_notifications = put_backup_vault_notifications
    BackupResponse.get_backup_vault_notifications = get_backup_vault_notifications
    BackupResponse.delete_backup_vault_notifications = delete_backup_vault_notifications
    # Before the generic /backup-vaults/<name> route would, so insert at the front.
    items = list(urls.url_paths.items())
    urls.url_paths.clear()
    urls.url_paths[_NOTIFICATIONS] = urls.response.dispatch
    urls.url_paths.update(items)


_NO_CONDITIONS = {"StringEquals": [], "StringLike": [], "StringNotEquals": [], "StringNotLike": []}


def _apply_selections():
    from moto.backup.models import BackupBackend
    from moto.backup.responses import BackupResponse
    from moto.core.exceptions import JsonRESTError
    from moto.core.utils import unix_time
    from moto.moto_api._internal import mock_random

    def _not_found(msg):
        return JsonRESTError("ResourceNotFoundException", msg)

    def _ids(self):
        # /backup/plans/{BackupPlanId}/selections/[{SelectionId}]
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        plan_id = parts[2]
        sel_id = parts[4] if len(parts) > 4 and parts[4] else None
        return plan_id, sel_id

    def _plan(backend, plan_id):
        plan = backend.plans.get(plan_id)
        if plan is None or plan.deletion_date is not None:
            raise _not_found(f"Backup plan {plan_id} not found")
        return plan

    def _selections(backend):
        if not hasattr(backend, "protea_selections"):
            backend.protea_selections = {}
        return backend.protea_selections

    def create_backup_selection(self):
        plan_id, _ = _ids(self)
        backend = self.backup_backend
        _plan(backend, plan_id)
        sel = dict(self._get_param("BackupSelection") or {})
        if not sel.get("SelectionName") or not sel.get("IamRoleArn"):
            raise JsonRESTError("InvalidParameterValueException", "SelectionName and IamRoleArn are required")
        # AWS echoes Conditions with its four (empty) operators when none were given.
        sel["Conditions"] = {**_NO_CONDITIONS, **(sel.get("Conditions") or {})}
        record = {
            "SelectionId": str(mock_random.uuid4()),
            "BackupPlanId": plan_id,
            "CreationDate": unix_time(),
            "CreatorRequestId": self._get_param("CreatorRequestId") or "",
            "BackupSelection": sel,
        }
        _selections(backend)[record["SelectionId"]] = record
        out = {k: record[k] for k in ("SelectionId", "BackupPlanId", "CreationDate")}
        return json.dumps(out), _JSON

    def _get(self):
        plan_id, sel_id = _ids(self)
        record = _selections(self.backup_backend).get(sel_id)
        if record is None or record["BackupPlanId"] != plan_id:
            raise _not_found(f"Backup selection {sel_id} not found")
        return record

    def get_backup_selection(self):
        return json.dumps(_get(self)), _JSON

    def delete_backup_selection(self):
        record = _get(self)
        del _selections(self.backup_backend)[record["SelectionId"]]
        return "", _JSON

    def list_backup_selections(self):
        plan_id, _ = _ids(self)
        backend = self.backup_backend
        _plan(backend, plan_id)
        rows = [
            {
                "SelectionId": r["SelectionId"],
                "SelectionName": r["BackupSelection"]["SelectionName"],
                "BackupPlanId": r["BackupPlanId"],
                "CreationDate": r["CreationDate"],
                "CreatorRequestId": r["CreatorRequestId"],
                "IamRoleArn": r["BackupSelection"]["IamRoleArn"],
            }
            for r in _selections(backend).values()
            if r["BackupPlanId"] == plan_id
        ]
        return json.dumps({"BackupSelectionsList": rows}), _JSON

    BackupResponse.create_backup_selection = create_backup_selection
    BackupResponse.get_backup_selection = get_backup_selection
    BackupResponse.delete_backup_selection = delete_backup_selection
    BackupResponse.list_backup_selections = list_backup_selections

    # AWS refuses to delete a plan that still has selections (InvalidRequestException).
    original_delete = BackupBackend.delete_backup_plan

    def delete_backup_plan(self, backup_plan_id):
        if any(r["BackupPlanId"] == backup_plan_id for r in _selections(self).values()):
            raise JsonRESTError("InvalidRequestException", "Related backup plan selections must be deleted prior to backup plan deletion")
        return original_delete(self, backup_plan_id)

    BackupBackend.delete_backup_plan = delete_backup_plan


_JOBS = "{0}/backup-jobs/?$"
_JOB = "{0}/backup-jobs/(?P<id>[^/]+)$"


def _notify(vault, events: list[tuple[str, str, dict]]) -> None:
    from moto.sns.models import sns_backends

    conf = getattr(vault, "protea_notifications", None)
    if not conf:
        return
    parts = conf["SNSTopicArn"].split(":")
    for message, subject, attrs in events:
        sns_backends[parts[4]][parts[3]].publish(message, arn=conf["SNSTopicArn"], subject=subject,
                                                  message_attributes=attrs)


def _job_events(job: dict, conf: dict) -> list[tuple[str, str, dict]]:
    """The (message, subject, attributes) a vault with notification ``conf`` sends for a backup or
    restore ``job``: a started and a completed notification, each when its event type is in the list."""
    out = []
    kind = "RESTORE_JOB" if "RestoreJobId" in job else "BACKUP_JOB"
    texts = {"BACKUP_JOB": ("An AWS Backup job was started.", "An AWS Backup job was completed successfully."),
             "RESTORE_JOB": ("An AWS Backup restore job was started.",
                             "An AWS Backup restore job was completed successfully.")}[kind]
    done = job.get("State") or job.get("Status") or "COMPLETED"  # a failed job arrives as COMPLETED, state FAILED
    if done == "FAILED":
        texts = (texts[0], texts[1].replace("was completed successfully", "failed"))
    for event, state, text in ((f"{kind}_STARTED", "CREATED", texts[0]), (f"{kind}_COMPLETED", done, texts[1])):
        if event not in conf.get("BackupVaultEvents", []):
            continue
        lines = [text]
        if kind == "RESTORE_JOB":
            lines += [f"Recovery point ARN : {job['RecoveryPointArn']}"]
            if state == "COMPLETED":
                lines.append(f"Created resource ARN : {job['CreatedResourceArn']}")
            lines.append(f"RestoreJob ID : {job['RestoreJobId']}")
            out.append((" ".join(lines), "Notification from AWS Backup",
                        {k: {"Type": "String", "Value": str(v)} for k, v in {
                            "EventType": kind, "State": state, "Id": job["RestoreJobId"],
                            "AccountId": job["AccountId"], "StartTime": job["CreationDate"]}.items()}))
            continue
        if state == "COMPLETED":
            lines.append(f"Recovery point ARN : {job['RecoveryPointArn']}")
        elif state == "FAILED":
            lines.append(f"Status message : {job.get('StatusMessage', '')}")
        lines += [f"Resource ARN : {job['ResourceArn']}", f"BackupJob ID : {job['BackupJobId']}"]
        attrs = {"EventType": "BACKUP_JOB", "State": state, "Id": job["BackupJobId"],
                 "AccountId": job["AccountId"], "StartTime": job["CreationDate"]}
        out.append((" ".join(lines), "Notification from AWS Backup",
                    {k: {"Type": "String", "Value": str(v)} for k, v in attrs.items()}))
    return out


# AWS Backup's names for the resource types (API reference, DescribeBackupJob ResourceType:
# "EFS" for Amazon Elastic File System, "RDS" for Amazon RDS, "EBS", "EC2", "DynamoDB", "S3").
_RESOURCE_TYPES = {"elasticfilesystem": "EFS", "rds": "RDS", "dynamodb": "DynamoDB", "s3": "S3"}


def _resource_type(arn: str) -> str:
    parts = arn.split(":")
    if len(parts) < 6:
        return ""
    if parts[2] == "ec2":
        return "EBS" if parts[5].startswith("volume/") else "EC2"
    return _RESOURCE_TYPES.get(parts[2], parts[2].upper())


def _apply_backup_jobs():
    from moto.backup.responses import BackupResponse
    from moto.core.exceptions import JsonRESTError
    from moto.core.utils import unix_time
    from moto.iam.models import iam_backends
    from moto.moto_api._internal import mock_random

    def _jobs(backend):
        if not hasattr(backend, "protea_jobs"):
            backend.protea_jobs = {}
        return backend.protea_jobs

    def start_backup_job(self):
        backend = self.backup_backend
        vault = backend.describe_backup_vault(self._get_param("BackupVaultName"))
        resource, role = self._get_param("ResourceArn") or "", self._get_param("IamRoleArn") or ""
        role_name = role.rsplit("/", 1)[-1]
        iam = iam_backends[backend.account_id]["global"]
        if not role.startswith("arn:") or role_name not in {r.name for r in iam.roles.values()}:
            raise JsonRESTError("InvalidParameterValueException", f"IAM Role arn {role} is not valid")
        if not resource.startswith("arn:"):
            raise JsonRESTError("InvalidParameterValueException", f"Invalid ResourceArn {resource}")
        token = self._get_param("IdempotencyToken")
        for job in _jobs(backend).values():  # the same token: the same job, as AWS answers a retried call
            if token and job.get("IdempotencyToken") == token and job["ResourceArn"] == resource:
                return json.dumps({"BackupJobId": job["BackupJobId"], "RecoveryPointArn": job["RecoveryPointArn"],
                                   "CreationDate": job["CreationDate"], "IsParent": False}), _JSON
        job_id = str(mock_random.uuid4()).upper()
        now = unix_time()
        job = {"BackupJobId": job_id, "IdempotencyToken": token, "AccountId": backend.account_id, "BackupVaultName": vault.backup_vault_name,
               "BackupVaultArn": vault.backup_vault_arn, "ResourceArn": resource, "IamRoleArn": role,
               "RecoveryPointArn": f"arn:aws:backup:{backend.region_name}:{backend.account_id}:recovery-point:"
                                   f"{str(mock_random.uuid4()).upper()}",
               "CreationDate": now, "CompletionDate": now, "State": "COMPLETED", "PercentDone": "100.0",
               "ResourceType": _resource_type(resource)}
        _jobs(backend)[job_id] = job
        # Vault Lock: a job whose retention (Lifecycle.DeleteAfterDays; none = kept for ever) is outside the
        # lock's minimum/maximum fails, and leaves no recovery point.
        days = (self._get_param("Lifecycle") or {}).get("DeleteAfterDays")
        low, high = vault.min_retention_days, vault.max_retention_days
        if (low is not None and days is not None and int(days) < low) or (high is not None and (days is None or int(days) > high)):
            job.update(State="FAILED", StatusMessage=f"The retention period ({days or 'none'} days) is outside the "
                       f"vault lock's range (minimum {low}, maximum {high} days)")
            _notify(vault, _job_events(job, getattr(vault, "protea_notifications", None) or {}))
            return json.dumps({"BackupJobId": job_id, "RecoveryPointArn": job["RecoveryPointArn"],
                               "CreationDate": now, "IsParent": False}), _JSON
        _recovery_points(vault)[job["RecoveryPointArn"]] = {
            "RecoveryPointArn": job["RecoveryPointArn"], "BackupVaultName": vault.backup_vault_name,
            "BackupVaultArn": vault.backup_vault_arn, "ResourceArn": resource, "ResourceType": job["ResourceType"],
            "IamRoleArn": role, "Status": "COMPLETED", "CreationDate": now, "CompletionDate": now}
        if job["ResourceType"] == "EFS" and DATA_HOOKS["efs_backup"]:
            DATA_HOOKS["efs_backup"](job["RecoveryPointArn"], resource.rsplit("/", 1)[-1])
        # The job completes at once; the vault's topic hears what its event list asks for.
        _notify(vault, _job_events(job, getattr(vault, "protea_notifications", None) or {}))
        body = {"BackupJobId": job_id, "RecoveryPointArn": job["RecoveryPointArn"], "CreationDate": now,
                "IsParent": False}
        return json.dumps(body), _JSON

    BackupResponse.start_backup_job = start_backup_job
    BackupResponse.describe_backup_job = lambda self: _describe_job(self, _jobs(self.backup_backend), "Backup")
    _route_first(_JOBS, _JOB)


_RESTORE_JOBS = "{0}/restore-jobs/?$"
_RESTORE_JOB = "{0}/restore-jobs/(?P<id>[^/]+)$"


def _apply_restore_jobs():
    from datetime import datetime, timezone

    from moto.backup.responses import BackupResponse
    from moto.core.exceptions import JsonRESTError
    from moto.core.utils import unix_time
    from moto.efs.models import efs_backends
    from moto.iam.models import iam_backends
    from moto.moto_api._internal import mock_random

    def _jobs(backend):
        if not hasattr(backend, "protea_restore_jobs"):
            backend.protea_restore_jobs = {}
        return backend.protea_restore_jobs

    def _bad(message: str):
        return JsonRESTError("InvalidParameterValueException", message)

    def start_restore_job(self):
        backend = self.backup_backend
        point_arn, role = self._get_param("RecoveryPointArn") or "", self._get_param("IamRoleArn") or ""
        metadata = self._get_param("Metadata") or {}
        token = self._get_param("IdempotencyToken")
        jobs = _jobs(backend)
        for job in jobs.values():  # the same token: the same job, as AWS answers a retried call
            if token and job.get("IdempotencyToken") == token and job["RecoveryPointArn"] == point_arn:
                return json.dumps({"RestoreJobId": job["RestoreJobId"]}), _JSON
        vault, point = next(((v, _recovery_points(v)[point_arn]) for v in backend.vaults.values()
                             if point_arn in _recovery_points(v)), (None, None))
        if point is None:
            raise JsonRESTError("ResourceNotFoundException", f"Recovery point {point_arn} not found")
        iam = iam_backends[backend.account_id]["global"]
        if not role.startswith("arn:") or role.rsplit("/", 1)[-1] not in {r.name for r in iam.roles.values()}:
            raise _bad(f"IAM Role arn {role} is not valid")
        if point["ResourceType"] != "EFS":
            raise _bad(f"Restoring a {point['ResourceType']} recovery point is not emulated here (EFS only)")
        efs = efs_backends[backend.account_id][backend.region_name]
        source = metadata.get("file-system-id") or point["ResourceArn"].rsplit("/", 1)[-1]
        new = str(metadata.get("newFileSystem", "")).lower()
        if new not in ("true", "false"):
            raise _bad("Metadata newFileSystem must be true or false")
        try:
            items = json.loads(metadata.get("ItemsToRestore") or "[]")
        except ValueError as exc:
            raise _bad(f"Metadata ItemsToRestore is not a JSON list: {exc}") from exc
        if not isinstance(items, list) or any(not isinstance(i, str) or not i.startswith("/") for i in items):
            raise _bad("Metadata ItemsToRestore must be a JSON list of paths from the file system root, e.g. [\"/dir/file\"]")
        if new == "true":
            fs = efs.create_file_system(
                creation_token=metadata.get("CreationToken") or str(mock_random.uuid4()),
                performance_mode=metadata.get("PerformanceMode") or "generalPurpose",
                encrypted=str(metadata.get("Encrypted", "false")).lower() == "true",
                kms_key_id=metadata.get("KmsKeyId"), throughput_mode="bursting",
                provisioned_throughput_in_mibps=None, availability_zone_name=None, backup=False, tags=[])
        else:
            fs = efs.file_systems_by_id.get(source)
            if fs is None:
                raise _bad(f"File system {source} not found")
        now = unix_time()
        # The recovery directory off the root: aws-backup-restore_<UTC date-time>.
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H-%M-%S-%f")[:-3] + "Z"
        job = {"RestoreJobId": str(mock_random.uuid4()).upper(), "AccountId": backend.account_id,
               "RecoveryPointArn": point_arn, "CreationDate": now, "CompletionDate": now, "Status": "COMPLETED",
               "PercentDone": "100.00%", "IamRoleArn": role, "CreatedResourceArn": fs.file_system_arn,
               "ResourceType": "EFS", "IdempotencyToken": token}
        _notify(vault, [e for e in _job_events(job, getattr(vault, "protea_notifications", None) or {})
                        if e[2]["State"]["Value"] == "CREATED"])
        if DATA_HOOKS["efs_restore"]:
            DATA_HOOKS["efs_restore"](point_arn, fs.file_system_id, items, f"aws-backup-restore_{stamp}")
        jobs[job["RestoreJobId"]] = job
        _notify(vault, [e for e in _job_events(job, getattr(vault, "protea_notifications", None) or {})
                        if e[2]["State"]["Value"] == "COMPLETED"])
        return json.dumps({"RestoreJobId": job["RestoreJobId"]}), _JSON

    BackupResponse.start_restore_job = start_restore_job
    BackupResponse.describe_restore_job = lambda self: _describe_job(self, _jobs(self.backup_backend), "Restore")
    _route_first(_RESTORE_JOBS, _RESTORE_JOB)


_ACCESS_POLICY = "{0}/backup-vaults/(?P<name>[^/]+)/access-policy$"
_RECOVERY_POINTS = "{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/$"  # requestUri ends in a slash
_RECOVERY_POINT = "{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/(?P<arn>.+)$"


def _recovery_points(vault) -> dict:
    if not hasattr(vault, "protea_recovery_points"):
        vault.protea_recovery_points = {}
    return vault.protea_recovery_points


def _caller_arn(response) -> str:
    """The signer: an IAM user or a role session of the emulator, else the account's root (the
    harness's key), so a vault policy's Deny for Principal "*" applies to it as on AWS."""
    from moto.iam.models import iam_backends

    from .iam_enforce import _principal_for_key

    auth = response.headers.get("Authorization") or ""
    key_id = auth.partition("Credential=")[2].partition("/")[0]
    account = response.current_account
    found = _principal_for_key(iam_backends[account]["aws"], account, key_id) if key_id else None
    return found or f"arn:aws:iam::{account}:root"


def vault_policy_denies(policy: str | None, action: str, resource: str, caller: str) -> bool:
    """True when a Deny statement of the vault's access policy applies to the caller: its
    Principal is "*" or names the caller, its Action/Resource/Condition match (context
    aws:PrincipalArn). Allow statements grant nothing here: within the account, identity
    policies (tests/localcloud/compat/iam_enforce.py) decide; a vault policy can only deny."""
    from .iam import _as_list, statement_applies

    if not policy:
        return False
    for stmt in _as_list(json.loads(policy).get("Statement")):
        principal = stmt.get("Principal")
        named = principal == "*" or (isinstance(principal, dict) and any(
            p == "*" or p == caller for p in _as_list(principal.get("AWS"))))
        if stmt.get("Effect") == "Deny" and named and statement_applies(
                stmt, action, resource, {"aws:principalarn": [caller]}):
            return True
    return False


def _apply_vault_policy_and_recovery_points():
    from moto.backup import urls
    from moto.backup.responses import BackupResponse
    from moto.core.exceptions import JsonRESTError

    def put_backup_vault_access_policy(self):
        vault = _vault(self)
        policy = self._get_param("Policy") or ""
        try:
            body = json.loads(policy)
        except ValueError:
            body = None
        if not isinstance(body, dict) or not body.get("Statement"):
            raise JsonRESTError("InvalidParameterValueException", "Policy is not a valid JSON policy document")
        vault.protea_access_policy = policy
        return "", _JSON

    def get_backup_vault_access_policy(self):
        vault = _vault(self)
        policy = getattr(vault, "protea_access_policy", None)
        if not policy:
            raise JsonRESTError("ResourceNotFoundException", f"Vault {vault.backup_vault_name} has no access policy")
        return json.dumps({"BackupVaultName": vault.backup_vault_name, "BackupVaultArn": vault.backup_vault_arn,
                           "Policy": policy}), _JSON

    def delete_backup_vault_access_policy(self):
        _vault(self).protea_access_policy = None
        return "", _JSON

    def list_recovery_points_by_backup_vault(self):
        points = sorted(_recovery_points(_vault(self)).values(), key=lambda p: p["CreationDate"])
        return json.dumps({"RecoveryPoints": points}), _JSON

    def delete_recovery_point(self):
        vault = _vault(self)
        arn = unquote(self.path.split("/recovery-points/", 1)[1].split("?", 1)[0])
        points = _recovery_points(vault)
        if arn not in points:
            raise JsonRESTError("ResourceNotFoundException", f"Recovery point {arn} not found")
        caller = _caller_arn(self)
        if vault_policy_denies(getattr(vault, "protea_access_policy", None), "backup:DeleteRecoveryPoint",
                               vault.backup_vault_arn, caller):
            err = JsonRESTError("AccessDeniedException", f"User: {caller} is not authorized to perform: "
                                f"backup:DeleteRecoveryPoint on resource: {vault.backup_vault_arn} with an explicit deny "
                                "in a resource-based policy")
            err.code = 403
            raise err
        del points[arn]
        return "", _JSON

    for fn in (put_backup_vault_access_policy, get_backup_vault_access_policy, delete_backup_vault_access_policy,
               list_recovery_points_by_backup_vault, delete_recovery_point):
        setattr(BackupResponse, fn.__name__, fn)
    items = list(urls.url_paths.items())
    urls.url_paths.clear()
    for pattern in (_ACCESS_POLICY, _RECOVERY_POINTS, _RECOVERY_POINT):
        urls.url_paths[pattern] = urls.response.dispatch
    urls.url_paths.update(items)


PATCHES = [
    Patch(
        name="backup-vault-access-denied",
        api="backup:DescribeBackupVault",
        moto_does="Answers ResourceNotFoundException for a vault that does not exist, so amazon.aws.backup_vault never creates it.",
        aws_does="Answers AccessDeniedException (403) for a vault name that does not exist in the account and Region.",
        doc="AWS Backup API Reference, DescribeBackupVault (Errors: AccessDeniedException): "
        "https://docs.aws.amazon.com/aws-backup/latest/devguide/API_DescribeBackupVault.html",
        apply=_apply_vault_access_denied,
    ),
    Patch(
        name="backup-vault-notifications",
        api="backup:PutBackupVaultNotifications, GetBackupVaultNotifications, DeleteBackupVaultNotifications",
        moto_does="Not implemented (404).",
        aws_does="Stores the SNS topic and event list of a vault, returns them, and removes them.",
        doc="AWS Backup API Reference, PutBackupVaultNotifications: "
        "https://docs.aws.amazon.com/aws-backup/latest/devguide/API_PutBackupVaultNotifications.html",
        apply=_apply_vault_notifications,
    ),
    Patch(
        name="backup-selections",
        api="backup:CreateBackupSelection, GetBackupSelection, ListBackupSelections, DeleteBackupSelection",
        moto_does="Not implemented; amazon.aws.backup_selection fails.",
        aws_does="Assigns resources (by ARN and/or tag) to a plan, returns the selection with its Conditions, "
        "lists and deletes it; a plan with selections cannot be deleted.",
        doc="AWS Backup API Reference, CreateBackupSelection / GetBackupSelection: "
        "https://docs.aws.amazon.com/aws-backup/latest/devguide/API_CreateBackupSelection.html",
        apply=_apply_selections,
    ),
    Patch(
        name="backup-jobs",
        api="backup:StartBackupJob, DescribeBackupJob (with the vault's SNS notifications)",
        moto_does="Not implemented (404): no job runs, so a vault's notification topic never hears of one.",
        aws_does="Starts an on-demand backup of a resource into a vault with the given IAM role; the vault "
        "publishes BACKUP_JOB_STARTED / BACKUP_JOB_COMPLETED notifications (text message with the job ID, "
        "resource and recovery point; attributes EventType, State, Id) to its SNS topic when its "
        "notification configuration lists those events. A job whose retention (Lifecycle.DeleteAfterDays) is "
        "outside the vault lock's minimum/maximum fails and leaves no recovery point. Here the job ends at once.",
        doc="AWS Backup Developer Guide, Amazon SNS notifications to track AWS Backup events; API Reference, "
        "StartBackupJob, PutBackupVaultLockConfiguration (MinRetentionDays: the vault fails a backup job with a shorter "
        "retention): https://docs.aws.amazon.com/aws-backup/latest/devguide/API_StartBackupJob.html",
        apply=_apply_backup_jobs,
    ),
    Patch(
        name="backup-restore-jobs",
        api="backup:StartRestoreJob, DescribeRestoreJob (EFS recovery points)",
        moto_does="Not implemented (404): a recovery point cannot be restored.",
        aws_does="Restores a recovery point with the given IAM role and metadata; for EFS (file-system-id, "
        "newFileSystem, ItemsToRestore, Encrypted, KmsKeyId, PerformanceMode, CreationToken) into a new file "
        "system or the existing one, the items under a directory aws-backup-restore_<datetime> off the root; "
        "the same IdempotencyToken answers the same job; the vault publishes RESTORE_JOB_STARTED / "
        "RESTORE_JOB_COMPLETED. Here the job completes at once (files: patch instances-backup-data).",
        doc="AWS Backup API Reference, StartRestoreJob / DescribeRestoreJob; Developer Guide, Restore an Amazon "
        "EFS file system: https://docs.aws.amazon.com/aws-backup/latest/devguide/API_StartRestoreJob.html",
        apply=_apply_restore_jobs,
    ),
    Patch(
        name="backup-vault-access-policy-and-recovery-points",
        api="backup:PutBackupVaultAccessPolicy, GetBackupVaultAccessPolicy, DeleteBackupVaultAccessPolicy, "
        "ListRecoveryPointsByBackupVault, DeleteRecoveryPoint",
        moto_does="Not implemented (404): a vault has no access policy, a backup job leaves no recovery point, "
        "and nothing stops anyone from deleting one.",
        aws_does="Stores a resource-based policy on the vault; lists the vault's recovery points; refuses "
        "DeleteRecoveryPoint (AccessDeniedException) to a caller an explicit Deny of the vault policy applies to "
        "(Principal *, condition aws:PrincipalArn), whatever the caller's own policies allow.",
        doc="AWS Backup Developer Guide, Vault access policies (Deny access to delete recovery points); API Reference, "
        "PutBackupVaultAccessPolicy, DeleteRecoveryPoint: "
        "https://docs.aws.amazon.com/aws-backup/latest/devguide/create-a-vault-access-policy.html",
        apply=_apply_vault_policy_and_recovery_points,
    ),
]
