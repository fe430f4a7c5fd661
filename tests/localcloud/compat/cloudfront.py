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
]
