"""Edge side of the web and edge tier (playbooks/edge.yml: dns, acm, cloudfront, ses) against
the emulator: converge, converge again (no change), --check (no change), then every promised
property read back through boto3.

The ALB and Auto Scaling group belong to other roles: this test runs edge.yml with the tags of
the edge roles only, and its setup creates a stand-in ALB (a real elbv2 load balancer in the
emulator, made with boto3, with the web target group the alb role forwards to) and the origin
secret parameter the alb role would write. The roles find the ALB as they do when edge.yml runs
without the alb role: through role stack's discovery (protea_stack.alb_dns_name, .alb_zone_id).
"""
from __future__ import annotations

import json
import re
import urllib.request
from dataclasses import dataclass

import pytest

from plugins.filter.ses import ses_smtp_password
from tests.crash import duplicates
from tests.helpers import PlaybookRun, assert_refused_before_any_aws_call, bad_input_sweep, run_playbook
from tests.sweep import assert_a_tier_is_destroyed

pytestmark = pytest.mark.emulator

EDGE = "playbooks/edge.yml"
TAGS = "preflight,dns,acm,cloudfront,ses"
NAME = "shopper-local"
DOMAIN = "shopper.example.com"
REGION = "af-south-1"
SECRET_PARAM = "/shopper/local/alb/origin-secret"
SECRET = "origin-secret-of-the-stand-in-alb-0123456789"
SMTP_CREDENTIALS_PARAM = "/shopper/local/ses/smtp-credentials"
CF_ZONE = "Z2FDTNDATAQYW2"


def flat(text: str) -> str:
    return " ".join(text.split())


def stand_in_alb(emu) -> tuple[dict, dict]:
    """What the alb role provides: an ALB in two public subnets forwarding to the web target group,
    and the origin secret in SSM. Returns (the ALB as created, the extra vars of the runs)."""
    ec2 = emu.client("ec2", region=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.99.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
               for i, az in enumerate("ab")]
    elbv2 = emu.client("elbv2", region=REGION)
    lb = elbv2.create_load_balancer(Name=f"{NAME}-alb", Subnets=subnets)["LoadBalancers"][0]
    tg = elbv2.create_target_group(Name=f"{NAME}-web", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    emu.client("ssm", region=REGION).put_parameter(Name=SECRET_PARAM, Value=SECRET, Type="SecureString")
    return lb, {
        "alb_origin_secret_parameter": SECRET_PARAM,
        # No network: the edge roles under test need none (alb and asg are not run here).
        "stack_require_network": False,
        "acm_wait_delay": 2,
    }


@dataclass
class Stack:
    emu: object
    alb: dict
    crashes: list[PlaybookRun]
    first: PlaybookRun
    second: PlaybookRun
    check: PlaybookRun
    lb: dict

    def client(self, service, region=REGION):
        return self.emu.client(service, region=region)


@pytest.fixture(scope="module")
def stack(emulator) -> Stack:
    emulator.reset()
    lb, alb = stand_in_alb(emulator)
    # Crash-safe re-runs: the converge is killed (SIGKILL) right after AWS created the distribution,
    # then right after it created the SMTP user's access key (its secret never stored); "first" resumes.
    crashes = [run_playbook(EDGE, endpoint=emulator.endpoint, extra_vars=alb, tags=TAGS, crash_action=action)
               for action in CRASH_POINTS]
    first = run_playbook(EDGE, endpoint=emulator.endpoint, extra_vars=alb, tags=TAGS)
    assert first.rc == 0, first.explain()
    second = run_playbook(EDGE, endpoint=emulator.endpoint, extra_vars=alb, tags=TAGS)
    check = run_playbook(EDGE, endpoint=emulator.endpoint, extra_vars=alb, tags=TAGS, check=True, diff=True)
    return Stack(emulator, alb, crashes, first, second, check, lb)


CRASH_POINTS = ("CreateDistributionWithTags", "CreateAccessKey")


def test_runs_killed_right_after_aws_acted_resume_with_nothing_duplicated(stack):
    assert [(run.rc, (run.crashed_at or "").split("@")[0] + " " + (run.crashed_at or "").split(" ")[-1])
            for run in stack.crashes] == [(-9, "cloudfront CreateDistributionWithTags"), (-9, "iam CreateAccessKey")], \
        stack.crashes[-1].explain()
    assert duplicates(stack.emu.endpoint, [REGION, "us-east-1"]) == []
    # The key whose secret the killed run never stored is gone; the one in use is the stored one.
    keys = stack.client("iam").list_access_keys(UserName=f"{NAME}-ses-smtp")["AccessKeyMetadata"]
    stored = json.loads(stack.client("ssm").get_parameter(Name=SMTP_CREDENTIALS_PARAM, WithDecryption=True)[
        "Parameter"]["Value"])
    assert [k["AccessKeyId"] for k in keys] == [stored["username"]]


def test_converge_creates_then_changes_nothing(stack):
    assert stack.first.changed > 0 and stack.first.failed == 0
    assert stack.second.rc == 0 and stack.second.changed == 0, stack.second.explain()


def test_check_mode_on_converged_stack_reports_no_change(stack):
    assert stack.check.rc == 0 and stack.check.changed == 0, stack.check.explain()


def _distribution(stack):
    cf = stack.client("cloudfront", region="us-east-1")
    items = cf.list_distributions()["DistributionList"].get("Items", [])
    assert len(items) == 1
    return cf.get_distribution(Id=items[0]["Id"])["Distribution"]


def _cert(stack, region):
    acm = stack.client("acm", region=region)
    arns = [c["CertificateArn"] for c in acm.list_certificates()["CertificateSummaryList"]]
    assert len(arns) == 1, f"one certificate in {region}, got {arns}"
    return acm.describe_certificate(CertificateArn=arns[0])["Certificate"]


def test_certificates_dns_validated_in_both_regions(stack):
    for region, key in ((REGION, "regional"), ("us-east-1", "cloudfront")):
        cert = _cert(stack, region)
        assert cert["DomainName"] == DOMAIN
        assert sorted(cert["SubjectAlternativeNames"]) == sorted([DOMAIN, f"www.{DOMAIN}", f"origin.{DOMAIN}"])
        assert cert["Status"] == "ISSUED"
        assert {o["ValidationMethod"] for o in cert["DomainValidationOptions"]} == {"DNS"}
        tags = {t["Key"]: t["Value"] for t in stack.client("acm", region=region).list_tags_for_certificate(
            CertificateArn=cert["CertificateArn"])["Tags"]}
        assert tags["Name"] == f"{NAME}-{key}" and tags["Component"] == "acm"
    # The wait comes after the validation records and is not the request itself.
    out = stack.first.stdout
    assert out.index("Request the certificates (no wait)") < out.index("Upsert records: ACM validation") \
        < out.index("Wait until the certificates are issued")


def test_cloudfront_distribution(stack):
    dist = _distribution(stack)
    config = dist["DistributionConfig"]
    assert config["PriceClass"] == "PriceClass_200"
    assert config["Enabled"] is True and config["HttpVersion"] == "http2and3"
    assert sorted(config["Aliases"]["Items"]) == sorted([DOMAIN, f"www.{DOMAIN}"])
    viewer = config["ViewerCertificate"]
    assert viewer["ACMCertificateArn"] == _cert(stack, "us-east-1")["CertificateArn"]
    assert viewer["SSLSupportMethod"] == "sni-only" and viewer["MinimumProtocolVersion"] == "TLSv1.2_2021"

    origins = config["Origins"]["Items"]
    assert len(origins) == 1
    origin = origins[0]
    assert origin["DomainName"] == f"origin.{DOMAIN}"
    custom = origin["CustomOriginConfig"]
    assert custom["OriginProtocolPolicy"] == "https-only"
    assert custom["OriginSslProtocols"]["Items"] == ["TLSv1.2"]
    headers = {h["HeaderName"]: h["HeaderValue"] for h in origin["CustomHeaders"]["Items"]}
    assert headers == {"X-Origin-Verify": SECRET}

    default = config["DefaultCacheBehavior"]
    assert default["TargetOriginId"] == origin["Id"]
    assert default["ViewerProtocolPolicy"] == "redirect-to-https" and default["Compress"] is True
    assert default["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CachingDisabled
    assert default["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # AllViewerExceptHostHeader
    assert default["ResponseHeadersPolicyId"] == "67f7725c-6f97-4210-82d7-5512b31e9d03"  # SecurityHeadersPolicy
    assert "POST" in default["AllowedMethods"]["Items"]

    statics = {b["PathPattern"]: b for b in config["CacheBehaviors"]["Items"]}
    assert sorted(statics) == ["/static/*", "/uploads/*"]
    for behaviour in statics.values():
        assert behaviour["CachePolicyId"] == "658327ea-f89d-4fab-a63d-7e88639e58f6"  # CachingOptimized
        assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https" and behaviour["Compress"] is True
        assert behaviour["ResponseHeadersPolicyId"] == "67f7725c-6f97-4210-82d7-5512b31e9d03"

    logging = config["Logging"]
    assert logging["Enabled"] is True and logging["Prefix"] == "cloudfront/"
    bucket = logging["Bucket"].removesuffix(".s3.amazonaws.com")
    s3 = stack.client("s3", region="us-east-1")
    # CloudFront delivers no standard logs to af-south-1 (opt-in): the bucket is in us-east-1
    # (GetBucketLocation answers no constraint for us-east-1), named after its region.
    assert s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") in (None, "")
    assert bucket == f"{NAME}-cflogs-123456789012-us-east-1"
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["Expiration"]["Days"] == 90
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerPreferred"}]
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    # The origin secret never reaches the log.
    for run in (stack.first, stack.second, stack.check):
        assert SECRET not in run.stdout and SECRET not in run.stderr


def test_stack_discovery_finds_the_edge_resources_and_no_secret(stack):
    # Role stack's one describe module (protea.platform.stack_info), read only, against what
    # the emulator holds: the distribution by its comment, the web target group and its ALB.
    import base64

    run = run_playbook("tests/provisioning/network_lookup.yml", endpoint=stack.emu.endpoint, check=True, verbosity=3,
                       extra_vars={"stack_require_network": False})
    assert run.rc == 0 and run.changed == 0, run.explain()
    assert SECRET not in run.stdout + run.stderr  # -vvv prints the module's whole result
    found = json.loads(base64.b64decode(re.search(r"PROTEA_STACK=([A-Za-z0-9+/=]+)", run.stdout)[1]))
    distribution = _distribution(stack)
    target_group = stack.client("elbv2").describe_target_groups(Names=[f"{NAME}-web"])["TargetGroups"][0]
    assert (found["distribution_id"], found["distribution_domain_name"]) == (distribution["Id"], distribution["DomainName"])
    assert (found["alb_arn"], found["alb_dns_name"], found["alb_zone_id"]) == (
        stack.lb["LoadBalancerArn"], stack.lb["DNSName"], stack.lb["CanonicalHostedZoneId"])
    assert found["target_group_arn"] == target_group["TargetGroupArn"]
    assert found["vpc_id"] == "" and found["efs_id"] == ""  # not this stack's: no tagged VPC, no file system


def _records(stack) -> tuple[str, dict]:
    r53 = stack.client("route53", region="us-east-1")
    zones = [z for z in r53.list_hosted_zones()["HostedZones"] if z["Name"] == f"{DOMAIN}."]
    assert len(zones) == 1
    zone_id = zones[0]["Id"]
    sets = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return zone_id, {(s["Name"].rstrip("."), s["Type"]): s for s in sets}


def test_dns_site_origin_and_validation_records(stack):
    _, records = _records(stack)
    domain = _distribution(stack)["DomainName"]
    for name in (DOMAIN, f"www.{DOMAIN}"):
        for rtype in ("A", "AAAA"):
            alias = records[(name, rtype)]["AliasTarget"]
            assert alias["DNSName"].rstrip(".") == domain and alias["HostedZoneId"] == CF_ZONE
    origin = records[(f"origin.{DOMAIN}", "A")]["AliasTarget"]
    assert origin["DNSName"].rstrip(".").lower() == stack.lb["DNSName"].lower()
    assert origin["HostedZoneId"] == stack.lb["CanonicalHostedZoneId"]
    for region in (REGION, "us-east-1"):
        for option in _cert(stack, region)["DomainValidationOptions"]:
            rr = option["ResourceRecord"]
            record = records[(rr["Name"].rstrip("."), "CNAME")]
            assert [v["Value"] for v in record["ResourceRecords"]] == [rr["Value"]]


def test_records_changed_by_hand_are_put_back_in_one_batch_and_others_left_alone(stack):
    # protea.platform.route53_records: one listing, one ChangeResourceRecordSets for what differs.
    zone_id, records = _records(stack)
    r53 = stack.client("route53", region="us-east-1")
    spf, dmarc = records[(f"mail.{DOMAIN}", "TXT")], records[(f"_dmarc.{DOMAIN}", "TXT")]
    www, www6 = records[(f"www.{DOMAIN}", "A")], records[(f"www.{DOMAIN}", "AAAA")]
    elsewhere = {"AliasTarget": dict(www["AliasTarget"], DNSName="elsewhere.example.net.")}
    hand = [{"Action": "UPSERT", "ResourceRecordSet": dict(spf, TTL=60, ResourceRecords=[{"Value": '"v=spf1 -all"'}])},
            {"Action": "UPSERT", "ResourceRecordSet": dict(dmarc, ResourceRecords=[{"Value": '"v=DMARC1; p=none"'}])},
            {"Action": "UPSERT", "ResourceRecordSet": dict(www, **elsewhere)},
            {"Action": "UPSERT", "ResourceRecordSet": dict(www6, **elsewhere)},
            {"Action": "UPSERT", "ResourceRecordSet": {"Name": f"keep.{DOMAIN}.", "Type": "TXT", "TTL": 60,
                                                       "ResourceRecords": [{"Value": '"not ours"'}]}}]
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": hand})
    log_before = len(_emulator_log(stack).splitlines())
    fix = run_playbook(EDGE, endpoint=stack.emu.endpoint, extra_vars=stack.alb, tags="preflight,dns")
    assert fix.rc == 0 and fix.changed >= 1, fix.explain()
    _, after = _records(stack)
    for was in (spf, dmarc, www, www6):
        key = (was["Name"].rstrip("."), was["Type"])
        assert {k: v for k, v in after[key].items() if k != "Name"} == {k: v for k, v in was.items() if k != "Name"}, key
    assert (f"keep.{DOMAIN}", "TXT") in after
    # ChangeResourceRecordSets is POST .../hostedzone/<id>/rrset: one per record group that
    # changed (site and origin, SES), where one call per record would make four.
    batches = [line for line in _emulator_log(stack).splitlines()[log_before:] if re.search(r'"POST /2013-04-01/hostedzone/[^ ]*/rrset', line)]
    assert len(batches) == 2, batches
    again = run_playbook(EDGE, endpoint=stack.emu.endpoint, extra_vars=stack.alb, tags="preflight,dns")
    assert again.rc == 0 and again.changed == 0, again.explain()


def test_ses_identity_dkim_mail_from_and_records(stack):
    ses = stack.client("ses")
    assert DOMAIN in ses.list_identities(IdentityType="Domain")["Identities"]
    dkim = ses.get_identity_dkim_attributes(Identities=[DOMAIN])["DkimAttributes"][DOMAIN]
    assert dkim["DkimEnabled"] is True and len(dkim["DkimTokens"]) == 3
    mail = ses.get_identity_mail_from_domain_attributes(Identities=[DOMAIN])["MailFromDomainAttributes"][DOMAIN]
    assert mail["MailFromDomain"] == f"mail.{DOMAIN}"
    assert mail["BehaviorOnMXFailure"] == "UseDefaultValue"

    _, records = _records(stack)
    for token in dkim["DkimTokens"]:
        cname = records[(f"{token}._domainkey.{DOMAIN}", "CNAME")]
        assert [v["Value"] for v in cname["ResourceRecords"]] == [f"{token}.dkim.amazonses.com"]
    assert [v["Value"] for v in records[(f"mail.{DOMAIN}", "MX")]["ResourceRecords"]] == [
        f"10 feedback-smtp.{REGION}.amazonses.com"]
    assert [v["Value"] for v in records[(f"mail.{DOMAIN}", "TXT")]["ResourceRecords"]] == ['"v=spf1 include:amazonses.com ~all"']
    dmarc = records[(f"_dmarc.{DOMAIN}", "TXT")]["ResourceRecords"][0]["Value"]
    assert dmarc.startswith('"v=DMARC1; p=quarantine')


def test_ses_configuration_set_events_to_sns(stack):
    found = stack.client("ses").describe_configuration_set(
        ConfigurationSetName=NAME, ConfigurationSetAttributeNames=["eventDestinations"])
    destinations = [d for d in found["EventDestinations"] if d]
    assert len(destinations) == 1
    dest = destinations[0]
    assert sorted(dest["MatchingEventTypes"]) == ["bounce", "complaint"]
    topic = dest["SNSDestination"]["TopicARN"]
    assert topic.endswith(f":{NAME}-ses-events")
    assert topic in [t["TopicArn"] for t in stack.client("sns").list_topics()["Topics"]]


def test_ses_configuration_set_is_the_identity_default_and_published_for_the_relay(stack):
    """Every message from the identity publishes bounces/complaints, even one without the
    X-SES-CONFIGURATION-SET header; the bake reads the name from SSM for the relay's header."""
    identity = stack.client("sesv2").get_email_identity(EmailIdentity=DOMAIN)
    assert identity["ConfigurationSetName"] == NAME
    param = stack.client("ssm").get_parameter(Name="/shopper/local/ses/configuration-set")["Parameter"]
    assert (param["Type"], param["Value"]) == ("String", NAME)
    # The SMTP user may send with that configuration set.
    doc = stack.client("iam").get_user_policy(UserName=f"{NAME}-ses-smtp", PolicyName="ses-send-raw-email")["PolicyDocument"]
    assert f"arn:aws:ses:{REGION}:123456789012:configuration-set/{NAME}" in doc["Statement"][0]["Resource"]


def _secret_of(emu, access_key_id: str) -> str:
    """The emulator's record of the access key's secret (AWS returns it only at creation)."""
    with urllib.request.urlopen(f"{emu.endpoint}/moto-api/data.json", timeout=60) as resp:  # noqa: S310 - loopback
        data = json.load(resp)
    text = json.dumps(data.get("iam", {}))
    marker = f'"access_key_id": "{access_key_id}"'
    assert marker in text
    at = text.index(marker)
    # The record's own secret follows its id (other keys' records, deleted ones too, are around it).
    return re.search(r'"secret_access_key": "([^"]+)"', text[at:]).group(1)


def test_smtp_user_key_and_password(stack):
    iam = stack.client("iam", region="us-east-1")
    user = f"{NAME}-ses-smtp"
    keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert len(keys) == 1, "a re-run must not create another key"
    policy = iam.get_user_policy(UserName=user, PolicyName="ses-send-raw-email")["PolicyDocument"]
    policy = json.loads(policy) if isinstance(policy, str) else policy
    actions = {s["Action"] if isinstance(s["Action"], str) else tuple(s["Action"]) for s in policy["Statement"]}
    assert actions == {"ses:SendRawEmail"}
    resources = policy["Statement"][0]["Resource"]
    assert f"arn:aws:ses:{REGION}:123456789012:identity/{DOMAIN}" in resources
    assert iam.list_attached_user_policies(UserName=user)["AttachedPolicies"] == []

    ssm = stack.client("ssm")
    # User name and password in one SecureString: never read half rotated.
    param = ssm.get_parameter(Name=SMTP_CREDENTIALS_PARAM, WithDecryption=True)["Parameter"]
    assert param["Type"] == "SecureString" and param["Version"] == 1
    smtp = json.loads(param["Value"])
    assert smtp["username"] == keys[0]["AccessKeyId"]
    assert smtp["password"] == ses_smtp_password(_secret_of(stack.emu, smtp["username"]), REGION)
    for run in (stack.first, stack.second, stack.check):
        assert smtp["password"] not in run.stdout and smtp["password"] not in run.stderr


# --- preflight: bad edge input stops the run before any AWS call ------------------------------
FIX = "in inventories/<env>/group_vars/all"
SANS = [f"www.{DOMAIN}", f"origin.{DOMAIN}"]
BAD = [
    ("price_class_100", {"cloudfront_price_class": "PriceClass_100"},
     "cloudfront_price_class 'PriceClass_100' has no South African edge locations"),
    ("price_class_typo", {"cloudfront_price_class": "PriceClass_300"},
     "cloudfront_price_class 'PriceClass_300' is not a CloudFront price class"),
    ("san_invalid", {"acm_subject_alternative_names": SANS + [f"bad_name.{DOMAIN}"]},
     f'acm_subject_alternative_names has invalid DNS names (["bad_name.{DOMAIN}"])'),
    ("san_outside_domain", {"acm_subject_alternative_names": SANS + ["www.other.example.org"]},
     'acm_subject_alternative_names ["www.other.example.org"] are outside protea_domain'),
    ("alias_not_on_certificate", {"cloudfront_aliases": [DOMAIN, f"shop.{DOMAIN}"]},
     f'cloudfront_aliases ["shop.{DOMAIN}"] are not on the certificate'),
    ("static_path_star", {"cloudfront_static_path_patterns": ["*"]},
     'cloudfront_static_path_patterns has invalid path patterns (["*"])'),
    ("static_path_space", {"cloudfront_static_path_patterns": ["/static/ *"]},
     'cloudfront_static_path_patterns has invalid path patterns (["/static/ *"])'),
    ("static_path_twice", {"cloudfront_static_path_patterns": ["/static/*", "/static/*"]},
     "cloudfront_static_path_patterns lists a pattern twice"),
    ("mail_from_outside", {"protea_mail_from_domain": "mail.example.org"},
     f"protea_mail_from_domain 'mail.example.org' is not a subdomain of protea_domain '{DOMAIN}'"),
    ("ses_region_typo", {"protea_ses_region": "eu-west1"}, "protea_ses_region 'eu-west1' is not a known AWS region"),
    ("logs_region_opt_in", {"cloudfront_logs_region": "af-south-1"},
     "cloudfront_logs_region 'af-south-1' is an opt-in region: CloudFront does not deliver standard logs to S3 buckets "
     "in opt-in regions (af-south-1, ap-east-1, eu-south-1, me-south-1, ...); set cloudfront_logs_region to a region "
     "enabled by default such as us-east-1"),
    ("logs_region_typo", {"cloudfront_logs_region": "us-east1"}, "cloudfront_logs_region 'us-east1' is not a known AWS region"),
    # Certificate, alias and MAIL FROM names derive from the domain: one finding (common.yml's), not five.
    ("domain_unset_no_derived_findings", {"protea_domain": ""}, "protea_domain is not set"),
]


# Through edge.yml itself (preflight first, before role stack and dns); every case's message is
# checked on the preflight role in one run, a host per case (tests.helpers.run_preflight_cases).
THROUGH_EDGE = ("price_class_100", "domain_unset_no_derived_findings")


@pytest.fixture(scope="module")
def bad_runs(emulator) -> tuple[dict[str, PlaybookRun], dict[str, PlaybookRun], int]:
    return bad_input_sweep(emulator, EDGE, {case: bad for case, bad, _ in BAD}, THROUGH_EDGE)


@pytest.mark.parametrize("case,bad,expect", BAD, ids=[c[0] for c in BAD])
def test_bad_edge_input_fails_before_any_aws_call(bad_runs, case, bad, expect):
    runs, role_runs, calls = bad_runs
    assert_refused_before_any_aws_call([role_runs[case]] + ([runs[case]] if case in runs else []), expect, FIX,
                                       "protea.platform.dns")
    assert calls == 0


# --- the defects the strict local cloud exposes ---------------------------------------------------
def test_log_bucket_in_the_platform_region_is_refused_as_on_aws(stack):
    """The old setting (log bucket in af-south-1, the platform region), preflight skipped: the
    strict local cloud refuses the distribution update with CloudFront's own error, and the
    distribution keeps logging to the us-east-1 bucket."""
    cert = _cert(stack, "us-east-1")["CertificateArn"]
    old = run_playbook(EDGE, endpoint=stack.emu.endpoint, tags="cloudfront", extra_vars={
        **stack.alb, "preflight_checks": [], "cloudfront_certificate_arn": cert,
        "cloudfront_logs_region": REGION, "cloudfront_logs_bucket": f"{NAME}-cdn-logs-123456789012"})
    assert old.rc != 0 and "Distribution in front of the ALB" in old.stdout, old.explain()
    # The task is no_log (origin secret): AWS's answer is in the emulator log.
    assert ("cloudfront UpdateDistribution refused: InvalidArgument: The S3 bucket that you specified for CloudFront "
            f"logs doesn't exist: {NAME}-cdn-logs-123456789012.s3.amazonaws.com") in _emulator_log(stack)
    located = stack.client("s3").get_bucket_location(Bucket=f"{NAME}-cdn-logs-123456789012")
    assert located["LocationConstraint"] == REGION
    assert _distribution(stack)["DistributionConfig"]["Logging"]["Bucket"] == (
        f"{NAME}-cflogs-123456789012-us-east-1.s3.amazonaws.com")


def test_distribution_waits_for_an_issued_us_east_1_certificate(stack):
    """CloudFront (and the strict local cloud) refuses a certificate that is not issued or not in
    us-east-1: the converge passed because the acm role waits for issuance before the distribution."""
    out = stack.first.stdout
    assert out.rindex("Wait until the certificates are issued") < out.index("Distribution in front of the ALB")
    regional = _cert(stack, REGION)["CertificateArn"]
    run = run_playbook(EDGE, endpoint=stack.emu.endpoint, tags="cloudfront", extra_vars={
        **stack.alb, "preflight_checks": [], "cloudfront_certificate_arn": regional})
    assert run.rc != 0 and "Distribution in front of the ALB" in run.stdout, run.explain()
    assert ("cloudfront UpdateDistribution refused: InvalidViewerCertificate: The specified SSL certificate doesn't "
            "exist, isn't in us-east-1 region, isn't valid, or doesn't include a valid certificate chain.") in _emulator_log(stack)


def _emulator_log(stack) -> str:
    return stack.emu.log_path.read_text(errors="replace")


def test_smtp_keys_an_interrupted_run_left_are_replaced_not_added(stack):
    """A run that stopped after creating the SMTP access key, before its password reached SSM, left
    a key whose secret nobody has. Two such stops fill IAM's two keys per user (the emulator refuses
    a third as AWS does, LimitExceeded): the next run deletes the unusable keys, then creates one.
    Runs last in this module: it replaces the stored credentials."""
    iam, ssm = stack.client("iam", region="us-east-1"), stack.client("ssm")
    user = f"{NAME}-ses-smtp"
    ssm.delete_parameter(Name=SMTP_CREDENTIALS_PARAM)  # stopped before the write
    iam.create_access_key(UserName=user)  # and once more: two keys, none stored
    orphans = {k["AccessKeyId"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}
    assert len(orphans) == 2
    with pytest.raises(iam.exceptions.LimitExceededException):
        iam.create_access_key(UserName=user)
    run = run_playbook(EDGE, endpoint=stack.emu.endpoint, extra_vars=stack.alb, tags="preflight,ses")
    assert run.rc == 0, run.explain()
    [key] = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    smtp = json.loads(ssm.get_parameter(Name=SMTP_CREDENTIALS_PARAM, WithDecryption=True)["Parameter"]["Value"])
    assert smtp["username"] == key["AccessKeyId"] and key["AccessKeyId"] not in orphans
    assert smtp["password"] == ses_smtp_password(_secret_of(stack.emu, key["AccessKeyId"]), REGION)
    again = run_playbook(EDGE, endpoint=stack.emu.endpoint, extra_vars=stack.alb, tags="preflight,ses")
    assert again.rc == 0 and again.changed == 0, again.explain()


# --- a domain not delegated to its hosted zone: the ACM wait stops early -------------------------
REGISTRAR_NS = ["ns1.registrar.example", "ns2.registrar.example"]


def test_acm_wait_stops_early_when_the_domain_is_not_delegated_and_waits_when_it_is(stack):
    """A certificate still to be validated (a new Name: in --check none is requested) and a domain the
    DNS double says is delegated elsewhere: the run stops before the wait, with the zone's name servers
    to set at the registrar; delegated (the double's default), the same run goes on to the wait."""
    zone_id, _ = _records(stack)
    zone_ns = stack.client("route53", region="us-east-1").get_hosted_zone(Id=zone_id)["DelegationSet"]["NameServers"]
    fresh = {**stack.alb, "acm_name": f"{NAME}-not-yet"}
    stack.emu.dns_double_switch(REGISTRAR_NS)
    try:
        stopped = run_playbook(EDGE, endpoint=stack.emu.endpoint, extra_vars=fresh, tags="acm", check=True)
    finally:
        stack.emu.dns_double_switch()
    out = flat(stopped.stdout + stopped.stderr)
    assert stopped.rc != 0 and "Stop when the domain is not delegated to its hosted zone" in out, stopped.explain()
    assert f"DNS answers the name servers {', '.join(REGISTRAR_NS)}" in out, stopped.explain()
    assert (f"Next step: at the registrar of {DOMAIN}, set exactly these name servers: "
            f"{', '.join(sorted(n.lower() for n in zone_ns))}; then re-run") in out, stopped.explain()
    assert "Wait until the certificates are issued" not in out
    delegated = run_playbook(EDGE, endpoint=stack.emu.endpoint, extra_vars=fresh, tags="acm", check=True)
    assert delegated.rc == 0, delegated.explain()
    lines = delegated.stdout.splitlines()
    asked = next(i for i, line in enumerate(lines) if "Is the domain delegated to its hosted zone" in line)
    assert lines[asked + 1].startswith("ok: [localhost]"), delegated.explain()  # asked, not skipped
    assert "Wait until the certificates are issued" in delegated.stdout
    assert "DNS answers the name servers" not in delegated.stdout and "WARNING:" not in delegated.stdout
    # --check requested nothing: still the one certificate of each region.
    for region in (REGION, "us-east-1"):
        assert _cert(stack, region)["Status"] == "ISSUED"


# --- destroy.yml (the last test of this module) ------------------------------------------------
def _distribution_deploy_seconds(emu, seconds: float | None) -> None:
    """How long the emulator keeps a created or updated distribution InProgress (moto's state
    manager; None: the compat patch's default again, cloudfront-deployment-time)."""
    body = {"model_name": "cloudfront::distribution"}
    if seconds is not None:
        body["transition"] = {"progression": "time", "seconds": seconds}
    action = "set" if seconds is not None else "unset"
    req = urllib.request.Request(f"{emu.endpoint}/moto-api/state-manager/{action}-transition", method="POST",
                                 data=json.dumps(body).encode())
    with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - loopback
        resp.read()


def test_destroy_removes_the_zone_distribution_certificates_and_mail(stack):
    # destroy.yml disables the distribution, then waits (polls every 15 s) until it is Deployed before
    # deleting it. Still InProgress at the first poll, Deployed at the second (not the default 60 s).
    _distribution_deploy_seconds(stack.emu, 5)
    try:
        assert_a_tier_is_destroyed(stack.emu, {"hosted zone", "distribution", "certificate", "ses configuration set", "iam user"}, ["af-south-1", "us-east-1"])
    finally:
        _distribution_deploy_seconds(stack.emu, None)
