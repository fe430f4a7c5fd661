"""Auto Scaling notifications, group instances launched as their template says, and SES v2's
default configuration set: AWS behaviour when patched, moto's own behaviour without the patch."""
from __future__ import annotations

import botocore.exceptions
import botocore.parsers
import pytest

NOT_SERVED = (botocore.exceptions.ClientError, botocore.parsers.ResponseParserError)
pytestmark = pytest.mark.emulator

NOTIFY = "autoscaling-notification-configurations"
LT_SETTINGS = "autoscaling-launch-template-instance-settings"
SES_DEFAULT_SET = "ses-identity-default-configuration-set"
TOPIC = "arn:aws:sns:af-south-1:123456789012:alarms"


def _group(emu, template_data=None, desired=1):
    """A group of the template; a template naming NetworkInterfaces gets its groups set to a new
    security group "web" of the VPC."""
    from tests.localcloud.compat.ec2 import debian_ami_id

    ec2 = emu.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.43.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.43.1.0/24", AvailabilityZone="af-south-1a")["Subnet"]["SubnetId"]
    if template_data and "NetworkInterfaces" in template_data:
        web = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
        template_data = {**template_data, "NetworkInterfaces": [
            {**n, "Groups": [web]} for n in template_data["NetworkInterfaces"]]}
    ec2.create_launch_template(LaunchTemplateName="web", LaunchTemplateData={
        "ImageId": debian_ami_id("af-south-1"), "InstanceType": "t3.micro", **(template_data or {})})
    asg = emu.client("autoscaling")
    asg.create_auto_scaling_group(AutoScalingGroupName="web", LaunchTemplate={"LaunchTemplateName": "web", "Version": "1"},
                                  MinSize=desired, MaxSize=2, DesiredCapacity=desired, VPCZoneIdentifier=subnet)
    return ec2, asg


def test_notification_configurations_as_aws(clean_emulator):
    _, asg = _group(clean_emulator, desired=0)
    types = ["autoscaling:EC2_INSTANCE_LAUNCH_ERROR", "autoscaling:EC2_INSTANCE_TERMINATE_ERROR"]
    asg.put_notification_configuration(AutoScalingGroupName="web", TopicARN=TOPIC, NotificationTypes=types)
    got = asg.describe_notification_configurations(AutoScalingGroupNames=["web"])["NotificationConfigurations"]
    assert [(c["TopicARN"], c["NotificationType"]) for c in got] == [(TOPIC, t) for t in types]
    # Put replaces the types for that topic.
    asg.put_notification_configuration(AutoScalingGroupName="web", TopicARN=TOPIC, NotificationTypes=types[:1])
    got = asg.describe_notification_configurations(AutoScalingGroupNames=["web"])["NotificationConfigurations"]
    assert [c["NotificationType"] for c in got] == types[:1]
    with pytest.raises(asg.exceptions.ClientError) as err:
        asg.put_notification_configuration(AutoScalingGroupName="web", TopicARN=TOPIC, NotificationTypes=["launch"])
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert "autoscaling:EC2_INSTANCE_LAUNCH" in asg.describe_auto_scaling_notification_types()[
        "AutoScalingNotificationTypes"]
    asg.delete_notification_configuration(AutoScalingGroupName="web", TopicARN=TOPIC)
    assert asg.describe_notification_configurations(AutoScalingGroupNames=["web"])["NotificationConfigurations"] == []


def test_notification_configurations_without_patch_is_moto_stock(emulator_factory):
    _, asg = _group(emulator_factory(disable=[NOTIFY]), desired=0)
    with pytest.raises(NOT_SERVED):
        asg.put_notification_configuration(AutoScalingGroupName="web", TopicARN=TOPIC,
                                           NotificationTypes=["autoscaling:EC2_INSTANCE_LAUNCH_ERROR"])
    with pytest.raises(NOT_SERVED):
        asg.describe_notification_configurations(AutoScalingGroupNames=["web"])


TEMPLATE = {
    "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 1},
    "BlockDeviceMappings": [{"DeviceName": "/dev/xvda",
                             "Ebs": {"VolumeSize": 16, "VolumeType": "gp3", "Encrypted": True,
                                     "DeleteOnTermination": True}}],
    # As the asg role writes it: the groups on the primary interface (Groups filled in by _group).
    "NetworkInterfaces": [{"DeviceIndex": 0, "AssociatePublicIpAddress": False, "DeleteOnTermination": True}],
}


def _launched(emu):
    iam = emu.client("iam")
    iam.create_role(RoleName="web", AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": []}')
    iam.create_instance_profile(InstanceProfileName="web")
    iam.add_role_to_instance_profile(InstanceProfileName="web", RoleName="web")
    ec2, asg = _group(emu, {**TEMPLATE, "IamInstanceProfile": {"Name": "web"}})
    # Version 2 (not the group's) requires nothing: the group's version 1 must be used.
    ec2.create_launch_template_version(LaunchTemplateName="web", SourceVersion="1", LaunchTemplateData={
        "MetadataOptions": {"HttpTokens": "optional"}})
    ec2.modify_launch_template(LaunchTemplateName="web", DefaultVersion="2")
    asg.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=2)
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])["AutoScalingGroups"][0]
    ids = [i["InstanceId"] for i in group["Instances"]]
    instances = [i for r in ec2.describe_instances(InstanceIds=ids)["Reservations"] for i in r["Instances"]]
    volumes = {i["InstanceId"]: ec2.describe_volumes(VolumeIds=[b["Ebs"]["VolumeId"] for b in i["BlockDeviceMappings"]])[
        "Volumes"] for i in instances}
    assoc = ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"]
    profiles = {a["InstanceId"]: a["IamInstanceProfile"]["Arn"].rsplit("/", 1)[1] for a in assoc}
    return instances, volumes, profiles


def test_group_instances_get_the_template_metadata_options_and_disks(clean_emulator):
    instances, volumes, profiles = _launched(clean_emulator)
    assert len(instances) == 2
    assert profiles == {i["InstanceId"]: "web" for i in instances}, "the template's instance profile"
    for inst in instances:
        assert inst["MetadataOptions"]["HttpTokens"] == "required"
        assert [g["GroupName"] for g in inst["SecurityGroups"]] == ["web"]
        assert [g["GroupName"] for g in inst["NetworkInterfaces"][0]["Groups"]] == ["web"]
        assert [b["DeviceName"] for b in inst["BlockDeviceMappings"]] == ["/dev/xvda"]
        (vol,) = volumes[inst["InstanceId"]]
        assert (vol["Size"], vol["VolumeType"], vol["Encrypted"]) == (16, "gp3", True)
        tags = {t["Key"]: t["Value"] for t in inst["Tags"]}
        assert tags["aws:ec2launchtemplate:version"] == "1"


def test_group_instances_without_patch_is_moto_stock(emulator_factory):
    instances, volumes, profiles = _launched(emulator_factory(disable=[LT_SETTINGS]))
    assert profiles == {}, "moto associates no instance profile with group instances"
    for inst in instances:
        assert inst["MetadataOptions"]["HttpTokens"] == "optional"
        assert "web" not in [g["GroupName"] for g in inst["NetworkInterfaces"][0]["Groups"]]
        # moto's default unencrypted 8 GiB root volume instead of the template's encrypted 16 GiB gp3.
        assert any(not v["Encrypted"] and v["Size"] == 8 for v in volumes[inst["InstanceId"]])


def _identity_with_set(emu):
    ses, v2 = emu.client("ses"), emu.client("sesv2")
    ses.verify_domain_identity(Domain="shop.example.test")
    ses.create_configuration_set(ConfigurationSet={"Name": "shop"})
    return v2


def test_identity_default_configuration_set_as_aws(clean_emulator):
    v2 = _identity_with_set(clean_emulator)
    assert v2.get_email_identity(EmailIdentity="shop.example.test").get("ConfigurationSetName") is None
    v2.put_email_identity_configuration_set_attributes(EmailIdentity="shop.example.test", ConfigurationSetName="shop")
    assert v2.get_email_identity(EmailIdentity="shop.example.test")["ConfigurationSetName"] == "shop"
    for args in ({"EmailIdentity": "other.example.test", "ConfigurationSetName": "shop"},
                 {"EmailIdentity": "shop.example.test", "ConfigurationSetName": "missing"}):
        with pytest.raises(v2.exceptions.NotFoundException):
            v2.put_email_identity_configuration_set_attributes(**args)
    # Without a name: the default is removed.
    v2.put_email_identity_configuration_set_attributes(EmailIdentity="shop.example.test")
    assert v2.get_email_identity(EmailIdentity="shop.example.test").get("ConfigurationSetName") is None


def test_identity_default_configuration_set_without_patch_is_moto_stock(emulator_factory):
    v2 = _identity_with_set(emulator_factory(disable=[SES_DEFAULT_SET]))
    with pytest.raises(NOT_SERVED):
        v2.put_email_identity_configuration_set_attributes(EmailIdentity="shop.example.test", ConfigurationSetName="shop")


GROUP_METRICS = "autoscaling-group-metrics"


def _in_service_stats(emu, metric="GroupInServiceInstances"):
    import datetime

    _, asg = _group(emu, desired=1)
    asg.enable_metrics_collection(AutoScalingGroupName="web", Granularity="1Minute",
                                  Metrics=["GroupInServiceInstances", "GroupDesiredCapacity"])
    now = datetime.datetime.now(datetime.timezone.utc)
    return emu.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/AutoScaling", MetricName=metric, Dimensions=[{"Name": "AutoScalingGroupName", "Value": "web"}],
        StartTime=now - datetime.timedelta(minutes=10), EndTime=now + datetime.timedelta(minutes=1),
        Period=60, Statistics=["Minimum"])["Datapoints"]


def test_group_metrics_published_when_collection_is_enabled(clean_emulator):
    (point,) = _in_service_stats(clean_emulator)
    assert point["Minimum"] == 1.0
    # Only the enabled metrics are published.
    cw = clean_emulator.client("cloudwatch")
    names = {m["MetricName"] for m in cw.list_metrics(Namespace="AWS/AutoScaling")["Metrics"]}
    assert names == {"GroupInServiceInstances", "GroupDesiredCapacity"}


def test_group_metrics_without_patch_is_moto_stock(emulator_factory):
    assert _in_service_stats(emulator_factory(disable=[GROUP_METRICS])) == []
