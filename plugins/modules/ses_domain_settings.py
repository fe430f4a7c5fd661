#!/usr/bin/python
# Copyright: Protea contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SES (v1) Easy DKIM, custom MAIL FROM domain and a configuration set with an SNS event destination.

Why a project module: community.aws.ses_identity creates the identity and its notification
topics only; no bundled module turns on Easy DKIM, sets a MAIL FROM domain or manages
configuration sets and their event destinations.
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: ses_domain_settings
short_description: Easy DKIM, MAIL FROM domain and an event-publishing configuration set for an SES domain
version_added: 0.1.0
description:
  - Reads each setting first and changes only what differs, so a second run changes nothing.
  - Returns the three Easy DKIM tokens (for the C(<token>._domainkey) CNAME records).
  - Supports check mode.
options:
  identity:
    description: The verified (or pending) domain identity.
    type: str
    required: true
  dkim_enabled:
    description: Easy DKIM signing.
    type: bool
    default: true
  mail_from_domain:
    description: Custom MAIL FROM domain (a subdomain of O(identity)); empty to leave unset.
    type: str
    default: ""
  mail_from_behavior_on_mx_failure:
    description: What SES does when the MAIL FROM MX record is missing.
    type: str
    choices: [UseDefaultValue, RejectMessage]
    default: UseDefaultValue
  configuration_set:
    description: Configuration set name; empty for none.
    type: str
    default: ""
  default_configuration_set:
    description:
      - Make O(configuration_set) the identity's default (SES v2 PutEmailIdentityConfigurationSetAttributes),
        so SES applies it, and its event destinations, to every message from the identity that names no
        configuration set itself (for example SMTP relays that add no X-SES-CONFIGURATION-SET header).
    type: bool
    default: false
  event_destination:
    description: SNS event destination of the configuration set.
    type: dict
    suboptions:
      name:
        description: Destination name.
        type: str
        required: true
      topic_arn:
        description: SNS topic receiving the events.
        type: str
        required: true
      events:
        description: Event types (bounce, complaint, ...).
        type: list
        elements: str
        required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author: Protea contributors
"""

EXAMPLES = r"""
- name: DKIM, MAIL FROM and bounce/complaint events
  protea.platform.ses_domain_settings:
    identity: shop.example.co.za
    mail_from_domain: mail.shop.example.co.za
    configuration_set: shop-prod
    event_destination: {name: sns, topic_arn: "arn:aws:sns:af-south-1:123456789012:shop-prod-ses", events: [bounce, complaint]}
"""

RETURN = r"""
dkim_tokens:
  description: Easy DKIM tokens (empty in check mode before DKIM was first enabled).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            identity=dict(type="str", required=True),
            dkim_enabled=dict(type="bool", default=True),
            mail_from_domain=dict(type="str", default=""),
            mail_from_behavior_on_mx_failure=dict(type="str", default="UseDefaultValue",
                                                  choices=["UseDefaultValue", "RejectMessage"]),
            configuration_set=dict(type="str", default=""),
            default_configuration_set=dict(type="bool", default=False),
            event_destination=dict(type="dict", options=dict(
                name=dict(type="str", required=True),
                topic_arn=dict(type="str", required=True),
                events=dict(type="list", elements="str", required=True),
            )),
        ),
        supports_check_mode=True,
    )
    p = module.params
    ses = module.client("ses", retry_decorator=AWSRetry.jittered_backoff())
    identity = p["identity"]
    changes = []
    check = module.check_mode
    try:
        dkim = ses.get_identity_dkim_attributes(aws_retry=True, Identities=[identity])["DkimAttributes"].get(identity, {})
        tokens = dkim.get("DkimTokens") or []
        if p["dkim_enabled"] and not tokens:
            changes.append("dkim_tokens")
            if not check:
                tokens = ses.verify_domain_dkim(aws_retry=True, Domain=identity)["DkimTokens"]
        if bool(dkim.get("DkimEnabled")) != p["dkim_enabled"] or (p["dkim_enabled"] and "dkim_tokens" in changes):
            changes.append("dkim_enabled")
            if not check:
                ses.set_identity_dkim_enabled(aws_retry=True, Identity=identity, DkimEnabled=p["dkim_enabled"])

        mail = ses.get_identity_mail_from_domain_attributes(aws_retry=True, Identities=[identity])[
            "MailFromDomainAttributes"].get(identity, {})
        have = (mail.get("MailFromDomain", ""), mail.get("BehaviorOnMXFailure", "UseDefaultValue") if mail.get("MailFromDomain") else "")
        want = (p["mail_from_domain"], p["mail_from_behavior_on_mx_failure"] if p["mail_from_domain"] else "")
        if have != want:
            changes.append("mail_from_domain")
            if not check:
                args = dict(Identity=identity)
                if p["mail_from_domain"]:
                    args.update(MailFromDomain=p["mail_from_domain"], BehaviorOnMXFailure=p["mail_from_behavior_on_mx_failure"])
                ses.set_identity_mail_from_domain(aws_retry=True, **args)

        name = p["configuration_set"]
        if name:
            try:
                found = ses.describe_configuration_set(aws_retry=True, ConfigurationSetName=name,
                                                       ConfigurationSetAttributeNames=["eventDestinations"])
                destinations = [d for d in found.get("EventDestinations") or [] if d]
            except is_boto3_error_code("ConfigurationSetDoesNotExist"):
                changes.append("configuration_set")
                destinations = []
                if not check:
                    ses.create_configuration_set(aws_retry=True, ConfigurationSet={"Name": name})
            dest = p["event_destination"]
            if dest:
                wanted = {
                    "Name": dest["name"],
                    "Enabled": True,
                    "MatchingEventTypes": sorted(dest["events"]),
                    "SNSDestination": {"TopicARN": dest["topic_arn"]},
                }
                current = next((d for d in destinations if d.get("Name") == dest["name"]), None)
                if current is None:
                    changes.append("event_destination")
                    if not check:
                        ses.create_configuration_set_event_destination(
                            aws_retry=True, ConfigurationSetName=name, EventDestination=wanted)
                elif (sorted(current.get("MatchingEventTypes", [])) != wanted["MatchingEventTypes"]
                      or current.get("SNSDestination", {}).get("TopicARN") != dest["topic_arn"]
                      or not current.get("Enabled", True)):
                    changes.append("event_destination")
                    if not check:
                        ses.update_configuration_set_event_destination(
                            aws_retry=True, ConfigurationSetName=name, EventDestination=wanted)
            if p["default_configuration_set"]:
                sesv2 = module.client("sesv2", retry_decorator=AWSRetry.jittered_backoff())
                try:
                    current_default = sesv2.get_email_identity(aws_retry=True, EmailIdentity=identity).get(
                        "ConfigurationSetName")
                except is_boto3_error_code("NotFoundException"):
                    current_default = None  # check mode before the identity exists
                if current_default != name:
                    changes.append("default_configuration_set")
                    if not check:
                        sesv2.put_email_identity_configuration_set_attributes(
                            aws_retry=True, EmailIdentity=identity, ConfigurationSetName=name)
    except Exception as e:  # noqa: BLE001 - reported with the AWS error details
        module.fail_json_aws(e, msg=f"Could not converge the SES settings of {identity}")
    module.exit_json(changed=bool(changes), changes=changes, dkim_tokens=tokens)


if __name__ == "__main__":
    main()
