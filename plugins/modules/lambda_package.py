#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""Build a Lambda deployment zip whose bytes depend only on the source files.

Why a project module: community.general.archive stores file modification times and
directory order, so the same source checked out twice (or touched) gives a different zip,
a different CodeSha256, and amazon.aws.lambda then uploads the code again on every run.
This module writes sorted entries with a fixed timestamp and fixed permissions, and only
rewrites the destination when the bytes differ: same input -> same bytes -> changed=false.
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: lambda_package
short_description: Deterministic zip of a Lambda function's source directory
version_added: 0.1.0
description:
  - Zips every regular file under O(src) (sorted, paths relative to O(src)) with a fixed timestamp
    (1980-01-01) and mode 0644, so identical sources always produce identical bytes.
  - Writes O(dest) only when its content would change. Supports check mode and diff mode.
options:
  src:
    description: Directory holding the function's code.
    type: path
    required: true
  dest:
    description: The zip file to write. Its directory is created when missing.
    type: path
    required: true
  exclude:
    description: File name patterns (fnmatch) to leave out.
    type: list
    elements: str
    default: ['*.pyc', '__pycache__', '.*']
author:
  - Protea founding engineers
"""

EXAMPLES = r"""
- name: Package the Slack notifier
  protea.platform.lambda_package:
    src: "{{ role_path }}/files/lambda"
    dest: "{{ slack_notifier_build_dir }}/slack_notifier.zip"
"""

RETURN = r"""
dest:
  description: The zip file.
  returned: always
  type: str
code_sha256:
  description: Base64 SHA-256 of the zip, the form AWS Lambda reports as CodeSha256.
  returned: always
  type: str
files:
  description: The archived paths, in archive order.
  returned: always
  type: list
  elements: str
"""

import base64
import fnmatch
import hashlib
import io
import os
import zipfile

from ansible.module_utils.basic import AnsibleModule

_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def _collect(src, exclude):
    out = []
    for root, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if not any(fnmatch.fnmatch(d, p) for p in exclude))
        for name in files:
            if any(fnmatch.fnmatch(name, p) for p in exclude):
                continue
            full = os.path.join(root, name)
            if os.path.isfile(full):
                out.append(os.path.relpath(full, src).replace(os.sep, "/"))
    return sorted(out)


def build(src, exclude):
    files = _collect(src, exclude)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel in files:
            info = zipfile.ZipInfo(rel, date_time=_EPOCH)
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the mode above is honoured everywhere
            with open(os.path.join(src, rel), "rb") as fh:
                zf.writestr(info, fh.read(), compresslevel=9)
    return buf.getvalue(), files


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type="path", required=True),
            dest=dict(type="path", required=True),
            exclude=dict(type="list", elements="str", default=["*.pyc", "__pycache__", ".*"]),
        ),
        supports_check_mode=True,
    )
    src, dest = module.params["src"], module.params["dest"]
    if not os.path.isdir(src):
        module.fail_json(msg=f"src {src} is not a directory")
    data, files = build(src, module.params["exclude"])
    if not files:
        module.fail_json(msg=f"src {src} holds no files")
    old = None
    if os.path.exists(dest):
        with open(dest, "rb") as fh:
            old = fh.read()
    changed = old != data
    if changed and not module.check_mode:
        os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
        tmp = f"{dest}.tmp{os.getpid()}"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    new_sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
    old_sha = base64.b64encode(hashlib.sha256(old).digest()).decode() if old is not None else None
    module.exit_json(
        changed=changed, dest=dest, code_sha256=new_sha, files=files,
        diff={"before": {"code_sha256": old_sha}, "after": {"code_sha256": new_sha}},
    )


if __name__ == "__main__":
    main()
