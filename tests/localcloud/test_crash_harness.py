"""The crash harness of the local cloud (serve.py /_localcloud/crash) and the duplicate finder
(tests/crash.py): a client killed right after the N-th mutating call, and the findings a resumed
run must leave empty."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from tests.crash import duplicates
from tests.localcloud.emulator import arm_crash, crash_state, mutations
from tests.localcloud.serve import describe_call

pytestmark = [pytest.mark.emulator]

REGION = "af-south-1"


def _environ(service: str, method: str, path: str, *, target: str = "", form: str = "", query: str = "") -> dict:
    import io

    env = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
           "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential=testing/20261204/{REGION}/{service}/aws4_request"}
    if target:
        env["HTTP_X_AMZ_TARGET"] = target
    if form:
        env.update(CONTENT_TYPE="application/x-www-form-urlencoded", CONTENT_LENGTH=str(len(form)),
                   **{"wsgi.input": io.BytesIO(form.encode())})
    return env


@pytest.mark.parametrize("request_, kwargs, what, mutating", [
    (("ec2", "POST", "/"), {"form": "Action=CreateNatGateway&SubnetId=s"}, f"ec2@{REGION} CreateNatGateway", True),
    (("ec2", "POST", "/"), {"form": "Action=DescribeNatGateways"}, f"ec2@{REGION} DescribeNatGateways", False),
    (("sts", "POST", "/"), {"form": "Action=GetCallerIdentity"}, f"sts@{REGION} GetCallerIdentity", False),
    (("kms", "POST", "/"), {"target": "TrentService.CreateAlias"}, f"kms@{REGION} CreateAlias", True),
    (("kms", "POST", "/"), {"target": "TrentService.Decrypt"}, f"kms@{REGION} Decrypt", False),
    (("kms", "POST", "/"), {"target": "TrentService.GenerateDataKey"}, f"kms@{REGION} GenerateDataKey", False),
    (("route53", "POST", "/2013-04-01/hostedzone"), {}, f"route53@{REGION} CreateHostedZone", True),
    (("route53", "GET", "/2013-04-01/hostedzone"), {}, f"route53@{REGION} ListHostedZones", False),
    (("cloudfront", "POST", "/2020-05-31/distribution"), {"query": "WithTags"},
     f"cloudfront@{REGION} CreateDistributionWithTags", True),
    (("lambda", "DELETE", "/2015-03-31/functions/f"), {}, f"lambda@{REGION} DeleteFunction", True),
    (("elasticfilesystem", "GET", "/2015-02-01/file-systems"), {}, f"elasticfilesystem@{REGION} DescribeFileSystems", False),
], ids=lambda v: v if isinstance(v, str) else None)
def test_calls_are_named_and_told_mutating_or_not(request_, kwargs, what, mutating):
    assert describe_call(_environ(*request_, **kwargs)) == (what, mutating)


# A client that creates VPCs one after another (one read between them), printing each id.
_CLIENT = textwrap.dedent("""
    import sys
    from tests.localcloud.emulator import client
    ec2 = client(sys.argv[1], "ec2", "af-south-1")
    for n in range(5):
        ec2.describe_vpcs()
        vpc = ec2.create_vpc(CidrBlock=f"10.{90 + n}.0.0/16")["Vpc"]["VpcId"]
        print(vpc, flush=True)
""")


def _client_killed(emulator, **arming):
    proc = subprocess.Popen([sys.executable, "-c", _CLIENT, emulator.endpoint], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    arm_crash(emulator.endpoint, proc.pid, **arming)
    out, _ = proc.communicate(timeout=120)
    return proc.returncode, out.split(), crash_state(emulator.endpoint, disarm=True)


def test_client_is_killed_right_after_the_nth_mutating_call_and_before_its_answer(clean_emulator):
    rc, printed, state = _client_killed(clean_emulator, after=2)
    vpcs = [v["VpcId"] for v in clean_emulator.client("ec2", REGION).describe_vpcs()["Vpcs"] if not v["IsDefault"]]
    assert rc == -9
    assert state == {"armed": None, "fired": f"ec2@{REGION} CreateVpc"}
    # The emulator made the second VPC, the client never heard of it: the crash a re-run must survive.
    assert len(vpcs) == 2 and printed == vpcs[:1] and printed[0] in vpcs
    assert mutations(clean_emulator.endpoint) == [f"ec2@{REGION} CreateVpc"] * 2


def test_crash_point_by_action_counts_only_that_action(clean_emulator):
    ec2 = clean_emulator.client("ec2", REGION)
    ec2.create_key_pair(KeyName="before")  # not counted: the arming starts afterwards
    rc, printed, state = _client_killed(clean_emulator, after=1, action="CreateVpc")
    assert rc == -9 and printed == [] and state["fired"].endswith(" CreateVpc")
    assert mutations(clean_emulator.endpoint) == [f"ec2@{REGION} CreateKeyPair", f"ec2@{REGION} CreateVpc"]


def test_unreached_crash_point_kills_nothing_and_stays_armed_until_disarmed(clean_emulator):
    rc, printed, state = _client_killed(clean_emulator, after=50)
    assert rc == 0 and len(printed) == 5
    assert state["fired"] is None and state["armed"] is None  # disarmed by the DELETE above
    assert crash_state(clean_emulator.endpoint) == {"armed": None, "fired": None}


def test_bad_arming_is_refused(clean_emulator):
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as err:
        arm_crash(clean_emulator.endpoint, 1, after=1)
    assert err.value.code == 400


def test_duplicate_finder_names_each_kind_it_sees(clean_emulator):
    """Each rule fires on the orphan a crash leaves, and is silent on the converged shape."""
    emu = clean_emulator
    assert duplicates(emu.endpoint, [REGION]) == []
    ec2 = emu.client("ec2", REGION)
    vpc = ec2.create_vpc(CidrBlock="10.80.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.80.1.0/24")["Subnet"]["SubnetId"]
    used = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.create_nat_gateway(SubnetId=subnet, AllocationId=used)
    kms = emu.client("kms", REGION)
    kms.create_alias(AliasName="alias/kept", TargetKeyId=kms.create_key(Description="kept")["KeyMetadata"]["KeyId"])
    iam = emu.client("iam")
    iam.create_user(UserName="smtp")
    iam.create_access_key(UserName="smtp")
    assert duplicates(emu.endpoint, [REGION]) == [], "the converged shape is not a duplicate"

    spare = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.create_nat_gateway(SubnetId=subnet, AllocationId=spare)
    ec2.allocate_address(Domain="vpc")
    orphan_key = kms.create_key(Description="lost")["KeyMetadata"]["KeyId"]
    iam.create_access_key(UserName="smtp")
    route53 = emu.client("route53")
    for ref in ("a", "b"):
        route53.create_hosted_zone(Name="shop.example.com", CallerReference=f"{ref}-{time.time()}")
    found = "\n".join(duplicates(emu.endpoint, [REGION]))
    assert f"2 live NAT gateways in {REGION} for {subnet}" in found
    assert "associated with nothing" in found
    assert f"KMS key {orphan_key} in {REGION} has no alias ('lost')" in found
    assert "IAM user smtp has 2 access keys" in found
    assert "2 Route 53 hosted zones (name, private) for ('shop.example.com.', False)" in found


def test_kms_key_adopt_names_the_newest_matching_unnamed_key_only(clean_emulator):
    """protea.platform.kms_key_adopt: the key amazon.aws.kms_key made before a crash (tags and
    description at CreateKey, no alias yet) gets the alias; other keys are left alone."""
    from tests.helpers import run_module

    kms = clean_emulator.client("kms", REGION)
    tags = {"Project": "shopper", "Environment": "local"}

    def key(description, **extra):
        return kms.create_key(Description=description, Tags=[{"TagKey": k, "TagValue": v}
                                                              for k, v in {**tags, **extra}.items()])["KeyMetadata"]["KeyId"]

    args = {"alias": "shopper-local-rds", "description": "shopper-local RDS", "tags": tags}
    module = "protea.platform.kms_key_adopt"
    assert run_module(clean_emulator.endpoint, module, args)["changed"] is False  # nothing to adopt
    key("shopper-local RDS", Environment="prod")  # another environment's
    key("shopper-local EFS")  # another description
    older = key("shopper-local RDS")
    newest = key("shopper-local RDS")
    check = run_module(clean_emulator.endpoint, module, args, check=True, diff=True)
    assert check["changed"] is True and check["adopted"] == newest
    assert kms.list_aliases(KeyId=newest)["Aliases"] == []  # --check named nothing
    run = run_module(clean_emulator.endpoint, module, args)
    assert run["changed"] is True and run["adopted"] == newest and run["left_unnamed"] == [older]
    assert any(older in w for w in run.get("warnings", []))
    assert kms.describe_key(KeyId="alias/shopper-local-rds")["KeyMetadata"]["KeyId"] == newest
    again = run_module(clean_emulator.endpoint, module, args)
    assert again["changed"] is False and again["adopted"] is None
