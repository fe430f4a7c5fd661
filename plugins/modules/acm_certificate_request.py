#!/usr/bin/python
# Copyright: Protea contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Request (or find) a public ACM certificate validated through DNS.

Why a project module: amazon.aws.acm_certificate 10.x only imports certificates;
no bundled module calls RequestCertificate.
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: acm_certificate_request
short_description: Request a DNS-validated ACM certificate once and return its validation records
version_added: 0.1.0
description:
  - Looks for a certificate with the same domain name, the same set of subject alternative names
    and the same C(Name) tag (pending or issued); requests one (DNS validation) only when none exists.
  - Returns the ARN, the status and the DNS validation records. Does not wait for validation.
  - Supports check mode (a certificate still to be requested reports changed, no ARN).
options:
  domain_name:
    description: The certificate's domain name.
    type: str
    required: true
  subject_alternative_names:
    description: Further names (the domain name is added to the set as ACM does).
    type: list
    elements: str
    default: []
  tags:
    description: Tags for a new certificate; C(Name) identifies the certificate on later runs.
    type: dict
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author: Protea contributors
"""

EXAMPLES = r"""
- name: Certificate for CloudFront (must live in us-east-1)
  protea.platform.acm_certificate_request:
    region: us-east-1
    domain_name: shop.example.co.za
    subject_alternative_names: [www.shop.example.co.za]
    tags: {Name: shop-prod-cloudfront}
"""

RETURN = r"""
certificate_arn:
  description: The certificate ARN (empty in check mode before the first request).
  returned: always
  type: str
status:
  description: The certificate status (PENDING_VALIDATION, ISSUED, ...).
  returned: always
  type: str
validation_records:
  description: DNS validation records (name, type, value), one per distinct record.
  returned: always
  type: list
  elements: dict
"""

import hashlib
import time

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

USABLE = ["PENDING_VALIDATION", "ISSUED"]


def find(client, domain, names, name_tag):
    paginator = client.get_paginator("list_certificates")
    for page in paginator.paginate(CertificateStatuses=USABLE):
        for summary in page["CertificateSummaryList"]:
            if summary.get("DomainName") != domain:
                continue
            arn = summary["CertificateArn"]
            cert = client.describe_certificate(aws_retry=True, CertificateArn=arn)["Certificate"]
            if cert.get("Type") != "AMAZON_ISSUED" or set(cert.get("SubjectAlternativeNames", [])) | {domain} != names:
                continue
            tags = {t["Key"]: t.get("Value", "") for t in client.list_tags_for_certificate(aws_retry=True, CertificateArn=arn)["Tags"]}
            if tags.get("Name") == name_tag:
                return cert
    return None


def records(cert):
    seen = {}
    for option in cert.get("DomainValidationOptions", []):
        rr = option.get("ResourceRecord")
        if rr:
            seen[rr["Name"]] = {"name": rr["Name"], "type": rr["Type"], "value": rr["Value"]}
    return [seen[k] for k in sorted(seen)]


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            domain_name=dict(type="str", required=True),
            subject_alternative_names=dict(type="list", elements="str", default=[]),
            tags=dict(type="dict", required=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not p["tags"].get("Name"):
        module.fail_json(msg="tags must include Name (it identifies the certificate on later runs)")
    client = module.client("acm", retry_decorator=AWSRetry.jittered_backoff())
    domain = p["domain_name"]
    names = set(p["subject_alternative_names"]) | {domain}
    try:
        cert = find(client, domain, names, p["tags"]["Name"])
        changed = cert is None
        if changed and module.check_mode:
            module.exit_json(changed=True, certificate_arn="", status="", validation_records=[])
        if changed:
            token = hashlib.sha256(("|".join(sorted(names)) + p["tags"]["Name"]).encode()).hexdigest()[:32]
            arn = client.request_certificate(
                aws_retry=True,
                DomainName=domain,
                SubjectAlternativeNames=sorted(names - {domain}) or [domain],
                ValidationMethod="DNS",
                IdempotencyToken=token,
                Tags=[{"Key": k, "Value": str(v)} for k, v in sorted(p["tags"].items())],
            )["CertificateArn"]
            # ACM fills in the validation records a few seconds after the request.
            for _attempt in range(30):
                cert = client.describe_certificate(aws_retry=True, CertificateArn=arn)["Certificate"]
                if len(records(cert)) and all(o.get("ResourceRecord") for o in cert.get("DomainValidationOptions", [])):
                    break
                time.sleep(2)
    except Exception as e:  # noqa: BLE001 - reported with the AWS error details
        module.fail_json_aws(e, msg=f"Could not request or find the certificate for {domain}")
    module.exit_json(changed=changed, certificate_arn=cert["CertificateArn"], status=cert["Status"],
                     validation_records=records(cert))


if __name__ == "__main__":
    main()
