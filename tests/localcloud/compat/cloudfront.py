"""CloudFront: GetDistributionConfig / GetDistribution in the shape AWS returns."""
from __future__ import annotations

from typing import Any

from tests.localcloud.compat import Patch


def _apply_config_shape() -> None:
    from moto.cloudfront import models

    def _clean_behaviour(self: Any) -> None:
        # Unset optional ids are absent on AWS, not empty strings.
        for attr in ("cache_policy_id", "origin_request_policy_id", "realtime_log_config_arn",
                     "response_headers_policy_id"):
            if not getattr(self, attr, None):
                setattr(self, attr, None)
        # A behaviour with a cache policy has no legacy ForwardedValues/TTLs on AWS.
        if self.cache_policy_id:
            self.forwarded_values = self.min_ttl = self.default_ttl = self.max_ttl = None

    for cls in (models.DefaultCacheBehaviour, models.CacheBehaviour):
        original = cls.__init__

        def __init__(self: Any, config: dict[str, Any], _original: Any = original) -> None:
            _original(self, config)
            _clean_behaviour(self)

        cls.__init__ = __init__  # type: ignore[method-assign]

    for cls in (models.TrustedSigners, models.TrustedKeyGroups):
        original = cls.__init__

        def __init__(self: Any, config: dict[str, Any], _original: Any = original) -> None:
            _original(self, config)
            if not self.quantity:
                self.items = None  # "Items" is omitted when Quantity is 0

        cls.__init__ = __init__  # type: ignore[method-assign]


# How long a distribution stays InProgress after it is created or updated. AWS takes minutes; a
# minute here is longer than the next steps of a playbook that does not wait (rotate.yml converges
# the ALB again within ~40 s), so such a playbook is caught. PROTEA_CLOUDFRONT_DEPLOY_SECONDS overrides.
DEPLOY_SECONDS = 60.0


def _deploy_seconds() -> float:
    import os

    from tests.localcloud import delays

    given = os.environ.get("PROTEA_CLOUDFRONT_DEPLOY_SECONDS")
    return float(given) if given else delays.seconds("cloudfront_deploy", DEPLOY_SECONDS)


def _apply_deployment_time() -> None:
    import datetime

    from moto.cloudfront import models
    from moto.moto_api import state_manager

    state_manager.register_default_transition("cloudfront::distribution",
                                              {"progression": "time", "seconds": _deploy_seconds()})
    original = models.CloudFrontBackend.update_distribution

    def update_distribution(self: Any, dist_config: dict[str, Any], _id: str, if_match: bool) -> Any:
        result = original(self, dist_config, _id, if_match)
        dist = self.distributions[_id]
        dist.status = "InProgress"
        dist._time_progressed = datetime.datetime.now()  # pylint: disable=protected-access
        return result

    models.CloudFrontBackend.update_distribution = update_distribution


PATCHES = [
    Patch(
        name="cloudfront-config-shape",
        api="cloudfront:GetDistributionConfig, GetDistribution, CreateDistribution, UpdateDistribution",
        moto_does="Returns CachePolicyId, OriginRequestPolicyId and RealtimeLogConfigArn as empty strings when "
        "they were never set, TrustedSigners/TrustedKeyGroups with an empty Items list, and legacy ForwardedValues/MinTTL/DefaultTTL/MaxTTL "
        "on behaviours that use a cache policy; "
        "cloudfront_distribution's config never equals the returned one and it updates on every run.",
        aws_does="Omits optional elements that were not set, and omits Items when Quantity is 0 "
        "(TrustedSigners {Enabled: false, Quantity: 0}); a behaviour with a CachePolicyId has no "
        "ForwardedValues or TTLs.",
        doc="Amazon CloudFront API Reference, GetDistributionConfig / CacheBehavior / TrustedSigners: "
        "https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CacheBehavior.html",
        apply=_apply_config_shape,
    ),
    Patch(
        name="cloudfront-deployment-time",
        api="cloudfront:CreateDistribution, UpdateDistribution, GetDistribution",
        moto_does="Reports an updated distribution Deployed at once (an update never goes back to InProgress), "
        "so nothing shows that edges keep serving the old configuration for a while.",
        aws_does="A created or updated distribution is InProgress until every edge serves the new configuration "
        "(minutes), then Deployed; until then some edges still use the old one (here: InProgress for "
        f"{DEPLOY_SECONDS:g} s, PROTEA_CLOUDFRONT_DEPLOY_SECONDS).",
        doc="Amazon CloudFront Developer Guide, Updating a distribution: "
        "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/HowToUpdateDistribution.html",
        apply=_apply_deployment_time,
    ),
]
