"""Everything an environment still has in the emulator, found the way an auditor would: every
resource of every kind Protea creates is listed (not searched by the names Protea uses) and
kept when it carries the environment's tags (protea_tags); the few kinds AWS cannot tag, or
Protea's modules leave untagged, are matched by the environment's name prefix. Independent of the teardown module on purpose:
the destroy tests compare its report against this."""
from __future__ import annotations

from botocore.exceptions import ClientError

GLOBAL = "global"


def _match(tags, project: str, environment: str) -> bool:
    """The environment's tags (protea_tags): Project, Environment and ManagedBy=protea. A resource
    someone made by hand with the same Project and Environment is not the environment's."""
    if isinstance(tags, list):
        tags = {t.get("Key", t.get("TagKey")): t.get("Value", t.get("TagValue")) for t in tags}
    tags = tags or {}
    return (tags.get("Project"), tags.get("Environment"), tags.get("ManagedBy")) == (project, environment, "protea")


def _safe(call, default):
    try:
        return call()
    except ClientError:
        return default


def environment_resources(emu, project: str, environment: str, regions: list[str]) -> set[tuple[str, str, str]]:
    """{(kind, id, region)} of what the environment still has."""
    found: set[tuple[str, str, str]] = set()
    prefix = f"{project}-{environment}"

    def ours(tags) -> bool:
        return _match(tags, project, environment)

    for region in regions:
        def c(service):
            return emu.client(service, region=region)

        ec2 = c("ec2")
        for r in ec2.describe_instances()["Reservations"]:
            for i in r["Instances"]:
                if i["State"]["Name"] != "terminated" and ours(i.get("Tags")):
                    found.add(("instance", i["InstanceId"], region))
        for kind, items, key in (
                ("vpc", ec2.describe_vpcs()["Vpcs"], "VpcId"),
                ("subnet", ec2.describe_subnets()["Subnets"], "SubnetId"),
                ("security group", ec2.describe_security_groups()["SecurityGroups"], "GroupId"),
                ("internet gateway", ec2.describe_internet_gateways()["InternetGateways"], "InternetGatewayId"),
                ("route table", ec2.describe_route_tables()["RouteTables"], "RouteTableId"),
                ("elastic ip", ec2.describe_addresses()["Addresses"], "AllocationId"),
                ("image", ec2.describe_images(Owners=["self"])["Images"], "ImageId"),
                ("launch template", ec2.describe_launch_templates()["LaunchTemplates"], "LaunchTemplateId"),
                ("key pair", ec2.describe_key_pairs()["KeyPairs"], "KeyName"),
                ("vpc endpoint", [e for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]
                                  if e["State"].lower() not in ("deleted", "deleting")], "VpcEndpointId"),
                ("flow log", ec2.describe_flow_logs()["FlowLogs"], "FlowLogId"),
                ("nat gateway", [n for n in ec2.describe_nat_gateways()["NatGateways"]
                                 if n["State"] not in ("deleted", "deleting")], "NatGatewayId"),
                ("ebs snapshot", ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"], "SnapshotId"),
                ("volume", ec2.describe_volumes()["Volumes"], "VolumeId")):
            found.update((kind, item[key], region) for item in items if ours(item.get("Tags")))
        # The default security group carries no tags, so it is not counted, as on AWS.
        asg = c("autoscaling")
        for g in asg.describe_auto_scaling_groups()["AutoScalingGroups"]:
            if ours(g.get("Tags")):
                found.add(("autoscaling group", g["AutoScalingGroupName"], region))
        elb = c("elbv2")
        for kind, items, key in (("load balancer", elb.describe_load_balancers()["LoadBalancers"], "LoadBalancerArn"),
                                 ("target group", elb.describe_target_groups()["TargetGroups"], "TargetGroupArn")):
            for item in items:
                tags = elb.describe_tags(ResourceArns=[item[key]])["TagDescriptions"][0]["Tags"]
                if ours(tags):
                    found.add((kind, item[key], region))
        rds = c("rds")
        for d in rds.describe_db_instances()["DBInstances"]:
            if ours(d.get("TagList")):
                found.add(("db instance", d["DBInstanceIdentifier"], region))
        for s in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]:
            if ours(s.get("TagList")) or s["DBInstanceIdentifier"].startswith(prefix):
                found.add(("db snapshot", s["DBSnapshotIdentifier"], region))
        for b in rds.describe_db_instance_automated_backups().get("DBInstanceAutomatedBackups", []):
            if b["DBInstanceIdentifier"].startswith(prefix) and b.get("Status") == "retained":
                found.add(("db automated backups", b["DBInstanceIdentifier"], region))
        for kind, items, name, arn in (
                ("db subnet group", rds.describe_db_subnet_groups()["DBSubnetGroups"], "DBSubnetGroupName", "DBSubnetGroupArn"),
                ("db parameter group", rds.describe_db_parameter_groups()["DBParameterGroups"], "DBParameterGroupName",
                 "DBParameterGroupArn"),
                ("rds event subscription", rds.describe_event_subscriptions()["EventSubscriptionsList"], "CustSubscriptionId",
                 "EventSubscriptionArn")):
            for item in items:
                if ours(rds.list_tags_for_resource(ResourceName=item[arn])["TagList"]):
                    found.add((kind, item[name], region))
        efs = c("efs")
        for f in efs.describe_file_systems()["FileSystems"]:
            if ours(f.get("Tags")) and f["LifeCycleState"] not in ("deleted", "deleting"):
                replica = any(t["Key"] == "Component" and t["Value"] == "efs-replica" for t in f.get("Tags") or [])
                found.add(("efs replica" if replica else "file system", f["FileSystemId"], region))
        backup = c("backup")
        for v in backup.list_backup_vaults()["BackupVaultList"]:
            if ours(backup.list_tags(ResourceArn=v["BackupVaultArn"])["Tags"]):
                found.add(("backup vault", v["BackupVaultName"], region))
                for p in backup.list_recovery_points_by_backup_vault(BackupVaultName=v["BackupVaultName"])["RecoveryPoints"]:
                    found.add(("recovery point", p["RecoveryPointArn"], region))
        for p in backup.list_backup_plans()["BackupPlansList"]:
            # amazon.aws.backup_plan leaves plans untagged: the name finds them.
            if ours(backup.list_tags(ResourceArn=p["BackupPlanArn"])["Tags"]) or p["BackupPlanName"].startswith(prefix + "-"):
                found.add(("backup plan", p["BackupPlanName"], region))
        sns = c("sns")
        for t in sns.list_topics()["Topics"]:
            if ours(sns.list_tags_for_resource(ResourceArn=t["TopicArn"])["Tags"]):
                found.add(("topic", t["TopicArn"], region))
        lam = c("lambda")
        for f in lam.list_functions()["Functions"]:
            if ours(lam.list_tags(Resource=f["FunctionArn"]).get("Tags")):
                found.add(("function", f["FunctionName"], region))
        sqs = c("sqs")
        for url in sqs.list_queues().get("QueueUrls", []):
            if ours(sqs.list_queue_tags(QueueUrl=url).get("Tags")):
                found.add(("queue", url.rsplit("/", 1)[-1], region))
        logs = c("logs")
        for g in logs.describe_log_groups()["logGroups"]:
            tags = logs.list_tags_log_group(logGroupName=g["logGroupName"]).get("tags")
            if ours(tags) or g["logGroupName"].startswith((f"/{project}/{environment}/", f"/aws/lambda/{prefix}")):
                found.add(("log group", g["logGroupName"], region))
        kms = c("kms")
        for k in kms.list_keys()["Keys"]:
            meta = kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]
            if meta["KeyManager"] == "CUSTOMER" and ours(kms.list_resource_tags(KeyId=k["KeyId"])["Tags"]):
                state = "pending deletion" if meta["KeyState"] == "PendingDeletion" else "kms key"
                found.add((state, k["KeyId"], region))
        ssm = c("ssm")
        for page in ssm.get_paginator("describe_parameters").paginate(ParameterFilters=[
                {"Key": "Name", "Option": "BeginsWith", "Values": [f"/{project}/{environment}/"]}]):
            found.update(("ssm parameter", p["Name"], region) for p in page["Parameters"])
        cw = c("cloudwatch")
        for a in cw.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]:
            found.add(("alarm", a["AlarmName"], region))
        for d in cw.list_dashboards(DashboardNamePrefix=prefix).get("DashboardEntries", []):
            found.add(("dashboard", d["DashboardName"], region))
        acm = c("acm")
        for cert in acm.list_certificates()["CertificateSummaryList"]:
            if ours(acm.list_tags_for_certificate(CertificateArn=cert["CertificateArn"]).get("Tags")):
                found.add(("certificate", cert["CertificateArn"], region))
        ses = c("ses")
        for s in ses.list_configuration_sets().get("ConfigurationSets", []):
            if s["Name"].startswith(prefix):
                found.add(("ses configuration set", s["Name"], region))
    iam = emu.client("iam")
    for r in iam.list_roles()["Roles"]:
        if ours(iam.list_role_tags(RoleName=r["RoleName"])["Tags"]):
            found.add(("iam role", r["RoleName"], GLOBAL))
    for u in iam.list_users()["Users"]:
        if ours(iam.list_user_tags(UserName=u["UserName"])["Tags"]):
            found.add(("iam user", u["UserName"], GLOBAL))
    for p in iam.list_instance_profiles()["InstanceProfiles"]:
        if p["InstanceProfileName"].startswith(prefix):
            found.add(("instance profile", p["InstanceProfileName"], GLOBAL))
    r53 = emu.client("route53")
    for z in r53.list_hosted_zones()["HostedZones"]:
        tags = r53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=z["Id"].split("/")[-1])
        if ours(tags["ResourceTagSet"].get("Tags")):
            found.add(("hosted zone", z["Name"], GLOBAL))
    cf = emu.client("cloudfront")
    for d in cf.list_distributions().get("DistributionList", {}).get("Items", []) or []:
        if ours(cf.list_tags_for_resource(Resource=d["ARN"])["Tags"].get("Items")):
            found.add(("distribution", d["Id"], GLOBAL))
    s3 = emu.client("s3")
    for b in s3.list_buckets()["Buckets"]:
        tags = _safe(lambda b=b: s3.get_bucket_tagging(Bucket=b["Name"])["TagSet"], [])
        if ours(tags):
            found.add(("bucket", b["Name"], GLOBAL))
    return found


# What destroy.yml keeps unless destroy_delete_backups is set (the report names each).
KEPT_BY_DEFAULT = frozenset({"db snapshot", "db automated backups", "backup vault", "recovery point", "kms key",
                             "ssm parameter", "log group", "bucket", "efs replica"})
REPORT_TASK = "Destroy | Report what was removed and what was kept"


def destroy(emu, extra: dict, regions: list[str], **kwargs):
    """playbooks/destroy.yml against the emulator (regions: destroy_regions)."""
    from tests.helpers import run_playbook

    return run_playbook("playbooks/destroy.yml", endpoint=emu.endpoint,
                        extra_vars={"destroy_regions": regions, **extra}, **kwargs)


def destroy_report(run) -> str:
    """The closing report's lines, flattened to one line."""
    parts = run.stdout.split(REPORT_TASK, 1)
    assert len(parts) == 2, run.explain()
    return " ".join(parts[1].split())


def assert_only_the_reported_is_left(emu, project: str, environment: str, regions: list[str], run,
                                     allowed=KEPT_BY_DEFAULT) -> set[tuple[str, str, str]]:
    """After a destroy: what the environment's tags still find is of a kept kind, and each one is
    named in the report (recovery points are counted per vault, not named)."""
    assert run.rc == 0, run.explain()
    report = destroy_report(run)
    left = environment_resources(emu, project, environment, regions)
    assert {kind for kind, _, _ in left} <= set(allowed), sorted(left)
    unreported = [(kind, ident, region) for kind, ident, region in left
                  if kind != "recovery point" and ident not in report]
    assert not unreported, f"left but not reported as kept: {unreported}; report: {report}"
    return left


def assert_a_tier_is_destroyed(emu, made: set[str], regions: list[str], project: str = "shopper",
                               environment: str = "local") -> None:
    """The last test of a tier's module: the kinds the tier made are there, destroy.yml leaves only
    what it reports as kept, and a second destroy changes nothing."""
    before = {kind for kind, _, _ in environment_resources(emu, project, environment, regions)}
    assert made <= before, sorted(made - before)
    run = destroy(emu, {"destroy_confirm": environment}, regions)
    assert_only_the_reported_is_left(emu, project, environment, regions, run)
    again = destroy(emu, {"destroy_confirm": environment}, regions)
    assert again.rc == 0 and again.changed == 0, again.explain()
