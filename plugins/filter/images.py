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


# Instance refresh states that have not ended (AWS API reference, InstanceRefresh.Status).
UNFINISHED_REFRESH = ("Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking")


def asg_refresh_plan(group, template_version, refreshes):
    """What the asg role does about instance refreshes, from the group as it was before this run
    (an autoscaling_group_info entry, {} when there is none), the launch template version the group
    now names, and the group's refreshes (autoscaling_instance_refresh_info, newest first or not).

    {"wait_for": id} when a refresh has not ended (one a stopped run started: wait for it, never start
    a second; AWS refuses one anyway); else {"start": True} when the group existed and either moved to
    another template version or still runs an instance of another version (a run stopped between
    updating the group and starting the refresh); else nothing to do. A new group, or one without
    instances, launches from the template itself. "reason" says which."""
    group = group or {}
    version = str(template_version)
    unfinished = [r for r in refreshes or [] if r.get("status") in UNFINISHED_REFRESH]
    if unfinished:
        newest = max(unfinished, key=lambda r: str(r.get("start_time", "")))
        return {"start": False, "wait_for": newest["instance_refresh_id"],
                "reason": f"refresh {newest['instance_refresh_id']} is {newest.get('status')}"}
    if not group:
        return {"start": False, "wait_for": None, "reason": "new group"}
    if not group.get("instances"):
        # A group waiting for its first web server image (or scaled to nothing) has nothing to replace.
        return {"start": False, "wait_for": None, "reason": "no instances to replace"}
    named = str((group.get("launch_template") or {}).get("version", ""))
    if named != version:
        return {"start": True, "wait_for": None, "reason": f"template version {named} -> {version}"}
    stale = sorted(i.get("instance_id", "?") for i in group.get("instances") or []
                   if str((i.get("launch_template") or {}).get("version", version)) != version)
    if stale:
        return {"start": True, "wait_for": None,
                "reason": f"instances {', '.join(stale)} run another template version than {version}"}
    return {"start": False, "wait_for": None, "reason": "up to date"}


class FilterModule:
    """protea.platform image filters."""

    def filters(self):
        return {"images_to_prune": images_to_prune, "launch_template_version_image": launch_template_version_image,
                "asg_refresh_plan": asg_refresh_plan}
