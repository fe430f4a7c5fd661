"""SES (v1 API): DKIM on/off, identity sending-authorization policies, notification topics;
(v2 API): an identity's default configuration set."""
from __future__ import annotations

from typing import Any

from tests.localcloud.compat import Patch


def _identity(resp: Any, name: str) -> Any:
    """moto keeps v1 and v2 identities in one store (email_identities)."""
    ident = resp.backend.email_identities.get(name)
    if ident is None:
        from moto.ses.exceptions import InvalidParameterValue

        # Sending-authorization and DKIM calls on an unknown identity fail on AWS too.
        raise InvalidParameterValue(f"Identity {name} does not exist.")
    return ident


def _apply_dkim_enabled() -> None:
    from moto.core.responses import EmptyResult
    from moto.ses.responses import EmailResponse

    def set_identity_dkim_enabled(self: Any) -> Any:
        ident = _identity(self, self._get_param("Identity"))
        ident.protea_dkim_enabled = self._get_bool_param("DkimEnabled", False)
        return EmptyResult()

    original_get = EmailResponse.get_identity_dkim_attributes

    def get_identity_dkim_attributes(self: Any) -> Any:
        result = original_get(self)
        attrs = result.result.get("DkimAttributes", {}) if hasattr(result, "result") else {}
        for name, data in attrs.items():
            ident = self.backend.email_identities.get(name)
            if ident is not None and hasattr(ident, "protea_dkim_enabled"):
                data["DkimEnabled"] = ident.protea_dkim_enabled
        return result

    EmailResponse.set_identity_dkim_enabled = set_identity_dkim_enabled  # type: ignore[attr-defined]
    EmailResponse.get_identity_dkim_attributes = get_identity_dkim_attributes  # type: ignore[method-assign]


def _apply_identity_policies() -> None:
    from moto.core.responses import ActionResult, EmptyResult
    from moto.ses.responses import EmailResponse

    def put_identity_policy(self: Any) -> Any:
        ident = _identity(self, self._get_param("Identity"))
        ident.policies[self._get_param("PolicyName")] = self._get_param("Policy")
        return EmptyResult()

    def get_identity_policies(self: Any) -> Any:
        ident = _identity(self, self._get_param("Identity"))
        names = self._get_param("PolicyNames") or []
        return ActionResult({"Policies": {n: ident.policies[n] for n in names if n in ident.policies}})

    def list_identity_policies(self: Any) -> Any:
        ident = _identity(self, self._get_param("Identity"))
        return ActionResult({"PolicyNames": list(ident.policies)})

    def delete_identity_policy(self: Any) -> Any:
        ident = _identity(self, self._get_param("Identity"))
        ident.policies.pop(self._get_param("PolicyName"), None)
        return EmptyResult()

    for fn in (put_identity_policy, get_identity_policies, list_identity_policies, delete_identity_policy):
        setattr(EmailResponse, fn.__name__, fn)


def _apply_notification_topics() -> None:
    from moto.core.responses import EmptyResult
    from moto.ses.models import SESBackend
    from moto.ses.responses import EmailResponse

    original = SESBackend.get_identity_notification_attributes

    def get_identity_notification_attributes(self: Any, identities: list[str]) -> dict[str, dict[str, Any]]:
        response = original(self, identities)
        for identity, attrs in response.items():
            config = self.sns_topics.get(identity, {})
            for kind in ("Bounce", "Complaint", "Delivery"):
                if config.get(kind):
                    attrs[f"{kind}Topic"] = config[kind]
                attrs[f"HeadersIn{kind}NotificationsEnabled"] = bool(config.get(f"protea_headers_{kind}", False))
        return response

    def set_identity_headers_in_notifications_enabled(self: Any) -> Any:
        identity = self._get_param("Identity")
        kind = self._get_param("NotificationType")
        enabled = self._get_bool_param("Enabled", False)
        self.backend.sns_topics.setdefault(identity, {})[f"protea_headers_{kind}"] = enabled
        return EmptyResult()

    SESBackend.get_identity_notification_attributes = get_identity_notification_attributes  # type: ignore[method-assign]
    EmailResponse.set_identity_headers_in_notifications_enabled = set_identity_headers_in_notifications_enabled  # type: ignore[attr-defined]


def _apply_default_configuration_set() -> None:
    import json

    from moto.sesv2 import urls
    from moto.sesv2.responses import SESV2Response

    def not_found(message: str) -> Exception:
        from moto.core.exceptions import JsonRESTError

        err = JsonRESTError("NotFoundException", message)
        err.code = 404
        return err

    def put_email_identity_configuration_set_attributes(self: Any) -> str:
        from urllib.parse import unquote

        name = unquote(self.path.split("/identities/", 1)[1].split("/", 1)[0])
        backend = self.sesv2_backend.core_backend
        ident = backend.email_identities.get(name)
        if ident is None:
            raise not_found(f"Email identity {name} does not exist.")
        config_set = self._get_param("ConfigurationSetName")
        if config_set and config_set not in backend.config_sets:
            raise not_found(f"Configuration set {config_set} does not exist.")
        ident.configuration_set_name = config_set or None
        return json.dumps({})

    SESV2Response.put_email_identity_configuration_set_attributes = (  # type: ignore[attr-defined]
        put_email_identity_configuration_set_attributes)
    urls.url_paths.setdefault("{0}/v2/email/identities/(?P<EmailIdentity>[^/]+)/configuration-set$",
                              SESV2Response.dispatch)


PATCHES = [
    Patch(
        name="ses-set-identity-dkim-enabled",
        api="ses:SetIdentityDkimEnabled, GetIdentityDkimAttributes",
        moto_does="SetIdentityDkimEnabled is not implemented; GetIdentityDkimAttributes always says DkimEnabled=true.",
        aws_does="Turns Easy DKIM signing on or off for a verified identity; GetIdentityDkimAttributes reports it.",
        doc="Amazon SES API Reference (v1), SetIdentityDkimEnabled: "
        "https://docs.aws.amazon.com/ses/latest/APIReference/API_SetIdentityDkimEnabled.html",
        apply=_apply_dkim_enabled,
    ),
    Patch(
        name="ses-identity-policies",
        api="ses:PutIdentityPolicy, GetIdentityPolicies, ListIdentityPolicies, DeleteIdentityPolicy",
        moto_does="Not implemented in the v1 API (only SES v2's email identity policies exist); "
        "community.aws.ses_identity_policy fails.",
        aws_does="Stores named sending-authorization policies on an identity, returns, lists and deletes them.",
        doc="Amazon SES API Reference (v1), PutIdentityPolicy / GetIdentityPolicies: "
        "https://docs.aws.amazon.com/ses/latest/APIReference/API_PutIdentityPolicy.html",
        apply=_apply_identity_policies,
    ),
    Patch(
        name="ses-identity-notification-topics",
        api="ses:GetIdentityNotificationAttributes, SetIdentityHeadersInNotificationsEnabled",
        moto_does="Stores SetIdentityNotificationTopic but never returns BounceTopic/ComplaintTopic/DeliveryTopic; "
        "SetIdentityHeadersInNotificationsEnabled is not implemented. ses_identity re-sets topics every run.",
        aws_does="Returns the identity's BounceTopic, ComplaintTopic, DeliveryTopic, ForwardingEnabled and "
        "HeadersIn{Bounce,Complaint,Delivery}NotificationsEnabled.",
        doc="Amazon SES API Reference (v1), IdentityNotificationAttributes: "
        "https://docs.aws.amazon.com/ses/latest/APIReference/API_IdentityNotificationAttributes.html",
        apply=_apply_notification_topics,
    ),
    Patch(
        name="ses-identity-default-configuration-set",
        api="sesv2:PutEmailIdentityConfigurationSetAttributes, GetEmailIdentity",
        moto_does="PutEmailIdentityConfigurationSetAttributes is not served (404): an identity's default "
        "configuration set can only be given when the identity is created through SES v2.",
        aws_does="Sets (or, without a name, removes) the configuration set SES applies to every message sent "
        "from the identity that names none; GetEmailIdentity returns it as ConfigurationSetName; an unknown "
        "identity or configuration set is NotFoundException.",
        doc="Amazon SES API v2 Reference, PutEmailIdentityConfigurationSetAttributes: "
        "https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_PutEmailIdentityConfigurationSetAttributes.html",
        apply=_apply_default_configuration_set,
    ),
]
