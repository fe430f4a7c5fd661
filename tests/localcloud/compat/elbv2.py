"""Elastic Load Balancing v2: the default attributes AWS reports for a new ALB / target group, and
listeners only on issued certificates."""
from __future__ import annotations

from tests.localcloud.compat import Patch
from tests.localcloud.compat._states import acm_certificate

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


# What ELB answers for an ACM certificate that is not ISSUED yet (still PENDING_VALIDATION): the
# wording is generic, the cause is the validation a playbook did not wait for.
UNSUPPORTED_CERTIFICATE = ("The certificate '{arn}' must have a fully-qualified domain name, a supported signature, "
                           "and a supported key size.")


def _check_certificates(arns: list[str]) -> None:
    from moto.elbv2.exceptions import ELBClientError

    for arn in arns:
        if ":acm:" not in str(arn or ""):
            continue  # an IAM server certificate: no validation state
        cert = acm_certificate(arn)
        if cert is None:
            raise ELBClientError("CertificateNotFound", f"Certificate '{arn}' not found")
        if cert.status != "ISSUED":
            raise ELBClientError("UnsupportedCertificate", UNSUPPORTED_CERTIFICATE.format(arn=arn))


def _arns(certificates: object) -> list[str]:
    if isinstance(certificates, str):
        return [certificates]
    return [c.get("CertificateArn") if isinstance(c, dict) else c for c in (certificates or [])]  # type: ignore[union-attr]


def _apply_listener_certificate_issued() -> None:
    from moto.elbv2.models import ELBv2Backend

    create, modify, add = (ELBv2Backend.create_listener, ELBv2Backend.modify_listener,
                           ELBv2Backend.add_listener_certificates)

    def create_listener(self, load_balancer_arn, protocol, port, ssl_policy, certificate, *args, **kwargs):  # type: ignore[no-untyped-def]
        _check_certificates(_arns(certificate))
        return create(self, load_balancer_arn, protocol, port, ssl_policy, certificate, *args, **kwargs)

    def modify_listener(self, arn, port=None, protocol=None, ssl_policy=None, certificates=None, *args, **kwargs):  # type: ignore[no-untyped-def]
        _check_certificates(_arns(certificates))
        return modify(self, arn, port, protocol, ssl_policy, certificates, *args, **kwargs)

    def add_listener_certificates(self, arn, certificates):  # type: ignore[no-untyped-def]
        _check_certificates(_arns(certificates))
        return add(self, arn, certificates)

    ELBv2Backend.create_listener = create_listener  # type: ignore[method-assign]
    ELBv2Backend.modify_listener = modify_listener  # type: ignore[method-assign]
    ELBv2Backend.add_listener_certificates = add_listener_certificates  # type: ignore[method-assign]


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
    Patch(
        name="elbv2-listener-certificate-issued",
        api="elasticloadbalancing:CreateListener, ModifyListener, AddListenerCertificates",
        moto_does="Accepts any certificate ARN on an HTTPS listener, an ACM certificate still "
        "PENDING_VALIDATION or one that does not exist included.",
        aws_does="Refuses an ACM certificate that is not ISSUED with UnsupportedCertificate (\"must have a "
        "fully-qualified domain name, a supported signature, and a supported key size\"), and an unknown one "
        "with CertificateNotFound; a playbook must wait for the DNS validation first.",
        doc="Elastic Load Balancing API Reference, CreateListener (Errors: CertificateNotFound, "
        "UnsupportedCertificate); ACM User Guide, Troubleshoot certificate validation: "
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateListener.html",
        apply=_apply_listener_certificate_issued,
    ),
]
