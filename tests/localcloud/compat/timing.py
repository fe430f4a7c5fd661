"""Timing: long operations report AWS's in-between states for AWS's usual time, scaled (opt-in).

With PROTEA_DELAY_SCALE set (seconds per AWS minute, tests/localcloud/delays.py), a new RDS
instance is `creating`, a new image `pending`, a new load balancer `provisioning`, a new EFS
mount target `creating` and (outside instance mode) a new instance `pending` for AWS's usual duration of that operation times the scale; then they
settle into the state moto gave them at once. Unset (the suite's default), these patches change
nothing. (NAT gateways, CloudFront deployments, ACM validation and Auto Scaling instance refreshes
have in-between states of their own in ec2.py, cloudfront.py, Emulator and autoscaling.py; the
layer scales those too.)

This module must apply after every patch whose state it delays (instances.py makes an RDS
instance `creating` until its container answers): compat modules apply in name order and this
one sorts last, which tests/localcloud/test_compat_timing.py checks.
"""
from __future__ import annotations

from typing import Any

from tests.localcloud import delays
from tests.localcloud.compat import Patch
from tests.localcloud.compat._states import hold, settle_at, settle_new, settling

def _apply_rds_creating() -> None:
    if not delays.on():
        return
    from moto.rds.models import DBInstance

    hold(DBInstance, "status", "creating", "available")
    settle_new(DBInstance, lambda db: delays.seconds(
        "rds_create_multi_az" if getattr(db, "multi_az", False) else "rds_create_single_az"))


def _apply_image_pending() -> None:
    if not delays.on():
        return
    from moto.ec2.models.amis import Ami, AmiBackend

    hold(Ami, "state", "pending", "available")
    original = AmiBackend.create_image

    # Only images made by CreateImage: the seeded distribution images are there from the start.
    def create_image(self: Any, *args: Any, **kwargs: Any) -> Any:
        ami = original(self, *args, **kwargs)
        settle_at(ami, delays.seconds("create_image"))
        return ami

    AmiBackend.create_image = create_image  # type: ignore[method-assign]


def _apply_load_balancer_provisioning() -> None:
    if not delays.on():
        return
    from moto.elbv2.models import FakeLoadBalancer

    hold(FakeLoadBalancer, "state", "provisioning", "active")
    settle_new(FakeLoadBalancer, lambda _lb: delays.seconds("load_balancer"))


def _apply_mount_target_creating() -> None:
    if not delays.on():
        return
    from moto.efs.models import MountTarget

    # moto describes a mount target from its __dict__ (info_json), so the state is put right there.
    settle_new(MountTarget, lambda _mt: delays.seconds("efs_mount_targets"))
    original = MountTarget.info_json

    def info_json(self: Any) -> dict[str, Any]:
        info = original(self)
        if info.get("LifeCycleState") == "available" and settling(self):
            info["LifeCycleState"] = "creating"
        return info

    MountTarget.info_json = info_json  # type: ignore[method-assign]



def _apply_ec2_instance_pending() -> None:
    from tests.localcloud import instances

    if not delays.on() or instances.RECONCILER is not None:
        return  # instance mode: an instance is pending until its container answers ssh (instances.py)
    from moto.ec2.models import instances as im

    original_init = im.Instance.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._state = im.InstanceState("pending", 0)
        settle_at(self, delays.seconds("ec2_instance"))

    def boot(instance: Any) -> Any:
        state = instance._state  # pylint: disable=protected-access
        if state.name == "pending" and not settling(instance):
            state.name, state.code = "running", 16
        return instance

    backend = im.InstanceBackend
    all_instances = backend.all_instances

    # get_instance (AssociateAddress, CreateImage) looks through all_instances.
    def all_instances_booted(self: Any, *args: Any, **kwargs: Any) -> Any:
        return [boot(i) for i in all_instances(self, *args, **kwargs)]

    def booting(name: str) -> None:
        original = getattr(backend, name)

        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            for reservation in self.reservations.values():
                for instance in reservation.instances:
                    boot(instance)
            return original(self, *args, **kwargs)

        setattr(backend, name, wrapper)

    im.Instance.__init__ = __init__  # type: ignore[method-assign]
    backend.all_instances = all_instances_booted  # type: ignore[method-assign]
    for name in ("describe_instances", "get_reservations_by_instance_ids", "describe_instance_status"):
        booting(name)


_SCALE = "Only with PROTEA_DELAY_SCALE (seconds per AWS minute); off by default."

PATCHES = [
    Patch(
        name="timing-rds-creating",
        api="rds:CreateDBInstance, rds:DescribeDBInstances",
        moto_does="Reports a new DB instance `available` at once.",
        aws_does="Reports it `creating` (then `backing-up`) for about 10 min single-AZ, 15 min Multi-AZ, then "
        f"`available`. {_SCALE}",
        doc="Amazon RDS User Guide, Viewing Amazon RDS DB instance status: "
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html",
        apply=_apply_rds_creating,
    ),
    Patch(
        name="timing-image-pending",
        api="ec2:CreateImage, ec2:DescribeImages",
        moto_does="Reports a new image `available` at once.",
        aws_does=f"Reports it `pending` while the snapshots are taken (minutes), then `available`. {_SCALE}",
        doc="Amazon EC2 API Reference, Image (State: pending | available | ...): "
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Image.html",
        apply=_apply_image_pending,
    ),
    Patch(
        name="timing-load-balancer-provisioning",
        api="elasticloadbalancing:CreateLoadBalancer, DescribeLoadBalancers",
        moto_does="Reports a new load balancer `active` once it is described.",
        aws_does=f"Reports it `provisioning` for a few minutes, then `active`. {_SCALE}",
        doc="Elastic Load Balancing API Reference, LoadBalancerState (Code: active | provisioning | ...): "
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_LoadBalancerState.html",
        apply=_apply_load_balancer_provisioning,
    ),
    Patch(
        name="timing-efs-mount-target-creating",
        api="elasticfilesystem:CreateMountTarget, DescribeMountTargets",
        moto_does="Reports a new mount target `available` at once.",
        aws_does=f"Reports it `creating` for about a minute or two, then `available`. {_SCALE}",
        doc="Amazon EFS API Reference, MountTargetDescription (LifeCycleState): "
        "https://docs.aws.amazon.com/efs/latest/ug/API_MountTargetDescription.html",
        apply=_apply_mount_target_creating,
    ),
    Patch(
        name="timing-ec2-instance-pending",
        api="ec2:RunInstances, ec2:DescribeInstances",
        moto_does="Reports a new instance `running` at once (outside instance mode).",
        aws_does="Reports it `pending` while it boots (about a minute), then `running`; meanwhile AWS refuses "
        f"what needs a booted instance (an Elastic IP, an image). {_SCALE} Not in instance mode, where an "
        "instance is `pending` until its container answers ssh.",
        doc="Amazon EC2 User Guide, Instance state changes (pending, running): "
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-lifecycle.html",
        apply=_apply_ec2_instance_pending,
    ),
]
