"""The CloudWatch agent ctl DOUBLE must reject the configs the real agent rejects,
or the molecule scenario's "valid config" check proves nothing."""
from __future__ import annotations

import copy
import importlib.machinery
import importlib.util

import pytest

from tests.helpers import REPO

_loader = importlib.machinery.SourceFileLoader(
    "cw_ctl_double", str(REPO / "tests/doubles/cloudwatch_agent_double/amazon-cloudwatch-agent-ctl"))
_spec = importlib.util.spec_from_loader("cw_ctl_double", _loader)
ctl = importlib.util.module_from_spec(_spec)
_loader.exec_module(ctl)

GOOD = {
    "agent": {"metrics_collection_interval": 60},
    "metrics": {
        "append_dimensions": {"InstanceId": "${aws:InstanceId}", "AutoScalingGroupName": "${aws:AutoScalingGroupName}"},
        "metrics_collected": {"mem": {"measurement": ["mem_used_percent"]}, "disk": {"measurement": ["used_percent"]}},
    },
    "logs": {"logs_collected": {"files": {"collect_list": [
        {"file_path": "/var/log/syslog", "log_group_name": "/p/syslog", "retention_in_days": 30}]}}},
}


def test_good_config_passes():
    assert ctl.validate(GOOD) == []


def _broken(path, value):
    cfg = copy.deepcopy(GOOD)
    node = cfg
    for key in path[:-1]:
        node = node[key]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return cfg


@pytest.mark.parametrize(
    ("cfg", "problem"),
    [
        (_broken(("logs",), ...), "missing section logs"),
        (_broken(("metrics", "metrics_collected", "mem"), ...), "mem_used_percent"),
        (_broken(("metrics", "metrics_collected", "disk", "measurement"), ["free"]), "used_percent"),
        (_broken(("metrics", "append_dimensions", "Hostname"), "x"), "unsupported append_dimensions"),
        (_broken(("logs", "logs_collected", "files", "collect_list"), []), "collect_list is empty"),
        (_broken(("logs", "logs_collected", "files", "collect_list", 0, "retention_in_days"), ...), "lacks retention"),
        (_broken(("logs", "logs_collected", "files", "collect_list", 0, "retention_in_days"), 31), "not a CloudWatch"),
        ([], "not a JSON object"),
    ],
)
def test_bad_configs_rejected(cfg, problem):
    errors = ctl.validate(cfg)
    assert any(problem in e for e in errors), errors
