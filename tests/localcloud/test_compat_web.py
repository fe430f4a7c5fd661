"""Web/edge tier compat patches (ELBv2, Auto Scaling, ACM, SES): AWS behaviour when patched,
moto's own behaviour on a server started without the patch."""
from __future__ import annotations

import datetime
import time

import botocore.exceptions
import botocore.parsers
import pytest

# moto answers an action it lacks with an error (4xx) or an HTML 500 page.
NOT_SERVED = (botocore.exceptions.ClientError, botocore.parsers.ResponseParserError)

pytestmark = pytest.mark.emulator

ALB_ATTRS = "elbv2-alb-default-attributes"
TG_ATTRS = "elbv2-target-group-default-attributes"
REFRESH = "autoscaling-instance-refresh"
METRICS = "autoscaling-disable-metrics-collection"
AZ_BALANCE = "autoscaling-az-balance"
ACM_CHAIN = "acm-imported-chain"
SES_DKIM = "ses-set-identity-dkim-enabled"
SES_POLICIES = "ses-identity-policies"
SES_TOPICS = "ses-identity-notification-topics"


def _vpc(emu, cidr="10.40"):
    ec2 = emu.client("ec2")
    vpc = ec2.create_vpc(CidrBlock=f"{cidr}.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"{cidr}.{i}.0/24", AvailabilityZone=f"af-south-1{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in ((1, "a"), (2, "b"))
    ]
    return ec2, vpc, subnets


def _alb_and_tg(emu):
    _, vpc, subnets = _vpc(emu)
    elb = emu.client("elbv2")
    lb = elb.create_load_balancer(Name="web", Subnets=subnets, Type="application")["LoadBalancers"][0]
    tg = elb.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="instance")[
        "TargetGroups"
    ][0]
    lb_attrs = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(
        LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]}
    tg_attrs = {a["Key"]: a["Value"] for a in elb.describe_target_group_attributes(
        TargetGroupArn=tg["TargetGroupArn"])["Attributes"]}
    return elb, lb, lb_attrs, tg_attrs


def test_elbv2_default_attributes_as_aws(clean_emulator):
    elb, lb, lb_attrs, tg_attrs = _alb_and_tg(clean_emulator)
    assert lb_attrs["access_logs.s3.enabled"] == "false"
    assert lb_attrs["idle_timeout.timeout_seconds"] == "60"
    assert lb_attrs["routing.http2.enabled"] == "true"
    assert lb_attrs["routing.http.desync_mitigation_mode"] == "defensive"
    assert lb_attrs["load_balancing.cross_zone.enabled"] == "true"
    assert tg_attrs["stickiness.lb_cookie.duration_seconds"] == "86400"
    assert tg_attrs["stickiness.app_cookie.duration_seconds"] == "86400"
    assert tg_attrs["stickiness.type"] == "lb_cookie"
    assert tg_attrs["deregistration_delay.timeout_seconds"] == "300"
    # Modifying keeps the rest (what elb_application_lb does on its second run).
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=lb["LoadBalancerArn"], Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": "120"}]
    )
    after = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(
        LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]}
    assert after["idle_timeout.timeout_seconds"] == "120" and after["routing.http2.enabled"] == "true"


def test_elbv2_default_attributes_without_patches_is_moto_stock(emulator_factory):
    _, _, lb_attrs, tg_attrs = _alb_and_tg(emulator_factory(disable=WITHOUT))
    assert "idle_timeout.timeout_seconds" not in lb_attrs
    assert "access_logs.s3.enabled" not in lb_attrs
    assert "stickiness.lb_cookie.duration_seconds" not in tg_attrs


def _asg(emu, desired=2):
    from tests.localcloud.compat.ec2 import debian_ami_id

    ec2, _, subnets = _vpc(emu, "10.41")
    ec2.create_launch_template(
        LaunchTemplateName="web", LaunchTemplateData={"ImageId": debian_ami_id("af-south-1"), "InstanceType": "t3.micro"}
    )
    asg = emu.client("autoscaling")
    asg.create_auto_scaling_group(
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateName": "web", "Version": "$Latest"},
        MinSize=desired, MaxSize=4, DesiredCapacity=desired,
        VPCZoneIdentifier=",".join(subnets),
    )
    return ec2, asg


def _instances(asg):
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])["AutoScalingGroups"][0]
    return group["Instances"]


def test_instance_refresh_state_machine_replaces_instances(clean_emulator):
    from tests.localcloud.compat.ec2 import debian_ami_id

    ec2, asg = _asg(clean_emulator)
    before = {i["InstanceId"] for i in _instances(asg)}
    # A new image in a new template version: the refresh rolls it out.
    builder = ec2.run_instances(ImageId=debian_ami_id("af-south-1"), MinCount=1, MaxCount=1)["Instances"][0]
    new_ami = ec2.create_image(InstanceId=builder["InstanceId"], Name="web-2")["ImageId"]
    ec2.create_launch_template_version(LaunchTemplateName="web", LaunchTemplateData={"ImageId": new_ami})

    rid = asg.start_instance_refresh(AutoScalingGroupName="web", Preferences={"MinHealthyPercentage": 50})[
        "InstanceRefreshId"
    ]
    with pytest.raises(asg.exceptions.ClientError) as err:
        asg.start_instance_refresh(AutoScalingGroupName="web")
    assert err.value.response["Error"]["Code"] == "InstanceRefreshInProgress"

    seen = []
    for _ in range(5):
        refresh = asg.describe_instance_refreshes(AutoScalingGroupName="web")["InstanceRefreshes"][0]
        seen.append(refresh["Status"])
        if refresh["Status"] == "Successful":
            break
    assert refresh["InstanceRefreshId"] == rid
    assert seen == ["InProgress", "Successful"]
    assert refresh["PercentageComplete"] == 100
    assert refresh["Preferences"]["MinHealthyPercentage"] == 50
    after = _instances(asg)
    assert len(after) == 2 and not before & {i["InstanceId"] for i in after}
    images = {r["Instances"][0]["ImageId"] for r in ec2.describe_instances(
        InstanceIds=[i["InstanceId"] for i in after])["Reservations"]}
    assert images == {new_ami}

    # Cancel: only an active refresh can be cancelled.
    with pytest.raises(asg.exceptions.ClientError) as err:
        asg.cancel_instance_refresh(AutoScalingGroupName="web")
    assert err.value.response["Error"]["Code"] == "ActiveInstanceRefreshNotFound"
    rid2 = asg.start_instance_refresh(AutoScalingGroupName="web")["InstanceRefreshId"]
    assert asg.cancel_instance_refresh(AutoScalingGroupName="web")["InstanceRefreshId"] == rid2
    latest = asg.describe_instance_refreshes(AutoScalingGroupName="web", InstanceRefreshIds=[rid2])
    assert latest["InstanceRefreshes"][0]["Status"] == "Cancelled"


def test_disable_metrics_and_az_balance(clean_emulator):
    ec2, asg = _asg(clean_emulator)
    asg.enable_metrics_collection(AutoScalingGroupName="web", Granularity="1Minute",
                                  Metrics=["GroupInServiceInstances", "GroupDesiredCapacity"])
    asg.disable_metrics_collection(AutoScalingGroupName="web", Metrics=["GroupDesiredCapacity"])
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])["AutoScalingGroups"][0]
    assert [m["Metric"] for m in group["EnabledMetrics"]] == ["GroupInServiceInstances"]
    asg.disable_metrics_collection(AutoScalingGroupName="web")
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])["AutoScalingGroups"][0]
    assert group.get("EnabledMetrics", []) == []
    # Two instances over two AZs, one in each.
    assert sorted(i["AvailabilityZone"] for i in group["Instances"]) == ["af-south-1a", "af-south-1b"]
    asg.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=4)
    zones = [i["AvailabilityZone"] for i in _instances(asg)]
    assert zones.count("af-south-1a") == zones.count("af-south-1b") == 2


def test_autoscaling_without_patches_is_moto_stock(emulator_factory):
    _, asg = _asg(emulator_factory(disable=WITHOUT))
    for call in (
        lambda: asg.start_instance_refresh(AutoScalingGroupName="web"),
        lambda: asg.describe_instance_refreshes(AutoScalingGroupName="web"),
        lambda: asg.cancel_instance_refresh(AutoScalingGroupName="web"),
        lambda: asg.disable_metrics_collection(AutoScalingGroupName="web"),
    ):
        with pytest.raises(NOT_SERVED):
            call()
    assert {i["AvailabilityZone"] for i in _instances(asg)} == {"af-south-1a"}


def _self_signed():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    def make(cn, issuer_key=None, issuer_name=None, ca=False):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (
            x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name or name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
        cert = builder.sign(issuer_key or key, hashes.SHA256())
        return key, cert

    ca_key, ca_cert = make("Protea Test CA", ca=True)
    key, cert = make("www.shopper.example.com", ca_key, ca_cert.subject)
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)  # noqa: E731
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    return pem(cert), key_pem, pem(ca_cert)


def _import_cert(emu):
    cert, key, chain = _self_signed()
    acm = emu.client("acm", region="us-east-1")
    arn = acm.import_certificate(Certificate=cert, PrivateKey=key, CertificateChain=chain)["CertificateArn"]
    return acm.get_certificate(CertificateArn=arn), chain


def test_acm_imported_chain_returned_as_imported(clean_emulator):
    got, chain = _import_cert(clean_emulator)
    assert got["CertificateChain"].strip() == chain.decode().strip()


def test_acm_imported_chain_without_patch_is_moto_stock(emulator_factory):
    got, chain = _import_cert(emulator_factory(disable=WITHOUT))
    assert got["CertificateChain"].count("BEGIN CERTIFICATE") == 2


def _ses(emu):
    ses = emu.client("ses", region="eu-west-1")
    sns = emu.client("sns", region="eu-west-1")
    topic = sns.create_topic(Name="ses-bounces")["TopicArn"]
    ses.verify_domain_identity(Domain="shopper.example.com")
    ses.verify_domain_dkim(Domain="shopper.example.com")
    ses.set_identity_notification_topic(Identity="shopper.example.com", NotificationType="Bounce", SnsTopic=topic)
    return ses, topic


POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"ses:SendEmail","Resource":"*"}]}'


def test_ses_v1_identity_apis_as_aws(clean_emulator):
    ses, topic = _ses(clean_emulator)
    domain = "shopper.example.com"
    ses.set_identity_dkim_enabled(Identity=domain, DkimEnabled=False)
    assert ses.get_identity_dkim_attributes(Identities=[domain])["DkimAttributes"][domain]["DkimEnabled"] is False
    ses.set_identity_dkim_enabled(Identity=domain, DkimEnabled=True)
    assert ses.get_identity_dkim_attributes(Identities=[domain])["DkimAttributes"][domain]["DkimEnabled"] is True

    ses.put_identity_policy(Identity=domain, PolicyName="app", Policy=POLICY)
    assert ses.list_identity_policies(Identity=domain)["PolicyNames"] == ["app"]
    assert ses.get_identity_policies(Identity=domain, PolicyNames=["app"])["Policies"] == {"app": POLICY}
    ses.delete_identity_policy(Identity=domain, PolicyName="app")
    assert ses.list_identity_policies(Identity=domain)["PolicyNames"] == []

    ses.set_identity_headers_in_notifications_enabled(Identity=domain, NotificationType="Bounce", Enabled=True)
    attrs = ses.get_identity_notification_attributes(Identities=[domain])["NotificationAttributes"][domain]
    assert attrs["BounceTopic"] == topic
    assert attrs["HeadersInBounceNotificationsEnabled"] is True
    assert "ComplaintTopic" not in attrs


def test_ses_v1_identity_apis_without_patches_is_moto_stock(emulator_factory):
    ses, _ = _ses(emulator_factory(disable=WITHOUT))
    domain = "shopper.example.com"
    for call in (
        lambda: ses.set_identity_dkim_enabled(Identity=domain, DkimEnabled=False),
        lambda: ses.put_identity_policy(Identity=domain, PolicyName="app", Policy=POLICY),
        lambda: ses.list_identity_policies(Identity=domain),
    ):
        with pytest.raises(NOT_SERVED):
            call()
    attrs = ses.get_identity_notification_attributes(Identities=[domain])["NotificationAttributes"][domain]
    assert "BounceTopic" not in attrs


CF_SHAPE = "cloudfront-config-shape"


def _distribution_config(emu):
    cf = emu.client("cloudfront", region="us-east-1")
    dist = cf.create_distribution(DistributionConfig={
        "CallerReference": "protea-test",
        "Comment": "protea",
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{
            "Id": "alb", "DomainName": "web-1.af-south-1.elb.amazonaws.com",
            "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"},
        }]},
        "DefaultCacheBehavior": {
            "TargetOriginId": "alb", "ViewerProtocolPolicy": "redirect-to-https",
            "ForwardedValues": {"QueryString": True, "Cookies": {"Forward": "all"}},
            "MinTTL": 0,
        },
    })["Distribution"]
    return cf.get_distribution_config(Id=dist["Id"])["DistributionConfig"]["DefaultCacheBehavior"]


def test_cloudfront_config_shape_as_aws(clean_emulator):
    behaviour = _distribution_config(clean_emulator)
    for absent in ("CachePolicyId", "OriginRequestPolicyId", "RealtimeLogConfigArn"):
        assert absent not in behaviour
    assert behaviour["TrustedSigners"] == {"Enabled": False, "Quantity": 0}
    assert behaviour["TrustedKeyGroups"] == {"Enabled": False, "Quantity": 0}
    assert behaviour["ForwardedValues"]["QueryString"] is True


def test_cloudfront_config_shape_without_patch_is_moto_stock(emulator_factory):
    behaviour = _distribution_config(emulator_factory(disable=WITHOUT))
    assert behaviour["CachePolicyId"] == ""
    assert behaviour["TrustedSigners"]["Items"] == []


CF_DEPLOY = "cloudfront-deployment-time"


def _update_comment(cf, dist_id: str, comment: str) -> str:
    got = cf.get_distribution_config(Id=dist_id)
    config = got["DistributionConfig"] | {"Comment": comment}
    return cf.update_distribution(Id=dist_id, IfMatch=got["ETag"], DistributionConfig=config)["Distribution"]["Status"]


def _deploy_statuses(emu) -> tuple[str, str, str]:
    cf = emu.client("cloudfront", region="us-east-1")
    _distribution_config(emu)
    dist_id = cf.list_distributions()["DistributionList"]["Items"][0]["Id"]
    deadline = time.monotonic() + 30
    while cf.get_distribution(Id=dist_id)["Distribution"]["Status"] != "Deployed" and time.monotonic() < deadline:
        time.sleep(0.5)
    deployed = cf.get_distribution(Id=dist_id)["Distribution"]["Status"]
    _update_comment(cf, dist_id, "changed")
    after_update = cf.get_distribution(Id=dist_id)["Distribution"]["Status"]
    time.sleep(0.2)
    return deployed, after_update, cf.get_distribution(Id=dist_id)["Distribution"]["Status"]


def test_cloudfront_update_is_in_progress_for_a_while(emulator_factory):
    # An updated configuration is not served everywhere at once: rotate.yml waits for Deployed.
    # (A short window here; the default, a minute, outlasts a playbook step that does not wait.)
    emu = emulator_factory(env={"PROTEA_CLOUDFRONT_DEPLOY_SECONDS": "3"})
    assert _deploy_statuses(emu) == ("Deployed", "InProgress", "InProgress")


def test_cloudfront_update_without_patch_is_deployed_at_once(emulator_factory):
    assert _deploy_statuses(emulator_factory(disable=WITHOUT))[1:] == ("Deployed", "Deployed")


# The "without" tests share one server that lacks every patch of this module (one server
# start instead of one per patch); each still asserts moto's own behaviour for its patch.
WITHOUT = [ALB_ATTRS, TG_ATTRS, REFRESH, METRICS, AZ_BALANCE, ACM_CHAIN, SES_DKIM, SES_POLICIES, SES_TOPICS, CF_SHAPE,
           CF_DEPLOY]
