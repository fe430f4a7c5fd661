"""Alerting tier on the emulator: check mode, converge, no-op converge, boto3 verification,
and the end-to-end path alarm -> SNS -> deployed Lambda zip -> Slack double.

The other tiers' resources the alarms watch (ALB, target group, a bastion, the file system,
the distribution) are created here with boto3 under the names those roles use; the playbook
runs alone, as after the other tiers, and finds them. The Slack double is a real HTTP
server on loopback; the emulator's compat layer runs the deployed zip for SNS deliveries
(tests/localcloud/compat/lambda_sns.py) and publishes alarm transitions to SNS
(compat/cloudwatch.py).
"""
from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import time
from types import SimpleNamespace

import pytest

from tests.crash import duplicates
from tests.doubles.slack_double import SlackDouble
from tests.helpers import REPO, run_playbook
from tests.localcloud.alarm_evaluation import alarm_values, emulator_fetch
from tests.localcloud.alarm_evaluation import state as alarm_state
from tests.sweep import assert_a_tier_is_destroyed

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

PLAYBOOK = "playbooks/alerting.yml"
P = "shopper-local"
REGION, EDGE = "af-south-1", "us-east-1"
ACCOUNT = "123456789012"
FN = f"{P}-slack-notifier"
PARAM = "/shopper/local/slack/webhook-url"
DEBIAN_OWNER = "136693071363"
EXTRA_EDGE_ALARM = {
    "name": f"{P}-dns-health", "region": EDGE, "namespace": "AWS/Route53", "metric_name": "HealthCheckStatus",
    "statistic": "Minimum", "dimensions": {"HealthCheckId": "0a1b2c3d-example"}, "period": 60,
    "evaluation_periods": 2, "comparison": "LessThanThreshold", "threshold": 1,
}


def _seed_other_tiers(emu) -> dict:
    """What the web and network tiers would have built, under their naming conventions."""
    ec2, elb = emu.client("ec2"), emu.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]
               for cidr, az in (("10.20.0.0/20", "af-south-1a"), ("10.20.16.0/20", "af-south-1b"))]
    lb = elb.create_load_balancer(Name=f"{P}-alb", Subnets=subnets, Type="application")["LoadBalancers"][0]
    tg = elb.create_target_group(Name=f"{P}-web", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]
    ami = ec2.describe_images(Owners=[DEBIAN_OWNER])["Images"][0]["ImageId"]
    tags = [{"Key": "Name", "Value": f"{P}-bastion-a"}, {"Key": "Project", "Value": "shopper"},
            {"Key": "Environment", "Value": "local"}, {"Key": "Component", "Value": "bastion"}]
    bastion = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, SubnetId=subnets[0], InstanceType="t3.micro",
                                TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])["Instances"][0]
    # The web group (edge tier), the backup vault (data tier), the SES events topic (edge tier).
    ec2.create_launch_template(LaunchTemplateName=f"{P}-web", LaunchTemplateData={"ImageId": ami, "InstanceType": "t3.small"})
    emu.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=f"{P}-web", LaunchTemplate={"LaunchTemplateName": f"{P}-web", "Version": "1"},
        MinSize=0, MaxSize=2, DesiredCapacity=0, VPCZoneIdentifier=",".join(subnets))
    emu.client("backup").create_backup_vault(BackupVaultName=P)
    emu.client("sns").create_topic(Name=f"{P}-ses-events")
    # The data tier's file system (efs role: Name tag) and the edge tier's distribution (its comment).
    efs = emu.client("efs").create_file_system(CreationToken=f"{P}-efs", Tags=[{"Key": "Name", "Value": f"{P}-efs"}])
    # Its replica (efs role, EFS replication): role stack discovers it for the lag alarm.
    replica = emu.client("efs").create_replication_configuration(
        SourceFileSystemId=efs["FileSystemId"], Destinations=[{"Region": "eu-west-1"}])["Destinations"][0]["FileSystemId"]
    cf = emu.client("cloudfront").create_distribution(DistributionConfig={
        "CallerReference": P, "Comment": f"{P} site", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "alb", "DomainName": "origin.shopper.example.com",
                                              "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443,
                                                                     "OriginProtocolPolicy": "https-only"}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "alb", "ViewerProtocolPolicy": "redirect-to-https",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}})["Distribution"]
    return {"alb": lb["LoadBalancerArn"].split(":loadbalancer/")[1], "tg": tg["TargetGroupArn"].split(":")[-1],
            "bastion": bastion["InstanceId"], "efs": efs["FileSystemId"], "replica": replica, "cf": cf["Id"]}


def _topics(emu) -> list[str]:
    return [t["TopicArn"] for region in (REGION, EDGE) for t in emu.client("sns", region=region).list_topics()["Topics"]]


def _subscriptions(emu) -> list[tuple[str, str, str]]:
    """(topic, endpoint, subscription ARN) of every subscription: a resubscription changes the ARN."""
    out = []
    for region in (REGION, EDGE):
        sns = emu.client("sns", region=region)
        out += [(s["TopicArn"], s["Endpoint"], s["SubscriptionArn"]) for s in sns.list_subscriptions()["Subscriptions"]]
    return sorted(out)


@pytest.fixture(scope="module")
def slack():
    with SlackDouble() as double:
        yield double


@pytest.fixture(scope="module")
def stack(emulator, slack, tmp_path_factory):
    emulator.reset()
    targets = _seed_other_tiers(emulator)
    extra = {
        "slack_notifier_webhook_url": slack.webhook_url,
        "slack_notifier_backoff_seconds": 0.05,
        "slack_notifier_build_dir": str(tmp_path_factory.mktemp("slack-build")),
        # An extra alarm on a metric that exists only in us-east-1, with no topic named: it must
        # notify the us-east-1 topic (the strict emulator, like CloudWatch, refuses the
        # af-south-1 alarms topic the role used to give it: "Invalid region af-south-1 specified").
        "alerts_extra_alarms": [EXTRA_EDGE_ALARM],
    }
    run = dict(endpoint=emulator.endpoint, extra_vars=extra)
    check = run_playbook(PLAYBOOK, check=True, diff=True, **run)
    topics_after_check = _topics(emulator)
    # Crash-safe re-runs: the converge is killed (SIGKILL) right after AWS created the Slack
    # function, then right after a topic subscription; "first" resumes it.
    crashes = [run_playbook(PLAYBOOK, crash_action=action, **run) for action in CRASH_POINTS]
    first = run_playbook(PLAYBOOK, **run)
    assert first.rc == 0, first.explain()
    subscriptions_after_first = _subscriptions(emulator)
    second = run_playbook(PLAYBOOK, **run)
    return SimpleNamespace(emu=emulator, targets=targets, check=check, topics_after_check=topics_after_check,
                           crashes=crashes, first=first, second=second,
                           subscriptions_after_first=subscriptions_after_first, run=run)


CRASH_POINTS = ("CreateFunction", "Subscribe")


def test_runs_killed_right_after_aws_acted_resume_with_nothing_duplicated(stack):
    assert [(run.rc, (run.crashed_at or "").split(" ")[-1]) for run in stack.crashes] == [
        (-9, action) for action in CRASH_POINTS], stack.crashes[-1].explain()
    assert duplicates(stack.emu.endpoint, ["af-south-1", "us-east-1"]) == []
    for region in ("af-south-1", "us-east-1"):
        names = [f["FunctionName"] for f in stack.emu.client("lambda", region=region).list_functions()["Functions"]]
        assert len(names) == len(set(names)) == 1, names


def _wait(fetch, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = fetch()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError("nothing arrived before the deadline")


# --- convergence --------------------------------------------------------------------------
def test_check_mode_on_an_empty_cloud_predicts_changes_and_creates_nothing(stack):
    assert stack.check.rc == 0, stack.check.explain()
    assert stack.check.changed > 0
    # Only the SES events topic the edge tier would have made (seeded above).
    assert stack.topics_after_check == [f"arn:aws:sns:{REGION}:{ACCOUNT}:{P}-ses-events"]


def test_second_converge_changes_nothing(stack):
    assert stack.second.rc == 0, stack.second.explain()
    changed_tasks = [block.split("]", 1)[0] for block in stack.second.stdout.split("TASK [")[1:]
                     if "\nchanged:" in block]
    assert changed_tasks == [] and stack.second.changed == 0, changed_tasks


def test_first_converge_subscribes_the_unqualified_function(stack):
    """A version-qualified endpoint (…:function:NAME:1) would be swapped on the next run."""
    lambda_endpoints = sorted(e for _, e, _ in stack.subscriptions_after_first if ":lambda:" in e)
    # alarms, events and SES events in the platform region; edge alarms in us-east-1.
    assert lambda_endpoints == sorted(f"arn:aws:lambda:{r}:{ACCOUNT}:function:{FN}" for r in (REGION, REGION, REGION, EDGE))
    assert _subscriptions(stack.emu) == stack.subscriptions_after_first


def test_webhook_url_is_only_in_the_secure_string(stack, slack):
    ssm = stack.emu.client("ssm")
    param = ssm.get_parameter(Name=PARAM, WithDecryption=True)["Parameter"]
    assert param["Type"] == "SecureString" and param["Value"] == slack.webhook_url
    for region in (REGION, EDGE):
        env = stack.emu.client("lambda", region=region).get_function_configuration(FunctionName=FN)["Environment"]
        assert env["Variables"]["SLACK_WEBHOOK_PARAMETER"] == PARAM
        assert env["Variables"]["SLACK_WEBHOOK_PARAMETER_REGION"] == REGION
        assert slack.path not in json.dumps(env)
    for run in (stack.check, stack.first, stack.second):
        assert slack.path not in run.stdout + run.stderr


# --- Lambda -------------------------------------------------------------------------------
def _expected_code_sha() -> str:
    spec = importlib.util.spec_from_file_location("lambda_package", REPO / "plugins/modules/lambda_package.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    data, files = module.build(str(REPO / "roles/slack_notifier/files/lambda"), ["*.pyc", "__pycache__", ".*"])
    assert files == ["slack_notifier.py"]
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_function_copies_run_the_repository_source_with_a_dead_letter_queue(stack):
    sha = _expected_code_sha()
    for region in (REGION, EDGE):
        config = stack.emu.client("lambda", region=region).get_function_configuration(FunctionName=FN)
        assert config["CodeSha256"] == sha
        assert (config["Runtime"], config["Handler"]) == ("python3.12", "slack_notifier.handler")
        assert config["Role"] == f"arn:aws:iam::{ACCOUNT}:role/{FN}"
        assert config["DeadLetterConfig"]["TargetArn"] == f"arn:aws:sqs:{region}:{ACCOUNT}:{FN}-dlq"
        assert config["Timeout"] == 60
        groups = stack.emu.client("logs", region=region).describe_log_groups(
            logGroupNamePrefix=f"/aws/lambda/{FN}")["logGroups"]
        assert [(g["logGroupName"], g.get("retentionInDays")) for g in groups] == [(f"/aws/lambda/{FN}", 30)]


def test_execution_role_is_least_privilege(stack):
    iam = stack.emu.client("iam")
    trust = iam.get_role(RoleName=FN)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert iam.list_attached_role_policies(RoleName=FN)["AttachedPolicies"] == []
    assert iam.list_role_policies(RoleName=FN)["PolicyNames"] == ["slack-notifier"]
    doc = iam.get_role_policy(RoleName=FN, PolicyName="slack-notifier")["PolicyDocument"]
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    assert by_sid["ReadWebhookUrl"]["Action"] == "ssm:GetParameter"
    assert by_sid["ReadWebhookUrl"]["Resource"] == f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/shopper/local/slack/webhook-url"
    assert by_sid["DecryptWebhookUrlThroughSsmOnly"]["Condition"] == {
        "StringEquals": {"kms:ViaService": f"ssm.{REGION}.amazonaws.com"}}
    # The environment's own key (parameters_key), not any key of the account.
    key = stack.emu.client("kms").describe_key(KeyId="alias/shopper-local-parameters")["KeyMetadata"]
    assert by_sid["DecryptWebhookUrlThroughSsmOnly"]["Resource"] == key["Arn"]
    params = stack.emu.client("ssm").describe_parameters(ParameterFilters=[
        {"Key": "Name", "Values": ["/shopper/local/slack/webhook-url"]}])["Parameters"]
    assert params[0]["KeyId"] in ("alias/shopper-local-parameters", key["KeyId"], key["Arn"])
    assert sorted(by_sid["WriteOwnLogs"]["Resource"]) == sorted(
        f"arn:aws:logs:{r}:{ACCOUNT}:log-group:/aws/lambda/{FN}:*" for r in (REGION, EDGE))
    actions = [a for s in doc["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert not any(a.endswith("*") for a in actions)
    assert all(s["Resource"] != "*" for s in doc["Statement"])


def test_only_the_alerting_topics_may_invoke(stack):
    for region, topics in ((REGION, ["alarms", "events", "ses-events"]), (EDGE, ["edge-alarms"])):
        policy = json.loads(stack.emu.client("lambda", region=region).get_policy(FunctionName=FN)["Policy"])
        sources = sorted(s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in policy["Statement"])
        assert sources == sorted(f"arn:aws:sns:{region}:{ACCOUNT}:{P}-{t}" for t in topics)
        assert {json.dumps(s["Principal"]) for s in policy["Statement"]} == {json.dumps({"Service": "sns.amazonaws.com"})}


# --- topics, alarms, events, dashboard ------------------------------------------------------
def test_topics_have_email_and_same_region_lambda_subscriptions(stack):
    for region, name in ((REGION, "alarms"), (REGION, "events"), (REGION, "ses-events"), (EDGE, "edge-alarms")):
        sns = stack.emu.client("sns", region=region)
        arn = f"arn:aws:sns:{region}:{ACCOUNT}:{P}-{name}"
        subs = sorted((s["Protocol"], s["Endpoint"]) for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"])
        assert subs == [("email", "ops@shopper.example.com"), ("lambda", f"arn:aws:lambda:{region}:{ACCOUNT}:function:{FN}")]
    policy = json.loads(stack.emu.client("sns").get_topic_attributes(
        TopicArn=f"arn:aws:sns:{REGION}:{ACCOUNT}:{P}-events")["Attributes"]["Policy"])
    services = [s for s in policy["Statement"] if s["Sid"] == "AwsServicesOfThisAccount"][0]
    assert "backup.amazonaws.com" in services["Principal"]["Service"]
    assert services["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def _alarms(emu, region):
    return {a["AlarmName"]: a for a in emu.client("cloudwatch", region=region).describe_alarms()["MetricAlarms"]}


def test_alarms_watch_the_platform_and_notify_the_alarms_topic(stack):
    alarms = _alarms(stack.emu, REGION)
    t = stack.targets
    expected = {f"{P}-{n}" for n in (
        "alb-5xx-rate", "alb-target-response-time", "alb-unhealthy-hosts", "asg-in-service", "ec2-cpu",
        "agent-memory", "agent-disk", "rds-cpu", "rds-free-storage", "rds-freeable-memory", "rds-connections",
        "efs-io-limit", "efs-replication-lag", f"bastion-status-{t['bastion']}", "slack-notifier-errors",
        "slack-notifier-dlq")}
    assert set(alarms) == expected
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:{P}-alarms"
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic], alarm["AlarmName"]

    def dims(name):
        return {d["Name"]: d["Value"] for d in alarms[f"{P}-{name}"]["Dimensions"]}

    assert dims("alb-target-response-time") == {"LoadBalancer": t["alb"]}
    assert dims("alb-unhealthy-hosts") == {"LoadBalancer": t["alb"], "TargetGroup": t["tg"]}
    # asg-in-service is metric math: both of its metrics are the web group's.
    assert [{d["Name"]: d["Value"] for d in q["MetricStat"]["Metric"]["Dimensions"]}
            for q in alarms[f"{P}-asg-in-service"]["Metrics"] if "MetricStat" in q] == [{"AutoScalingGroupName": f"{P}-web"}] * 2
    assert dims("rds-cpu") == {"DBInstanceIdentifier": f"{P}-db"}
    assert dims("efs-io-limit") == {"FileSystemId": stack.targets["efs"]}
    # EFS replication lag: the source and its replica, above AWS's 15-minute RPO, silence counts.
    assert dims("efs-replication-lag") == {"FileSystemId": t["efs"], "DestinationFileSystemId": t["replica"]}
    lag = alarms[f"{P}-efs-replication-lag"]
    assert (lag["Namespace"], lag["MetricName"], lag["Statistic"], lag["ComparisonOperator"], lag["Threshold"],
            lag["TreatMissingData"]) == ("AWS/EFS", "TimeSinceLastSync", "Maximum", "GreaterThanThreshold", 900.0, "breaching")
    assert dims(f"bastion-status-{t['bastion']}") == {"InstanceId": t["bastion"]}
    assert (alarms[f"{P}-agent-memory"]["Namespace"], alarms[f"{P}-agent-memory"]["MetricName"]) == ("CWAgent", "mem_used_percent")
    free = alarms[f"{P}-rds-free-storage"]
    assert (free["ComparisonOperator"], free["Threshold"], free["Statistic"]) == ("LessThanThreshold", 5368709120.0, "Minimum")
    asg = alarms[f"{P}-asg-in-service"]
    assert (asg["ComparisonOperator"], asg["Threshold"], "MetricName" in asg) == ("GreaterThanThreshold", 0.0, False)
    rate = alarms[f"{P}-alb-5xx-rate"]
    assert rate["Threshold"] == 5.0 and "MetricName" not in rate
    queries = {m["Id"]: m for m in rate["Metrics"]}
    assert queries["rate"]["ReturnData"] is True and "requests > 0" in queries["rate"]["Expression"]
    assert queries["t5xx"]["MetricStat"]["Metric"]["MetricName"] == "HTTPCode_Target_5XX_Count"
    assert queries["requests"]["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "LoadBalancer", "Value": t["alb"]}]


def test_the_in_service_alarm_is_quiet_while_the_group_waits_and_fires_below_its_minimum(stack):
    """The seeded group is what the asg role leaves before the first bake: minimum 0, no instance.
    moto evaluates no alarm, so the alarm as converged is evaluated here on the emulator's group
    metrics (tests/localcloud/alarm_evaluation.py). A fixed "fewer than 2 in service" would page
    through every first run."""
    emu = stack.emu
    emu.client("autoscaling").enable_metrics_collection(  # as the asg role does (asg_metrics)
        AutoScalingGroupName=f"{P}-web", Granularity="1Minute", Metrics=["GroupMinSize", "GroupInServiceInstances"])
    alarm = _alarms(emu, REGION)[f"{P}-asg-in-service"]
    waiting = alarm_values(alarm, emulator_fetch(emu.client("cloudwatch", region=REGION)))
    assert waiting == [0.0]
    assert alarm_state(alarm, waiting * alarm["EvaluationPeriods"]) == "OK"  # however long the wait
    # The same alarm once the group has its size: one instance of its minimum two lost for two periods.
    degraded = {"GroupMinSize": {1: 2.0, 2: 2.0, 3: 2.0}, "GroupInServiceInstances": {1: 2.0, 2: 1.0, 3: 1.0}}
    values = alarm_values(alarm, lambda metric, stat, period: degraded[metric["MetricName"]])
    assert values == [0.0, 1.0, 1.0] and alarm_state(alarm, values) == "ALARM"


def test_cloudfront_alarm_lives_in_us_east_1_with_its_topic(stack):
    alarms = _alarms(stack.emu, EDGE)
    assert sorted(alarms) == sorted([f"{P}-cloudfront-5xx-rate", EXTRA_EDGE_ALARM["name"],
                                     f"{P}-slack-notifier-errors-{EDGE}", f"{P}-slack-notifier-dlq-{EDGE}"])
    alarm = alarms[f"{P}-cloudfront-5xx-rate"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/CloudFront", "5xxErrorRate")
    assert sorted((d["Name"], d["Value"]) for d in alarm["Dimensions"]) == [("DistributionId", stack.targets["cf"]), ("Region", "Global")]
    assert alarm["AlarmActions"] == [f"arn:aws:sns:{EDGE}:{ACCOUNT}:{P}-edge-alarms"]


def test_every_alarm_notifies_topics_of_its_own_region(stack):
    """CloudWatch refuses actions in another region; the extra us-east-1 alarm gets the edge topic."""
    for region in (REGION, EDGE):
        for alarm in _alarms(stack.emu, region).values():
            actions = alarm["AlarmActions"] + alarm["OKActions"] + alarm["InsufficientDataActions"]
            assert actions and {a.split(":")[3] for a in actions} == {region}, alarm["AlarmName"]
    extra = _alarms(stack.emu, EDGE)[EXTRA_EDGE_ALARM["name"]]
    assert extra["AlarmActions"] == extra["OKActions"] == [f"arn:aws:sns:{EDGE}:{ACCOUNT}:{P}-edge-alarms"]
    assert (extra["Namespace"], extra["MetricName"]) == ("AWS/Route53", "HealthCheckStatus")


def test_alarms_changed_by_hand_are_put_back_in_one_run_and_only_those(stack):
    # protea.platform.cloudwatch_metric_alarms compares every field it manages, the metric-math
    # alarm's queries included; an alarm it was not given is left alone.
    cw = stack.emu.client("cloudwatch", region=REGION)
    alarms = _alarms(stack.emu, REGION)
    cpu, rate = dict(alarms[f"{P}-rds-cpu"]), dict(alarms[f"{P}-alb-5xx-rate"])
    keep = ("AlarmName", "AlarmDescription", "ActionsEnabled", "AlarmActions", "OKActions", "MetricName", "Namespace",
            "Statistic", "Dimensions", "Period", "Unit", "EvaluationPeriods", "DatapointsToAlarm", "Threshold",
            "ComparisonOperator", "TreatMissingData", "Metrics")
    cw.put_metric_alarm(**{k: v for k, v in cpu.items() if k in keep and k != "Unit"} | {"Threshold": 99.0})
    queries = [dict(q) for q in rate["Metrics"]]
    queries[0] = dict(queries[0], Expression="100 * FILL(t5xx, 0) / requests")
    cw.put_metric_alarm(**{k: v for k, v in rate.items() if k in keep} | {"Metrics": queries})
    cw.put_metric_alarm(AlarmName="someone-elses", Namespace="AWS/EC2", MetricName="CPUUtilization", Statistic="Average",
                        Period=300, EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold")
    dry = run_playbook(PLAYBOOK, check=True, diff=True, **stack.run)
    assert dry.rc == 0 and dry.task_runs("protea.platform.alerts : Alarms (actions on ALARM and OK), one run per region") >= 1
    # The diff shows the hand-made values going; only the af-south-1 run would change anything.
    assert "-        Threshold: 99.0" in dry.stdout and "-        -   Expression: 100 * FILL(t5xx, 0) / requests" in dry.stdout, dry.explain()
    assert f"changed: [localhost] => (item={REGION}: " in dry.stdout and f"ok: [localhost] => (item={EDGE}: " in dry.stdout, dry.explain()
    assert _alarms(stack.emu, REGION)[f"{P}-rds-cpu"]["Threshold"] == 99.0  # check mode changed nothing
    fix = run_playbook(PLAYBOOK, **stack.run)
    assert fix.rc == 0 and fix.changed >= 1, fix.explain()
    after = _alarms(stack.emu, REGION)
    assert (after[f"{P}-rds-cpu"]["Threshold"], after[f"{P}-rds-cpu"].get("Unit")) == (cpu["Threshold"], cpu["Unit"])
    assert after[f"{P}-alb-5xx-rate"]["Metrics"][0]["Expression"] == rate["Metrics"][0]["Expression"]
    assert "someone-elses" in after
    cw.delete_alarms(AlarmNames=["someone-elses"])


def test_each_notifier_copy_and_its_dead_letter_queue_are_alarmed_in_their_region(stack):
    """A failing copy (errors) or a message it gave up on (dead-letter queue depth) alarms to the
    topic of its own region, by email as well: the alarm does not depend on the failing function."""
    for region, suffix in ((REGION, ""), (EDGE, f"-{EDGE}")):
        alarms = _alarms(stack.emu, region)
        errors, dlq = alarms[f"{P}-slack-notifier-errors{suffix}"], alarms[f"{P}-slack-notifier-dlq{suffix}"]
        topic = f"arn:aws:sns:{region}:{ACCOUNT}:{P}-{'alarms' if region == REGION else 'edge-alarms'}"
        for alarm in (errors, dlq):
            assert alarm["AlarmActions"] == [topic] and alarm["Threshold"] == 1.0, alarm["AlarmName"]
            assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert (errors["Namespace"], errors["MetricName"], errors["Dimensions"]) == (
            "AWS/Lambda", "Errors", [{"Name": "FunctionName", "Value": FN}])
        # The function the alarm watches is there, in that region.
        stack.emu.client("lambda", region=region).get_function(FunctionName=FN)
        assert (dlq["Namespace"], dlq["MetricName"], dlq["Statistic"]) == (
            "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum")
        [queue] = [d["Value"] for d in dlq["Dimensions"] if d["Name"] == "QueueName"]
        url = stack.emu.client("sqs", region=region).get_queue_url(QueueName=queue)["QueueUrl"]
        config = stack.emu.client("lambda", region=region).get_function_configuration(FunctionName=FN)
        assert config["DeadLetterConfig"]["TargetArn"] == f"arn:aws:sqs:{region}:{ACCOUNT}:{queue}", url
        subs = stack.emu.client("sns", region=region).list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        assert ("email", "ops@shopper.example.com") in {(s["Protocol"], s["Endpoint"]) for s in subs}


def test_rds_event_subscription(stack):
    [sub] = stack.emu.client("rds").describe_event_subscriptions(SubscriptionName=f"{P}-rds-events")["EventSubscriptionsList"]
    assert sub["SnsTopicArn"] == f"arn:aws:sns:{REGION}:{ACCOUNT}:{P}-events"
    assert (sub["SourceType"], sub["SourceIdsList"], sub["Enabled"]) == ("db-instance", [f"{P}-db"], True)
    assert sorted(sub["EventCategoriesList"]) == ["backup", "failover", "failure", "low storage"]


def test_dashboard_shows_every_alarm_and_the_tiers(stack):
    body = json.loads(stack.emu.client("cloudwatch").get_dashboard(DashboardName=P)["DashboardBody"])
    [overview] = [w for w in body["widgets"] if w["type"] == "alarm"]
    names = sorted(a.rsplit(":", 1)[1] for a in overview["properties"]["alarms"])
    assert names == sorted(set(_alarms(stack.emu, REGION)) | set(_alarms(stack.emu, EDGE)))
    metrics = json.dumps([w["properties"]["metrics"] for w in body["widgets"] if w["type"] == "metric"])
    for needle in (stack.targets["alb"], f"{P}-db", stack.targets["efs"], stack.targets["cf"], FN):
        assert needle in metrics
    # The in-service graph draws the group's minimum too, the line the asg-in-service alarm compares with.
    [in_service] = [w["properties"]["metrics"] for w in body["widgets"]
                    if w["type"] == "metric" and "GroupInServiceInstances" in json.dumps(w["properties"]["metrics"])]
    assert [m[1] for m in in_service] == ["GroupInServiceInstances", "GroupMinSize"]


# --- end to end -----------------------------------------------------------------------------
def _fields(message):
    out = {}
    for block in message["attachments"][0]["blocks"]:
        for f in block.get("fields", []):
            label, _, value = f["text"].partition("\n")
            out[label.strip("*")] = value
    return out


def test_alarm_transition_reaches_slack_through_the_deployed_function(stack, slack):
    slack.clear()
    stack.emu.client("cloudwatch").set_alarm_state(
        AlarmName=f"{P}-rds-cpu", StateValue="ALARM", StateReason="Threshold Crossed: 3 datapoints were greater than 80.0")
    [message] = slack.wait_for(1)
    assert message["text"] == f"ALARM: {P}-rds-cpu"
    assert message["attachments"][0]["color"] == "#d13212"
    fields = _fields(message)
    assert fields["Region"] == REGION and fields["Threshold"] == "> 80.0 for 3 period(s)"
    assert f"DBInstanceIdentifier={P}-db" in fields["Metric"]
    logs = stack.emu.client("logs")
    lines = _wait(lambda: [e["message"] for e in logs.filter_log_events(logGroupName=f"/aws/lambda/{FN}")["events"]
                           if "delivered SNS message" in e["message"]])
    assert lines and all(slack.path not in line for line in lines)


def test_cloudfront_alarm_reaches_slack_through_the_us_east_1_copy(stack, slack):
    slack.clear()
    stack.emu.client("cloudwatch", region=EDGE).set_alarm_state(
        AlarmName=f"{P}-cloudfront-5xx-rate", StateValue="ALARM", StateReason="5xx rate 12 %")
    [message] = slack.wait_for(1)
    assert message["text"] == f"ALARM: {P}-cloudfront-5xx-rate"
    assert _fields(message)["Region"] == EDGE


def test_backup_event_reaches_slack_and_undeliverable_ones_land_in_the_dead_letter_queue(stack, slack):
    slack.clear()
    sns = stack.emu.client("sns")
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:{P}-events"
    sample = json.loads((REPO / "tests/unit/slack_events/backup_completed.json").read_text())["Records"][0]["Sns"]
    attrs = {k: {"DataType": v["Type"], "StringValue": v["Value"]} for k, v in sample["MessageAttributes"].items()}
    sns.publish(TopicArn=topic, Subject=sample["Subject"], Message=sample["Message"], MessageAttributes=attrs)
    [message] = slack.wait_for(1)
    assert message["text"] == "AWS Backup: Backup job COMPLETED"
    assert _fields(message)["Recovery point"].endswith("recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45")

    # Slack down: 4 attempts per invocation, 3 invocations (Lambda's 2 async retries), then the DLQ.
    slack.clear()
    slack.fail_next(500, count=12)
    msg_id = sns.publish(TopicArn=topic, Subject="Notification from AWS Backup", Message="An AWS Backup job failed.",
                         MessageAttributes=attrs)["MessageId"]
    sqs = stack.emu.client("sqs")
    url = sqs.get_queue_url(QueueName=f"{FN}-dlq")["QueueUrl"]
    [dead] = _wait(lambda: sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"]).get("Messages"))
    assert json.loads(dead["Body"])["Records"][0]["Sns"]["MessageId"] == msg_id
    assert "after 4 attempts: HTTP 500" in dead["MessageAttributes"]["ErrorMessage"]["StringValue"]
    assert [r["status"] for r in slack.requests] == [500] * 12 and slack.messages == []


# --- notifications of the other tiers (issue 13) ---------------------------------------------
def test_web_group_notifies_launch_and_terminate_errors_to_the_alarms_topic(stack):
    configs = stack.emu.client("autoscaling").describe_notification_configurations(
        AutoScalingGroupNames=[f"{P}-web"])["NotificationConfigurations"]
    assert sorted((c["TopicARN"], c["NotificationType"]) for c in configs) == [
        (f"arn:aws:sns:{REGION}:{ACCOUNT}:{P}-alarms", "autoscaling:EC2_INSTANCE_LAUNCH_ERROR"),
        (f"arn:aws:sns:{REGION}:{ACCOUNT}:{P}-alarms", "autoscaling:EC2_INSTANCE_TERMINATE_ERROR")]


def test_backup_vault_events_go_to_the_email_and_slack_topic(stack):
    notif = stack.emu.client("backup").get_backup_vault_notifications(BackupVaultName=P)
    assert notif["SNSTopicArn"] == f"arn:aws:sns:{REGION}:{ACCOUNT}:{P}-events"
    # Failed jobs arrive as BACKUP_JOB_COMPLETED with state FAILED.
    assert "BACKUP_JOB_COMPLETED" in notif["BackupVaultEvents"] and "RESTORE_JOB_COMPLETED" in notif["BackupVaultEvents"]
    subs = stack.emu.client("sns").list_subscriptions_by_topic(TopicArn=notif["SNSTopicArn"])["Subscriptions"]
    assert {s["Protocol"] for s in subs} == {"email", "lambda"}


def test_failed_backup_job_reaches_slack_in_red(stack, slack):
    slack.clear()
    topic = stack.emu.client("backup").get_backup_vault_notifications(BackupVaultName=P)["SNSTopicArn"]
    sample = json.loads((REPO / "tests/unit/slack_events/backup_failed.json").read_text())["Records"][0]["Sns"]
    attrs = {k: {"DataType": v["Type"], "StringValue": v["Value"]} for k, v in sample["MessageAttributes"].items()}
    stack.emu.client("sns").publish(TopicArn=topic, Subject=sample["Subject"], Message=sample["Message"],
                                    MessageAttributes=attrs)
    [message] = slack.wait_for(1)
    assert message["text"] == "AWS Backup: Backup job FAILED"
    assert message["attachments"][0]["color"] == "#d13212"


def test_ses_bounce_reaches_slack_through_the_ses_events_topic(stack, slack):
    slack.clear()
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:{P}-ses-events"
    sample = json.loads((REPO / "tests/unit/slack_events/ses_bounce.json").read_text())["Records"][0]["Sns"]
    stack.emu.client("sns").publish(TopicArn=topic, Message=sample["Message"])
    [message] = slack.wait_for(1)
    assert message["text"].startswith("SES bounce: nobody@example.net")
    assert message["attachments"][0]["color"] == "#d13212"


# --- preflight: region rules refused before any AWS call -------------------------------------
FIX = "in inventories/<env>/group_vars/all"
BAD_REGIONS = [
    ("extra_alarm_in_a_third_region", {"alerts_extra_alarms": [dict(EXTRA_EDGE_ALARM, region="eu-west-1")]},
     f"alerts_extra_alarms: alarm '{P}-dns-health' is in eu-west-1, where no alerts topic lives (CloudWatch alarm "
     "actions must be in the alarm's region): set its region to one of ['af-south-1', 'us-east-1']"),
    ("extra_alarm_with_a_topic_of_another_region", {"alerts_extra_alarms": [dict(EXTRA_EDGE_ALARM, topic="alarms")]},
     f"alerts_extra_alarms: alarm '{P}-dns-health' in us-east-1 names topic 'alarms', which lives in af-south-1"),
    ("slack_notifier_without_the_edge_region", {"slack_notifier_regions": [REGION]},
     'slack_notifier_regions ["af-south-1"] lacks ["us-east-1"], where alerts topics live'),
    # Not a region rule: a retired variable, refused rather than silently ignored.
    ("retired_in_service_threshold", {"alerts_asg_min_in_service": 2},
     "alerts_asg_min_in_service is no longer read: the asg-in-service alarm now fires when fewer instances are in "
     "service than the group's own minimum (asg_min_size)"),
]


@pytest.fixture(scope="module")
def bad_region_runs(emulator):
    from concurrent.futures import ThreadPoolExecutor

    before = emulator.call_count()
    with ThreadPoolExecutor(max_workers=len(BAD_REGIONS)) as pool:
        futures = {case: pool.submit(run_playbook, PLAYBOOK, endpoint=emulator.endpoint, tags="preflight",
                                     timeout=300, extra_vars=bad) for case, bad, _ in BAD_REGIONS}
        runs = {case: f.result() for case, f in futures.items()}
    return runs, emulator.call_count() - before


@pytest.mark.parametrize("case,bad,expect", BAD_REGIONS, ids=[c[0] for c in BAD_REGIONS])
def test_region_rules_are_refused_by_preflight(bad_region_runs, case, bad, expect):
    runs, calls = bad_region_runs
    run = runs[case]
    out = " ".join((run.stdout + run.stderr).split())
    assert run.rc != 0, run.explain()
    assert "Preflight found 1 configuration problem(s); no AWS call was made." in out, run.explain()
    assert expect in out and FIX in out, run.explain()
    assert calls == 0


# --- destroy.yml (the last test of this module) ------------------------------------------------
def test_destroy_removes_alarms_topics_and_notifiers(stack):
    assert_a_tier_is_destroyed(stack.emu, {"alarm", "dashboard", "topic", "function", "queue", "iam role"}, ["af-south-1", "us-east-1"])
