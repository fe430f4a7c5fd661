# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""ansible.builtin.default's screen output, with long waits reported in plain words."""
from __future__ import annotations

DOCUMENTATION = r"""
name: progress
type: stdout
short_description: The default output, with progress in plain words while a task waits
version_added: 0.1.0
description:
  - >-
    Prints exactly what ansible.builtin.default prints, except for a task that retries until a condition holds
    (an C(until) loop, e.g. waiting for RDS, CloudFront or an instance refresh). Instead of
    "FAILED - RETRYING ... (N retries left)" it says what is awaited, the state the last answer reported when it has
    one, and the time spent against the time that kind of AWS operation usually takes, e.g.
    "Waiting - [localhost] - RDS shopper-prod-db - creating, 6:00 of ~15 min (attempt 12 of 90)"
    (with colons where this text has dashes).
  - >-
    What is awaited comes from a table keyed by the task's module (RDS instance, CloudFront distribution,
    NAT gateway, ACM certificate, EC2 instance, image, Auto Scaling group and its instance refresh, target
    group, EFS file system, load balancer, ...), the name from the module's result or its arguments (the DB
    instance identifier, the distribution id, the NAT gateway id, the certificate's domain, the instance's
    Name tag, the image name, the group name, ...). The usual durations are AWS's, not the task's retry
    budget - RDS create ~15 min Multi-AZ and ~10 min single-AZ, CloudFront deploy ~15 min (5 to 30), NAT
    gateway ~1.5 min, ACM DNS validation ~3 min after delegation, EC2 instance pending to running ~1 min,
    CreateImage ~10 min, instance refresh ~10 min, EFS mount targets ~1.5 min, load balancer ~3 min. Once
    the wait runs longer the line says so ("17:00, longer than the usual ~15 min"). Entries
    with no usual duration (URL, download, package, Lambda function, Auto Scaling group instances, target
    group targets) show the retry budget instead, as below.
  - >-
    A task whose module is not in the table (a command, a URL check, ...) is reported as before,
    "Waiting - [host] - task name - state, 0:42 of ~5 min (attempt 3 of 10)", where the minutes are the retry
    budget (retries times delay). Such a task may say what it awaits with the task variable C(protea_progress),
    a dict with C(what) (words, may use templates of the play's variables, not of the loop variable) and
    optionally C(minutes) (the usual duration), e.g.
    C(vars) then C(protea_progress) then C({what: "PostgreSQL subscription {{ migrate_db_subscription }}", minutes: 1}).
    C(protea_progress) also overrides the table for a module that is in it.
  - >-
    Only a short state word is taken from the result (a key such as C(db_instance_status), C(status) or C(state)),
    never the result itself, except at -vv as the default callback does. A no_log task shows no state and no name
    from its result or arguments, only its C(protea_progress) words or its task name.
extends_documentation_fragment:
  - ansible.builtin.default_callback
  - ansible.builtin.result_format_callback
requirements:
  - set as stdout_callback in ansible.cfg (stdout_callback = protea.platform.progress)
author:
  - Protea founding engineers
"""

import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union
from urllib.parse import urlsplit, urlunsplit

from ansible import constants as C
from ansible.plugins.callback.default import CallbackModule as DefaultCallback

# Where services put the state of what is awaited (RDS, EFS, ACM, CloudFront, Auto Scaling, EC2, ...).
STATE_KEYS = ("db_instance_status", "life_cycle_state", "lifecycle_state", "status", "state", "Status", "State")
STATE_WORD = re.compile(r"^[A-Za-z][A-Za-z_ -]{0,39}$")
NAME_WORD = re.compile(r"^[\w.:/@*^$ -]{1,100}$")
TASK_VAR = "protea_progress"


def state_of(result: Any, depth: int = 0) -> str:
    """A short state word from a module result: a known key at the top, inside a dict value, or in
    the first element of a list value (e.g. instances[0].db_instance_status)."""
    if depth > 2:
        return ""
    if isinstance(result, list):
        return state_of(result[0], depth + 1) if result else ""
    if not isinstance(result, dict):
        return ""
    for key in STATE_KEYS:
        value = result.get(key)
        if isinstance(value, dict):
            value = value.get("name") or value.get("Name") or value.get("Code")
        if isinstance(value, str) and STATE_WORD.match(value):
            return value
    for key, value in result.items():
        if key.startswith("_ansible") or key in ("invocation", "attempts", "retries"):
            continue
        if isinstance(value, (dict, list)):
            found = state_of(value, depth + 1)
            if found:
                return found
    return ""


def dig(data: Any, path: str) -> Any:
    """data["a"][0]["b"] for path "a.0.b"; None where the path does not lead."""
    for step in path.split("."):
        if isinstance(data, dict):
            data = data.get(step)
        elif isinstance(data, list) and step.isdigit() and int(step) < len(data):
            data = data[int(step)]
        else:
            return None
    return data


@dataclass(frozen=True)
class Awaited:
    """One kind of thing a task waits for: its words, where its name is ("args." paths read the task's
    arguments, the others the module's result) and how long AWS usually takes, in minutes (a number, or
    a function of the result, or None when there is no usual duration)."""

    kind: str
    names: tuple[str, ...] = ()
    minutes: Union[float, Callable[[dict], Optional[float]], None] = None
    suffix: str = ""
    state: Optional[Callable[[dict], str]] = None


def _http_status(result: dict) -> str:
    status = result.get("status")
    return f"HTTP {status}" if isinstance(status, int) and 100 <= status < 600 else ""


def _url(text: str) -> str:
    """A URL without its user and password, query and fragment, at most 60 characters."""
    parts = urlsplit(text)
    if parts.scheme and parts.netloc:
        text = urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, "", ""))
    return text if len(text) <= 60 else "..." + text[-57:]


# How long AWS usually takes, in minutes, by operation: the one table for these figures (the local
# cloud's delay layer and bench/critical_path.py read it too).
USUAL_MINUTES: dict[str, float] = {
    "rds_create_multi_az": 15, "rds_create_single_az": 10, "cloudfront_deploy": 15, "nat_gateway": 1.5,
    "acm_dns_validation": 3, "ec2_instance": 1, "create_image": 10, "instance_refresh": 10,
    "efs_mount_targets": 1.5, "load_balancer": 3,
}


def _rds_minutes(result: dict) -> float:
    multi_az = dig(result, "instances.0.multi_az")
    if multi_az is None:
        multi_az = result.get("multi_az")
    return USUAL_MINUTES["rds_create_single_az" if multi_az is False else "rds_create_multi_az"]


_RDS = Awaited("RDS", ("instances.0.db_instance_identifier", "db_instance_identifier", "args.db_instance_identifier",
                       "args.id"), _rds_minutes)
_CLOUDFRONT = Awaited("CloudFront distribution", ("id", "distribution.id", "args.distribution_id", "args.id"),
                      USUAL_MINUTES["cloudfront_deploy"])
_NAT = Awaited("NAT gateway", ("nat_gateway_id", "result.0.nat_gateway_id", "args.nat_gateway_id",
                               "args.nat_gateway_ids.0"), USUAL_MINUTES["nat_gateway"])
_ACM = Awaited("ACM certificate", ("args.domain_name", "certificate.domain_name", "certificates.0.domain_name",
                                   "domain_name"), USUAL_MINUTES["acm_dns_validation"])
_IMAGE = Awaited("Image", ("args.name", "name", "images.0.name", "image_id", "args.image_ids.0"),
                 USUAL_MINUTES["create_image"])
_REFRESH = Awaited("Auto Scaling group", ("args.name", "instance_refreshes.0.auto_scaling_group_name"),
                   USUAL_MINUTES["instance_refresh"], "instance refresh")
_EFS = Awaited("EFS", ("args.name", "name", "file_system_id", "args.id", "efs.0.name"),
               USUAL_MINUTES["efs_mount_targets"], "mount targets")
_INSTANCE = Awaited("EC2 instance", ("instances.0.tags.Name", "instances.0.instance_id", "args.name",
                                     "args.instance_ids.0"), USUAL_MINUTES["ec2_instance"])
_ALB = Awaited("Load balancer", ("args.name", "load_balancer_name", "load_balancers.0.load_balancer_name",
                                 "args.names.0"), USUAL_MINUTES["load_balancer"])

# What each module waits for, by its FQCN (the action as written, or as resolved).
AWAITED: dict[str, Awaited] = {
    "amazon.aws.rds_instance": _RDS,
    "amazon.aws.rds_instance_info": _RDS,
    "community.aws.cloudfront_distribution": _CLOUDFRONT,
    "community.aws.cloudfront_distribution_info": _CLOUDFRONT,
    "amazon.aws.ec2_vpc_nat_gateway": _NAT,
    "amazon.aws.ec2_vpc_nat_gateway_info": _NAT,
    "protea.platform.acm_certificate_request": _ACM,
    "community.aws.acm_certificate": _ACM,
    "community.aws.acm_certificate_info": _ACM,
    "amazon.aws.ec2_instance": _INSTANCE,
    "amazon.aws.ec2_instance_info": _INSTANCE,
    "amazon.aws.ec2_ami": _IMAGE,
    "amazon.aws.ec2_ami_info": _IMAGE,
    "amazon.aws.autoscaling_instance_refresh": _REFRESH,
    "amazon.aws.autoscaling_instance_refresh_info": _REFRESH,
    "amazon.aws.autoscaling_group_info": Awaited("Auto Scaling group", ("results.0.auto_scaling_group_name",
                                                                        "args.name"), None, "instances"),
    "community.aws.elb_target_group_info": Awaited("Target group", ("target_groups.0.target_group_name",
                                                                    "args.names.0"), None, "targets"),
    "community.aws.efs": _EFS,
    "community.aws.efs_info": _EFS,
    "amazon.aws.elb_application_lb": _ALB,
    "amazon.aws.elb_application_lb_info": _ALB,
    "community.aws.elb_network_lb": _ALB,
    "amazon.aws.lambda": Awaited("Lambda function", ("args.name", "configuration.function_name")),
    "ansible.builtin.uri": Awaited("URL", ("args.url",), state=_http_status),
    "ansible.builtin.get_url": Awaited("Download", ("args.url",)),
    "ansible.builtin.apt": Awaited("Package", ("args.deb", "args.name.0", "args.name")),
}


AWS_COLLECTIONS = ("amazon.aws.", "community.aws.")


def awaited_for(*actions: str) -> Optional[Awaited]:
    """The table's entry for a module: by FQCN (as written or as resolved), by its short name
    (uri, rds_instance_info), or across amazon.aws and community.aws, which redirect modules
    to each other as they move (community.aws.lambda is amazon.aws.lambda)."""
    for action in actions:
        if action in AWAITED:
            return AWAITED[action]
    for action in actions:
        short = action.rsplit(".", 1)[-1]
        for fqcn, entry in AWAITED.items():
            if fqcn.rsplit(".", 1)[-1] != short:
                continue
            if action == short or (action.startswith(AWS_COLLECTIONS) and fqcn.startswith(AWS_COLLECTIONS)):
                return entry
    return None


def name_of(entry: Awaited, result: dict, args: dict) -> str:
    """The first name the entry's paths find, e.g. the DB instance identifier ("^name$" patterns lose
    their anchors)."""
    for path in entry.names:
        value = dig(args, path[5:]) if path.startswith("args.") else dig(result, path)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            text = str(value).strip("^$")
            if path in ("args.url", "args.deb"):
                text = _url(text)
            if text and NAME_WORD.match(text):
                return text
    return ""


def about(minutes: float) -> str:
    """~15 min, ~1.5 min, ~40 s."""
    if minutes < 1:
        return f"~{max(1, round(minutes * 60))} s"
    return f"~{minutes:g} min" if minutes != int(minutes) else f"~{int(minutes)} min"


def minutes(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def describe(actions: tuple[str, ...], result: dict, args: dict, declared: Any, *, no_log: bool,
             task_name: str, spent: float, allowed: float, attempts: int, retries: int) -> str:
    """The words after "Waiting: [host]: " for one retry (no host, no colour)."""
    entry = awaited_for(*actions)
    state = ""
    if not no_log:
        state = (entry.state(result) if entry is not None and entry.state else "") or state_of(result)
    what, usual = "", None
    if entry is not None:
        usual = entry.minutes(result) if callable(entry.minutes) else entry.minutes
        name = "" if no_log else name_of(entry, result, args)
        what = " ".join(w for w in (entry.kind, name, entry.suffix) if w)
    if isinstance(declared, dict):
        if isinstance(declared.get("what"), str) and declared["what"].strip():
            what = declared["what"].strip()
        try:
            usual = float(declared["minutes"]) if declared.get("minutes") not in (None, "") else usual
        except (TypeError, ValueError):
            pass
    spent_text = minutes(spent)
    if usual:
        if spent > usual * 60:
            timing = f"{spent_text}, longer than the usual {about(usual)}"
        else:
            timing = f"{spent_text} of {about(usual)}"
        return f"{what or task_name}: {state or 'not ready yet'}, {timing} (attempt {attempts} of {retries})"
    limit = f" of ~{max(1, round(allowed / 60))} min" if allowed >= 60 else (f" of ~{int(allowed)} s" if allowed else "")
    if what:
        return f"{what}: {state or 'not ready yet'}, {spent_text}{limit} (attempt {attempts} of {retries})"
    return f"{task_name} - {state or 'not ready yet'}, {spent_text}{limit} (attempt {attempts} of {retries})"


class CallbackModule(DefaultCallback):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "protea.platform.progress"

    def __init__(self) -> None:
        super().__init__()
        self._task_started = time.monotonic()
        self._host_started: dict[str, float] = {}

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_started = time.monotonic()
        self._host_started = {}
        super().v2_playbook_on_task_start(task, is_conditional)

    def v2_runner_on_start(self, host, task):
        self._host_started[host.get_name()] = time.monotonic()
        super().v2_runner_on_start(host, task)

    def _next_item(self, result) -> None:
        # A loop's next item starts when this one ends (the ACM wait loops over two certificates).
        self._host_started[result.host.get_name()] = time.monotonic()

    def v2_runner_item_on_ok(self, result):
        self._next_item(result)
        super().v2_runner_item_on_ok(result)

    def v2_runner_item_on_failed(self, result):
        self._next_item(result)
        super().v2_runner_item_on_failed(result)

    def v2_runner_item_on_skipped(self, result):
        self._next_item(result)
        super().v2_runner_item_on_skipped(result)

    def _declared(self, result) -> Any:
        """The task's protea_progress, its templates rendered with the play's variables for this host."""
        declared = (getattr(result.task, "vars", None) or {}).get(TASK_VAR)
        if not isinstance(declared, dict) or not isinstance(declared.get("what"), str):
            return declared
        if "{{" not in declared["what"] and "{%" not in declared["what"]:
            return declared
        try:
            from ansible.template import Templar

            play = self._play
            variables = play.get_variable_manager().get_vars(play=play, host=result.host, task=result.task)
            return dict(declared, what=str(Templar(loader=play._loader, variables=variables).template(declared["what"])))
        except Exception:  # pylint: disable=broad-except  # words for the screen: never fail the run over them
            return {k: v for k, v in declared.items() if k != "what"}

    def v2_runner_retry(self, result) -> None:
        task_name = result.task_name or result.task
        res = result.result
        attempts, retries = int(res.get("attempts", 0)), int(res.get("retries", 0))
        try:
            allowed = float(result.task.delay or 0) * retries
        except (TypeError, ValueError, AttributeError):
            allowed = 0.0
        fields = result.task_fields or {}
        actions = tuple(str(a) for a in (getattr(result.task, "resolved_action", None), fields.get("action")) if a)
        args = fields.get("args") if isinstance(fields.get("args"), dict) else {}
        started = self._host_started.get(result.host.get_name(), self._task_started)
        msg = "Waiting: [%s]: %s" % (self.host_label(result), describe(
            actions, res, args, self._declared(result), no_log=bool(res.get("_ansible_no_log")), task_name=str(task_name),
            spent=time.monotonic() - started, allowed=allowed, attempts=attempts, retries=retries))
        if self._run_is_verbose(result, verbosity=2):
            msg += " Result was: %s" % self._dump_results(res)
        self._display.display(msg, color=C.COLOR_DEBUG)
