"""EC2 Auto Scaling: instance refresh, DisableMetricsCollection, spreading over AZs.

Instance refresh is a small state machine that advances one step per
DescribeInstanceRefreshes call (no clocks, so tests and playbooks that poll stay
deterministic):  Pending -> InProgress -> Successful (the group's instances are replaced then,
from the group's current -- or the refresh's desired -- launch template), and
Cancelling -> Cancelled after CancelInstanceRefresh.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from tests.localcloud.compat import Patch

ACTIVE = ("Pending", "InProgress", "Cancelling")
# RefreshPreferences defaults (Auto Scaling API Reference, RefreshPreferences).
PREFERENCE_DEFAULTS = {
    "MinHealthyPercentage": 90,
    "SkipMatching": False,
    "AutoRollback": False,
    "ScaleInProtectedInstances": "Ignore",
    "StandbyInstances": "Ignore",
}


def _error(code: str, message: str) -> Exception:
    from moto.autoscaling.exceptions import AutoscalingClientError

    class _Err(AutoscalingClientError):
        pass

    _Err.code = code
    return _Err(message)


def _group(resp: Any, name: str) -> Any:
    group = resp.autoscaling_backend.autoscaling_groups.get(name)
    if group is None:
        raise _error("ValidationError", f"AutoScalingGroup name not found - AutoScalingGroup {name} not found")
    return group


def _refreshes(backend: Any) -> dict[str, list[dict[str, Any]]]:
    # Lives on the backend object, so moto's reset (which replaces backends) clears it.
    if not hasattr(backend, "protea_instance_refreshes"):
        backend.protea_instance_refreshes = {}
    return backend.protea_instance_refreshes


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _replace_instances(backend: Any, group: Any, refresh: dict[str, Any]) -> None:
    desired = refresh.get("DesiredConfiguration") or {}
    if desired.get("LaunchTemplate"):
        # AWS updates the group to the desired configuration once the refresh succeeds.
        group._set_launch_configuration(None, desired["LaunchTemplate"], None)
    image_id = group.image_id
    for state in list(group.instance_states):
        instance = state.instance
        if refresh["Preferences"].get("SkipMatching") and instance.image_id == image_id:
            continue
        # terminate + replace, keeping the desired capacity (as the refresh does, one by one).
        backend.terminate_instance(instance.id, should_decrement=False)


def _advance(backend: Any, group_name: str, refresh: dict[str, Any]) -> None:
    status = refresh["Status"]
    if status == "Pending":
        refresh["Status"] = "InProgress"
        refresh["StatusReason"] = "Waiting for instances to warm up before continuing."
    elif status == "InProgress":
        group = backend.autoscaling_groups.get(group_name)
        if group is not None:
            _replace_instances(backend, group, refresh)
        refresh.update(Status="Successful", StatusReason="", PercentageComplete=100, InstancesToUpdate=0,
                       EndTime=_now())
        refresh["ProgressDetails"] = {"LivePoolProgress": {"PercentageComplete": 100, "InstancesToUpdate": 0}}
    elif status == "Cancelling":
        refresh.update(Status="Cancelled", StatusReason="Cancelled due to user request.", EndTime=_now())


def start_instance_refresh(self: Any) -> Any:
    from moto.core.responses import ActionResult

    params = self._get_params()
    name = params.get("AutoScalingGroupName")
    group = _group(self, name)
    history = _refreshes(self.autoscaling_backend).setdefault(name, [])
    if any(r["Status"] in ACTIVE for r in history):
        raise _error("InstanceRefreshInProgress", "An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.")
    count = len(group.instance_states)
    refresh = {
        "InstanceRefreshId": str(uuid.uuid4()),
        "AutoScalingGroupName": name,
        "Status": "Pending",
        "StatusReason": "",
        "StartTime": _now(),
        "PercentageComplete": 0,
        "InstancesToUpdate": count,
        "ProgressDetails": {"LivePoolProgress": {"PercentageComplete": 0, "InstancesToUpdate": count}},
        "Preferences": {**PREFERENCE_DEFAULTS, **(params.get("Preferences") or {})},
        "Strategy": params.get("Strategy") or "Rolling",
    }
    if params.get("DesiredConfiguration"):
        refresh["DesiredConfiguration"] = params["DesiredConfiguration"]
    history.insert(0, refresh)  # newest first, as DescribeInstanceRefreshes lists them
    return ActionResult({"InstanceRefreshId": refresh["InstanceRefreshId"]})


def describe_instance_refreshes(self: Any) -> Any:
    from moto.core.responses import ActionResult

    params = self._get_params()
    name = params.get("AutoScalingGroupName")
    _group(self, name)
    wanted = params.get("InstanceRefreshIds") or []
    out = []
    for refresh in _refreshes(self.autoscaling_backend).get(name, []):
        if wanted and refresh["InstanceRefreshId"] not in wanted:
            continue
        _advance(self.autoscaling_backend, name, refresh)
        out.append(dict(refresh))
    return ActionResult({"InstanceRefreshes": out})


def cancel_instance_refresh(self: Any) -> Any:
    from moto.core.responses import ActionResult

    name = self._get_params().get("AutoScalingGroupName")
    _group(self, name)
    for refresh in _refreshes(self.autoscaling_backend).get(name, []):
        if refresh["Status"] in ("Pending", "InProgress"):
            refresh.update(Status="Cancelling", StatusReason="")
            return ActionResult({"InstanceRefreshId": refresh["InstanceRefreshId"]})
    raise _error("ActiveInstanceRefreshNotFound", "No in progress or pending Instance Refresh found for Auto Scaling group " + name)


def _apply_instance_refresh() -> None:
    from moto.autoscaling.responses import AutoScalingResponse

    AutoScalingResponse.start_instance_refresh = start_instance_refresh  # type: ignore[attr-defined]
    AutoScalingResponse.describe_instance_refreshes = describe_instance_refreshes  # type: ignore[attr-defined]
    AutoScalingResponse.cancel_instance_refresh = cancel_instance_refresh  # type: ignore[attr-defined]


def _apply_disable_metrics() -> None:
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.core.responses import EmptyResult

    def disable_metrics_collection(self: Any) -> Any:
        params = self._get_params()
        group = _group(self, params.get("AutoScalingGroupName"))
        metrics = params.get("Metrics") or []
        # "If you omit this property, all metrics are disabled."
        group.metrics = [m for m in group.metrics if metrics and m not in metrics]
        return EmptyResult()

    AutoScalingResponse.disable_metrics_collection = disable_metrics_collection  # type: ignore[attr-defined]


def _apply_az_balance() -> None:
    from moto.autoscaling import models

    cls = models.FakeAutoScalingGroup
    original = cls.replace_autoscaling_group_instances

    def replace_autoscaling_group_instances(self: Any, count_needed: int, propagated_tags: dict[str, str]) -> None:
        subnets = [s for s in (self.vpc_zone_identifier or "").split(",") if s]
        if len(subnets) < 2:
            return original(self, count_needed, propagated_tags)
        # Launch one at a time into the subnet whose AZ holds the fewest running instances.
        zone_of = {s: self.autoscaling_backend.ec2_backend.get_subnet(s).availability_zone for s in subnets}
        full = self.vpc_zone_identifier
        try:
            for _ in range(count_needed):
                per_zone = {z: 0 for z in zone_of.values()}
                for st in self.instance_states:
                    z = st.instance.availability_zone
                    if z in per_zone:
                        per_zone[z] += 1
                target = min(subnets, key=lambda s: (per_zone[zone_of[s]], subnets.index(s)))
                self.vpc_zone_identifier = target
                original(self, 1, dict(propagated_tags))
        finally:
            self.vpc_zone_identifier = full

    cls.replace_autoscaling_group_instances = replace_autoscaling_group_instances  # type: ignore[method-assign]


PATCHES = [
    Patch(
        name="autoscaling-instance-refresh",
        api="autoscaling:StartInstanceRefresh, DescribeInstanceRefreshes, CancelInstanceRefresh",
        moto_does="Not implemented; amazon.aws.autoscaling_instance_refresh fails.",
        aws_does="Starts a refresh (one active per group, else InstanceRefreshInProgress), lists "
        "refreshes newest first with Status Pending/InProgress/Successful/Cancelling/Cancelled, "
        "replaces the group's instances, cancels an active one (else "
        "ActiveInstanceRefreshNotFound). Here each Describe advances one step.",
        doc="Amazon EC2 Auto Scaling API Reference, StartInstanceRefresh / DescribeInstanceRefreshes / "
        "CancelInstanceRefresh: https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_StartInstanceRefresh.html",
        apply=_apply_instance_refresh,
    ),
    Patch(
        name="autoscaling-disable-metrics-collection",
        api="autoscaling:DisableMetricsCollection",
        moto_does="Not implemented; amazon.aws.autoscaling_group fails on its second run (update path).",
        aws_does="Disables the given group metrics, or all of them when Metrics is omitted.",
        doc="Amazon EC2 Auto Scaling API Reference, DisableMetricsCollection: "
        "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DisableMetricsCollection.html",
        apply=_apply_disable_metrics,
    ),
    Patch(
        name="autoscaling-az-balance",
        api="autoscaling:CreateAutoScalingGroup, UpdateAutoScalingGroup, SetDesiredCapacity (launches)",
        moto_does="Launches every instance into the first subnet of VPCZoneIdentifier: a two-AZ "
        "group has all its instances in one AZ.",
        aws_does="Distributes instances evenly across the Availability Zones of the group's subnets.",
        doc="Amazon EC2 Auto Scaling User Guide, Instance distribution across Availability Zones: "
        "https://docs.aws.amazon.com/autoscaling/ec2/userguide/auto-scaling-benefits.html#arch-AutoScalingMultiAZ",
        apply=_apply_az_balance,
    ),
]
