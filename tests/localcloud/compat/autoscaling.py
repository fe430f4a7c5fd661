"""EC2 Auto Scaling: instance refresh, DisableMetricsCollection, spreading over AZs, notification
configurations, and launching instances as the group's launch template says.

Instance refresh is a small state machine that advances one step per
DescribeInstanceRefreshes call (no clocks, so tests and playbooks that poll stay
deterministic; with the delay layer, PROTEA_DELAY_SCALE, InProgress lasts AWS's usual time, scaled):  Pending -> InProgress -> Successful (the group's instances are replaced then,
from the group's current -- or the refresh's desired -- launch template), and
Cancelling -> Cancelled after CancelInstanceRefresh.
"""
from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from tests.localcloud import delays
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
        if _now() < refresh["StartTime"] + timedelta(seconds=delays.seconds("instance_refresh")):
            return  # the delay layer (PROTEA_DELAY_SCALE): AWS's usual time, scaled; 0 when off
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


def _apply_notifications() -> None:
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.core.responses import ActionResult, EmptyResult

    def configs(backend: Any) -> dict[str, dict[str, list[str]]]:
        # group name -> topic ARN -> notification types; on the backend, so moto's reset clears it.
        if not hasattr(backend, "protea_notification_configurations"):
            backend.protea_notification_configurations = {}
        return backend.protea_notification_configurations

    def put_notification_configuration(self: Any) -> Any:
        params = self._get_params()
        name = params.get("AutoScalingGroupName")
        _group(self, name)
        types = params.get("NotificationTypes") or []
        unknown = sorted(set(types) - set(NOTIFICATION_TYPES))
        if unknown:
            raise _error("ValidationError", f"Unsupported notification types: {', '.join(unknown)}")
        # "replaces the existing configuration" for that topic.
        configs(self.autoscaling_backend).setdefault(name, {})[params.get("TopicARN")] = list(types)
        return EmptyResult()

    def delete_notification_configuration(self: Any) -> Any:
        params = self._get_params()
        name = params.get("AutoScalingGroupName")
        _group(self, name)
        configs(self.autoscaling_backend).get(name, {}).pop(params.get("TopicARN"), None)
        return EmptyResult()

    def describe_notification_configurations(self: Any) -> Any:
        params = self._get_params()
        names = params.get("AutoScalingGroupNames") or sorted(self.autoscaling_backend.autoscaling_groups)
        out = []
        stored = configs(self.autoscaling_backend)
        for name in names:
            if name not in self.autoscaling_backend.autoscaling_groups:
                continue
            for topic, types in sorted(stored.get(name, {}).items()):
                out += [{"AutoScalingGroupName": name, "TopicARN": topic, "NotificationType": t} for t in types]
        return ActionResult({"NotificationConfigurations": out})

    def describe_auto_scaling_notification_types(self: Any) -> Any:
        return ActionResult({"AutoScalingNotificationTypes": list(NOTIFICATION_TYPES)})

    for fn in (put_notification_configuration, delete_notification_configuration,
               describe_notification_configurations, describe_auto_scaling_notification_types):
        setattr(AutoScalingResponse, fn.__name__, fn)


# DescribeAutoScalingNotificationTypes (Amazon EC2 Auto Scaling API Reference).
NOTIFICATION_TYPES = (
    "autoscaling:EC2_INSTANCE_LAUNCH",
    "autoscaling:EC2_INSTANCE_LAUNCH_ERROR",
    "autoscaling:EC2_INSTANCE_TERMINATE",
    "autoscaling:EC2_INSTANCE_TERMINATE_ERROR",
    "autoscaling:TEST_NOTIFICATION",
)

# The launch template version of the group launching instances on this thread.
_launching = threading.local()


def _apply_launch_template_instances() -> None:
    from moto.autoscaling import models
    from moto.ec2.models.instances import InstanceBackend

    group_cls = models.FakeAutoScalingGroup
    original_replace = group_cls.replace_autoscaling_group_instances
    original_run = InstanceBackend.run_instances

    def replace_autoscaling_group_instances(self: Any, count_needed: int, propagated_tags: dict[str, str]) -> None:
        template = getattr(self, "ec2_launch_template", None)
        _launching.version = template.get_version(self.launch_template_version) if template else None
        try:
            return original_replace(self, count_needed, propagated_tags)
        finally:
            _launching.version = None

    def run_instances(self: Any, image_id: str, count: int, user_data: Any, security_group_names: list[str],
                      **kwargs: Any) -> Any:
        version = getattr(_launching, "version", None)
        if version is not None and kwargs.get("launch_template"):
            # The version the group names, not the template's default one.
            kwargs["launch_template"] = {"LaunchTemplateId": version.template.id, "Version": str(version.number)}
            data = version.data
            if data.get("MetadataOptions") and not kwargs.get("metadata_options"):
                kwargs["metadata_options"] = dict(data["MetadataOptions"])
            primary = [n for n in data.get("NetworkInterfaces") or [] if str(n.get("DeviceIndex", "0")) == "0"]
            if primary and primary[0].get("Groups") and not kwargs.get("security_group_ids"):
                # The primary interface's groups (how the asg role's template names them).
                kwargs["security_group_ids"] = list(primary[0]["Groups"])
            if data.get("BlockDeviceMappings") and "block_device_mappings" not in kwargs:
                # Given mappings replace moto's default root volume instead of adding to it.
                kwargs["block_device_mappings"] = [_ebs_types(m) for m in data["BlockDeviceMappings"]]
        reservation = original_run(self, image_id, count, user_data, security_group_names, **kwargs)
        profile = version.data.get("IamInstanceProfile") if version is not None and kwargs.get("launch_template") else None
        if profile:
            # AWS associates the template's instance profile with every instance it launches.
            for inst in reservation.instances:
                self.associate_iam_instance_profile(instance_id=inst.id, iam_instance_profile_name=profile.get("Name"),
                                                    iam_instance_profile_arn=profile.get("Arn"))
        return reservation

    group_cls.replace_autoscaling_group_instances = replace_autoscaling_group_instances  # type: ignore[method-assign]
    InstanceBackend.run_instances = run_instances  # type: ignore[method-assign]


def _ebs_types(mapping: dict[str, Any]) -> dict[str, Any]:
    """Template data keeps the request's strings ("true", "16"); the instance model wants types."""
    out = dict(mapping)
    ebs = dict(mapping.get("Ebs") or {})
    for key in ("Encrypted", "DeleteOnTermination"):
        if isinstance(ebs.get(key), str):
            ebs[key] = ebs[key].lower() == "true"
    for key in ("VolumeSize", "Iops", "Throughput"):
        if isinstance(ebs.get(key), str) and ebs[key].isdigit():
            ebs[key] = int(ebs[key])
    out["Ebs"] = ebs
    return out


def _group_metric_values(group: Any) -> dict[str, float]:
    """Each standard group metric's value now (capacity units = instances: no instance weights here)."""
    states = [st.lifecycle_state for st in group.instance_states]
    in_service = sum(1 for st in states if st == "InService")
    pending = sum(1 for st in states if st.startswith("Pending"))
    standby = sum(1 for st in states if st.startswith("Standby") or st.startswith("EnteringStandby"))
    terminating = sum(1 for st in states if st.startswith("Terminating"))
    values = {
        "GroupMinSize": group.min_size, "GroupMaxSize": group.max_size,
        "GroupDesiredCapacity": group.desired_capacity, "GroupInServiceInstances": in_service,
        "GroupPendingInstances": pending, "GroupStandbyInstances": standby,
        "GroupTerminatingInstances": terminating, "GroupTotalInstances": len(states),
        "GroupInServiceCapacity": in_service, "GroupPendingCapacity": pending, "GroupStandbyCapacity": standby,
        "GroupTerminatingCapacity": terminating, "GroupTotalCapacity": len(states),
        "GroupAndWarmPoolDesiredCapacity": group.desired_capacity, "GroupAndWarmPoolTotalCapacity": len(states),
    }
    return {k: float(v or 0) for k, v in values.items()}


def _apply_group_metrics() -> None:
    from moto.autoscaling.models import autoscaling_backends
    from moto.cloudwatch.models import MetricDatum
    from moto.core.common_models import CloudWatchMetricProvider
    from moto.core.utils import utcnow  # CloudWatch's datapoints are naive UTC

    class AutoScalingGroupMetrics(CloudWatchMetricProvider):
        """AWS/AutoScaling group metrics of the groups with collection enabled, one sample per minute.

        Sampled when CloudWatch is read (GetMetricData/GetMetricStatistics/ListMetrics), at most once
        per group and minute, from collection's start; kept on the group (reset clears it)."""

        @staticmethod
        def get_cloudwatch_metrics(account_id: str, region: str) -> list[Any]:
            try:
                backend = autoscaling_backends[account_id][region]
            except KeyError:
                return []
            minute = utcnow().replace(second=0, microsecond=0)
            out = []
            for group in list(backend.autoscaling_groups.values()):
                enabled = list(getattr(group, "metrics", None) or [])
                history = group.__dict__.setdefault("protea_metric_samples", [])
                if enabled and (not history or history[-1][0] < minute):
                    values = _group_metric_values(group)
                    history.append((minute, {m: values[m] for m in enabled if m in values}))
                dims = [{"Name": "AutoScalingGroupName", "Value": group.name}]
                for when, values in history:
                    out += [MetricDatum(namespace="AWS/AutoScaling", name=name, value=value, dimensions=dims,
                                        timestamp=when, unit="None") for name, value in values.items()]
            return out

    # CloudWatch asks CloudWatchMetricProvider.__subclasses__() on every read: defining it registers it.
    _apply_group_metrics.provider = AutoScalingGroupMetrics  # type: ignore[attr-defined]


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
    Patch(
        name="autoscaling-notification-configurations",
        api="autoscaling:PutNotificationConfiguration, DescribeNotificationConfigurations, "
        "DeleteNotificationConfiguration, DescribeAutoScalingNotificationTypes",
        moto_does="Not implemented: a group's SNS notifications can be neither set nor read back.",
        aws_does="Stores, per group and topic, the notification types (launch, launch error, terminate, "
        "terminate error, test) the group publishes to the SNS topic; Put replaces the types for that topic, "
        "Describe lists one entry per group, topic and type.",
        doc="Amazon EC2 Auto Scaling API Reference, PutNotificationConfiguration / "
        "DescribeNotificationConfigurations: "
        "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutNotificationConfiguration.html",
        apply=_apply_notifications,
    ),
    Patch(
        name="autoscaling-launch-template-instance-settings",
        api="autoscaling:CreateAutoScalingGroup, UpdateAutoScalingGroup, SetDesiredCapacity (launches)",
        moto_does="Launches the group's instances from the template's default version without its "
        "MetadataOptions (HttpTokens reported optional), in the VPC's default security group when the "
        "template names its groups on the primary network interface, and adds a default 8 GiB unencrypted "
        "root volume next to the template's block devices; the template's IamInstanceProfile is never "
        "associated (the instances have no role).",
        aws_does="Launches instances with the launch template version the group specifies, including its "
        "metadata options (IMDSv2 required), the security groups of its primary network interface, and "
        "block device mappings (the template's root volume replaces the image's default), and associates "
        "its instance profile (DescribeIamInstanceProfileAssociations lists it; IMDS serves the role).",
        doc="Amazon EC2 Auto Scaling User Guide, Create a launch template for an Auto Scaling group "
        "(instance metadata options, storage): "
        "https://docs.aws.amazon.com/autoscaling/ec2/userguide/create-launch-template.html",
        apply=_apply_launch_template_instances,
    ),
    Patch(
        name="autoscaling-group-metrics",
        api="cloudwatch:GetMetricData, GetMetricStatistics, ListMetrics (namespace AWS/AutoScaling)",
        moto_does="Records EnableMetricsCollection but never publishes group metrics: AWS/AutoScaling is empty, "
        "so an alarm on GroupInServiceInstances never has data.",
        aws_does="With group metrics collection enabled, publishes each enabled metric (GroupInServiceInstances, "
        "GroupDesiredCapacity, ...) every minute with dimension AutoScalingGroupName; nothing for disabled ones. "
        "Here a sample is taken when CloudWatch is read, at most once per group and minute.",
        doc="Amazon EC2 Auto Scaling User Guide, CloudWatch metrics for Auto Scaling groups: "
        "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-metrics.html",
        apply=_apply_group_metrics,
    ),
]
