"""cloudwatch_agent in a real container, with the agent package DOUBLE
(tests/doubles/cloudwatch_agent_double) served where the official bucket would be."""
from __future__ import annotations

import hashlib
import json
import time
import uuid

CONFIG = "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json"
CTL_LOG = "/var/log/amazon-cloudwatch-agent-double/ctl.jsonl"


def _ctl_calls(host) -> list[dict]:
    return [json.loads(line) for line in host.file(CTL_LOG).content_string.splitlines() if line]


def test_package_installed_from_the_download_url(host):
    pkg = host.package("amazon-cloudwatch-agent")
    assert pkg.is_installed and "double" in pkg.version
    assert host.file("/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl").mode & 0o111


def test_agent_service_running_and_enabled(host):
    svc = host.service("amazon-cloudwatch-agent")
    assert svc.is_running and svc.is_enabled


def test_config_applied_once_with_fetch_config_and_valid(host):
    calls = [c for c in _ctl_calls(host) if c["action"] == "fetch-config"]
    # Exactly one: converge applied it, the idempotence run did not re-run the ctl.
    assert len(calls) == 1, calls
    call = calls[0]
    assert call["valid"] is True and call["errors"] == []
    assert call["mode"] == "ec2" and call["restart"] is True
    assert call["config"] == f"file:{CONFIG}"
    on_disk = hashlib.sha256(host.file(CONFIG).content).hexdigest()
    assert call["config_sha256"] == on_disk
    # The running agent was (re)started after the config was applied, with that config.
    journal = host.check_output("journalctl -u amazon-cloudwatch-agent --no-pager -o cat")
    assert f"sha256={on_disk}" in journal


def test_config_content(host):
    cfg = json.loads(host.file(CONFIG).content_string)
    metrics = cfg["metrics"]
    assert metrics["append_dimensions"] == {
        "InstanceId": "${aws:InstanceId}", "AutoScalingGroupName": "${aws:AutoScalingGroupName}"}
    assert metrics["metrics_collected"]["mem"]["measurement"] == ["mem_used_percent"]
    assert metrics["metrics_collected"]["disk"]["measurement"] == ["used_percent"]
    files = {f["file_path"]: f for f in cfg["logs"]["logs_collected"]["files"]["collect_list"]}
    # The files the web role's nginx and the app role's service write, and rsyslog's.
    assert set(files) == {"/var/log/nginx/access.json.log", "/var/log/nginx/error.log",
                          "/var/log/shopper/app.log", "/var/log/syslog"}
    assert files["/var/log/nginx/access.json.log"]["log_group_name"] == "/shopper/test/nginx/access"
    assert all(f["retention_in_days"] == 30 for f in files.values())


def test_rsyslog_writes_the_system_log_the_agent_ships(host):
    # Debian 12 has no /var/log/syslog of its own: the role installs rsyslog for it.
    svc = host.service("rsyslog")
    assert svc.is_running and svc.is_enabled
    cfg = json.loads(host.file(CONFIG).content_string)
    assert "/var/log/syslog" in [f["file_path"] for f in cfg["logs"]["logs_collected"]["files"]["collect_list"]]
    marker = f"protea-syslog-{uuid.uuid4().hex}"
    before = host.file("/var/log/syslog").size if host.file("/var/log/syslog").exists else 0
    host.run_test(f"logger -t protea-test {marker}")
    for _ in range(20):
        if host.file("/var/log/syslog").exists and marker in host.file("/var/log/syslog").content_string:
            break
        time.sleep(0.5)
    assert marker in host.file("/var/log/syslog").content_string
    assert host.file("/var/log/syslog").size > before
