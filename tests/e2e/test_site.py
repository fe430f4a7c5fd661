"""End to end on the local cloud: site.yml from nothing, then the platform is used as a
customer would use it, through the bastion only.

One local cloud (emulator with instances materialised as podman containers) for the
module; the tests run in file order and build on each other (the last one rolls out a new
image). Everything is checked from outside the playbook: boto3 against the emulator, ssh
through the bastion into the containers, the SES SMTP and Slack doubles' own records.

The bastion key lives only in an ssh agent (its file is deleted once loaded), as AWX hands a
Machine credential to a job; the second site.yml run and the bake of a new image run inside the
execution environment (scripts/build-ee, built while the first run converges) with the README's
ansible-runner command.
"""
from __future__ import annotations

import ipaddress
import json
import os
import re
import shlex
import subprocess
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from tests.doubles.slack_double import SlackDouble
from tests.helpers import (
    REPO, CommandLineSampler, PlaybookRun, assert_no_secret_shown, process_command_lines, run_in_ee, run_playbook,
    ssh_add_once, ssh_connections_to, start_ssh_agent,
)
from tests.localcloud.__main__ import ensure_ssh_key
from tests.localcloud.alarm_evaluation import alarm_values, emulator_fetch
from tests.localcloud.alarm_evaluation import state as alarm_state
from tests.localcloud.emulator import Emulator

pytestmark = [pytest.mark.e2e, pytest.mark.containers, pytest.mark.slow]

PROJECT, ENV = "shopper", "local"
# The database engine family of this run: the suite runs PostgreSQL (the inventory's default);
# bench/e2e-engine.sh runs the same module with a MySQL-family engine (rds_engine, as a user sets it).
ENGINE = os.environ.get("PROTEA_E2E_ENGINE", "")
# As ansible.cfg names them (run_playbook's default leaves out the dynamic inventory).
# Straight to the instances, whatever proxy the environment names.
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
INVENTORY = ["inventories/common", "inventories/local", "inventories/local/aws_ec2.yml"]
# Every playbook here runs as this IAM user, which has only the shipped deployer policies
# (playbooks/deployer_policy.yml); the emulator authorizes its key (compat iam-requests-authorized).
DEPLOYER = "protea-e2e-deployer"


class Stack:
    """The running local cloud plus what the tests need to reach into it."""

    def __init__(self, emu: Emulator, state: Path, slack: SlackDouble, agent: str, ee_build: subprocess.Popen):
        self.emu, self.state, self.slack, self.agent, self.ee_build = emu, state, slack, agent, ee_build
        # PROTEA_SSH_IDENTITY_FILE="": no key file, ssh_jump leaves the key to the agent.
        self.env = {"PROTEA_LOCALCLOUD_DIR": str(state), "PROTEA_SLACK_WEBHOOK_URL": slack.webhook_url,
                    "PROTEA_SSH_IDENTITY_FILE": "", "SSH_AUTH_SOCK": agent}
        self.ssh_config = state / "e2e-ssh-config"
        self.ee_jobs = 0
        self._ee_image: str | None = None

    def ee_image(self) -> str:
        """The execution environment's image, once scripts/build-ee has finished (waited for once)."""
        if self._ee_image is None:
            out, err = self.ee_build.communicate(timeout=1800)
            assert self.ee_build.returncode == 0, f"scripts/build-ee: rc={self.ee_build.returncode}\n{err[-4000:]}"
            self._ee_image = out.strip().splitlines()[-1]
        return self._ee_image

    def in_ee(self, playbook: str, verbosity: int = 0, **extra) -> PlaybookRun:
        """A playbook of the checkout, run in the execution environment by the README's command."""
        self.ee_image()
        self.ee_jobs += 1
        job = self.state / f"ee-job-{self.ee_jobs}"
        # As the README's extravars say (the inventory's PROTEA_SSH_IDENTITY_FILE="" says the same).
        extra = ({"rds_engine": ENGINE} if ENGINE else {}) | {"ssh_jump_identity_file": ""} | extra
        # The agent reaches the job only through the README's mount, not through this environment.
        env = {k: v for k, v in self.env.items() if k != "SSH_AUTH_SOCK"}
        return run_in_ee(playbook, job=job, env=env | {"PROTEA_ENDPOINT_URL": self.emu.endpoint,
                                                       "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"},
                         extra_vars=extra or None, mounts=(f"{self.state}:{self.state}",), verbosity=verbosity,
                         # ansible-runner mounts $HOME/.ssh into the job: a HOME without one.
                         runner_env={"SSH_AUTH_SOCK": self.agent, "HOME": str(job)})

    def site(self, verbosity: int = 0, **extra) -> "object":
        extra = ({"rds_engine": ENGINE} if ENGINE else {}) | extra
        return run_playbook("site.yml", endpoint=self.emu.endpoint, env=self.env, extra_vars=extra or None,
                            inventory=INVENTORY, timeout=3600, verbosity=verbosity)

    # -- what the emulator says --------------------------------------------------------
    def instances(self, component: str) -> list[dict]:
        pages = self.emu.client("ec2").get_paginator("describe_instances").paginate(Filters=[
            {"Name": "tag:Project", "Values": [PROJECT]},
            {"Name": "tag:Environment", "Values": [ENV]},
            {"Name": "tag:Component", "Values": [component]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ])
        return [i for page in pages for r in page["Reservations"] for i in r["Instances"]]

    def asg(self) -> dict:
        groups = self.emu.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
        mine = [g for g in groups if g["AutoScalingGroupName"].startswith(f"{PROJECT}-{ENV}")]
        assert len(mine) == 1, [g["AutoScalingGroupName"] for g in groups]
        return mine[0]

    def web_image(self) -> str:
        """The image id the group's launch template version runs."""
        lt = self.asg()["LaunchTemplate"]
        version = self.emu.client("ec2").describe_launch_template_versions(
            LaunchTemplateId=lt["LaunchTemplateId"], Versions=[str(lt["Version"])])["LaunchTemplateVersions"][0]
        return version["LaunchTemplateData"]["ImageId"]

    def web_ips(self) -> list[str]:
        ids = [i["InstanceId"] for i in self.asg()["Instances"] if i["LifecycleState"] == "InService"]
        reservations = self.emu.client("ec2").describe_instances(InstanceIds=ids)["Reservations"]
        return [i["PrivateIpAddress"] for r in reservations for i in r["Instances"]]

    # -- ssh, written here from what the emulator reports (not the playbook's file) ----
    def write_ssh_config(self) -> None:
        bastion = self.instances("bastion")[0]
        known = self.state / "e2e-known-hosts"
        common = (f"  User admin\n  IdentityAgent {self.agent}\n"
                  f"  StrictHostKeyChecking accept-new\n  UserKnownHostsFile {known}\n"
                  "  ConnectTimeout 10\n  BatchMode yes\n")
        self.ssh_config.write_text(
            f"Host bastion\n  HostName {bastion['PublicIpAddress']}\n{common}\n"
            f"Host direct-*\n{common}\n"
            f"Host 10.*\n  ProxyJump bastion\n{common}")

    def ssh(self, host: str, command: str, check: bool = True, timeout: int = 60,
            stdin: str | None = None) -> subprocess.CompletedProcess:
        """Run `command` on `host`; secrets go in `stdin`, never in the command line."""
        run = subprocess.run(["ssh", "-F", str(self.ssh_config), host, command], capture_output=True, text=True,
                             timeout=timeout, input=stdin)
        if check:
            assert run.returncode == 0, f"ssh {host} {command!r}: rc={run.returncode}\n{run.stdout}\n{run.stderr}"
        return run

    def http(self, ip: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        """curl on the instance itself (through nginx, as the ALB would reach it)."""
        data = f"-H 'Content-Type: application/json' -d '{json.dumps(body)}'" if body is not None else ""
        out = self.ssh(ip, f"curl -s -o /tmp/e2e-body -w '%{{http_code}}' -X {method} {data} "
                           f"http://127.0.0.1{path}; echo; cat /tmp/e2e-body").stdout
        status, _, payload = out.partition("\n")
        return int(status), json.loads(payload or "{}")


def deployer_credentials(emu: Emulator, state: Path) -> dict[str, str]:
    """The deployer user with the rendered policies attached, and its key for the playbooks' environment."""
    out = state / "deployer-policy"
    run = run_playbook("playbooks/deployer_policy.yml", endpoint=emu.endpoint, extra_vars={"deployer_policy_dir": str(out)})
    assert run.rc == 0, run.explain()
    iam = emu.client("iam")
    iam.create_user(UserName=DEPLOYER)
    for doc in sorted(out.glob("*.json")):
        arn = iam.create_policy(PolicyName=f"{DEPLOYER}-{doc.stem}", PolicyDocument=doc.read_text())["Policy"]["Arn"]
        iam.attach_user_policy(UserName=DEPLOYER, PolicyArn=arn)
    key = iam.create_access_key(UserName=DEPLOYER)["AccessKey"]
    return {"PROTEA_AWS_ACCESS_KEY_ID": key["AccessKeyId"], "PROTEA_AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    for script in ("build-image", "apt-proxy"):  # cached: no-ops when present
        subprocess.run([str(REPO / "tests/containers" / script)], check=True, capture_output=True, timeout=1800)
    # The execution environment builds (a no-op when its inputs are unchanged) while site.yml converges,
    # niced as the other lanes are (tests/lanes.py): it is needed only by the later tests, the converge
    # is the suite's critical path.
    ee_build = subprocess.Popen(["nice", "-n", "10", str(REPO / "scripts/build-ee")], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=REPO)
    state = tmp_path_factory.mktemp("e2e-localcloud")
    # The agent's socket outside the state dir (which the execution environment's jobs mount).
    sock = tmp_path_factory.mktemp("agent") / "agent.sock"
    agent = start_ssh_agent(sock)
    ssh_add_once(sock, ensure_ssh_key(state))
    # PROTEA_IAM_AUDIT_ONLY=1 (while writing the policy): every decision recorded, none enforced.
    iam_env = {"PROTEA_IAM_AUDIT": str(state / "iam-audit.jsonl"),
               "PROTEA_IAM_AUDIT_ONLY": os.environ.get("PROTEA_IAM_AUDIT_ONLY", "")}
    try:
        with Emulator(state, instances=True, env=iam_env) as emu, SlackDouble() as slack:
            st = Stack(emu, state, slack, str(sock), ee_build)
            st.env |= deployer_credentials(emu, state)
            run = st.site()
            assert run.rc == 0, run.explain()
            st.first_run = run
            st.write_ssh_config()
            yield st
    finally:
        agent.terminate()
        agent.wait(10)
        if ee_build.poll() is None:
            ee_build.kill()
            ee_build.communicate()


def test_site_built_the_platform(stack: Stack) -> None:
    assert stack.first_run.changed > 0
    # The cost estimate comes first, before any resource (roles/cost; its figures: tests/unit/test_cost.py).
    out = stack.first_run.stdout
    assert "Monthly estimate, af-south-1 (Africa (Cape Town))" in out and "total per month" in out
    assert out.index("Monthly estimate,") < out.index("TASK [protea.platform.vpc")
    assert stack.instances("bastion"), "no running bastion"
    group = stack.asg()
    in_service = [i for i in group["Instances"] if i["LifecycleState"] == "InService"]
    assert len(in_service) >= group["MinSize"] >= 2
    images = stack.emu.client("ec2").describe_images(Owners=["self"])["Images"]
    baked = {i["ImageId"] for i in images}
    lt = group["LaunchTemplate"]
    version = stack.emu.client("ec2").describe_launch_template_versions(
        LaunchTemplateId=lt["LaunchTemplateId"], Versions=[str(lt["Version"])])["LaunchTemplateVersions"][0]
    assert version["LaunchTemplateData"]["ImageId"] in baked, "the group does not run a baked image"
    assert not stack.instances("builder"), "a builder instance was left behind"
    # No churn: the group waited without instances until the first baked image, so every instance it
    # ever launched (terminated ones included) ran a baked image, none the distribution's.
    launched = stack.emu.client("ec2").describe_instances(Filters=[
        {"Name": "tag:aws:autoscaling:groupName", "Values": [group["AutoScalingGroupName"]]}])["Reservations"]
    assert {i["ImageId"] for r in launched for i in r["Instances"]} <= baked
    # Both certificates were requested before the network tier (playbooks/certificates.yml), so ACM's
    # validation overlaps it: by the emulator's clocks, each one before the first NAT gateway.
    nat_created = min(n["CreateTime"] for n in stack.emu.client("ec2").describe_nat_gateways()["NatGateways"])
    for region in ("af-south-1", "us-east-1"):
        acm = stack.emu.client("acm", region=region)
        arns = [c["CertificateArn"] for c in acm.list_certificates()["CertificateSummaryList"]]
        assert arns, f"no certificate in {region}"
        for arn in arns:
            assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["CreatedAt"] < nat_created, region
    # The database was started as soon as its subnets and security group existed: after the NAT
    # gateways were started, before the wait for them and before the bastions (network_start.yml,
    # data_services.yml, network_finish.yml); by the emulator's clocks, before any bastion launched.
    assert out.index("TASK [protea.platform.vpc : NAT gateways in the public subnets") \
        < out.index("TASK [protea.platform.rds : Multi-AZ DB instance (started, not waited for)]") \
        < out.index("TASK [protea.platform.vpc : Wait until the new NAT gateways are available]") \
        < out.index("TASK [protea.platform.bastion : Bastion instances")
    db_created = min(d["InstanceCreateTime"] for d in stack.emu.client("rds").describe_db_instances()["DBInstances"])
    assert db_created < min(i["LaunchTime"] for i in stack.instances("bastion"))
    # The bake ran while AWS created the database: before the wait for it, which precedes the rollout.
    assert out.index("TASK [protea.platform.bake : Find the base image]") \
        < out.index("TASK [protea.platform.rds : Wait until the instance is available]") \
        < out.index("TASK [Launch template version and rolling instance refresh]")


def test_the_report_at_the_end_of_site_says_what_was_built(stack: Stack) -> None:
    """site.yml ends with the report of roles/overview: each figure against the describe calls."""
    said = " ".join(stack.first_run.stdout.split("TASK [protea.platform.overview : Overview | What was built]")[1].split())
    (dist,) = stack.emu.client("cloudfront").list_distributions()["DistributionList"]["Items"]
    assert f"Site: https://shopper.example.com, https://www.shopper.example.com through CloudFront {dist['DomainName']}" in said
    route53 = stack.emu.client("route53")
    (zone,) = [z for z in route53.list_hosted_zones()["HostedZones"] if z["Name"] == "shopper.example.com."]
    servers = route53.get_hosted_zone(Id=zone["Id"])["DelegationSet"]["NameServers"]
    assert f"name servers: {', '.join(servers)}" in said
    # Asked of DNS (the local cloud's DNS double answers from Route 53, as a delegated parent zone does).
    # (The YAML output doubles the apostrophe of "zone's": match around it.)
    assert "Delegated: DNS answers the zone" in said and "name servers for shopper.example.com." in said
    assert "NOT delegated" not in said and "Delegation unknown" not in said and "Delegation not checked" not in said
    (db,) = stack.emu.client("rds").describe_db_instances(DBInstanceIdentifier="shopper-local-db")["DBInstances"]
    assert f"at {db['Endpoint']['Address']}:{db['Endpoint']['Port']} (Multi-AZ" in said
    bastions = stack.instances("bastion")
    assert bastions and all(f"{b.get('PublicIpAddress') or b['PrivateIpAddress']} ({b['InstanceId']}" in said for b in bastions)
    assert re.search(r"ssh: ssh -J admin@\S+ admin@10\.", said)
    lt = stack.asg()["LaunchTemplate"]
    version = stack.emu.client("ec2").describe_launch_template_versions(
        LaunchTemplateId=lt["LaunchTemplateId"], Versions=[str(lt["Version"])])["LaunchTemplateVersions"][0]
    assert f"({version['LaunchTemplateData']['ImageId']}), launch template version {lt['Version']}" in said
    assert "-> SNS shopper-local-alarms (af-south-1) -> email" in said and "-> Slack" in said


def test_the_diagram_site_drew_is_the_stack_it_built(stack: Stack) -> None:
    """site.yml's last play draws the stack into the local cloud's state dir (roles/overview); the
    data, edge and alerting parts of it against the describe calls (the network part:
    tests/provisioning/test_edge_alb_asg.py)."""
    graph = json.loads((stack.state / "diagram" / "shopper-local.json").read_text())
    assert "```mermaid" in (stack.state / "diagram" / "shopper-local.md").read_text()
    assert (stack.state / "diagram" / "shopper-local.dot").read_text().startswith("digraph protea {")
    nodes = {n["id"]: n for n in graph["nodes"]}
    flows = {(e["from"], e["to"], e["label"]) for e in graph["edges"] if e["kind"] == "flow"}
    placed = {(e["from"], e["to"]) for e in graph["edges"] if e["kind"] == "in"}
    (db,) = stack.emu.client("rds").describe_db_instances(DBInstanceIdentifier="shopper-local-db")["DBInstances"]
    assert f"primary {db['AvailabilityZone']}, standby {db['SecondaryAvailabilityZone']}" in nodes["rds"]["label"]
    assert {("rds", "subnet_" + s["SubnetIdentifier"].replace("-", "_")) for s in db["DBSubnetGroup"]["Subnets"]} <= placed
    efs = stack.emu.client("efs")
    (fs,) = [f for f in efs.describe_file_systems()["FileSystems"] if f.get("CreationToken") == "shopper-local-efs"]
    targets = efs.describe_mount_targets(FileSystemId=fs["FileSystemId"])["MountTargets"]
    assert {("efs", "subnet_" + t["SubnetId"].replace("-", "_")) for t in targets} <= placed
    bastions = stack.instances("bastion")
    assert {n for n in nodes if n.startswith("bastion_")} == {"bastion_" + i["InstanceId"].replace("-", "_") for i in bastions}
    # Users reach CloudFront, whose origin is the ALB.
    (dist,) = stack.emu.client("cloudfront").list_distributions()["DistributionList"]["Items"]
    (alb,) = stack.emu.client("elbv2").describe_load_balancers(Names=["shopper-local-alb"])["LoadBalancers"]
    (origin,) = [o["DomainName"] for o in dist["Origins"]["Items"]]
    route53 = stack.emu.client("route53")
    (zone,) = [z for z in route53.list_hosted_zones()["HostedZones"] if z["Name"] == "shopper.example.com."]
    (record,) = [r for r in route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
                 if r["Name"] == origin + "." and r["Type"] == "A"]
    assert record["AliasTarget"]["DNSName"].rstrip(".").lower().removeprefix("dualstack.") == alb["DNSName"].lower()
    assert {("users", "cloudfront", "https"), ("cloudfront", "alb", f"origin {origin}")} <= flows
    # Alarms -> topic -> the Slack notifier -> Slack, as SNS and CloudWatch say.
    sns = stack.emu.client("sns")
    (topic,) = [t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":shopper-local-alarms")]
    functions = {s["Endpoint"].split(":")[6] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
                 if s["Protocol"] == "lambda"}
    assert functions, "no function subscribed to the alarms topic"
    for fn in functions:
        fid = f"function_{fn.replace('-', '_')}_af_south_1"
        assert ("topic_shopper_local_alarms", fid, "lambda") in flows and (fid, "slack", "webhook") in flows
    alarms = [a for a in stack.emu.client("cloudwatch").describe_alarms()["MetricAlarms"] if topic in a.get("AlarmActions", [])]
    assert nodes["alarms_shopper_local_alarms"]["label"].startswith(f"{len(alarms)} CloudWatch alarms")


def _iam_audit(stack: Stack) -> list[dict]:
    path = stack.state / "iam-audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# Actions AWS authorizes on no resource narrower than "*" (Service Authorization Reference), or,
# for EC2, whose resources get ids only when created (scoped to the platform's region instead).
UNSCOPABLE = ("ec2:", "sts:GetCallerIdentity", "kms:CreateKey", "route53:CreateHostedZone", "backup-storage:MountCapsule",
              "s3:ListAllMyBuckets")


def test_site_ran_as_the_deployer_with_only_the_shipped_policy(stack: Stack) -> None:
    iam = stack.emu.client("iam")
    attached = {p["PolicyName"] for p in iam.list_attached_user_policies(UserName=DEPLOYER)["AttachedPolicies"]}
    shipped = {f"{DEPLOYER}-{d.stem}" for d in (stack.state / "deployer-policy").glob("*.json")}
    assert attached == shipped and len(shipped) >= 5 and not iam.list_user_policies(UserName=DEPLOYER)["PolicyNames"]
    # Every call of site.yml went through the emulator's authorization as the deployer, and was allowed.
    mine = [r for r in _iam_audit(stack) if r["principal"].endswith(f":user/{DEPLOYER}")]
    services = {r["operation"].split(":")[0] for r in mine}
    assert services >= {"ec2", "rds", "ssm", "iam", "elasticloadbalancing", "autoscaling", "cloudfront", "route53", "lambda",
                        "sns", "backup", "elasticfilesystem", "kms", "acm"}, services
    denied = sorted({f"{r['action']} {r['resource']}" for r in mine if r["decision"] != "allowed"})
    assert not denied, denied
    # Nothing is "*" where AWS scopes the action: read-only calls, or the actions listed above.
    for doc in (stack.state / "deployer-policy").glob("*.json"):
        for st in json.loads(doc.read_text())["Statement"]:
            if st["Resource"] == "*":
                actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                wide = [a for a in actions if not a.startswith(UNSCOPABLE)
                        and not a.split(":")[1].startswith(("Describe", "List", "Get"))]
                assert not wide, (doc.name, st["Sid"], wide)


def test_the_deployer_may_not_touch_what_is_not_the_platforms(stack: Stack) -> None:
    import boto3
    import botocore.exceptions
    session = boto3.session.Session(aws_access_key_id=stack.env["PROTEA_AWS_ACCESS_KEY_ID"],
                                    aws_secret_access_key=stack.env["PROTEA_AWS_SECRET_ACCESS_KEY"])
    calls = {
        "another environment's secret": lambda c: c("ssm").get_parameter(Name="/shopper/production/rds/master-password"),
        "a user outside the platform": lambda c: c("iam").create_user(UserName="mallory"),
        "a role outside the platform": lambda c: c("iam").attach_role_policy(
            RoleName="OrganizationAccountAccessRole", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"),
        "an instance in another region": lambda c: c("ec2", "eu-west-1").run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1),
        "another database": lambda c: c("rds").delete_db_instance(DBInstanceIdentifier="other-db", SkipFinalSnapshot=True),
        # The restore drill's document deletes only its scratch database and its own snapshots.
        "the platform's database": lambda c: c("rds").delete_db_instance(DBInstanceIdentifier=f"{PROJECT}-{ENV}-db",
                                                                          SkipFinalSnapshot=True),
        "a snapshot not the drill's": lambda c: c("rds").delete_db_snapshot(DBSnapshotIdentifier=f"{PROJECT}-{ENV}-db-final"),
    }
    allowed = []
    for what, call in calls.items():
        try:
            call(lambda svc, region="af-south-1": session.client(svc, region_name=region, endpoint_url=stack.emu.endpoint))
            allowed.append(what)
        except botocore.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] not in ("AccessDenied", "AccessDeniedException"):
                allowed.append(f"{what}: {exc.response['Error']['Code']}")
    assert not allowed, allowed


def test_private_instances_only_through_the_bastion(stack: Stack) -> None:
    ip = stack.web_ips()[0]
    # `direct-*` has no ProxyJump: ssh straight from this host to the private address.
    direct = subprocess.run(["ssh", "-F", str(stack.ssh_config), "-o", f"HostName={ip}", f"direct-{ip}", "true"],
                            capture_output=True, text=True, timeout=30)
    assert direct.returncode != 0, "a private instance accepted ssh from outside the VPC"
    via = stack.ssh(ip, "hostname -I")
    assert ip in via.stdout.split()


def test_bastions_are_hardened_and_still_jump(stack: Stack) -> None:
    # The only internet-facing sshd: base's hardening, no root login, forwarding for ProxyJump only.
    for bastion in stack.instances("bastion"):
        out = subprocess.run(["ssh", "-F", str(stack.ssh_config), "-o", f"HostName={bastion['PublicIpAddress']}",
                              "bastion", "sudo sshd -T"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        effective = dict(line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)
        assert {k: effective.get(k) for k in ("permitrootlogin", "passwordauthentication", "allowtcpforwarding",
                                              "allowagentforwarding", "x11forwarding", "permittunnel")} == {
            "permitrootlogin": "no", "passwordauthentication": "no", "allowtcpforwarding": "local",
            "allowagentforwarding": "no", "x11forwarding": "no", "permittunnel": "no"}, bastion["InstanceId"]
    # ProxyJump still works through the hardened bastion (local forwarding).
    assert stack.ssh(stack.web_ips()[0], "true").returncode == 0


def test_a_play_on_every_web_server_makes_one_login_on_the_bastion(stack: Stack, tmp_path: Path) -> None:
    # smoke.yml (the ssh_jump role, then a play on every web server through the bastion), its own
    # hops kept open in a fresh control directory: the bastion hop is one ssh session (ControlMaster)
    # whose channels carry every web server's connection, not one TCP connection and login per host.
    # Counted on this machine's sockets to the bastion's sshd, by owning process.
    ips = stack.web_ips()
    assert len(ips) >= 2
    run = run_playbook("playbooks/smoke.yml", endpoint=stack.emu.endpoint, inventory=INVENTORY,
                       env=stack.env | {"ANSIBLE_SSH_CONTROL_PATH_DIR": str(tmp_path / "cp")})
    assert run.rc == 0, run.explain()
    config = (stack.state / "ssh" / "config").resolve()  # as the inventory names it (realpath)
    bastion = stack.instances("bastion")[0]["PublicIpAddress"]
    master = subprocess.run(["ssh", "-F", str(config), "-O", "check", bastion], capture_output=True, text=True, timeout=30)
    master_pid = re.search(r"Master running \(pid=(\d+)\)", master.stderr)
    assert master_pid, master.stderr
    owners, argv = ssh_connections_to(bastion), process_command_lines()
    # The jump hops (ssh -W) through this config: at least this run's, kept open by its hops' masters.
    jumps = [pid for pid, line in argv.items() if " -W " in line and f"-F {config} " in line]
    assert len(jumps) >= len(ips), {p: line for p, line in argv.items() if "ssh" in line}
    assert not [p for p in jumps if p in owners], {p: argv.get(p) for p in owners}
    assert owners.get(int(master_pid[1])) == 1, {p: argv.get(p) for p in owners}
    for cp in (tmp_path / "cp").glob("*"):  # this run's own hops, closed
        subprocess.run(["ssh", "-o", f"ControlPath={cp}", "-O", "exit", "x"], capture_output=True, timeout=30)


def test_every_web_instance_is_healthy(stack: Stack) -> None:
    ips = stack.web_ips()
    assert len(ips) >= 2
    for ip in ips:
        status, body = stack.http(ip, "GET", "/healthz")
        assert status == 200, (ip, body)
        assert body["checks"]["db"] == "ok" and body["checks"]["efs"] == "ok", (ip, body)


def test_a_visit_through_one_instance_is_read_through_another(stack: Stack) -> None:
    first, second = stack.web_ips()[:2]
    zone = f"e2e-{uuid.uuid4().hex[:8]}"
    status, _ = stack.http(first, "POST", "/api/visits", {"shopper_id": "s-1", "zone": zone, "beacon_id": "b-1"})
    assert status == 201
    status, body = stack.http(second, "GET", f"/api/zones/{zone}/visits")
    assert (status, body["visits"]) == (200, 1)


def test_mail_from_an_instance_reaches_the_ses_double_authenticated(stack: Stack) -> None:
    ip = stack.web_ips()[0]
    token = uuid.uuid4().hex
    stack.ssh(ip, f"printf 'Subject: e2e {token}\\n\\nhello\\n' | /usr/sbin/sendmail -f noreply@{PROJECT}.example "
                  "ops@ops.example")
    store = Path(stack.emu.instances_state()["doubles"]["ses_smtp"]["store"])
    found: list[dict] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        lines = store.read_text().splitlines() if store.exists() else []
        found = [json.loads(line) for line in lines if token in line]
        if found:
            break
        time.sleep(2)
    assert found, "the message never reached the SES SMTP double"
    assert found[0]["tls"] and found[0]["auth_user"].startswith("AKIA")
    # SES applies bounce/complaint handling only to mail that names the configuration set.
    names = [c["Name"] for c in stack.emu.client("ses").list_configuration_sets()["ConfigurationSets"]]
    assert found[0]["configuration_set"] in names, (found[0]["configuration_set"], names)


def _secret_values(stack: Stack) -> dict[str, str]:
    """Every SecureString of the environment, by name (what must never be in an image)."""
    ssm = stack.emu.client("ssm")
    pages = ssm.get_paginator("get_parameters_by_path").paginate(Path=f"/{PROJECT}/{ENV}", Recursive=True,
                                                                  WithDecryption=True)
    found = {}
    for page in pages:
        for p in page["Parameters"]:
            if p["Type"] != "SecureString":
                continue
            found[p["Name"]] = p["Value"]
            try:  # a login and its password in one parameter: the password is the secret
                fields = json.loads(p["Value"])
            except ValueError:
                continue
            if isinstance(fields, dict):
                found.update({f"{p['Name']}#{k}": v for k, v in fields.items() if k == "password"})
    return found


def test_the_baked_image_holds_no_secret(stack: Stack) -> None:
    secrets = _secret_values(stack)
    assert {f"/{PROJECT}/{ENV}/rds/master-password", f"/{PROJECT}/{ENV}/rds/app-credentials#password",
            f"/{PROJECT}/{ENV}/ses/smtp-credentials#password"} <= set(secrets), sorted(secrets)
    image = stack.web_image()
    # The image's snapshot is encrypted (the builder's root volume was).
    ec2 = stack.emu.client("ec2")
    ebs = ec2.describe_images(ImageIds=[image])["Images"][0]["BlockDeviceMappings"][0]["Ebs"]
    snapshot = ec2.describe_snapshots(SnapshotIds=[ebs["SnapshotId"]])["Snapshots"][0]
    assert ebs["Encrypted"] is True and snapshot["Encrypted"] is True, (ebs, snapshot)
    name = f"e2e-export-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "CONTAINERS_CONF": str(REPO / "tests/containers/containers.conf")}
    subprocess.run(["podman", "create", "--name", name, f"localhost/protea-ami:{image}"], check=True,
                   capture_output=True, env=env)
    try:
        export = subprocess.run(["podman", "export", name], check=True, capture_output=True, env=env).stdout
    finally:
        subprocess.run(["podman", "rm", "-f", name], capture_output=True, env=env)
    assert len(export) > 50_000_000, "not the image's file system"
    found = sorted(n for n, v in secrets.items() if v.encode() in export)
    assert found == [], f"the exported image {image} contains the values of {found}"


def test_the_web_servers_read_their_secrets_at_boot(stack: Stack) -> None:
    ip = stack.web_ips()[0]
    out = stack.ssh(ip, "sudo stat -c '%a %U:%G' /run/protea/shopper.env; sudo grep -c PASSWORD /etc/shopper/app.env; "
                        "sudo sed -n 's/^APP_DB_USER=//p' /run/protea/shopper.env; "
                        "systemctl is-active protea-runtime-config.timer; findmnt -no FSTYPE /run; "
                        "systemctl show -p Group --value shopper.service").stdout.split()
    mode, owner, baked_lines, user, timer, fstype, app_group = out
    # Readable by the app's group only: the app reads it again when a rotation rewrites it.
    assert (mode, owner, timer, fstype) == ("640", f"root:{app_group}", "active", "tmpfs")
    assert user == '"shopper_app"', "the app logs in as its own user, not the master"
    assert baked_lines == "1", "app.env keeps only an empty placeholder"
    baked = stack.ssh(ip, "sudo sed -n 's/^APP_DB_PASSWORD=//p' /etc/shopper/app.env").stdout.strip()
    assert baked == '""'


# On a web server, with the credentials its instance role gets from the metadata service (the
# local cloud authorizes a role session against the role's policies, as IAM does).
READ_PARAMETERS = r"""
import sys, boto3, botocore.exceptions
ssm = boto3.client("ssm", region_name="af-south-1")
for name in sys.argv[1:]:
    try:
        ssm.get_parameter(Name=name, WithDecryption=True)
        print("allowed")
    except botocore.exceptions.ClientError as e:
        print(e.response["Error"]["Code"])
"""


def test_a_web_server_may_read_its_own_parameters_and_no_other(stack: Stack) -> None:
    names = [f"/{PROJECT}/{ENV}/{p}" for p in ("rds/app-credentials", "ses/smtp-credentials", "rds/master-password",
                                               "alb/origin-secret", "slack/webhook-url")]
    out = stack.ssh(stack.web_ips()[0], f"python3 -c {shlex.quote(READ_PARAMETERS)} {' '.join(names)}").stdout.split()
    assert out == ["allowed", "allowed", "AccessDeniedException", "AccessDeniedException", "AccessDeniedException"], out
    # The denials were the emulator's decisions on the role's session, not a missing parameter.
    role = f"arn:aws:iam::123456789012:role/{PROJECT}-{ENV}-web"
    denied = {r["resource"].rsplit(":parameter", 1)[1] for r in _iam_audit(stack)
              if r["principal"] == role and r["decision"] != "allowed"}
    assert denied >= set(names[2:]), denied


def test_runtime_config_converges_unchanged_on_a_web_server(stack: Stack) -> None:
    inventory = stack.state / "e2e-web-inventory.ini"
    inventory.write_text(f"web ansible_host={stack.web_ips()[0]} ansible_user=admin "
                         f"ansible_ssh_common_args='-F {stack.ssh_config}'\n")
    for check in (False, True):
        run = run_playbook("tests/e2e/runtime_config.yml", inventory=[str(inventory)], check=check, diff=check)
        assert run.rc == 0 and run.changed == 0, run.explain()
    # The unit it installed renders the same files again: nothing changes, nothing restarts.
    out = stack.ssh(stack.web_ips()[0], "sudo /usr/local/sbin/protea-runtime-config").stdout
    assert "changed: nothing" in out, out


APP_RIGHTS = {
    "postgres": r"""
import re, psycopg2
env = dict(re.findall(r'^(\w+)="(.*)"$', open("/run/protea/shopper.env").read(), re.M))
c = psycopg2.connect(host=env["APP_DB_HOST"], port=env["APP_DB_PORT"], dbname=env["APP_DB_NAME"],
                     user=env["APP_DB_USER"], password=env["APP_DB_PASSWORD"], sslmode="verify-full",
                     sslrootcert="/usr/local/share/protea-localcloud/rds-global-bundle.pem")
c.autocommit = True
for sql in ("CREATE ROLE e2e_intruder", "SELECT * FROM admin_only.secrets", "CREATE DATABASE e2e_other",
            "SELECT count(*) FROM visits"):
    try:
        c.cursor().execute(sql)
        print("ok")
    except psycopg2.Error as e:
        print(e.pgcode)
""",
    "mysql": r"""
import re, ssl, pymysql
env = dict(re.findall(r'^(\w+)="(.*)"$', open("/run/protea/shopper.env").read(), re.M))
ctx = ssl.create_default_context(cafile="/usr/local/share/protea-localcloud/rds-global-bundle.pem")
c = pymysql.connect(host=env["APP_DB_HOST"], port=int(env["APP_DB_PORT"]), database=env["APP_DB_NAME"],
                    user=env["APP_DB_USER"], password=env["APP_DB_PASSWORD"], ssl=ctx, autocommit=True)
for sql in ("CREATE USER e2e_intruder", "SELECT * FROM admin_only.secrets", "CREATE DATABASE e2e_other",
            "SELECT count(*) FROM visits"):
    try:
        c.cursor().execute(sql)
        print("ok")
    except pymysql.err.MySQLError as e:
        print(e.args[0])
""",
}


def _db_family(stack: Stack) -> tuple[dict, str]:
    db = stack.emu.client("rds").describe_db_instances()["DBInstances"][0]
    return db, "postgres" if db["Engine"].startswith("postgres") else "mysql"


def _app_rights(stack: Stack, family: str) -> None:
    out = stack.ssh(stack.web_ips()[0], f"sudo python3 -c {shlex.quote(APP_RIGHTS[family])}").stdout.split()
    # PostgreSQL: 42501 insufficient_privilege; MySQL/MariaDB: 1227 access denied (need privilege),
    # 1142 command denied to user, 1044 access denied to database.
    if family == "postgres":
        assert out == ["42501", "42501", "42501", "ok"], out
    else:
        assert out[0] in ("1227", "1045") and out[1] in ("1142", "1044") and out[2] == "1044" and out[3] == "ok", out


def test_the_app_login_has_only_the_apps_rights(stack: Stack) -> None:
    db, family = _db_family(stack)
    container = f"protea-lc-db-{db['DBInstanceIdentifier']}"
    # The administrator's data: a schema/database the app was never granted.
    admin = ("su postgres -c \"psql -d {db} -c 'CREATE SCHEMA admin_only; CREATE TABLE admin_only.secrets (x int)'\""
             if family == "postgres" else
             "mysql -uroot -e 'CREATE DATABASE admin_only; CREATE TABLE admin_only.secrets (x int)'")
    env = {**os.environ, "CONTAINERS_CONF": str(REPO / "tests/containers/containers.conf")}
    made = subprocess.run(["podman", "exec", container, "bash", "-c", admin.format(db=db["DBName"])],
                          capture_output=True, text=True, env=env, timeout=60)
    assert made.returncode == 0, made.stderr
    _app_rights(stack, family)


def test_the_in_service_alarm_has_data_and_is_ok(stack: Stack) -> None:
    """Evaluated on the group metrics the local cloud published for the real group (moto evaluates
    no alarm): data for both of its metrics, none of the group's minimum missing now."""
    cw = stack.emu.client("cloudwatch")
    (alarm,) = [a for a in cw.describe_alarms(AlarmNamePrefix=f"{PROJECT}-{ENV}")["MetricAlarms"]
                if a["AlarmName"].endswith("-asg-in-service")]
    values: list = []
    deadline = time.monotonic() + 120  # group metrics arrive each minute
    while not values and time.monotonic() < deadline:
        values = alarm_values(alarm, emulator_fetch(cw))
        if not values:
            time.sleep(5)
    assert values, f"no datapoints for the metrics of {alarm['AlarmName']}"
    # The newest period: the group is at full strength now (earlier ones may predate its first instances).
    assert values[-1] is not None and values[-1] <= 0, values
    assert alarm_state(alarm, values[-1:] * alarm["EvaluationPeriods"]) == "OK"


def test_the_cloudwatch_agent_files_exist_and_grow(stack: Stack) -> None:
    ip = stack.web_ips()[0]
    config = json.loads(stack.ssh(ip, "sudo cat /opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json").stdout)
    files = [f["file_path"] for f in config["logs"]["logs_collected"]["files"]["collect_list"]]
    assert files

    def sizes() -> dict[str, int]:
        out = stack.ssh(ip, "sudo stat -c '%n %s' " + " ".join(files), check=False)
        assert out.returncode == 0, f"a file the agent tails does not exist: {out.stderr}"
        return {name: int(size) for name, size in (line.rsplit(" ", 1) for line in out.stdout.splitlines())}

    before = sizes()
    token = uuid.uuid4().hex
    for _ in range(3):
        stack.http(ip, "GET", f"/api/zones/{token}/visits")
    stack.ssh(ip, f"logger -t e2e {token}")
    deadline = time.monotonic() + 30
    grown: set[str] = set()
    while time.monotonic() < deadline:
        after = sizes()
        grown = {f for f in files if after[f] > before[f]}
        if grown >= {f for f in files if "error" not in f}:
            break
        time.sleep(2)
    # nginx's error log only grows on errors; every other file must grow with traffic.
    assert grown >= {f for f in files if "error" not in f}, (before, after)


def test_an_alarm_reaches_the_slack_double(stack: Stack) -> None:
    cw = stack.emu.client("cloudwatch")
    alarms = cw.describe_alarms(AlarmNamePrefix=f"{PROJECT}-{ENV}")["MetricAlarms"]
    assert alarms
    alarm = alarms[0]
    before = len(stack.slack.messages)
    cw.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue="ALARM", StateReason="e2e: forced")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(stack.slack.messages) == before:
        time.sleep(1)
    assert len(stack.slack.messages) > before, "no Slack message for the alarm"
    assert alarm["AlarmName"] in json.dumps(stack.slack.messages[-1])


def test_backup_events_reach_email_and_the_slack_double(stack: Stack) -> None:
    backup, sns = stack.emu.client("backup"), stack.emu.client("sns")
    vaults = [v["BackupVaultName"] for v in backup.list_backup_vaults()["BackupVaultList"]
              if v["BackupVaultName"].startswith(f"{PROJECT}-{ENV}")]
    assert len(vaults) == 1, vaults
    topic = backup.get_backup_vault_notifications(BackupVaultName=vaults[0])["SNSTopicArn"]
    protocols = {s["Protocol"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]}
    assert {"email", "lambda"} <= protocols, protocols
    plans = [p["BackupPlanId"] for p in backup.list_backup_plans()["BackupPlansList"]
             if p["BackupPlanName"].startswith(f"{PROJECT}-{ENV}")]
    selections = [backup.get_backup_selection(BackupPlanId=plan, SelectionId=s["SelectionId"])["BackupSelection"]
                  for plan in plans for s in backup.list_backup_selections(BackupPlanId=plan)["BackupSelectionsList"]]
    assert selections and selections[0]["Resources"], selections
    before = len(stack.slack.messages)
    job = backup.start_backup_job(BackupVaultName=vaults[0], ResourceArn=selections[0]["Resources"][0],
                                  IamRoleArn=selections[0]["IamRoleArn"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(job["BackupJobId"] in json.dumps(m)
                                                  for m in stack.slack.messages[before:]):
        time.sleep(1)
    assert any(job["BackupJobId"] in json.dumps(m) for m in stack.slack.messages[before:]), \
        "no Slack message for the backup job"



def _in_db(container: str, family: str, dbname: str, sql: str) -> str:
    """A query run inside a database container as its superuser: outside every path the drill uses."""
    cmd = (["podman", "exec", "-u", "postgres", container, "psql", "-At", "-d", dbname, "-c", sql] if family == "postgres"
           else ["podman", "exec", container, "mysql", "-N", "-uroot", dbname, "-e", sql])
    env = {**os.environ, "CONTAINERS_CONF": str(REPO / "tests/containers/containers.conf")}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_restore_drill_finds_its_canaries_in_the_restored_copies(stack: Stack) -> None:
    # playbooks/restore_drill.yml as the deployer (shipped policy only), at -vvv with command lines sampled.
    db, family = _db_family(stack)
    rds, backup = stack.emu.client("rds"), stack.emu.client("backup")
    vault = f"{PROJECT}-{ENV}"
    points_before = len(backup.list_recovery_points_by_backup_vault(BackupVaultName=vault)["RecoveryPoints"])
    slack_before = len(stack.slack.messages)
    snapshots_before = rds.describe_db_snapshots()["DBSnapshots"]
    # --check: says what it would prove, makes nothing.
    run = run_playbook("playbooks/restore_drill.yml", endpoint=stack.emu.endpoint, env=stack.env, inventory=INVENTORY,
                       extra_vars={"rds_engine": ENGINE} if ENGINE else None, check=True, diff=True)
    assert run.rc == 0, run.explain()
    assert f"Database {db['DBInstanceIdentifier']} ({db['Engine']}) and file system fs-" in " ".join(run.stdout.split())
    assert rds.describe_db_snapshots()["DBSnapshots"] == snapshots_before
    assert len(backup.list_recovery_points_by_backup_vault(BackupVaultName=vault)["RecoveryPoints"]) == points_before
    extra = ({"rds_engine": ENGINE} if ENGINE else {}) | {"restore_drill_keep_scratch": True}
    with CommandLineSampler() as argv:
        run = run_playbook("playbooks/restore_drill.yml", endpoint=stack.emu.endpoint, env=stack.env,
                           inventory=INVENTORY, extra_vars=extra, verbosity=3)
    assert run.rc == 0, run.explain()
    assert_no_secret_shown("restore_drill.yml -vvv", run, argv, _secret_values(stack))
    token = re.search(r"token (\d{14}): PASSED", " ".join(run.stdout.split()))
    assert token, run.explain()
    token = token.group(1)
    scratch = f"{PROJECT}-{ENV}-restore-drill"
    # Kept (restore_drill_keep_scratch): a scratch database restored from the drill's snapshot, single-AZ,
    # in the live database's subnet group and security groups, tagged as the drill's.
    got = rds.describe_db_instances(DBInstanceIdentifier=scratch)["DBInstances"][0]
    assert (got["MultiAZ"], got["DeletionProtection"]) == (False, False)
    assert got["DBSubnetGroup"]["DBSubnetGroupName"] == db["DBSubnetGroup"]["DBSubnetGroupName"]
    assert {g["VpcSecurityGroupId"] for g in got["VpcSecurityGroups"]} == {g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]}
    assert {"Key": "Component", "Value": "restore-drill"} in got["TagList"]
    snapshots = [s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots(DBInstanceIdentifier=db["DBInstanceIdentifier"])["DBSnapshots"]]
    assert f"{scratch}-{token}" in snapshots, snapshots
    # Checked here, in the containers themselves: the canary row is in the live database and in the
    # scratch one (its container started from the snapshot's data), ...
    query = f"SELECT token FROM protea_restore_drill WHERE token = '{token}'"
    assert _in_db(f"protea-lc-db-{db['DBInstanceIdentifier']}", family, db["DBName"], query) == token
    assert _in_db(f"protea-lc-db-{scratch}", family, db["DBName"], query) == token
    # ... the canary file on EFS and its restored copy under aws-backup-restore_<time>/ (the same volume
    # every web server mounts), from a recovery point the drill added to the vault.
    ip = stack.web_ips()[0]
    assert stack.ssh(ip, "cat /mnt/efs/.protea-restore-drill/canary").stdout.strip() == token
    restored = stack.ssh(ip, "cat /mnt/efs/aws-backup-restore_*/.protea-restore-drill/canary").stdout.split()
    assert restored == [token], restored
    assert len(backup.list_recovery_points_by_backup_vault(BackupVaultName=vault)["RecoveryPoints"]) == points_before + 1
    # The report reached Slack (through the events topic), with the times of the four steps.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(token in json.dumps(m) for m in stack.slack.messages[slack_before:]):
        time.sleep(1)
    report = [json.dumps(m) for m in stack.slack.messages[slack_before:] if token in json.dumps(m)]
    assert report and "PASSED" in report[0], stack.slack.messages[slack_before:]
    assert re.search(r"item-level restore of /.protea-restore-drill/canary [0-9.]+ s", report[0]), report[0]
    assert re.search(rf"into {scratch} [0-9.]+ s", report[0]), report[0]

    # The next drill (not kept) removes the scratch database the first one left, makes its own and
    # removes everything it made: no scratch database, no drill snapshot, no restored directory.
    run = run_playbook("playbooks/restore_drill.yml", endpoint=stack.emu.endpoint, env=stack.env,
                       inventory=INVENTORY, extra_vars=({"rds_engine": ENGINE} if ENGINE else None))
    assert run.rc == 0, run.explain()
    second = re.search(r"token (\d{14}): PASSED", " ".join(run.stdout.split()))
    assert second and second.group(1) != token, run.explain()
    assert [d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]] == [db["DBInstanceIdentifier"]]
    left = [s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots()["DBSnapshots"]
            if s["DBSnapshotIdentifier"].startswith(f"{scratch}-{second.group(1)}")]
    assert left == [], left
    assert stack.ssh(ip, "ls -d /mnt/efs/aws-backup-restore_* 2>/dev/null | wc -l").stdout.strip() == "1"
    # The database's protection is untouched, and the run lock is free again.
    live = rds.describe_db_instances(DBInstanceIdentifier=db["DBInstanceIdentifier"])["DBInstances"][0]
    assert live["DeletionProtection"] is True
    ssm = stack.emu.client("ssm")
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name=f"/{PROJECT}/{ENV}/run-lock")

# --- rotation: every credential replaced while customers and mail keep flowing -----------------
ROTATE_TAGS = "rotate_db,rotate_smtp,rotate_origin,rotate_slack"
# On every web server, reached through the bastion: visits through nginx and the app to the
# database, over and over, until told to stop. (The web security group admits HTTP from the ALB
# only, so the bastion itself cannot send them; the local cloud enforces that, as AWS does.)
TRAFFIC = r"""
rm -f /tmp/rotate-stop
body='{"shopper_id": "rot", "zone": "rotation", "beacon_id": "b-rot"}'
while [ ! -e /tmp/rotate-stop ]; do
  curl -s -o /dev/null -m 5 -w '%{http_code}\n' -X POST -H 'Content-Type: application/json' -d "$body" \
    http://127.0.0.1/api/visits
  sleep 0.2
done
"""
# Logs in with credentials read from stdin (never argv): 'refused' when the database says no.
OLD_LOGIN = {
    "postgres": r"""
import json, sys, psycopg2
c = json.loads(sys.stdin.read())
try:
    psycopg2.connect(host=c["host"], port=c["port"], dbname=c["db"], user=c["username"], password=c["password"],
                     sslmode="verify-full", sslrootcert="/usr/local/share/protea-localcloud/rds-global-bundle.pem",
                     connect_timeout=5).close()
    print("accepted")
except psycopg2.OperationalError as e:
    print("refused", str(e).strip().splitlines()[-1])
""",
    "mysql": r"""
import json, ssl, sys, pymysql
c = json.loads(sys.stdin.read())
ctx = ssl.create_default_context(cafile="/usr/local/share/protea-localcloud/rds-global-bundle.pem")
try:
    pymysql.connect(host=c["host"], port=int(c["port"]), database=c["db"], user=c["username"],
                    password=c["password"], ssl=ctx, connect_timeout=5).close()
    print("accepted")
except pymysql.err.MySQLError as e:
    print("refused", e.args)
""",
}
# MySQL/MariaDB: the login must demand TLS (REQUIRE SSL) after a rotation as at creation.
PLAIN_MYSQL_LOGIN = r"""
import json, sys, pymysql
c = json.loads(sys.stdin.read())
try:
    pymysql.connect(host=c["host"], port=int(c["port"]), database=c["db"], user=c["username"],
                    password=c["password"], connect_timeout=5).close()
    print("accepted")
except pymysql.err.MySQLError as e:
    print("refused", e.args)
"""
SMTP_LOGIN = r"""
import json, smtplib, ssl, sys
c = json.loads(sys.stdin.read())
s = smtplib.SMTP(c["host"], 587, timeout=10)
s.starttls(context=ssl._create_unverified_context())
try:
    s.login(c["username"], c["password"])
    print("accepted")
except smtplib.SMTPAuthenticationError as e:
    print("refused", e.smtp_code)
"""


def _ssm_value(stack: Stack, name: str) -> str:
    return stack.emu.client("ssm").get_parameter(Name=f"/{PROJECT}/{ENV}/{name}", WithDecryption=True)["Parameter"]["Value"]


def _alb_accepts(stack: Stack) -> set[str]:
    """The origin secret values the ALB's HTTPS listener forwards (anything else gets its 403)."""
    elb = stack.emu.client("elbv2")
    lb = elb.describe_load_balancers(Names=[f"{PROJECT}-{ENV}-alb"])["LoadBalancers"][0]
    https = [li for li in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"] if li["Port"] == 443]
    values: set[str] = set()
    for rule in elb.describe_rules(ListenerArn=https[0]["ListenerArn"])["Rules"]:
        if any(a["Type"] == "forward" for a in rule["Actions"]):
            for cond in rule["Conditions"]:
                if cond.get("Field") == "http-header" and cond["HttpHeaderConfig"]["HttpHeaderName"] == "X-Origin-Verify":
                    values |= set(cond["HttpHeaderConfig"]["Values"])
    return values


def _cloudfront_sends(stack: Stack) -> tuple[str, str]:
    """The origin secret in the distribution's configuration, and whether every edge serves it yet."""
    cf = stack.emu.client("cloudfront", region="us-east-1")
    dist_id = cf.list_distributions()["DistributionList"]["Items"][0]["Id"]
    dist = cf.get_distribution(Id=dist_id)["Distribution"]
    headers = dist["DistributionConfig"]["Origins"]["Items"][0]["CustomHeaders"].get("Items", [])
    return next(h["HeaderValue"] for h in headers if h["HeaderName"] == "X-Origin-Verify"), dist["Status"]


class OriginWatch(threading.Thread):
    """Samples what CloudFront may send and what the ALB accepts. While a changed distribution is
    InProgress, edges send the last deployed value or the new one: both must be accepted."""

    def __init__(self, stack: Stack):
        super().__init__(daemon=True)
        self.stack, self.stop, self.samples, self.refused = stack, threading.Event(), 0, []
        self.deployed = ""

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                value, status = _cloudfront_sends(self.stack)
                accepted = _alb_accepts(self.stack)
            except Exception:  # noqa: BLE001 - an emulator hiccup is not a refused request
                time.sleep(0.5)
                continue
            may_send = {value} | ({self.deployed} if status != "Deployed" and self.deployed else set())
            if status == "Deployed":
                self.deployed = value
            self.samples += 1
            if may_send - accepted:
                self.refused.append((status, len(may_send - accepted)))
            time.sleep(0.3)


def _podman(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "CONTAINERS_CONF": str(REPO / "tests/containers/containers.conf")}
    done = subprocess.run(["podman", *args], capture_output=True, text=True, env=env, timeout=120)
    assert not check or done.returncode == 0, f"podman {args}: {done.stderr}"
    return done


def _reaches(container: str, address: str, port: int, expect: bool, within: float) -> bool:
    """Whether a TCP connection from inside `container` (its own network namespace, where the emulator
    applies its security groups as packet filters) to address:port opens; tried until it does what
    `expect` says or `within` seconds passed (the emulator applies a changed filter on its next pass)."""
    deadline = time.monotonic() + within
    while True:
        done = _podman("exec", container, "timeout", "2", "bash", "-c", f"exec 3<>/dev/tcp/{address}/{port}", check=False)
        if (done.returncode == 0) == expect or time.monotonic() > deadline:
            return done.returncode == 0
        time.sleep(1)


def test_the_migration_rule_set_is_needed_and_sufficient_for_the_replication_paths(stack: Stack) -> None:
    """A relay inside the VPC stands in for the old box's address (docs/migration.md, network paths): a
    container on the database's subnet that carries no security group. The database's own security groups,
    applied as packet filters in its namespace, drop old box -> RDS and RDS -> old box on the engine's port
    until the network tier runs with security_groups_migration_source_cidrs, and again once migrate.yml's
    finish mark exists (tests/migration runs that phase; here the mark is written as it writes it)."""
    db = stack.emu.client("rds").describe_db_instances(DBInstanceIdentifier=f"{PROJECT}-{ENV}-db")["DBInstances"][0]
    port, container = db["Endpoint"]["Port"], f"protea-lc-db-{db['DBInstanceIdentifier']}"
    networks = json.loads(_podman("container", "inspect", "-f", "{{json .NetworkSettings.Networks}}", container).stdout)
    net_name, net = sorted(networks.items())[0]
    subnet = ipaddress.ip_network(f"{net['IPAddress']}/{net['IPPrefixLen']}", strict=False)
    db_ip, relay_ip = net["IPAddress"], str(subnet.broadcast_address - 20)
    relay = f"protea-e2e-relay-{uuid.uuid4().hex[:8]}"
    listen = (f"import socket\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
              f"s.bind(('0.0.0.0', {port}))\ns.listen(16)\nwhile True:\n    s.accept()[0].close()\n")
    mark = f"/{PROJECT}/{ENV}/migrate/finished"
    ssm = stack.emu.client("ssm")

    def network(**extra) -> PlaybookRun:
        run = run_playbook("playbooks/network.yml", endpoint=stack.emu.endpoint, env=stack.env, inventory=INVENTORY,
                           tags="security_groups", extra_vars=({"rds_engine": ENGINE} if ENGINE else {}) | extra)
        assert run.rc == 0, run.explain()
        return run

    _podman("run", "-d", "--name", relay, "--network", f"{net_name}:ip={relay_ip}", "localhost/protea-debian12:latest",
            "python3", "-c", listen)
    try:
        # The relay itself answers (from itself), so a refusal below is the filter's.
        assert _reaches(relay, relay_ip, port, True, 10)
        assert not _reaches(container, relay_ip, port, False, 5), "RDS reached the old box without the migration rule set"
        assert not _reaches(relay, db_ip, port, False, 5), "the old box reached RDS without the migration rule set"
        network(security_groups_migration_source_cidrs=[f"{relay_ip}/32"])
        assert _reaches(container, relay_ip, port, True, 30), "RDS -> old box still dropped with the migration rule set"
        assert _reaches(relay, db_ip, port, True, 30), "old box -> RDS still dropped with the migration rule set"
        ssm.put_parameter(Name=mark, Value="2026-12-04T17:00:00+00:00", Type="String")
        after = network(security_groups_migration_source_cidrs=[f"{relay_ip}/32"])
        assert "migration finished" in " ".join(after.stdout.split()), after.explain()
        assert not _reaches(container, relay_ip, port, False, 30), "RDS still reaches the old box after the finish"
        assert not _reaches(relay, db_ip, port, False, 30), "the old box still reaches RDS after the finish"
    finally:
        _podman("rm", "-f", "-t", "0", relay, check=False)
        try:
            ssm.delete_parameter(Name=mark)
        except ssm.exceptions.ParameterNotFound:
            pass
        rds_group = stack.emu.client("ec2").describe_security_groups(GroupIds=[
            g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]])["SecurityGroups"]
        if any(p.get("IpRanges") for g in rds_group for p in g["IpPermissions"] + g["IpPermissionsEgress"]):
            network()


def test_every_credential_rotates_with_no_failed_request(stack: Stack) -> None:
    db, family = _db_family(stack)
    before = {"db": json.loads(_ssm_value(stack, "rds/app-credentials")),
              "smtp": json.loads(_ssm_value(stack, "ses/smtp-credentials")),
              "origin": _ssm_value(stack, "alb/origin-secret")}
    old_webhook, new_webhook = stack.slack.webhook_url, stack.slack.new_webhook()
    ips = stack.web_ips()
    traffic = [subprocess.Popen(["ssh", "-F", str(stack.ssh_config), ip, TRAFFIC], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for ip in ips]
    watch = OriginWatch(stack)
    watch.start()
    mail_tokens: list[str] = []
    mail_stop = threading.Event()

    def mail() -> None:  # a message every few seconds from a web server, through its Postfix relay
        while not mail_stop.is_set():
            token = uuid.uuid4().hex
            sent = stack.ssh(ips[0], f"printf 'Subject: rotation {token}\\n\\nhello\\n' | "
                                     f"/usr/sbin/sendmail -f noreply@{PROJECT}.example ops@ops.example", check=False)
            if sent.returncode == 0:
                mail_tokens.append(token)
            mail_stop.wait(4)

    mailer = threading.Thread(target=mail, daemon=True)
    mailer.start()
    # Alarms keep firing while the webhook rotates: each one reaches Slack (old or new webhook).
    cw = stack.emu.client("cloudwatch")
    alarm = cw.describe_alarms(AlarmNamePrefix=f"{PROJECT}-{ENV}")["MetricAlarms"][0]["AlarmName"]
    slack_before, fired = len(stack.slack.requests), []

    def flap() -> None:
        state = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"]
        while not mail_stop.is_set():
            state = "OK" if state == "ALARM" else "ALARM"
            cw.set_alarm_state(AlarmName=alarm, StateValue=state, StateReason="e2e: during the rotation")
            if state == "ALARM":
                fired.append(state)
            mail_stop.wait(5)

    flapper = threading.Thread(target=flap, daemon=True)
    flapper.start()
    try:
        time.sleep(3)
        secrets_before = _secret_values(stack)
        with CommandLineSampler() as argv:  # -vvv and sampled command lines: no old or new secret shown
            run = run_playbook("playbooks/rotate.yml", endpoint=stack.emu.endpoint, inventory=INVENTORY, tags=ROTATE_TAGS,
                               env=stack.env, timeout=1800, verbosity=3,
                               extra_vars=({"rds_engine": ENGINE} if ENGINE else {}) | {"slack_notifier_webhook_url": new_webhook})
        time.sleep(3)
    finally:
        mail_stop.set()
        watch.stop.set()
        for ip in ips:
            stack.ssh(ip, "touch /tmp/rotate-stop", check=False)
        answers = [proc.communicate(timeout=60) for proc in traffic]
        mailer.join(30)
        flapper.join(30)
        watch.join(30)
    assert run.rc == 0, run.explain()
    assert_no_secret_shown("rotate.yml -vvv", run, argv, {f"{name} (before)": value for name, value in secrets_before.items()}
                            | _secret_values(stack) | {"new webhook": new_webhook})
    stack.env["PROTEA_SLACK_WEBHOOK_URL"] = new_webhook  # the operator's vault now holds the new URL
    codes = [code for out, _ in answers for code in out.split()]
    assert all(len(out.split()) > 20 for out, _ in answers), answers
    assert set(codes) == {"201"}, f"requests failed during the rotation: { {c: codes.count(c) for c in set(codes)} }"
    assert watch.samples > 10 and watch.refused == [], (watch.samples, watch.refused)

    after = {"db": json.loads(_ssm_value(stack, "rds/app-credentials")),
             "smtp": json.loads(_ssm_value(stack, "ses/smtp-credentials")),
             "origin": _ssm_value(stack, "alb/origin-secret")}
    # Database: the twin login with a new password is in use; the old login is refused.
    assert after["db"]["username"] != before["db"]["username"] and after["db"]["password"] != before["db"]["password"]
    assert stack.ssh(ips[0], "sudo sed -n 's/^APP_DB_USER=//p' /run/protea/shopper.env").stdout.strip() == \
        f'"{after["db"]["username"]}"'
    login = {"host": db["Endpoint"]["Address"], "port": db["Endpoint"]["Port"], "db": db["DBName"]}
    old_db = stack.ssh(ips[0], f"python3 -c {shlex.quote(OLD_LOGIN[family])}", stdin=json.dumps(login | before["db"]))
    assert old_db.stdout.startswith("refused"), old_db.stdout
    if family == "mysql":
        plain = stack.ssh(ips[0], f"python3 -c {shlex.quote(PLAIN_MYSQL_LOGIN)}", stdin=json.dumps(login | after["db"]))
        assert plain.stdout.startswith("refused"), plain.stdout
    _app_rights(stack, family)  # the twin login has the same rights, no more
    # SMTP: one key, the new one; every message reached SES; the old password is refused.
    keys = stack.emu.client("iam").list_access_keys(UserName=f"{PROJECT}-{ENV}-ses-smtp")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [after["smtp"]["username"]] != [before["smtp"]["username"]]
    store = Path(stack.emu.instances_state()["doubles"]["ses_smtp"]["store"])
    deadline = time.monotonic() + 120
    missing = set(mail_tokens)
    while missing and time.monotonic() < deadline:
        text = store.read_text() if store.exists() else ""
        missing = {t for t in missing if t not in text}
        time.sleep(2)
    assert len(mail_tokens) >= 3 and not missing, f"{len(missing)} of {len(mail_tokens)} messages never reached SES"
    failures = stack.ssh(ips[0], "sudo cat /var/log/mail.log | grep -c 'authentication failed'", check=False).stdout.strip()
    assert failures == "0", f"Postfix logged {failures} failed SMTP logins"
    old_smtp = stack.ssh(ips[0], f"python3 -c {shlex.quote(SMTP_LOGIN)}",
                         stdin=json.dumps({"host": "email-smtp.af-south-1.amazonaws.com"} | before["smtp"]))
    assert old_smtp.stdout.split() == ["refused", "535"], old_smtp.stdout
    # Origin: only the new value is accepted now.
    assert after["origin"] != before["origin"] and _alb_accepts(stack) == {after["origin"]}
    assert _cloudfront_sends(stack)[0] == after["origin"]
    # Slack: every alarm fired during the rotation was delivered, none refused.
    deadline = time.monotonic() + 60
    delivered: list[dict] = []
    while time.monotonic() < deadline:
        delivered = [m for m in stack.slack.messages if alarm in json.dumps(m) and "during the rotation" in json.dumps(m)]
        if len(delivered) >= len(fired):
            break
        time.sleep(1)
    assert len(fired) >= 3 and len(delivered) >= len(fired), (len(fired), len(delivered))
    assert {r["status"] for r in stack.slack.requests[slack_before:]} == {200}
    # The notifier posts to the new webhook; the old one is revoked in Slack after the rotation.
    stack.slack.revoke(old_webhook)
    assert _ssm_value(stack, "slack/webhook-url") == new_webhook
    before_alarm = len(stack.slack.messages)
    cw.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="e2e: rotation")
    cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="e2e: after rotation")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(stack.slack.messages) == before_alarm:
        time.sleep(1)
    assert len(stack.slack.messages) > before_alarm, [r["status"] for r in stack.slack.requests[-5:]]
    assert set(stack.slack.message_paths[before_alarm:]) == {new_webhook.removeprefix(stack.slack.base_url)}
    # Nothing secret in the output, not even of the rotation that wrote them.
    for value in (after["db"]["password"], after["smtp"]["password"], after["origin"], new_webhook.rsplit("/", 1)[1]):
        assert value not in run.stdout and value not in run.stderr


def test_a_database_password_changed_by_hand_is_put_back_from_the_parameter(stack: Stack) -> None:
    # The parameter is the truth (also the upgrade from separate login/password parameters).
    db, family = _db_family(stack)
    user = json.loads(_ssm_value(stack, "rds/app-credentials"))["username"]
    container = f"protea-lc-db-{db['DBInstanceIdentifier']}"
    change = (["podman", "exec", "-u", "postgres", container, "psql", "-d", db["DBName"], "-c",
               f"ALTER ROLE {user} PASSWORD 'changed-by-hand'"] if family == "postgres" else
              ["podman", "exec", container, "mysql", "-uroot", "-e", f"ALTER USER '{user}'@'%' IDENTIFIED BY 'changed-by-hand'"])
    env = {**os.environ, "CONTAINERS_CONF": str(REPO / "tests/containers/containers.conf")}
    done = subprocess.run(change, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    ip = stack.web_ips()[0]
    visit = {"shopper_id": "s-hand", "zone": "hand", "beacon_id": "b-1"}
    assert stack.http(ip, "POST", "/api/visits", visit)[0] == 503, "the app still logs in: nothing was changed"
    run = run_playbook("playbooks/database_users.yml", endpoint=stack.emu.endpoint, env=stack.env,
                       inventory=INVENTORY, extra_vars={"rds_engine": ENGINE} if ENGINE else None)
    assert run.rc == 0, run.explain()
    assert [t for t in run.changed_tasks if "else it gets the stored password" in t], run.explain()
    assert stack.http(ip, "POST", "/api/visits", visit)[0] == 201
    if family == "mysql":  # the repaired login still demands TLS
        creds = json.loads(_ssm_value(stack, "rds/app-credentials"))
        login = {"host": db["Endpoint"]["Address"], "port": db["Endpoint"]["Port"], "db": db["DBName"]}
        plain = stack.ssh(ip, f"python3 -c {shlex.quote(PLAIN_MYSQL_LOGIN)}", stdin=json.dumps(login | creds))
        assert plain.stdout.startswith("refused"), plain.stdout


def _ee_container_command(job: Path) -> list[str]:
    """The container command ansible-runner ran for a job (its artifacts record it)."""
    commands = sorted(job.glob("artifacts/*/command"))
    assert len(commands) == 1, commands
    return json.loads(commands[0].read_text())["command"]


def test_second_site_run_in_the_execution_environment_changes_nothing(stack: Stack) -> None:
    # The second run goes through the execution environment, with the README's command, as AWX
    # runs a job: same checkout, same inventories, the key only in the agent. Nothing changes.
    # At -vvv, where module arguments and results are printed unless a task has no_log:
    # no secret of the environment in either run's output (the origin secret included,
    # which a re-run's ALB listener rule result would carry).
    # The command lines of every process during the re-run (modules, ssh, podman, containers)
    # are sampled too: no secret on any argv.
    with CommandLineSampler() as argv:
        run = stack.in_ee("site.yml", verbosity=3)
    assert run.rc == 0, run.explain()
    assert run.changed == 0, run.explain()
    # It ran in the image, handed the agent; no key file anywhere it could read.
    command = _ee_container_command(stack.state / f"ee-job-{stack.ee_jobs}")
    assert command[:2] == ["podman", "run"] and stack.ee_image().split(":")[0] in " ".join(command), command
    assert f"{stack.agent}:/run/ssh-agent.sock" in command, command
    assert "--env=SSH_AUTH_SOCK=/run/ssh-agent.sock" in command, command
    assert not list(stack.state.rglob("id_ed25519")), "a private key file in the mounted state dir"
    assert "IdentityFile" not in (stack.state / "ssh" / "config").read_text()
    # Plays through the bastion did run in it: the bastions' hardening and the smoke check.
    assert re.search(r"^ok: \[i-[0-9a-f]+\]", run.stdout, re.M), run.explain()
    secrets = _secret_values(stack)
    assert f"/{PROJECT}/{ENV}/alb/origin-secret" in secrets, sorted(secrets)
    leaked = sorted(name for name, value in secrets.items()
                    if value in stack.first_run.stdout + stack.first_run.stderr)
    assert leaked == [], f"the first run of site.yml prints the values of {leaked}"
    assert_no_secret_shown("site.yml -vvv re-run", run, argv, secrets)
    # The run lock (role run_lock) was taken and is released at the end.
    assert "TASK [protea.platform.run_lock : Take the run lock of the environment]" in run.stdout
    ssm = stack.emu.client("ssm")
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name=f"/{PROJECT}/{ENV}/run-lock")



def test_new_image_rolls_out_with_minimum_healthy_throughout(stack: Stack) -> None:
    group = stack.asg()
    old_ids = {i["InstanceId"] for i in group["Instances"]}
    samples: list[int] = []
    stop = threading.Event()

    def poll() -> None:
        # Counts the instances of the group answering /healthz 200, as the ALB would see them.
        while not stop.is_set():
            healthy = 0
            for ip in stack.web_ips():
                try:
                    with DIRECT.open(f"http://{ip}/healthz", timeout=3) as answer:
                        healthy += answer.status == 200
                except OSError:  # refused, timed out, or an HTTP error status
                    pass
            samples.append(healthy)
            time.sleep(1)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        # The day-2 playbook alone (site.yml imports it; the second site run above proved the rest
        # unchanged): a new release bakes a new image and rolls it out.
        # At -vvv, with command lines sampled: the bake and rollout show no secret either.
        extra = {"bake_release": "e2e-2"}
        # In the execution environment, as an AWX job template of the playbook would run it.
        with CommandLineSampler() as argv:
            run = stack.in_ee("playbooks/bake_image.yml", verbosity=3, **extra)
    finally:
        stop.set()
        poller.join(30)
    assert run.rc == 0, run.explain()
    assert_no_secret_shown("bake_image.yml -vvv", run, argv, _secret_values(stack))
    new_ids = {i["InstanceId"] for i in stack.asg()["Instances"]}
    assert new_ids and not new_ids & old_ids, "the instances were not replaced"
    assert len(samples) > 5
    assert min(samples) >= group["MinSize"], samples
