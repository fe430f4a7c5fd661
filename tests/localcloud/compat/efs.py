"""EFS: the legacy tag APIs, UpdateFileSystem and PutBackupPolicy that moto does not serve.

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
]
