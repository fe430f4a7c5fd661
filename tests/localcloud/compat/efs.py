"""EFS: the legacy tag APIs, UpdateFileSystem, PutBackupPolicy and replication that moto does not serve.

community.aws.efs / efs_info (and any SDK caller of these documented APIs) use the legacy
DescribeTags/CreateTags/DeleteTags routes; moto only has the newer resource-tags routes.
They are served here from the same tag store, so both views agree.
"""
from __future__ import annotations

import json

from . import Patch

_TAGS = "/2015-02-01/tags/<file_system_id>/"
_CREATE_TAGS = "/2015-02-01/create-tags/<file_system_id>"
_DELETE_TAGS = "/2015-02-01/delete-tags/<file_system_id>"
_JSON = {"Content-Type": "application/json"}


def _fs(resp):
    """The file system named in the URL, or moto's FileSystemNotFound (404, as AWS)."""
    from moto.efs.exceptions import FileSystemNotFound

    fs_id = resp._get_param("FileSystemId")
    fs = resp.efs_backend.file_systems_by_id.get(fs_id)
    if fs is None:
        raise FileSystemNotFound(fs_id)
    return fs


def _add_routes(*paths):
    from moto.efs import urls

    for path in paths:
        urls.url_paths.setdefault(path, urls.response.dispatch)


def _apply_legacy_tags():
    from moto.efs.responses import EFSResponse

    def describe_tags(self):
        fs = _fs(self)
        return json.dumps({"Tags": self.efs_backend.list_tags_for_resource(fs.file_system_id)}), _JSON

    def create_tags(self):
        fs = _fs(self)
        tags = {t["Key"]: t.get("Value", "") for t in self._get_param("Tags") or []}
        self.efs_backend.tag_resource(fs.file_system_arn, tags)
        return "", {"status": 204, **_JSON}

    def delete_tags(self):
        fs = _fs(self)
        self.efs_backend.untag_resource(fs.file_system_arn, self._get_param("TagKeys") or [])
        return "", {"status": 204, **_JSON}

    EFSResponse.describe_tags = describe_tags
    EFSResponse.create_tags = create_tags
    EFSResponse.delete_tags = delete_tags
    _add_routes(_TAGS, _CREATE_TAGS, _DELETE_TAGS)


def _apply_update_file_system():
    from moto.efs.responses import EFSResponse

    def update_file_system(self):
        fs = _fs(self)
        mode = self._get_param("ThroughputMode")
        mibps = self._get_param("ProvisionedThroughputInMibps")
        if mode:
            fs.throughput_mode = mode
        if mibps is not None:
            fs.provisioned_throughput_in_mibps = mibps
        # UpdateFileSystem answers 202 with the file system description.
        return json.dumps(fs.info_json()), {"status": 202, **_JSON}

    EFSResponse.update_file_system = update_file_system


def _apply_put_backup_policy():
    from moto.efs.responses import EFSResponse

    def put_backup_policy(self):
        fs = _fs(self)
        status = (self._get_param("BackupPolicy") or {}).get("Status")
        # moto derives the policy from this flag; AWS reports ENABLING/DISABLING
        # transiently, then ENABLED/DISABLED, which is what is stored here.
        fs._backup = status in ("ENABLED", "ENABLING")
        return json.dumps({"BackupPolicy": {"Status": "ENABLED" if fs._backup else "DISABLED"}}), _JSON

    def describe_backup_policy(self):
        fs = _fs(self)
        # AWS: a file system whose policy was switched off reports DISABLED; only one
        # that never had a policy raises PolicyNotFound (moto's behaviour, kept).
        if fs._backup is False and getattr(fs, "_protea_backup_set", False):
            return json.dumps({"BackupPolicy": {"Status": "DISABLED"}}), _JSON
        return json.dumps({"BackupPolicy": self.efs_backend.describe_backup_policy(fs.file_system_id)}), _JSON

    def put_and_mark(self):
        fs = _fs(self)
        fs._protea_backup_set = True
        return put_backup_policy(self)

    EFSResponse.put_backup_policy = put_and_mark
    EFSResponse.describe_backup_policy = describe_backup_policy


# --- Replication -------------------------------------------------------------------------------
_REPLICATION = "/2015-02-01/file-systems/<file_system_id>/replication-configuration"
_REPLICATIONS = "/2015-02-01/file-systems/replication-configurations"
# Seconds a new configuration reports ENABLING before ENABLED (AWS: minutes; the first sync
# then sets LastReplicatedTimestamp).
ENABLING_SECONDS = 1.0


def _efs_error(code, status, message):
    from moto.efs.exceptions import EFSError

    err = EFSError(code, message)
    err.code = status
    return err


def _replications(account):
    """Every replication configuration of the account, shared by all Regions' backends (a
    configuration belongs to its source and its destination Region), reset with them."""
    from moto.efs.models import efs_backends

    anchor = efs_backends[account]["us-east-1"]
    if not hasattr(anchor, "_protea_replications"):
        anchor._protea_replications = {}
    return anchor._protea_replications


def _replication_view(rep):
    import time

    status = rep["status"]
    if status == "ENABLING" and time.time() - rep["created"] >= ENABLING_SECONDS:
        rep["status"] = status = "ENABLED"
        rep["synced"] = time.time()
    dest = {"Status": status, "FileSystemId": rep["dest_id"], "Region": rep["dest_region"], "OwnerId": rep["account"]}
    if rep.get("synced"):
        dest["LastReplicatedTimestamp"] = rep["synced"]
    return {"SourceFileSystemId": rep["source_id"], "SourceFileSystemRegion": rep["source_region"],
            "SourceFileSystemArn": rep["source_arn"], "OriginalSourceFileSystemArn": rep["source_arn"],
            "SourceFileSystemOwnerId": rep["account"], "CreationTime": rep["created"], "Destinations": [dest]}


def _member(reps, region, fs_id):
    """The configuration that fs_id (in region) is the source or destination of, else None."""
    for rep in reps.values():
        if (rep["source_region"], rep["source_id"]) == (region, fs_id) or (rep["dest_region"], rep["dest_id"]) == (region, fs_id):
            return rep
    return None


def _apply_replication():
    import time
    import uuid

    from moto.efs.models import efs_backends
    from moto.efs.responses import EFSResponse
    from moto.efs.exceptions import FileSystemNotFound

    def _source(self, fs_id):
        fs = self.efs_backend.file_systems_by_id.get(fs_id)
        if fs is None:
            raise FileSystemNotFound(fs_id)
        return fs

    def create_replication_configuration(self):
        fs_id = self._get_param("SourceFileSystemId")
        source = _source(self, fs_id)
        reps = _replications(self.current_account)
        if _member(reps, self.region, fs_id):
            # "This file system cannot already be a source or destination file system in another
            # replication configuration." (the API reference names the rule, not the error code)
            raise _efs_error("ValidationException", 400,
                             f"File system {fs_id} is already part of a replication configuration.")
        dests = self._get_param("Destinations") or []
        if len(dests) != 1 or not dests[0].get("Region"):
            raise _efs_error("BadRequest", 400, "Destinations must hold exactly one destination with a Region.")
        dest = dests[0]
        if dest.get("FileSystemId"):
            raise _efs_error("BadRequest", 400, "Replication to an existing file system is not emulated here.")
        region = dest["Region"]
        target = efs_backends[self.current_account][region]
        kms_key = dest.get("KmsKeyId") or None
        if kms_key:
            from moto.kms.models import kms_backends

            try:
                kms_key = kms_backends[self.current_account][region].describe_key(kms_key).arn
            except Exception:  # noqa: BLE001 - AWS: a key the destination Region does not have
                raise _efs_error("BadRequest", 400, f"KMS key {dest['KmsKeyId']} was not found in {region}.")
        replica = target.create_file_system(
            creation_token=f"replica-{uuid.uuid4()}", performance_mode=source.performance_mode, encrypted=True,
            kms_key_id=kms_key, throughput_mode=source.throughput_mode, provisioned_throughput_in_mibps=None,
            availability_zone_name=dest.get("AvailabilityZoneName"), backup=False, tags=[])
        # A destination is read only while replicated (DescribeFileSystems: FileSystemProtection).
        replica.file_system_protection = {"ReplicationOverwriteProtection": "REPLICATING"}
        source.file_system_protection = getattr(source, "file_system_protection", None) or {
            "ReplicationOverwriteProtection": "ENABLED"}
        rep = {"account": self.current_account, "source_id": fs_id, "source_region": self.region,
               "source_arn": source.file_system_arn, "dest_id": replica.file_system_id, "dest_region": region,
               "status": "ENABLING", "created": time.time()}
        reps[(self.region, fs_id)] = rep
        return json.dumps(_replication_view(rep)), _JSON

    def describe_replication_configurations(self):
        fs_id = self._get_param("FileSystemId")
        reps = _replications(self.current_account)
        if fs_id:
            if fs_id not in self.efs_backend.file_systems_by_id:
                raise FileSystemNotFound(fs_id)
            rep = _member(reps, self.region, fs_id)
            if rep is None:
                raise _efs_error("ReplicationNotFound", 404, f"No replication configuration found for {fs_id}.")
            found = [rep]
        else:
            found = [r for r in reps.values() if self.region in (r["source_region"], r["dest_region"])]
        return json.dumps({"Replications": [_replication_view(r) for r in found]}), _JSON

    def delete_replication_configuration(self):
        fs_id = self._get_param("SourceFileSystemId")
        _source(self, fs_id)
        reps = _replications(self.current_account)
        rep = _member(reps, self.region, fs_id)  # from either side (AWS: source or destination)
        if rep is None:
            raise _efs_error("ReplicationNotFound", 404, f"No replication configuration found for {fs_id}.")
        if self._get_param("DeletionMode") == "LOCAL_CONFIGURATION_ONLY" and rep["source_region"] == rep["dest_region"]:
            raise _efs_error("BadRequest", 400, "LOCAL_CONFIGURATION_ONLY is not valid for same-Region replication.")
        del reps[(rep["source_region"], rep["source_id"])]
        # The destination becomes writable, its overwrite protection re-enabled.
        replica = efs_backends[rep["account"]][rep["dest_region"]].file_systems_by_id.get(rep["dest_id"])
        if replica is not None:
            replica.file_system_protection = {"ReplicationOverwriteProtection": "ENABLED"}
        return "", {"status": 204, **_JSON}

    original_delete = EFSResponse.delete_file_system

    def delete_file_system(self):
        fs_id = self._get_param("FileSystemId")
        if _member(_replications(self.current_account), self.region, fs_id):
            raise _efs_error("FileSystemInUse", 409, f"File system {fs_id} is part of a replication configuration: "
                             "delete the replication configuration first.")
        return original_delete(self)

    EFSResponse.create_replication_configuration = create_replication_configuration
    EFSResponse.describe_replication_configurations = describe_replication_configurations
    EFSResponse.delete_replication_configuration = delete_replication_configuration
    EFSResponse.delete_file_system = delete_file_system
    _add_routes(_REPLICATION, _REPLICATIONS)


PATCHES = [
    Patch(
        name="efs-legacy-tags",
        api="elasticfilesystem:DescribeTags, CreateTags, DeleteTags",
        moto_does="Serves only the resource-tags routes; the legacy tag routes answer 404, so community.aws.efs and efs_info fail.",
        aws_does="Serves the (deprecated, still supported) legacy tag APIs on /2015-02-01/tags, create-tags and delete-tags.",
        doc="Amazon EFS API Reference, DescribeTags / CreateTags / DeleteTags: "
        "https://docs.aws.amazon.com/efs/latest/ug/API_DescribeTags.html",
        apply=_apply_legacy_tags,
    ),
    Patch(
        name="efs-update-file-system",
        api="elasticfilesystem:UpdateFileSystem",
        moto_does="Has the PUT /2015-02-01/file-systems/{id} route but no handler (404).",
        aws_does="Changes the throughput mode / provisioned throughput and answers 202 with the file system description.",
        doc="Amazon EFS API Reference, UpdateFileSystem: https://docs.aws.amazon.com/efs/latest/ug/API_UpdateFileSystem.html",
        apply=_apply_update_file_system,
    ),
    Patch(
        name="efs-put-backup-policy",
        api="elasticfilesystem:PutBackupPolicy",
        moto_does="Has the route but no handler (500); the policy can only be set by CreateFileSystem Backup=true.",
        aws_does="Turns automatic backups on or off for an existing file system and returns the BackupPolicy; "
        "DescribeBackupPolicy then reports ENABLED or DISABLED.",
        doc="Amazon EFS API Reference, PutBackupPolicy: https://docs.aws.amazon.com/efs/latest/ug/API_PutBackupPolicy.html",
        apply=_apply_put_backup_policy,
    ),
    Patch(
        name="efs-replication",
        api="elasticfilesystem:CreateReplicationConfiguration, DescribeReplicationConfigurations, "
        "DeleteReplicationConfiguration (and DeleteFileSystem of a member)",
        moto_does="Has no replication routes (404), so a file system cannot be replicated.",
        aws_does="Creates the encrypted destination file system in the destination Region, read only while "
        "replicated (ENABLING, then ENABLED with LastReplicatedTimestamp); one configuration per file system; "
        "Describe from the source or destination Region (ReplicationNotFound otherwise); Delete from either side "
        "makes the destination writable; DeleteFileSystem refuses a member.",
        doc="Amazon EFS API Reference, CreateReplicationConfiguration / DescribeReplicationConfigurations / "
        "DeleteReplicationConfiguration, and User Guide 'Deleting replication configurations': "
        "https://docs.aws.amazon.com/efs/latest/ug/API_CreateReplicationConfiguration.html",
        apply=_apply_replication,
    ),
]
