"""Instance mode only (serve.py --instances): what changes when instances really run.

These patches are applied only when the emulator materialises instances as containers
(tests/localcloud/instances.py); without --instances moto's bookkeeping stays as it is.
"""
from __future__ import annotations

import math
import random
import ssl
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from tests.localcloud.compat import Patch

PUBLIC_NET = (127, 100)  # 127.100.0.0/16: loopback, so a "public" address is reachable only from this host
_used_public: set[str] = set()
_public_lock = threading.Lock()


def loopback_public_ip() -> str:
    with _public_lock:
        while True:
            ip = f"{PUBLIC_NET[0]}.{PUBLIC_NET[1]}.{random.randint(0, 255)}.{random.randint(1, 254)}"
            if ip not in _used_public:
                _used_public.add(ip)
                return ip


def _apply_public_ips() -> None:
    from moto.ec2.models import elastic_ip_addresses, elastic_network_interfaces

    elastic_ip_addresses.random_ip = loopback_public_ip  # Elastic IPs
    elastic_network_interfaces.random_public_ip = loopback_public_ip  # auto-assigned public IPs


def _apply_pending_until_ssh() -> None:
    from moto.ec2.models import instances as im

    cls = im.Instance
    original_init = cls.__init__
    original_start = cls.start

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original_init(self, *args, **kwargs)
        # The reconciler flips it to running once the container's sshd answers.
        self._state = im.InstanceState("pending", 0)

    def start(self):  # type: ignore[no-untyped-def]
        previous = original_start(self)
        self._state.name, self._state.code = "pending", 0
        return previous

    cls.__init__ = __init__  # type: ignore[method-assign]
    cls.start = start  # type: ignore[method-assign]

    from moto.autoscaling.models import AutoScalingBackend

    def update_attached_target_groups(self, group_name):  # type: ignore[no-untyped-def]
        # An Auto Scaling instance joins its target groups when it goes InService, i.e. once it runs;
        # the reconciler calls this again when an instance turns running.
        group = self.autoscaling_groups[group_name]
        if not group.target_group_arns:
            return
        running = [s.instance.id for s in group.instance_states if s.instance.state == "running"]
        for tg in self.elbv2_backend.describe_target_groups(target_group_arns=group.target_group_arns,
                                                             load_balancer_arn=None, names=None):
            targets = [{"Id": i, "Port": tg.port} for i in running if i not in tg.targets]
            if targets:
                self.elbv2_backend.register_targets(tg.arn, targets)

    AutoScalingBackend.update_attached_target_groups = update_attached_target_groups  # type: ignore[method-assign]


def _reconciler() -> Any:
    from tests.localcloud import instances

    return instances.RECONCILER


def db_reachable(reconciler: Any, db: Any) -> bool:
    """False while the instances of the database's VPC cannot reach it yet: its container is being
    built or is booting, or their /etc/hosts lack its endpoint. True where no instance runs in the VPC
    (nothing could connect; moto's status stands) and outside instance mode."""
    group = getattr(db, "db_subnet_group", None)
    if reconciler is None or group is None or not reconciler._vpc_networks(group.vpc_id):
        return True
    rec = reconciler.dbs.get(db.db_instance_identifier)
    return rec is not None and rec.get("phase") == "ready" and bool(rec.get("resolvable"))


def _apply_rds_creating_until_reachable() -> None:
    from moto.rds.models import DBInstance

    def get(self):  # type: ignore[no-untyped-def]
        status = self.__dict__.get("_lc_status", "available")
        if status == "available" and not db_reachable(_reconciler(), self):
            return "creating"
        return status

    def put(self, value):  # type: ignore[no-untyped-def]
        self.__dict__["_lc_status"] = value

    DBInstance.status = property(get, put)  # type: ignore[attr-defined]


def _apply_create_image_commit() -> None:
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models.amis import AmiBackend

    original = AmiBackend.create_image
    original_deregister = AmiBackend.deregister_image

    def create_image(self, instance_id, name, description, tag_specifications):  # type: ignore[no-untyped-def]
        ami = original(self, instance_id, name, description, tag_specifications)
        rec = _reconciler()
        if rec is not None:
            try:
                rec.commit(instance_id, ami.id)
            except Exception as exc:
                self.amis.pop(ami.id, None)
                raise EC2ClientError("InternalError", f"committing the instance's container failed: {exc}") from exc
        return ami

    def deregister_image(self, ami_id):  # type: ignore[no-untyped-def]
        result = original_deregister(self, ami_id)
        rec = _reconciler()
        if rec is not None:
            rec.forget_image(ami_id)
        return result

    AmiBackend.create_image = create_image  # type: ignore[method-assign]
    AmiBackend.deregister_image = deregister_image  # type: ignore[method-assign]


def _apply_backup_data() -> None:
    from moto.rds.exceptions import RDSClientError
    from moto.rds.models import RDSBackend

    from tests.localcloud.compat import backup

    original_snapshot = RDSBackend.create_db_snapshot
    original_restore = RDSBackend.restore_db_instance_from_db_snapshot
    original_delete = RDSBackend.delete_db_snapshot

    def create_db_snapshot(self, db_instance_identifier, db_snapshot_identifier, *args, **kwargs):  # type: ignore[no-untyped-def]
        snapshot = original_snapshot(self, db_instance_identifier, db_snapshot_identifier, *args, **kwargs)
        rec = _reconciler()
        if rec is not None:
            try:
                rec.snapshot_db(db_instance_identifier, db_snapshot_identifier)
            except Exception as exc:
                self.database_snapshots.pop(db_snapshot_identifier, None)
                raise RDSClientError("InternalFailure", f"snapshotting the database container failed: {exc}") from exc
        return snapshot

    def restore_db_instance_from_db_snapshot(self, from_snapshot_id, overrides):  # type: ignore[no-untyped-def]
        db = original_restore(self, from_snapshot_id, overrides)
        db._lc_from_snapshot = from_snapshot_id
        return db

    def delete_db_snapshot(self, db_snapshot_identifier):  # type: ignore[no-untyped-def]
        snapshot = original_delete(self, db_snapshot_identifier)
        rec = _reconciler()
        if rec is not None:
            rec.forget_db_snapshot(db_snapshot_identifier)
        return snapshot

    RDSBackend.create_db_snapshot = create_db_snapshot  # type: ignore[method-assign]
    RDSBackend.restore_db_instance_from_db_snapshot = restore_db_instance_from_db_snapshot  # type: ignore[method-assign]
    RDSBackend.delete_db_snapshot = delete_db_snapshot  # type: ignore[method-assign]

    def efs_backup(recovery_point: str, fs_id: str) -> None:
        rec = _reconciler()
        if rec is not None:
            rec.efs_backup(recovery_point, fs_id)

    def efs_restore(recovery_point: str, fs_id: str, items: list[str], directory: str) -> None:
        rec = _reconciler()
        if rec is not None:
            rec.efs_restore(recovery_point, fs_id, items, directory)

    backup.DATA_HOOKS["efs_backup"] = efs_backup
    backup.DATA_HOOKS["efs_restore"] = efs_restore


# --- target health by probing ---------------------------------------------------------------
_probe_cache: dict[tuple, tuple[float, tuple]] = {}


def _codes_match(code: int, matcher: dict[str, Any]) -> bool:
    spec = str((matcher or {}).get("HttpCode") or "200")
    for part in spec.split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = part.split("-", 1)
            if int(lo) <= code <= int(hi):
                return True
        elif part and int(part) == code:
            return True
    return False


def probe(tg: Any, instance: Any, port: Any) -> tuple[str, str | None, str | None]:
    """(State, Reason, Description) as an ALB reports a target after health checking it."""
    if instance is None or instance.state in ("terminated", "shutting-down"):
        return "draining", "Target.DeregistrationInProgress", "Target deregistration is in progress"
    if instance.state == "stopped":
        return "unused", "Target.InvalidState", "Target is in the stopped state"
    if instance.state != "running":
        return "initial", "Elb.RegistrationInProgress", "Target registration is in progress"
    hc_port = tg.health_check_port
    if not hc_port or hc_port == "traffic-port":
        hc_port = port
    proto = (tg.health_check_protocol or tg.protocol or "HTTP").lower()
    path = tg.health_check_path or "/"
    url = f"{proto}://{instance.private_ip}:{hc_port}{path}"
    key = (url, str(tg.matcher if hasattr(tg, "matcher") else ""))
    hit = _probe_cache.get(key)
    if hit and time.monotonic() - hit[0] < 1.0:
        return hit[1]
    ctx = ssl._create_unverified_context() if proto == "https" else None  # noqa: S323 - ALBs do not verify targets
    try:
        with urllib.request.urlopen(url, timeout=2, context=ctx) as resp:  # noqa: S310 - private test address
            code = resp.status
    except urllib.error.HTTPError as err:
        code = err.code
    except (OSError, urllib.error.URLError):
        code = None
    if code is None:
        result = ("unhealthy", "Target.FailedHealthChecks", "Health checks failed")
    elif _codes_match(code, getattr(tg, "matcher", None)):
        result = ("healthy", None, None)
    else:
        result = ("unhealthy", "Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{code}]")
    _probe_cache[key] = (time.monotonic(), result)
    return result


def _apply_target_health() -> None:
    from moto.elbv2 import models

    cls = models.FakeTargetGroup
    original = cls.health_for

    def health_for(self, target, ec2_backend):  # type: ignore[no-untyped-def]
        status = original(self, target, ec2_backend)
        registered = self.targets.get(target["Id"])
        if registered is None or not target["Id"].startswith("i-") or self.protocol not in ("HTTP", "HTTPS"):
            return status
        instance = ec2_backend.get_instance_by_id(target["Id"])
        state, reason, desc = probe(self, instance, registered.get("Port", self.port))
        return models.FakeHealthStatus(target["Id"], registered.get("Port", self.port), self.health_check_port,
                                       state, reason, desc)

    cls.health_for = health_for  # type: ignore[method-assign]


# --- rolling, health-driven instance refresh ---------------------------------------------------
def _healthy(group: Any, instance: Any) -> bool:
    if instance.state != "running":
        return False
    if not group.target_group_arns:
        return True
    elbv2 = group.autoscaling_backend.elbv2_backend
    for arn in group.target_group_arns:
        tg = elbv2.target_groups.get(arn)
        if tg is None:
            continue
        registered = tg.targets.get(instance.id)
        if registered is None:
            return False
        if tg.protocol in ("HTTP", "HTTPS") and probe(tg, instance, registered.get("Port", tg.port))[0] != "healthy":
            return False
    return True


def _terminate(backend: Any, group: Any, ids: list[str], decrement: bool) -> None:
    elbv2 = backend.elbv2_backend
    for arn in group.target_group_arns:
        # The group deregisters an instance from its target groups before terminating it.
        targets = [{"Id": i} for i in ids if i in elbv2.target_groups[arn].targets]
        if targets:
            elbv2.deregister_targets(arn, targets)
    for iid in ids:
        backend.terminate_instance(iid, should_decrement=decrement)


def advance_refreshes(reconciler: Any) -> None:
    """Reconciler hook: move every active instance refresh on, as far as health allows."""
    from moto.autoscaling.models import autoscaling_backends

    from tests.localcloud.compat import autoscaling as asg

    for account in list(autoscaling_backends.values()):
        for backend in list(account.values()):
            for name, history in list(asg._refreshes(backend).items()):
                for refresh in history:
                    if refresh["Status"] in ("Pending", "InProgress"):
                        group = backend.autoscaling_groups.get(name)
                        if group is None:
                            refresh.update(Status="Failed", StatusReason="The group no longer exists.", EndTime=asg._now())
                        else:
                            _step(backend, group, refresh)


def _step(backend: Any, group: Any, r: dict[str, Any]) -> None:
    from tests.localcloud.compat import autoscaling as asg

    prefs = r["Preferences"]
    if r["Status"] == "Pending":
        desired = r.get("DesiredConfiguration") or {}
        if desired.get("LaunchTemplate"):
            # Replacements launch from the desired configuration (AWS applies it to the group at the end).
            group._set_launch_configuration(None, desired["LaunchTemplate"], None)
        image = group.image_id
        old = [s.instance.id for s in group.instance_states
               if not (prefs.get("SkipMatching") and s.instance.image_id == image)]
        r.update(Status="InProgress", StatusReason="Waiting for instances to warm up before continuing.",
                 protea_old=old, protea_base=group.desired_capacity or len(group.instance_states),
                 InstancesToUpdate=len(old))
        return
    base = r["protea_base"]
    current = [s.instance for s in group.instance_states]
    old_left = [i for i in current if i.id in r["protea_old"]]
    new = [i for i in current if i.id not in r["protea_old"]]
    new_healthy = [i for i in new if _healthy(group, i)]
    total = max(len(r["protea_old"]), 1)
    done = len(r["protea_old"]) - len(old_left)
    pct = int(100 * done / total)
    r.update(PercentageComplete=pct, InstancesToUpdate=len(old_left),
             ProgressDetails={"LivePoolProgress": {"PercentageComplete": pct, "InstancesToUpdate": len(old_left)}})
    if len(new_healthy) < len(new):
        return  # replacements still warming up: nothing else happens until they are healthy
    if not old_left:
        if len(new_healthy) >= base:
            r.update(Status="Successful", StatusReason="", PercentageComplete=100, InstancesToUpdate=0,
                     EndTime=asg._now(),
                     ProgressDetails={"LivePoolProgress": {"PercentageComplete": 100, "InstancesToUpdate": 0}})
        return
    max_healthy = int(prefs.get("MaxHealthyPercentage") or 100)
    min_healthy = int(prefs.get("MinHealthyPercentage") if prefs.get("MinHealthyPercentage") is not None else 90)
    if max_healthy > 100:
        # Launch before terminating: first grow by up to (max-100)% of the group, then, once the
        # new ones are healthy, terminate as many old ones (decrementing back to the base size).
        extra = len(current) - base
        if extra > 0:
            _terminate(backend, group, [i.id for i in old_left[:extra]], decrement=True)
            r["StatusReason"] = f"Terminated {min(extra, len(old_left))} old instance(s)."
        else:
            n = min(max(1, math.floor(base * (max_healthy - 100) / 100)), len(old_left))
            group.set_desired_capacity(base + n)
            r["StatusReason"] = f"Launched {n} replacement(s); waiting for them to be healthy."
    else:
        keep = math.ceil(base * min_healthy / 100)
        n = min(max(1, base - keep), len(old_left))
        _terminate(backend, group, [i.id for i in old_left[:n]], decrement=False)
        r["StatusReason"] = f"Replacing {n} instance(s); keeping {keep} healthy."


def _apply_rolling_refresh() -> None:
    from tests.localcloud.compat import autoscaling as asg

    original = asg._advance

    def _advance(backend, group_name, refresh):  # type: ignore[no-untyped-def]
        # Only cancellation is answered per call; the reconciler drives everything else by health.
        if refresh["Status"] == "Cancelling":
            original(backend, group_name, refresh)

    asg._advance = _advance
    rec = _reconciler()
    if rec is not None:
        rec.hooks.append(advance_refreshes)


def _apply_security_groups() -> None:
    rec = _reconciler()
    if rec is not None:
        rec.enforce_sgs = True


def _apply_rds_tls() -> None:
    rec = _reconciler()
    if rec is not None:
        rec.enforce_db_tls = True


PATCHES = [
    Patch(
        name="instances-public-ip-loopback",
        api="ec2:RunInstances, AllocateAddress (PublicIp)",
        moto_does="Hands out public IPs from 54.214.0.0/16 (auto-assigned) and random 127.x.x.x (Elastic IPs).",
        aws_does="Assigns a public IPv4 address reachable from the internet. Here: a unique address from "
        "127.100.0.0/16 whose port 22 leads to the instance's sshd, so the bastion is reached at its "
        "PublicIpAddress as on AWS, without any public address.",
        doc="Amazon EC2 User Guide, Public IPv4 addresses and Elastic IP addresses: "
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-instance-addressing.html",
        apply=_apply_public_ips,
        instances=True,
    ),
    Patch(
        name="instances-pending-until-ssh",
        api="ec2:RunInstances, StartInstances, DescribeInstances (State); Auto Scaling target registration",
        moto_does="Reports a new instance `running` at once (and registers Auto Scaling instances with the "
        "group's target groups at launch).",
        aws_does="Reports `pending` while the instance boots, then `running`; an Auto Scaling instance is "
        "registered with the group's target groups once it is InService. Here `running` once the "
        "container's sshd answers, and registration follows.",
        doc="Amazon EC2 User Guide, Instance state changes: "
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-lifecycle.html",
        apply=_apply_pending_until_ssh,
        instances=True,
    ),
    Patch(
        name="instances-create-image-commit",
        api="ec2:CreateImage, DeregisterImage",
        moto_does="Records an AMI; nothing of the instance is kept.",
        aws_does="Snapshots the instance's root volume into the AMI; instances launched from it start from "
        "that disk. Here the container is committed as localhost/protea-ami:<ami-id> before the API answers.",
        doc="Amazon EC2 API Reference, CreateImage: "
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateImage.html",
        apply=_apply_create_image_commit,
        instances=True,
    ),
    Patch(
        name="instances-target-health-probe",
        api="elasticloadbalancing:DescribeTargetHealth",
        moto_does="Reports every registered instance `healthy`.",
        aws_does="Reports `healthy` only when the health check (protocol, port, path) answers with the "
        "matcher's codes; `unhealthy` (Target.ResponseCodeMismatch / Target.FailedHealthChecks) otherwise, "
        "`initial` while the target registers, `draining` once it is terminated.",
        doc="Elastic Load Balancing, Health checks for your target groups: "
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html",
        apply=_apply_target_health,
        instances=True,
    ),
    Patch(
        name="instances-rolling-refresh",
        api="autoscaling:StartInstanceRefresh, DescribeInstanceRefreshes",
        moto_does="(compat autoscaling-instance-refresh) replaces all instances in one step per Describe call.",
        aws_does="Replaces instances in batches: with MaxHealthyPercentage > 100 it launches replacements "
        "first and terminates old ones once they are healthy; otherwise it terminates a batch that keeps "
        "MinHealthyPercentage healthy and waits for the replacements to pass health checks; `Successful` once "
        "every instance is replaced and healthy.",
        doc="Amazon EC2 Auto Scaling User Guide, How an instance refresh works / instance maintenance policy: "
        "https://docs.aws.amazon.com/autoscaling/ec2/userguide/instance-refresh-overview.html",
        apply=_apply_rolling_refresh,
        instances=True,
    ),
    Patch(
        name="instances-security-groups",
        api="ec2:AuthorizeSecurityGroupIngress/Egress, RevokeSecurityGroup*, RunInstances (groups), "
        "rds:CreateDBInstance (VpcSecurityGroupIds), elbv2:CreateLoadBalancer (SecurityGroups)",
        moto_does="Stores and describes security groups; nothing filters traffic between the hosts.",
        aws_does="Filters every network interface's traffic by its groups: inbound and outbound allow rules "
        "(CIDR, prefix list, or a referenced group = the private IPs of its members), everything else dropped, "
        "stateful (responses always pass); DNS to the Amazon DNS server is not filtered. Here: iptables in "
        "each instance and database container's netns (tests/localcloud/sgfilter.py), rebuilt within ~1 s of "
        "a rule or membership change.",
        doc="Amazon VPC User Guide, Security groups / Security group rules: "
        "https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html",
        apply=_apply_security_groups,
        instances=True,
    ),
    Patch(
        name="instances-rds-creating-until-reachable",
        api="rds:CreateDBInstance, DescribeDBInstances (DBInstanceStatus)",
        moto_does="Reports a new DB instance `available` at once; here its database container may still be "
        "building or booting, and the instances of its VPC may not resolve its endpoint yet.",
        aws_does="Reports `creating` (then `backing-up`) until the database accepts connections at its "
        "endpoint, whose name resolves in the VPC; `available` only then. Here `creating` until the database "
        "container is ready and every running instance of the VPC resolves the endpoint.",
        doc="Amazon RDS User Guide, Viewing Amazon RDS DB instance status: "
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html",
        apply=_apply_rds_creating_until_reachable,
        instances=True,
    ),
    Patch(
        name="instances-backup-data",
        api="rds:CreateDBSnapshot, RestoreDBInstanceFromDBSnapshot, DeleteDBSnapshot; "
        "backup:StartBackupJob, StartRestoreJob (EFS)",
        moto_does="Records snapshots and (compat backup-jobs / backup-restore-jobs) recovery points; no data is "
        "kept, so a restored database or file system is empty.",
        aws_does="A DB snapshot holds the instance's storage at that moment and a DB instance restored from it "
        "starts with that data; an EFS recovery point holds the file system's files, and a restore puts the "
        "chosen items (or everything) under a new directory aws-backup-restore_<datetime> off the root of the "
        "target file system. Here the database container is committed as an image that the restored instance's "
        "container starts from, and the file system's volume is copied into the state dir and back.",
        doc="Amazon RDS User Guide, Restoring from a DB snapshot: "
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_RestoreFromSnapshot.html; AWS Backup "
        "Developer Guide, Restore an Amazon EFS file system: "
        "https://docs.aws.amazon.com/aws-backup/latest/devguide/restoring-efs.html",
        apply=_apply_backup_data,
        instances=True,
    ),
    Patch(
        name="instances-rds-tls",
        api="rds:CreateDBInstance, ModifyDBParameterGroup (rds.force_ssl, require_secure_transport)",
        moto_does="Nothing runs; (the local database container accepted plaintext whatever the parameter group).",
        aws_does="The DB instance serves TLS with a certificate for its endpoint from the RDS CA (clients verify "
        "it with the RDS CA bundle) and refuses unencrypted connections when its parameter group sets "
        "rds.force_ssl=1 (PostgreSQL; the default from version 15) or require_secure_transport=1 (MySQL, "
        "MariaDB). Here a local CA stands in for the RDS CA (tests/localcloud/rdstls.py).",
        doc="Amazon RDS User Guide, Using SSL/TLS to encrypt a connection to a DB instance: "
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html",
        apply=_apply_rds_tls,
        instances=True,
    ),
]
