"""meta/runtime.yml's action group protea.platform.aws, and one object for every AWS connection.

Playbooks set `module_defaults: {group/protea.platform.aws: "{{ protea_aws_connection }}"}`
once per play. The group must name exactly the project's AWS modules (a module left out
would silently talk to the default region/endpoint) and reach amazon.aws, community.aws and
project modules alike.
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import yaml

from tests.helpers import REPO

PLAYBOOK = """
- name: Every kind of AWS module takes the group's defaults
  hosts: control
  gather_facts: false
  module_defaults:
    group/protea.platform.aws: "{{ protea_aws_connection }}"
  tasks:
    - name: An amazon.aws module
      amazon.aws.aws_caller_info:
      register: from_amazon
      ignore_errors: true
    - name: A community.aws module
      community.aws.ses_identity_policy:
        identity: example.com
        policy_name: probe
        state: absent
      register: from_community
      ignore_errors: true
    - name: A project module
      protea.platform.vpc_flow_log:
        resource_id: vpc-0123456789abcdef0
        log_group_name: probe
        deliver_logs_permission_arn: arn:aws:iam::123456789012:role/probe
      register: from_project
      ignore_errors: true
    - name: Each one tried the group's endpoint, in the group's region
      ansible.builtin.assert:
        that: item.msg is search('127.0.0.1:9/')
        fail_msg: "{{ item.msg }}"
      loop: ["{{ from_amazon }}", "{{ from_community }}", "{{ from_project }}"]
      loop_control: {label: "{{ item.msg[:60] }}"}
"""


def aws_modules() -> set[str]:
    return {p.stem for p in (REPO / "plugins/modules").glob("*.py")
            if re.search(r"^from .*import .*AnsibleAWSModule", p.read_text(), re.M)}


def test_the_group_names_every_project_aws_module_and_extends_amazon_and_community() -> None:
    runtime = yaml.safe_load((REPO / "meta/runtime.yml").read_text())
    group = runtime["action_groups"]["aws"]
    meta = [entry["metadata"] for entry in group if isinstance(entry, dict)]
    assert meta == [{"extend_group": ["amazon.aws.aws", "community.aws.aws"]}]
    assert {entry for entry in group if isinstance(entry, str)} == aws_modules()


def test_no_play_lists_aws_modules_by_hand() -> None:
    pasted = [str(p.relative_to(REPO)) for p in [*REPO.glob("playbooks/*.yml"), *REPO.glob("tests/**/*.yml")]
              if re.search(r"group/(amazon|community)\.aws\.aws:|^\s+protea\.platform\.\w+: \*aws", p.read_text(), re.M)]
    assert pasted == []


def test_the_group_reaches_amazon_community_and_project_modules(tmp_path: Path) -> None:
    play = tmp_path / "probe.yml"
    play.write_text(PLAYBOOK)
    exe = REPO / ".venv/bin/ansible-playbook"
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PROTEA_ENDPOINT_URL="http://127.0.0.1:9")  # discard port: nothing answers
    proc = subprocess.run([str(exe) if exe.exists() else "ansible-playbook",
                           "-i", "inventories/common", "-i", "inventories/local", str(play)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "ok=4" in proc.stdout and "ignored=3" in proc.stdout, proc.stdout[-3000:]
