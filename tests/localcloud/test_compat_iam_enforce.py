"""A request signed with an IAM user's key is authorized as AWS does it (patched); moto lets it all through (unpatched)."""
from __future__ import annotations

import json

import boto3
import botocore.exceptions
import pytest

pytestmark = pytest.mark.emulator

PATCH = "iam-requests-authorized"
ACCOUNT = "123456789012"
REGION = "af-south-1"
PARAM = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                  "Action": "sts:AssumeRole"}]}
POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["ssm:PutParameter", "ssm:GetParameter"], "Resource": f"{PARAM}/shop/prod/*"},
    {"Effect": "Allow", "Action": "ssm:DescribeParameters", "Resource": "*",
     "Condition": {"StringEquals": {"aws:RequestedRegion": REGION}}},
    {"Effect": "Allow", "Action": "lambda:CreateFunction",
     "Resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:shop-*"},
    {"Effect": "Allow", "Action": "iam:AttachRolePolicy", "Resource": f"arn:aws:iam::{ACCOUNT}:role/shop-*",
     "Condition": {"ArnEquals": {"iam:PolicyARN": f"arn:aws:iam::{ACCOUNT}:policy/shop-ok"}}},
    {"Effect": "Allow", "Action": ["s3:CreateBucket", "s3:PutEncryptionConfiguration", "s3:ListBucket"],
     "Resource": "arn:aws:s3:::shop-*"},
    {"Effect": "Allow", "Action": "autoscaling:CreateAutoScalingGroup",
     "Resource": f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/shop-*"},
    {"Effect": "Allow", "Action": "iam:PassRole", "Resource": f"arn:aws:iam::{ACCOUNT}:role/shop-notifier",
     "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}},
]}


def _deployer(emu):
    """A user with POLICY, its own boto3 session, and two roles it may or may not pass."""
    iam = emu.client("iam")
    iam.create_user(UserName="deployer")
    iam.put_user_policy(UserName="deployer", PolicyName="deploy", PolicyDocument=json.dumps(POLICY))
    key = iam.create_access_key(UserName="deployer")["AccessKey"]
    roles = {name: iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
             for name in ("shop-notifier", "shop-admin")}
    session = boto3.session.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                                    region_name=REGION)
    return (lambda svc, region=REGION: session.client(svc, endpoint_url=emu.endpoint, region_name=region)), roles


def _denied(call) -> bool:
    try:
        call()
    except botocore.exceptions.ClientError as exc:
        assert exc.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException"), exc.response
        return True
    return False


def _function(client, name, role):
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def handler(e, c):\n    return 1\n")
    return lambda: client("lambda").create_function(FunctionName=name, Runtime="python3.12", Role=role,
                                                    Handler="index.handler", Code={"ZipFile": buf.getvalue()})


def test_a_user_key_may_do_what_its_policy_allows_on_the_resources_it_names(clean_emulator):
    client, roles = _deployer(clean_emulator)
    ssm = client("ssm")
    assert not _denied(lambda: ssm.put_parameter(Name="/shop/prod/x", Value="1", Type="String"))
    assert not _denied(lambda: ssm.get_parameter(Name="/shop/prod/x"))
    # Another path, another action, another region: denied.
    assert _denied(lambda: ssm.put_parameter(Name="/shop/other/x", Value="1", Type="String"))
    assert _denied(lambda: ssm.delete_parameter(Name="/shop/prod/x"))
    assert not _denied(lambda: ssm.describe_parameters())
    assert _denied(lambda: client("ssm", "eu-west-1").describe_parameters())
    # Handing a role to Lambda needs iam:PassRole on that role.
    assert _denied(_function(client, "shop-a", roles["shop-admin"]))
    assert _denied(_function(client, "other-a", roles["shop-notifier"]))
    assert not _denied(_function(client, "shop-a", roles["shop-notifier"]))
    # A managed policy is attached only when the condition names it (the resource is the role).
    admin = clean_emulator.client("iam")
    ok, other = (admin.create_policy(PolicyName=n, PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}))
        ["Policy"]["Arn"] for n in ("shop-ok", "shop-other"))
    assert not _denied(lambda: client("iam").attach_role_policy(RoleName="shop-notifier", PolicyArn=ok))
    assert _denied(lambda: client("iam").attach_role_policy(RoleName="shop-notifier", PolicyArn=other))
    # S3 bucket requests are authorized as their IAM actions (HeadBucket is s3:ListBucket).
    s3 = client("s3")
    assert not _denied(lambda: s3.create_bucket(Bucket="shop-logs",
                                                CreateBucketConfiguration={"LocationConstraint": REGION}))
    assert not _denied(lambda: s3.put_bucket_encryption(Bucket="shop-logs", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}))
    assert not _denied(lambda: s3.head_bucket(Bucket="shop-logs"))
    assert _denied(lambda: s3.put_bucket_policy(Bucket="shop-logs", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                                                "Resource": "arn:aws:s3:::shop-logs/*"}]})))
    assert _denied(lambda: s3.create_bucket(Bucket="other-logs", CreateBucketConfiguration={"LocationConstraint": REGION}))
    # A group whose launch template carries an instance profile passes that profile's role to EC2.
    admin.create_instance_profile(InstanceProfileName="shop-admin")
    admin.add_role_to_instance_profile(InstanceProfileName="shop-admin", RoleName="shop-admin")
    ec2 = clean_emulator.client("ec2", region=REGION)
    ami = ec2.describe_images(Owners=["136693071363"])["Images"][0]["ImageId"]
    ec2.create_launch_template(LaunchTemplateName="shop-web", LaunchTemplateData={
        "ImageId": ami, "InstanceType": "t3.micro", "IamInstanceProfile": {"Name": "shop-admin"}})
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    assert _denied(lambda: client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName="shop-web", LaunchTemplate={"LaunchTemplateName": "shop-web", "Version": "$Latest"},
        MinSize=0, MaxSize=1, VPCZoneIdentifier=subnet))
    # The harness's own (non-IAM) key is not affected.
    clean_emulator.client("ssm").delete_parameter(Name="/shop/prod/x")


def test_backup_and_restore_jobs_are_authorized_on_the_vault_the_point_and_the_role_passed(clean_emulator):
    # As the restore drill's policy document: the jobs on the environment's vault and its recovery points,
    # and the backup role handed to backup.amazonaws.com (iam:PassRole).
    iam, admin = clean_emulator.client("iam"), clean_emulator.client("backup")
    backup_trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
        "Service": "backup.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    role = iam.create_role(RoleName="shop-backup", AssumeRolePolicyDocument=backup_trust)["Role"]["Arn"]
    other_role = iam.create_role(RoleName="other-backup", AssumeRolePolicyDocument=backup_trust)["Role"]["Arn"]
    for vault in ("shop", "other"):
        admin.create_backup_vault(BackupVaultName=vault)
    fs = clean_emulator.client("efs").create_file_system(CreationToken="shop")["FileSystemArn"]
    iam.create_user(UserName="drill")
    iam.put_user_policy(UserName="drill", PolicyName="drill", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["backup:StartBackupJob", "backup:StartRestoreJob"], "Resource": [
                f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-vault:shop", f"arn:aws:backup:{REGION}:{ACCOUNT}:recovery-point:*"]},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": f"arn:aws:iam::{ACCOUNT}:role/shop-*",
             "Condition": {"StringEquals": {"iam:PassedToService": "backup.amazonaws.com"}}}]}))
    key = iam.create_access_key(UserName="drill")["AccessKey"]
    drill = boto3.session.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                                  region_name=REGION).client("backup", endpoint_url=clean_emulator.endpoint)
    assert _denied(lambda: drill.start_backup_job(BackupVaultName="other", ResourceArn=fs, IamRoleArn=role))
    assert _denied(lambda: drill.start_backup_job(BackupVaultName="shop", ResourceArn=fs, IamRoleArn=other_role))
    point = drill.start_backup_job(BackupVaultName="shop", ResourceArn=fs, IamRoleArn=role)["RecoveryPointArn"]
    meta = {"file-system-id": fs.rsplit("/", 1)[-1], "newFileSystem": "false", "ItemsToRestore": '["/x"]'}
    assert _denied(lambda: drill.start_restore_job(RecoveryPointArn=point, IamRoleArn=other_role, Metadata=meta))
    assert drill.start_restore_job(RecoveryPointArn=point, IamRoleArn=role, Metadata=meta)["RestoreJobId"]


def test_a_role_session_may_do_what_the_role_allows(clean_emulator):
    # As an instance's credentials from the metadata service: an STS session of its role.
    iam = clean_emulator.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                                      "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName="shop-web", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName="shop-web", PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:GetParameter",
                                                "Resource": f"{PARAM}/shop/prod/app"}]}))
    admin_ssm = clean_emulator.client("ssm")
    for name in ("/shop/prod/app", "/shop/prod/master"):
        admin_ssm.put_parameter(Name=name, Value="v", Type="String")
    creds = clean_emulator.client("sts").assume_role(RoleArn=arn, RoleSessionName="i-0abc")["Credentials"]
    ssm = boto3.session.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                                aws_session_token=creds["SessionToken"]).client(
        "ssm", region_name=REGION, endpoint_url=clean_emulator.endpoint)
    assert not _denied(lambda: ssm.get_parameter(Name="/shop/prod/app"))
    assert _denied(lambda: ssm.get_parameter(Name="/shop/prod/master"))


def test_without_the_patch_moto_authorizes_nothing(emulator_factory):
    client, roles = _deployer(emulator_factory(disable=[PATCH]))
    ssm = client("ssm")
    assert not _denied(lambda: ssm.put_parameter(Name="/shop/other/x", Value="1", Type="String"))
    assert not _denied(lambda: ssm.delete_parameter(Name="/shop/other/x"))
    assert not _denied(_function(client, "other-a", roles["shop-admin"]))
