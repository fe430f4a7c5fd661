#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""Remove one part of a Protea environment (playbooks/destroy.yml, role destroy).

Why one project module rather than every role's modules with state=absent: a teardown must find
what a run that stopped half-way left behind (an instance a killed bake launched, a NAT gateway
whose route was never added), which only a search by the environment's tags finds; it must go in
dependency order with waits that AWS needs between the steps (the ALB gone before its security
group, the distribution disabled before it is deleted); and it must say what it kept. Ownership
is by tag: a resource is the environment's only when it carries every tag in O(tags) (Project,
Environment, ManagedBy), and where a name is searched first it is a name of the stack contract.
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: environment_teardown
short_description: Remove one part of a Protea environment, keeping its backups unless told otherwise
version_added: 0.1.0
description:
  - Finds the resources of one part (O(part)) of an environment by its tags and the stack contract's names, and
    deletes them in dependency order, waiting where a later step needs the earlier one gone.
  - With O(keep_backups) (the default) the final RDS snapshot, the RDS automated backups, the backup vaults with
    their recovery points, the file system's replica (EFS replication), the log buckets and log groups, the KMS
    keys that encrypt them and the database's stored passwords are kept and listed in RV(kept).
  - What is already gone is not an error, so a teardown after a partial deploy works and a second one changes
    nothing. Supports check mode (lists what would be deleted).
options:
  part:
    description:
      - The part to remove; C(destroy.yml) runs them in this order.
      - C(web) is the Auto Scaling group, instances, launch templates, images and the key pair.
      - C(edge) is the hosted zone, distribution, load balancer, target groups, certificates, SES identity and
        configuration set, log buckets.
      - C(alerting) is alarms, dashboard, RDS event subscriptions, SNS topics, Lambda functions, queues, log groups.
      - C(data) is the database (final snapshot), its subnet and parameter groups, and the file system (after a
        final on-demand backup into the vault when O(keep_backups)); its replication is ended first and its replica
        (tagged C(Component=efs-replica), found in O(regions) and where the replication pointed) deleted only
        without O(keep_backups).
      - C(backup) is the backup plans and, without O(keep_backups), the vaults and their recovery points.
      - C(network) is the VPC and everything in it, and the Elastic IPs.
      - C(identity) is IAM roles, instance profiles, users and policies, SSM parameters and KMS keys.
    type: str
    required: true
    choices: [web, edge, alerting, data, backup, network, identity]
  names:
    description: The stack contract's names (C(protea_names)).
    type: dict
    required: true
  tags:
    description: The tags every resource of the environment carries (C(protea_tags)); all must match.
    type: dict
    required: true
  domain:
    description: The site's domain (hosted zone, SES identity). Empty skips both.
    type: str
    default: ""
  regions:
    description: Every region the environment uses (platform region first, us-east-1, the SES region, a backup copy region).
    type: list
    elements: str
    required: true
  keep_backups:
    description: Keep the final RDS snapshot, automated backups, backup vaults and recovery points, logs and their KMS keys.
    type: bool
    default: true
  final_backup:
    description: With O(keep_backups), back the file system up into the vault (on demand) before deleting it.
    type: bool
    default: true
  final_snapshot_identifier:
    description: Name of the database's final snapshot (O(keep_backups) only).
    type: str
    default: ""
  keep_parameters:
    description: SSM parameters that stay (e.g. the run lock, released by its own task).
    type: list
    elements: str
    default: []
  wait_timeout:
    description: Seconds to wait for each deletion AWS performs asynchronously.
    type: int
    default: 3600
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - Protea founding engineers
"""

EXAMPLES = r"""
- name: Remove the web tier of shopper-staging
  protea.platform.environment_teardown:
    part: web
    names: "{{ protea_names }}"
    tags: "{{ protea_tags }}"
    regions: [af-south-1, us-east-1]
"""

RETURN = r"""
part:
  description: The part this run removed (O(part)).
  returned: always
  type: str
deleted:
  description: What was deleted (or would be, in check mode), as C(<kind> <id> (<region>)).
  returned: always
  type: list
  elements: str
kept:
  description: What was found and kept, each with the reason.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: The kind of resource.
      type: str
    id:
      description: Its name, id or ARN.
      type: str
    region:
      description: Its region (C(global) for IAM, Route 53, CloudFront, S3).
      type: str
    why:
      description: Why it was kept.
      type: str
"""

import time

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

GONE = ("NotFound", "NoSuchEntity", "ResourceNotFoundException", "NoSuchHostedZone", "NoSuchDistribution",
        "LoadBalancerNotFound", "TargetGroupNotFound", "DBInstanceNotFound", "DBSubnetGroupNotFoundFault",
        "DBParameterGroupNotFound", "FileSystemNotFound", "MountTargetNotFound", "AccessPointNotFound",
        "InvalidInstanceID.NotFound", "InvalidGroup.NotFound", "InvalidVpcID.NotFound", "InvalidSubnetID.NotFound",
        "InvalidRouteTableID.NotFound", "InvalidInternetGatewayID.NotFound", "InvalidAllocationID.NotFound",
        "InvalidKeyPair.NotFound", "InvalidAMIID.NotFound", "InvalidSnapshot.NotFound", "NatGatewayNotFound",
        "InvalidLaunchTemplateId.NotFound", "ParameterNotFound", "AWS.SimpleQueueService.NonExistentQueue",
        "NoSuchBucket", "SubscriptionNotFound", "ResourceNotFound", "NotFoundException")
BACKUP_KEPT = "keep_backups: a restore needs it (set destroy_delete_backups to delete it)"


def tags_of(items, key="Key", value="Value"):
    """A dict of AWS's [{Key, Value}] tag lists (any key/value spelling); a dict passes through."""
    if isinstance(items, dict):
        return items
    return {t.get(key, t.get("key")): t.get(value, t.get("value")) for t in items or []}


def is_replica(fs):
    """A replica the efs role made (EFS replication): its Component tag (the efs role's
    efs_replication_tags), or a file system EFS still replicates into."""
    protection = (fs.get("FileSystemProtection") or {}).get("ReplicationOverwriteProtection")
    return tags_of(fs.get("Tags")).get("Component") == "efs-replica" or protection == "REPLICATING"


class Teardown:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.names = module.params["names"]
        self.prefix = self.names["prefix"]
        self.wanted = {str(k): str(v) for k, v in module.params["tags"].items()}
        self.regions = list(dict.fromkeys(r for r in module.params["regions"] if r))
        self.region = self.regions[0]
        self.keep = module.params["keep_backups"]
        self.deleted, self.kept = [], []
        self._clients = {}

    # ---- plumbing
    def client(self, service, region=None):
        key = (service, region or self.region)
        if key not in self._clients:
            self._clients[key] = self.module.client(service, region=key[1], retry_decorator=AWSRetry.jittered_backoff())
        return self._clients[key]

    def ours(self, tags):
        tags = tags_of(tags)
        return all(tags.get(k) == v for k, v in self.wanted.items())

    def delete(self, kind, ident, region, call, *args, **kwargs):
        """Record `kind ident` as deleted and, outside check mode, call `call` (a gone resource is fine)."""
        self.deleted.append(f"{kind} {ident} ({region})")
        if self.module.check_mode:
            return None
        try:
            return call(*args, **kwargs)
        except is_boto3_error_code(GONE):
            return None

    def keep_it(self, kind, ident, region, why=BACKUP_KEPT):
        self.kept.append({"kind": kind, "id": ident, "region": region, "why": why})

    def wait(self, what, done, delay=5):
        """Poll `done()` until true, at most wait_timeout seconds (never in check mode)."""
        if self.module.check_mode:
            return
        deadline = time.time() + self.params["wait_timeout"]
        while not done():
            if time.time() > deadline:
                self.module.fail_json(msg=f"Timed out after {self.params['wait_timeout']} s waiting for {what}; "
                                          "run destroy.yml again to continue (or raise destroy_wait_timeout)",
                                      deleted=self.deleted, kept=self.kept)
            time.sleep(delay)

    def ec2_filters(self, *extra):
        return [{"Name": f"tag:{k}", "Values": [v]} for k, v in self.wanted.items()] + list(extra)

    # ---- web: group, instances, launch templates, images, key pair
    def web(self):
        asg = self.client("autoscaling")
        groups = asg.describe_auto_scaling_groups(aws_retry=True, AutoScalingGroupNames=[self.names["web"]])
        for group in groups["AutoScalingGroups"]:
            if not self.ours(group.get("Tags")) or group.get("Status") == "Delete in progress":
                continue
            name = group["AutoScalingGroupName"]
            self.delete("autoscaling group", name, self.region, asg.delete_auto_scaling_group,
                        aws_retry=True, AutoScalingGroupName=name, ForceDelete=True)
            self.wait(f"the Auto Scaling group {name} to be deleted", lambda: not asg.describe_auto_scaling_groups(
                aws_retry=True, AutoScalingGroupNames=[name])["AutoScalingGroups"])
        ec2 = self.client("ec2")
        live = [i for r in ec2.describe_instances(aws_retry=True, Filters=self.ec2_filters(
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}))["Reservations"]
            for i in r["Instances"]]
        if live:
            ids = sorted(i["InstanceId"] for i in live)
            for instance_id in ids:
                self.deleted.append(f"instance {instance_id} ({self.region})")
            if not self.module.check_mode:
                ec2.terminate_instances(aws_retry=True, InstanceIds=ids)
                ec2.get_waiter("instance_terminated").wait(InstanceIds=ids, WaiterConfig={
                    "Delay": 5, "MaxAttempts": max(1, self.params["wait_timeout"] // 5)})
        for template in ec2.describe_launch_templates(aws_retry=True, Filters=self.ec2_filters())["LaunchTemplates"]:
            self.delete("launch template", template["LaunchTemplateName"], self.region, ec2.delete_launch_template,
                        aws_retry=True, LaunchTemplateId=template["LaunchTemplateId"])
        for image in ec2.describe_images(aws_retry=True, Owners=["self"], Filters=self.ec2_filters())["Images"]:
            self.delete("image", image["ImageId"], self.region, ec2.deregister_image, aws_retry=True, ImageId=image["ImageId"])
            for mapping in image.get("BlockDeviceMappings", []):
                snapshot = mapping.get("Ebs", {}).get("SnapshotId")
                if snapshot:
                    self.delete("image snapshot", snapshot, self.region, ec2.delete_snapshot, aws_retry=True, SnapshotId=snapshot)
        for pair in ec2.describe_key_pairs(aws_retry=True, Filters=self.ec2_filters())["KeyPairs"]:
            self.delete("key pair", pair["KeyName"], self.region, ec2.delete_key_pair, aws_retry=True, KeyName=pair["KeyName"])

    # ---- edge: DNS, distribution, load balancer, certificates, SES, log buckets
    def edge(self):
        self._zone()
        self._distribution()
        elb = self.client("elbv2")
        balancers = self._tagged_elbv2(elb.describe_load_balancers(aws_retry=True)["LoadBalancers"], "LoadBalancerArn")
        for lb in balancers:
            self.delete("load balancer", lb["LoadBalancerName"], self.region, elb.delete_load_balancer,
                        aws_retry=True, LoadBalancerArn=lb["LoadBalancerArn"])
        if balancers:
            arns = [lb["LoadBalancerArn"] for lb in balancers]
            self.wait("the load balancer to be deleted", lambda: not self._elbv2_exist(elb, arns))
        for group in self._tagged_elbv2(elb.describe_target_groups(aws_retry=True)["TargetGroups"], "TargetGroupArn"):
            self.delete("target group", group["TargetGroupName"], self.region, elb.delete_target_group,
                        aws_retry=True, TargetGroupArn=group["TargetGroupArn"])
        for region in self.regions:
            acm = self.client("acm", region)
            for summary in acm.list_certificates(aws_retry=True)["CertificateSummaryList"]:
                arn = summary["CertificateArn"]
                if self.ours(acm.list_tags_for_certificate(aws_retry=True, CertificateArn=arn).get("Tags")):
                    # A certificate stays "in use" for a while after its distribution or listener is gone.
                    self.delete("certificate", summary["DomainName"], region, self._retry_in_use,
                                acm.delete_certificate, CertificateArn=arn)
        self._ses()
        self._buckets()

    def _tagged_elbv2(self, items, arn_key):
        elb = self.client("elbv2")
        mine = [i for i in items if i.get(arn_key, "").split("/")[-2].startswith(self.prefix)]
        tagged = set()
        for start in range(0, len(mine), 20):
            arns = [i[arn_key] for i in mine[start:start + 20]]
            for desc in elb.describe_tags(aws_retry=True, ResourceArns=arns)["TagDescriptions"]:
                if self.ours(desc.get("Tags")):
                    tagged.add(desc["ResourceArn"])
        return [i for i in mine if i[arn_key] in tagged]

    def _elbv2_exist(self, elb, arns):
        try:
            return bool(elb.describe_load_balancers(aws_retry=True, LoadBalancerArns=arns)["LoadBalancers"])
        except is_boto3_error_code("LoadBalancerNotFound"):
            return False

    def _retry_in_use(self, call, **kwargs):
        deadline = time.time() + self.params["wait_timeout"]
        while True:
            try:
                return call(aws_retry=True, **kwargs)
            except is_boto3_error_code("ResourceInUseException"):
                if time.time() > deadline:
                    raise
                time.sleep(10)

    def _zone(self):
        domain = self.params["domain"].rstrip(".")
        if not domain:
            return
        r53 = self.client("route53")
        for zone in r53.list_hosted_zones_by_name(aws_retry=True, DNSName=domain + ".")["HostedZones"]:
            if zone["Name"].rstrip(".") != domain or zone.get("Config", {}).get("PrivateZone"):
                continue
            zone_id = zone["Id"].split("/")[-1]
            tags = r53.list_tags_for_resource(aws_retry=True, ResourceType="hostedzone", ResourceId=zone_id)
            if not self.ours(tags["ResourceTagSet"].get("Tags")):
                continue
            changes = [{"Action": "DELETE", "ResourceRecordSet": record}
                       for page in r53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id)
                       for record in page["ResourceRecordSets"]
                       if not (record["Name"].rstrip(".") == domain and record["Type"] in ("SOA", "NS"))]
            if changes and not self.module.check_mode:
                r53.change_resource_record_sets(aws_retry=True, HostedZoneId=zone_id,
                                                ChangeBatch={"Comment": "destroy.yml", "Changes": changes})
            self.delete(f"hosted zone (and {len(changes)} records)", domain, "global", r53.delete_hosted_zone,
                        aws_retry=True, Id=zone_id)

    def _distribution(self):
        cf = self.client("cloudfront")
        items = [d for page in cf.get_paginator("list_distributions").paginate()
                 for d in page.get("DistributionList", {}).get("Items", [])]
        for summary in items:
            if summary.get("Comment") != self.names["distribution_comment"]:
                continue
            dist_id = summary["Id"]
            tags = cf.list_tags_for_resource(aws_retry=True, Resource=summary["ARN"])["Tags"].get("Items")
            if not self.ours(tags):
                continue
            self.deleted.append(f"distribution {dist_id} (global)")
            if self.module.check_mode:
                continue
            config = cf.get_distribution_config(aws_retry=True, Id=dist_id)
            etag = config["ETag"]
            if config["DistributionConfig"]["Enabled"]:
                config["DistributionConfig"]["Enabled"] = False
                etag = cf.update_distribution(aws_retry=True, Id=dist_id, IfMatch=etag,
                                              DistributionConfig=config["DistributionConfig"])["ETag"]
            # Disabling takes AWS about 15 minutes; only a deployed, disabled distribution can go.
            self.wait(f"the distribution {dist_id} to be disabled",
                      lambda: cf.get_distribution(aws_retry=True, Id=dist_id)["Distribution"]["Status"] == "Deployed", 15)
            etag = cf.get_distribution(aws_retry=True, Id=dist_id)["ETag"]
            cf.delete_distribution(aws_retry=True, Id=dist_id, IfMatch=etag)

    def _ses(self):
        domain = self.params["domain"].rstrip(".")
        for region in self.regions:
            ses = self.client("ses", region)
            if domain and ses.list_identities(aws_retry=True, IdentityType="Domain")["Identities"].count(domain):
                self.delete("SES identity", domain, region, ses.delete_identity, aws_retry=True, Identity=domain)
            for cset in ses.list_configuration_sets(aws_retry=True).get("ConfigurationSets", []):
                if cset["Name"] == self.prefix:
                    self.delete("SES configuration set", cset["Name"], region, ses.delete_configuration_set,
                                aws_retry=True, ConfigurationSetName=cset["Name"])

    def _buckets(self):
        s3 = self.client("s3")
        for bucket in s3.list_buckets(aws_retry=True)["Buckets"]:
            name = bucket["Name"]
            if not name.startswith(self.prefix):
                continue
            try:
                tags = s3.get_bucket_tagging(aws_retry=True, Bucket=name)["TagSet"]
            except is_boto3_error_code(("NoSuchTagSet", "NoSuchBucket")):
                continue
            if not self.ours(tags):
                continue
            if self.keep:
                self.keep_it("log bucket", name, "global", "keep_backups: the access logs are the environment's audit "
                             "trail (set destroy_delete_backups to delete them)")
                continue
            self.delete("log bucket", name, "global", self._empty_and_delete_bucket, name)

    def _empty_and_delete_bucket(self, name):
        s3 = self.client("s3")
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
            objects = [{"Key": o["Key"], "VersionId": o["VersionId"]}
                       for o in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            if objects:
                s3.delete_objects(aws_retry=True, Bucket=name, Delete={"Objects": objects, "Quiet": True})
        s3.delete_bucket(aws_retry=True, Bucket=name)

    # ---- alerting: alarms, dashboard, event subscriptions, topics, functions, queues, log groups
    def alerting(self):
        for region in self.regions:
            cw = self.client("cloudwatch", region)
            alarms = [a["AlarmName"] for page in cw.get_paginator("describe_alarms").paginate(
                AlarmNamePrefix=self.prefix + "-") for a in page.get("MetricAlarms", []) + page.get("CompositeAlarms", [])]
            for start in range(0, len(alarms), 100):
                chunk = alarms[start:start + 100]
                self.deleted.extend(f"alarm {name} ({region})" for name in chunk)
                if not self.module.check_mode:
                    cw.delete_alarms(aws_retry=True, AlarmNames=chunk)
            listed = cw.list_dashboards(aws_retry=True, DashboardNamePrefix=self.prefix).get("DashboardEntries", [])
            dashboards = [d["DashboardName"] for d in listed if d["DashboardName"] == self.prefix]
            if dashboards:
                self.delete("dashboard", self.prefix, region, cw.delete_dashboards, aws_retry=True, DashboardNames=dashboards)
            self._event_subscriptions(region)
            sns = self.client("sns", region)
            for page in sns.get_paginator("list_topics").paginate():
                for topic in page["Topics"]:
                    arn = topic["TopicArn"]
                    if arn.split(":")[-1].startswith(self.prefix) and self.ours(
                            sns.list_tags_for_resource(aws_retry=True, ResourceArn=arn).get("Tags")):
                        self.delete("topic", arn.split(":")[-1], region, sns.delete_topic, aws_retry=True, TopicArn=arn)
            lam = self.client("lambda", region)
            for page in lam.get_paginator("list_functions").paginate():
                for function in page["Functions"]:
                    if function["FunctionName"].startswith(self.prefix) and self.ours(
                            lam.list_tags(aws_retry=True, Resource=function["FunctionArn"]).get("Tags")):
                        self.delete("function", function["FunctionName"], region, lam.delete_function,
                                    aws_retry=True, FunctionName=function["FunctionName"])
            sqs = self.client("sqs", region)
            for url in sqs.list_queues(aws_retry=True, QueueNamePrefix=self.prefix).get("QueueUrls", []):
                if self.ours(sqs.list_queue_tags(aws_retry=True, QueueUrl=url).get("Tags")):
                    self.delete("queue", url.rsplit("/", 1)[-1], region, sqs.delete_queue, aws_retry=True, QueueUrl=url)
            self._log_groups(region)

    def _event_subscriptions(self, region):
        rds = self.client("rds", region)
        for sub in rds.describe_event_subscriptions(aws_retry=True).get("EventSubscriptionsList", []):
            name = sub["CustSubscriptionId"]
            if name.startswith(self.prefix) and self.ours(rds.list_tags_for_resource(
                    aws_retry=True, ResourceName=sub["EventSubscriptionArn"]).get("TagList")):
                self.delete("RDS event subscription", name, region, rds.delete_event_subscription,
                            aws_retry=True, SubscriptionName=name)

    def _log_groups(self, region):
        """Tagged groups, and those created by others under the environment's names: the CloudWatch
        agent's (/<project>/<environment>/...) and Lambda's (/aws/lambda/<prefix>...)."""
        logs = self.client("logs", region)
        named = (self.names["parameter_prefix"] + "/", f"/aws/lambda/{self.prefix}")
        for page in logs.get_paginator("describe_log_groups").paginate():
            for group in page["logGroups"]:
                name = group["logGroupName"]
                if not (name.startswith(named) or self.ours(
                        logs.list_tags_log_group(aws_retry=True, logGroupName=name).get("tags"))):
                    continue
                if self.keep:
                    self.keep_it("log group", name, region, "keep_backups: logs outlive the environment "
                                 "(set destroy_delete_backups to delete them)")
                else:
                    self.delete("log group", name, region, logs.delete_log_group, aws_retry=True, logGroupName=name)

    # ---- data: database (final snapshot) and file system (final backup)
    def data(self):
        rds = self.client("rds")
        db = self.names["db"]
        try:
            instance = rds.describe_db_instances(aws_retry=True, DBInstanceIdentifier=db)["DBInstances"][0]
        except is_boto3_error_code("DBInstanceNotFound"):
            instance = None
        if instance and not self.ours(instance.get("TagList")):
            instance = None  # the name, but not the environment's: neither deleted nor waited for
        if instance and instance["DBInstanceStatus"] != "deleting":
            self._delete_db(rds, instance)
        if instance:
            self.wait(f"the database {db} to be deleted", lambda: not self._db_exists(rds, db), 15)
        self._db_backups(rds, db)
        for group in rds.describe_db_subnet_groups(aws_retry=True)["DBSubnetGroups"]:
            name = group["DBSubnetGroupName"]
            if name.startswith(self.prefix) and self.ours(rds.list_tags_for_resource(
                    aws_retry=True, ResourceName=group["DBSubnetGroupArn"]).get("TagList")):
                self.delete("DB subnet group", name, self.region, rds.delete_db_subnet_group,
                            aws_retry=True, DBSubnetGroupName=name)
        for group in rds.describe_db_parameter_groups(aws_retry=True)["DBParameterGroups"]:
            name = group["DBParameterGroupName"]
            if name.startswith(self.prefix) and self.ours(rds.list_tags_for_resource(
                    aws_retry=True, ResourceName=group["DBParameterGroupArn"]).get("TagList")):
                self.delete("DB parameter group", name, self.region, rds.delete_db_parameter_group,
                            aws_retry=True, DBParameterGroupName=name)
        self._file_systems()

    def _db_exists(self, rds, db):
        try:
            return bool(rds.describe_db_instances(aws_retry=True, DBInstanceIdentifier=db)["DBInstances"])
        except is_boto3_error_code("DBInstanceNotFound"):
            return False

    def _delete_db(self, rds, instance):
        db = instance["DBInstanceIdentifier"]
        snapshot = self.params["final_snapshot_identifier"]
        if self.keep and not snapshot:
            self.module.fail_json(msg="final_snapshot_identifier is required with keep_backups")
        self.deleted.append(f"database {db} ({self.region})")
        if self.module.check_mode:
            if self.keep:
                self.keep_it("final DB snapshot", snapshot, self.region)
            return
        if instance.get("DeletionProtection"):
            rds.modify_db_instance(aws_retry=True, DBInstanceIdentifier=db, DeletionProtection=False, ApplyImmediately=True)
        if self.keep:
            rds.delete_db_instance(aws_retry=True, DBInstanceIdentifier=db, SkipFinalSnapshot=False,
                                   FinalDBSnapshotIdentifier=snapshot, DeleteAutomatedBackups=False)
        else:
            rds.delete_db_instance(aws_retry=True, DBInstanceIdentifier=db, SkipFinalSnapshot=True,
                                   DeleteAutomatedBackups=True)

    def _db_backups(self, rds, db):
        """Snapshots and retained automated backups of the database: kept, or deleted."""
        snapshots = rds.describe_db_snapshots(aws_retry=True, DBInstanceIdentifier=db, SnapshotType="manual")["DBSnapshots"]
        for snap in snapshots:
            name = snap["DBSnapshotIdentifier"]
            if self.keep:
                self.keep_it("DB snapshot", name, self.region)
            else:
                self.delete("DB snapshot", name, self.region, rds.delete_db_snapshot, aws_retry=True,
                            DBSnapshotIdentifier=name)
        try:
            retained = rds.describe_db_instance_automated_backups(aws_retry=True, DBInstanceIdentifier=db)
        except is_boto3_error_code(("DBInstanceAutomatedBackupNotFound", "DBInstanceAutomatedBackupNotFoundFault")):
            return
        for backup in retained.get("DBInstanceAutomatedBackups", []):
            if backup.get("Status") != "retained":
                continue
            ident = backup.get("DbiResourceId", db)
            if self.keep:
                self.keep_it("DB automated backups", f"{db} ({ident})", self.region)
            else:
                self.delete("DB automated backups", ident, self.region, rds.delete_db_instance_automated_backup,
                            aws_retry=True, DbiResourceId=ident)

    def _file_systems(self):
        efs = self.client("efs")
        mine = [fs for fs in efs.describe_file_systems(aws_retry=True)["FileSystems"]
                if self.ours(fs.get("Tags")) and fs["LifeCycleState"] not in ("deleting", "deleted")]
        # EFS refuses to delete a member of a replication: end each replication first. The replica
        # is the file system's data (kept with keep_backups, like the final backup).
        replicas = {}
        for fs in mine:
            replicas.update(self._end_replication(efs, fs["FileSystemId"]))
        for fs in mine:
            fs_id = fs["FileSystemId"]
            if is_replica(fs) or fs_id in replicas:
                continue
            if self.keep and self.params["final_backup"]:
                self._final_backup(fs)
            self._delete_file_system(efs, fs_id, self.region)
        self._replicas(replicas)

    def _end_replication(self, efs, fs_id):
        """Delete the replication the file system is the source of; {replica id: its region}."""
        try:
            found = efs.describe_replication_configurations(aws_retry=True, FileSystemId=fs_id)["Replications"]
        except is_boto3_error_code("ReplicationNotFound"):
            return {}
        ends = {d["FileSystemId"]: d["Region"] for r in found if r.get("SourceFileSystemId") == fs_id
                for d in r.get("Destinations") or []}
        for replica, region in ends.items():
            self.delete("EFS replication", f"{fs_id} -> {replica} ({region})", self.region,
                        efs.delete_replication_configuration, aws_retry=True, SourceFileSystemId=fs_id)
            self.wait(f"the replication of {fs_id} to end", lambda: not self._replicating(efs, fs_id))
        return ends

    def _replicating(self, efs, fs_id):
        try:
            return bool(efs.describe_replication_configurations(aws_retry=True, FileSystemId=fs_id)["Replications"])
        except is_boto3_error_code(("ReplicationNotFound", "FileSystemNotFound")):
            return False

    def _replicas(self, known):
        """The file systems' replicas (tagged Component=efs-replica, in every region, or just
        released by _end_replication): kept with keep_backups, else deleted."""
        regions = list(dict.fromkeys(self.regions + list(known.values())))
        for region in regions:
            efs = self.client("efs", region)
            for fs in efs.describe_file_systems(aws_retry=True)["FileSystems"]:
                fs_id = fs["FileSystemId"]
                if fs["LifeCycleState"] in ("deleting", "deleted") or not self.ours(fs.get("Tags")):
                    continue
                if not (is_replica(fs) or known.get(fs_id) == region):
                    continue
                if self.keep:
                    self.keep_it("EFS replica", fs_id, region, "keep_backups: the file system's replica holds its data "
                                 "(set destroy_delete_backups to delete it)")
                    continue
                self._delete_file_system(efs, fs_id, region)

    def _delete_file_system(self, efs, fs_id, region):
        for point in efs.describe_access_points(aws_retry=True, FileSystemId=fs_id).get("AccessPoints", []):
            self.delete("EFS access point", point["AccessPointId"], region, efs.delete_access_point,
                        aws_retry=True, AccessPointId=point["AccessPointId"])
        targets = efs.describe_mount_targets(aws_retry=True, FileSystemId=fs_id)["MountTargets"]
        for target in targets:
            self.delete("EFS mount target", target["MountTargetId"], region, efs.delete_mount_target,
                        aws_retry=True, MountTargetId=target["MountTargetId"])
        if targets:
            self.wait(f"the mount targets of {fs_id} to be deleted", lambda: not efs.describe_mount_targets(
                aws_retry=True, FileSystemId=fs_id)["MountTargets"])
        self.delete("file system", fs_id, region, efs.delete_file_system, aws_retry=True, FileSystemId=fs_id)
        self.wait(f"the file system {fs_id} to be deleted", lambda: not self._efs_exists(efs, fs_id))

    def _efs_exists(self, efs, fs_id):
        try:
            return bool(efs.describe_file_systems(aws_retry=True, FileSystemId=fs_id)["FileSystems"])
        except is_boto3_error_code("FileSystemNotFound"):
            return False

    def _final_backup(self, fs):
        """An on-demand backup of the file system into the daily plan's vault, with the plan's role:
        the file system's counterpart of the database's final snapshot."""
        backup = self.client("backup")
        vault, role = self._plan_target()
        if not vault:
            self.module.fail_json(msg=f"No backup plan of {self.prefix} to take the file system's final backup with: "
                                      "run playbooks/data.yml first, or set destroy_final_backup=false to delete "
                                      f"{fs['FileSystemId']} without one", deleted=self.deleted, kept=self.kept)
        self.keep_it("final EFS backup", f"{fs['FileSystemId']} in vault {vault}", self.region)
        if self.module.check_mode:
            return
        job = backup.start_backup_job(aws_retry=True, BackupVaultName=vault, ResourceArn=fs["FileSystemArn"],
                                      IamRoleArn=role)["BackupJobId"]
        state = {}

        def finished():
            state.update(backup.describe_backup_job(aws_retry=True, BackupJobId=job))
            return state["State"] in ("COMPLETED", "FAILED", "ABORTED", "EXPIRED", "PARTIAL")
        self.wait(f"the final backup {job} of {fs['FileSystemId']}", finished, 15)
        if state["State"] != "COMPLETED":
            self.module.fail_json(msg=f"The final backup of {fs['FileSystemId']} ended {state['State']} "
                                      f"({state.get('StatusMessage', '')}); nothing of it was deleted",
                                  deleted=self.deleted, kept=self.kept)

    def _plans(self, region=None):
        """The environment's backup plans: named with its prefix and backing up into a vault of
        its own (amazon.aws.backup_plan leaves plans untagged, see role backup)."""
        backup = self.client("backup", region)
        vaults = {v["BackupVaultName"] for v in backup.list_backup_vaults(aws_retry=True)["BackupVaultList"]
                  if self.ours(backup.list_tags(aws_retry=True, ResourceArn=v["BackupVaultArn"]).get("Tags"))}
        for plan in backup.list_backup_plans(aws_retry=True)["BackupPlansList"]:
            if not plan["BackupPlanName"].startswith(self.prefix + "-"):
                continue
            rules = backup.get_backup_plan(aws_retry=True, BackupPlanId=plan["BackupPlanId"])["BackupPlan"]["Rules"]
            if any(rule["TargetBackupVaultName"] in vaults for rule in rules):
                yield plan, rules

    def _plan_target(self):
        backup = self.client("backup")
        for plan, rules in self._plans():
            selections = backup.list_backup_selections(aws_retry=True, BackupPlanId=plan["BackupPlanId"])
            roles = [s["IamRoleArn"] for s in selections["BackupSelectionsList"]]
            if rules and roles:
                return rules[0]["TargetBackupVaultName"], roles[0]
        return None, None

    # ---- backup: plans; vaults only without keep_backups
    def backup(self):
        for region in self.regions:
            backup = self.client("backup", region)
            for plan, _rules in list(self._plans(region)):
                plan_id = plan["BackupPlanId"]
                for sel in backup.list_backup_selections(aws_retry=True, BackupPlanId=plan_id)["BackupSelectionsList"]:
                    self.delete("backup selection", sel["SelectionName"], region, backup.delete_backup_selection,
                                aws_retry=True, BackupPlanId=plan_id, SelectionId=sel["SelectionId"])
                self.delete("backup plan", plan["BackupPlanName"], region, backup.delete_backup_plan,
                            aws_retry=True, BackupPlanId=plan_id)
            for vault in backup.list_backup_vaults(aws_retry=True)["BackupVaultList"]:
                if not self.ours(backup.list_tags(aws_retry=True, ResourceArn=vault["BackupVaultArn"]).get("Tags")):
                    continue
                name = vault["BackupVaultName"]
                points = backup.list_recovery_points_by_backup_vault(aws_retry=True, BackupVaultName=name)["RecoveryPoints"]
                if self.keep:
                    self.keep_it("backup vault", f"{name} ({len(points)} recovery points)", region)
                    continue
                if vault.get("Locked"):
                    self.keep_it("backup vault", name, region, "Vault Lock: its recovery points cannot be deleted before "
                                 "their retention ends (a governance lock can be removed by the break-glass role)")
                    continue
                self._delete_vault(backup, name, points, region)

    def _delete_vault(self, backup, name, points, region):
        # The vault's access policy denies deleting recovery points to everyone but the break-glass role.
        self.delete("backup vault access policy", name, region, backup.delete_backup_vault_access_policy,
                    aws_retry=True, BackupVaultName=name)
        for point in points:
            self.delete("recovery point", point["RecoveryPointArn"], region, backup.delete_recovery_point,
                        aws_retry=True, BackupVaultName=name, RecoveryPointArn=point["RecoveryPointArn"])
        self.delete("backup vault notifications", name, region, backup.delete_backup_vault_notifications,
                    aws_retry=True, BackupVaultName=name)
        self.delete("backup vault", name, region, backup.delete_backup_vault, aws_retry=True, BackupVaultName=name)

    # ---- network: VPC and all in it, Elastic IPs
    def network(self):
        ec2 = self.client("ec2")
        for vpc in ec2.describe_vpcs(aws_retry=True, Filters=self.ec2_filters())["Vpcs"]:
            self._vpc(ec2, vpc["VpcId"])
        for address in ec2.describe_addresses(aws_retry=True, Filters=self.ec2_filters())["Addresses"]:
            if address.get("AssociationId") and not self.module.check_mode:
                try:
                    ec2.disassociate_address(aws_retry=True, AssociationId=address["AssociationId"])
                except is_boto3_error_code(GONE + ("InvalidAssociationID.NotFound",)):
                    pass
            self.delete("Elastic IP", address["PublicIp"], self.region, ec2.release_address,
                        aws_retry=True, AllocationId=address["AllocationId"])

    def _vpc(self, ec2, vpc_id):
        in_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
        for log in ec2.describe_flow_logs(aws_retry=True, Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"]:
            self.delete("flow log", log["FlowLogId"], self.region, ec2.delete_flow_logs, aws_retry=True,
                        FlowLogIds=[log["FlowLogId"]])
        endpoints = [e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints(aws_retry=True, Filters=in_vpc)["VpcEndpoints"]
                     if e["State"].lower() not in ("deleted", "deleting")]
        if endpoints:
            self.deleted.extend(f"VPC endpoint {e} ({self.region})" for e in endpoints)
            if not self.module.check_mode:
                ec2.delete_vpc_endpoints(aws_retry=True, VpcEndpointIds=endpoints)
        nats = [n["NatGatewayId"] for n in ec2.describe_nat_gateways(aws_retry=True, Filters=in_vpc + [
            {"Name": "state", "Values": ["pending", "available", "failed"]}])["NatGateways"]]
        for nat in nats:
            self.delete("NAT gateway", nat, self.region, ec2.delete_nat_gateway, aws_retry=True, NatGatewayId=nat)
        if nats:
            self.wait("the NAT gateways to be deleted", lambda: not ec2.describe_nat_gateways(
                aws_retry=True, NatGatewayIds=nats, Filters=[{"Name": "state", "Values": ["pending", "available", "deleting"]}]
            )["NatGateways"])
        groups = [g for g in ec2.describe_security_groups(aws_retry=True, Filters=in_vpc)["SecurityGroups"]
                  if g["GroupName"] != "default"]
        if not self.module.check_mode:
            # Groups admit each other: every rule goes first, then every group.
            for group in groups:
                if group.get("IpPermissions"):
                    ec2.revoke_security_group_ingress(aws_retry=True, GroupId=group["GroupId"],
                                                      IpPermissions=group["IpPermissions"])
                if group.get("IpPermissionsEgress"):
                    ec2.revoke_security_group_egress(aws_retry=True, GroupId=group["GroupId"],
                                                     IpPermissions=group["IpPermissionsEgress"])
        for group in groups:
            self.delete("security group", group["GroupName"], self.region, self._retry_dependency,
                        ec2.delete_security_group, GroupId=group["GroupId"])
        for igw in ec2.describe_internet_gateways(aws_retry=True, Filters=[
                {"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]:
            if not self.module.check_mode:
                ec2.detach_internet_gateway(aws_retry=True, InternetGatewayId=igw["InternetGatewayId"], VpcId=vpc_id)
            self.delete("internet gateway", igw["InternetGatewayId"], self.region, ec2.delete_internet_gateway,
                        aws_retry=True, InternetGatewayId=igw["InternetGatewayId"])
        for table in ec2.describe_route_tables(aws_retry=True, Filters=in_vpc)["RouteTables"]:
            if any(a.get("Main") for a in table.get("Associations", [])):
                continue
            if not self.module.check_mode:
                for assoc in table.get("Associations", []):
                    ec2.disassociate_route_table(aws_retry=True, AssociationId=assoc["RouteTableAssociationId"])
            self.delete("route table", table["RouteTableId"], self.region, ec2.delete_route_table,
                        aws_retry=True, RouteTableId=table["RouteTableId"])
        for subnet in ec2.describe_subnets(aws_retry=True, Filters=in_vpc)["Subnets"]:
            self.delete("subnet", subnet["SubnetId"], self.region, self._retry_dependency, ec2.delete_subnet,
                        SubnetId=subnet["SubnetId"])
        self.delete("VPC", vpc_id, self.region, self._retry_dependency, ec2.delete_vpc, VpcId=vpc_id)

    def _retry_dependency(self, call, **kwargs):
        """Network interfaces of deleted load balancers and endpoints linger for a while on AWS."""
        deadline = time.time() + min(self.params["wait_timeout"], 900)
        while True:
            try:
                return call(aws_retry=True, **kwargs)
            except is_boto3_error_code("DependencyViolation"):
                if time.time() > deadline:
                    raise
                time.sleep(10)

    # ---- identity: IAM, SSM parameters, KMS keys
    def identity(self):
        iam = self.client("iam")
        for page in iam.get_paginator("list_roles").paginate():
            for role in page["Roles"]:
                name = role["RoleName"]
                if name.startswith(self.prefix) and self.ours(iam.list_role_tags(aws_retry=True, RoleName=name)["Tags"]):
                    self.delete("IAM role", name, "global", self._delete_role, iam, name)
        for page in iam.get_paginator("list_users").paginate():
            for user in page["Users"]:
                name = user["UserName"]
                if name.startswith(self.prefix) and self.ours(iam.list_user_tags(aws_retry=True, UserName=name)["Tags"]):
                    self.delete("IAM user", name, "global", self._delete_user, iam, name)
        self._parameters()
        self._keys()

    def _delete_role(self, iam, name):
        for profile in iam.list_instance_profiles_for_role(aws_retry=True, RoleName=name)["InstanceProfiles"]:
            iam.remove_role_from_instance_profile(aws_retry=True, InstanceProfileName=profile["InstanceProfileName"],
                                                  RoleName=name)
            if profile["InstanceProfileName"].startswith(self.prefix):
                iam.delete_instance_profile(aws_retry=True, InstanceProfileName=profile["InstanceProfileName"])
        for policy in iam.list_role_policies(aws_retry=True, RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(aws_retry=True, RoleName=name, PolicyName=policy)
        for policy in iam.list_attached_role_policies(aws_retry=True, RoleName=name)["AttachedPolicies"]:
            iam.detach_role_policy(aws_retry=True, RoleName=name, PolicyArn=policy["PolicyArn"])
        iam.delete_role(aws_retry=True, RoleName=name)

    def _delete_user(self, iam, name):
        for key in iam.list_access_keys(aws_retry=True, UserName=name)["AccessKeyMetadata"]:
            iam.delete_access_key(aws_retry=True, UserName=name, AccessKeyId=key["AccessKeyId"])
        for policy in iam.list_user_policies(aws_retry=True, UserName=name)["PolicyNames"]:
            iam.delete_user_policy(aws_retry=True, UserName=name, PolicyName=policy)
        for policy in iam.list_attached_user_policies(aws_retry=True, UserName=name)["AttachedPolicies"]:
            iam.detach_user_policy(aws_retry=True, UserName=name, PolicyArn=policy["PolicyArn"])
        iam.delete_user(aws_retry=True, UserName=name)

    def _parameters(self):
        kept_with_backups = (self.names["master_password_parameter"], self.names["replication_password_parameter"])
        for region in self.regions:
            ssm = self.client("ssm", region)
            names = [p["Name"] for page in ssm.get_paginator("describe_parameters").paginate(ParameterFilters=[
                {"Key": "Name", "Option": "BeginsWith", "Values": [self.names["parameter_prefix"] + "/"]}])
                for p in page["Parameters"]]
            doomed = []
            for name in sorted(names):
                if name in self.params["keep_parameters"]:
                    continue
                if self.keep and name in kept_with_backups:
                    self.keep_it("SSM parameter", name, region, "keep_backups: the kept database snapshot's password "
                                 "(set destroy_delete_backups to delete it)")
                    continue
                doomed.append(name)
                self.deleted.append(f"SSM parameter {name} ({region})")
            for start in range(0, len(doomed), 10):
                if not self.module.check_mode:
                    ssm.delete_parameters(aws_retry=True, Names=doomed[start:start + 10])

    def _keys(self):
        for region in self.regions:
            kms = self.client("kms", region)
            aliases = [a for page in kms.get_paginator("list_aliases").paginate() for a in page["Aliases"]
                       if a["AliasName"].startswith(f"alias/{self.prefix}-") and a.get("TargetKeyId")]
            for alias in aliases:
                key = kms.describe_key(aws_retry=True, KeyId=alias["TargetKeyId"])["KeyMetadata"]
                if key["KeyState"] == "PendingDeletion":
                    continue
                tags = kms.list_resource_tags(aws_retry=True, KeyId=key["KeyId"]).get("Tags")
                if not self.ours(tags_of(tags, "TagKey", "TagValue")):
                    continue
                if self.keep:
                    self.keep_it("KMS key", f"{alias['AliasName']} ({key['KeyId']})", region, "keep_backups: it encrypts what was kept "
                                 "(snapshot, recovery points, password, logs)")
                    continue
                # KMS never deletes a key at once: 7 days is the shortest waiting period (CancelKeyDeletion undoes it).
                self.delete("KMS alias", alias["AliasName"], region, kms.delete_alias, aws_retry=True,
                            AliasName=alias["AliasName"])
                self.delete("KMS key (deletion in 7 days)", key["KeyId"], region, kms.schedule_key_deletion,
                            aws_retry=True, KeyId=key["KeyId"], PendingWindowInDays=7)


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            part=dict(type="str", required=True, choices=["web", "edge", "alerting", "data", "backup", "network", "identity"]),
            names=dict(type="dict", required=True),
            tags=dict(type="dict", required=True),
            domain=dict(type="str", default=""),
            regions=dict(type="list", elements="str", required=True),
            keep_backups=dict(type="bool", default=True),
            final_backup=dict(type="bool", default=True),
            final_snapshot_identifier=dict(type="str", default=""),
            keep_parameters=dict(type="list", elements="str", default=[], no_log=False),
            wait_timeout=dict(type="int", default=3600),
        ),
        supports_check_mode=True,
    )
    missing = sorted({"prefix", "web", "db", "distribution_comment", "parameter_prefix", "master_password_parameter",
                      "replication_password_parameter"} - set(module.params["names"]))
    if missing or not module.params["tags"] or not module.params["regions"]:
        module.fail_json(msg=f"names must be protea_names (missing {missing}), tags protea_tags (non-empty) and "
                             "regions at least the platform region")
    teardown = Teardown(module)
    try:
        getattr(teardown, module.params["part"])()
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError,
            botocore.exceptions.WaiterError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Could not remove the {module.params['part']} part of {teardown.prefix} "
                                    f"(done so far: {len(teardown.deleted)} deletions; run destroy.yml again to continue)",
                             deleted=teardown.deleted, kept=teardown.kept)
    module.exit_json(changed=bool(teardown.deleted), part=module.params["part"], deleted=teardown.deleted,
                     kept=teardown.kept)


if __name__ == "__main__":
    main()
