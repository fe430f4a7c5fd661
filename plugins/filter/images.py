# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""Which baked images to deregister (the asg role's tasks_from: prune_images.yml).

Keep the `keep` newest images (by creation date, so a rollback has somewhere to go) and
every image something still runs or would launch: the instances' images and the image of
the launch template version the group names. Everything else goes, oldest first.
"""
from __future__ import annotations

from ansible.errors import AnsibleFilterError


def images_to_prune(images, keep, in_use):
    """The images (ec2_ami_info entries) to deregister, oldest first."""
    try:
        keep = int(keep)
    except (TypeError, ValueError):
        keep = -1
    if keep < 1:
        raise AnsibleFilterError(f"images_to_prune: keep must be a whole number of 1 or more, got {keep!r}")
    protected = {str(i) for i in (in_use or []) if i}
    ordered = sorted(images or [], key=lambda i: (str(i.get("creation_date", "")), str(i["image_id"])), reverse=True)
    doomed = [i for i in ordered[keep:] if i["image_id"] not in protected]
    return list(reversed(doomed))


def launch_template_version_image(template, version):
    """The image id of `version` ('3', 3, '$Latest', '$Default') of an ec2_launch_template_info
    template entry; '' when there is no such version (no template, no group yet)."""
    template = template or {}
    version = "" if version is None else str(version)
    if version == "$Latest":
        version = str(template.get("latest_version_number", ""))
    elif version == "$Default":
        version = str(template.get("default_version_number", ""))
    for entry in template.get("versions") or []:
        if str(entry.get("version_number")) == version:
            return (entry.get("launch_template_data") or {}).get("image_id", "") or ""
    return ""


class FilterModule:
    """protea.platform image filters."""

    def filters(self):
        return {"images_to_prune": images_to_prune, "launch_template_version_image": launch_template_version_image}
