"""Elastic Load Balancing v2: the default attributes AWS reports for a new ALB / target group."""
from __future__ import annotations

from tests.localcloud.compat import Patch

# A new Application Load Balancer's attributes as DescribeLoadBalancerAttributes lists them
# (ELB User Guide, "Load balancer attributes" for Application Load Balancers).
ALB_DEFAULTS = {
    "access_logs.s3.enabled": "false",
    "access_logs.s3.bucket": "",
    "access_logs.s3.prefix": "",
    "connection_logs.s3.enabled": "false",
    "connection_logs.s3.bucket": "",
    "connection_logs.s3.prefix": "",
    "health_check_logs.s3.enabled": "false",
    "health_check_logs.s3.bucket": "",
    "health_check_logs.s3.prefix": "",
    "client_keep_alive.seconds": "3600",
    "deletion_protection.enabled": "false",
    "idle_timeout.timeout_seconds": "60",
    "load_balancing.cross_zone.enabled": "true",
    "routing.http.desync_mitigation_mode": "defensive",
    "routing.http.drop_invalid_header_fields.enabled": "false",
    "routing.http.preserve_host_header.enabled": "false",
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "false",
    "routing.http.xff_client_port.enabled": "false",
    "routing.http.xff_header_processing.mode": "append",
    "routing.http2.enabled": "true",
    "waf.fail_open.enabled": "false",
    "zonal_shift.config.enabled": "false",
}

# Target group attributes of an HTTP/HTTPS instance/ip target group (ELB User Guide,
# "Target group attributes").
TG_HTTP_DEFAULTS = {
    "deregistration_delay.timeout_seconds": "300",
    "stickiness.enabled": "false",
    "stickiness.type": "lb_cookie",
    "stickiness.lb_cookie.duration_seconds": "86400",
    "stickiness.app_cookie.cookie_name": "",
    "stickiness.app_cookie.duration_seconds": "86400",
    "load_balancing.algorithm.type": "round_robin",
    "load_balancing.algorithm.anomaly_mitigation": "off",
    "load_balancing.cross_zone.enabled": "use_load_balancer_configuration",
    "slow_start.duration_seconds": "0",
    "target_group_health.dns_failover.minimum_healthy_targets.count": "1",
    "target_group_health.dns_failover.minimum_healthy_targets.percentage": "off",
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count": "1",
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": "off",
}


def _apply_alb_defaults() -> None:
    from moto.elbv2 import models

    cls = models.FakeLoadBalancer
    original = cls.__init__
    cls.VALID_ATTRS = set(cls.VALID_ATTRS) | set(ALB_DEFAULTS)

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        if self.type == "application":
            for key, value in ALB_DEFAULTS.items():
                # moto's own defaults are the same keys with the same meaning; AWS's values win.
                self.attrs[key] = value

    cls.__init__ = __init__  # type: ignore[method-assign]


def _apply_tg_defaults() -> None:
    from moto.elbv2 import models

    cls = models.FakeTargetGroup
    original = cls.__init__

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        if self.protocol in ("HTTP", "HTTPS") and self.target_type in ("instance", "ip"):
            for key, value in TG_HTTP_DEFAULTS.items():
                self.attributes.setdefault(key, value)
            # moto keeps some as ints; AWS attribute values are strings.
            for key in ("deregistration_delay.timeout_seconds", "slow_start.duration_seconds"):
                self.attributes[key] = str(self.attributes[key])

    cls.__init__ = __init__  # type: ignore[method-assign]


PATCHES = [
    Patch(
        name="elbv2-alb-default-attributes",
        api="elasticloadbalancing:DescribeLoadBalancerAttributes",
        moto_does="Lists only access_logs.s3.bucket/prefix, deletion_protection.enabled and "
        "load_balancing.cross_zone.enabled=false; amazon.aws.elb_application_lb fails with "
        "KeyError on access_logs_s3_enabled / idle_timeout_timeout_seconds.",
        aws_does="A new ALB reports every attribute with its default: access_logs.s3.enabled=false, "
        "idle_timeout.timeout_seconds=60, routing.http2.enabled=true, "
        "routing.http.desync_mitigation_mode=defensive, client_keep_alive.seconds=3600, "
        "load_balancing.cross_zone.enabled=true, ...",
        doc="Elastic Load Balancing, Application Load Balancers: Load balancer attributes: "
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#load-balancer-attributes",
        apply=_apply_alb_defaults,
    ),
    Patch(
        name="elbv2-target-group-default-attributes",
        api="elasticloadbalancing:DescribeTargetGroupAttributes",
        moto_does="Omits stickiness.lb_cookie.duration_seconds and stickiness.app_cookie.* for HTTP "
        "target groups (community.aws.elb_target_group fails with KeyError) and returns some "
        "values as numbers.",
        aws_does="Reports stickiness.lb_cookie.duration_seconds=86400, "
        "stickiness.app_cookie.cookie_name=\"\", stickiness.app_cookie.duration_seconds=86400, "
        "the target_group_health.* defaults, all as strings.",
        doc="Elastic Load Balancing, Application Load Balancers: Target group attributes: "
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-attributes.html",
        apply=_apply_tg_defaults,
    ),
]
