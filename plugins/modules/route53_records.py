#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""Many Route 53 records of one hosted zone, upserted in one change batch.

Why a project module: amazon.aws.route53 manages one record per module run (one Python process,
one boto3 client, one ListResourceRecordSets each: about 1 s per record; the dns role has 14).
This module lists the zone once, compares each record, and sends one ChangeResourceRecordSets
batch of UPSERTs for the records that are missing or differ. It never deletes a record.
"""
from __future__ import annotations

DOCUMENTATION = r"""
module: route53_records
short_description: Upsert a list of Route 53 records in one hosted zone, in one change batch
version_added: 0.1.0
description:
  - Lists the zone's records once and sends one C(ChangeResourceRecordSets) batch that upserts every record
    of O(records) that is missing or differs (values, TTL, alias target). Other records are left alone; nothing is deleted.
  - Supports check mode and diff mode.
options:
  zone_id:
    description: The hosted zone's id. One of O(zone_id) and O(zone) is required.
    type: str
  zone:
    description: The public hosted zone's name, when its id is not known (e.g. a role run alone with tags).
    type: str
  ttl:
    description: The TTL of records that are not aliases and set none.
    type: int
    default: 300
  records:
    description:
      - The records, each with V(name) (or V(record)), V(type) and V(value) (a string or a list of strings).
      - Optional V(ttl); for an alias record V(alias_zone) (the target's hosted zone id, V(value) is its DNS name)
        and V(alias_evaluate_target_health) (default V(false)).
    type: list
    elements: dict
    required: true
  wait:
    description: Wait until the change batch is INSYNC on all Route 53 servers.
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - Protea founding engineers
"""

EXAMPLES = r"""
- name: SES and site records
  protea.platform.route53_records:
    zone: shopper.example.com
    records:
      - {name: mail.shopper.example.com, type: MX, value: "10 feedback-smtp.eu-west-1.amazonses.com"}
      - {name: shopper.example.com, type: A, value: d111.cloudfront.net, alias_zone: Z2FDTNDATAQYW2}
"""

RETURN = r"""
records:
  description: Each record of O(records) with what the run did to it.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The record name (fully qualified, with the final dot).
      type: str
    type:
      description: The record type.
      type: str
    result:
      description: V(created), V(updated) or V(unchanged) (in check mode, what would happen).
      type: str
zone_id:
  description: The hosted zone's id.
  returned: always
  type: str
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# Types whose values are host names: Route 53 compares them without case, with or without the final dot.
_HOST_VALUES = {"CNAME", "MX", "NS", "PTR", "SRV"}


def fqdn(name):
    """Lower case, one final dot, Route 53's octal escapes (\\052 for '*') decoded."""
    return str(name).replace("\\052", "*").lower().rstrip(".") + "."


def _host(value, rtype):
    return str(value).lower().rstrip(".") if rtype in _HOST_VALUES else str(value)


def desired(record, ttl):
    """The ResourceRecordSet one record of O(records) asks for."""
    name, rtype = record.get("name") or record.get("record"), record.get("type")
    if not name or not rtype or record.get("value") in (None, "", []):
        raise ValueError(f"record {record!r} needs name, type and value")
    values = record["value"] if isinstance(record["value"], list) else [record["value"]]
    out = {"Name": fqdn(name), "Type": str(rtype).upper()}
    if record.get("alias_zone"):
        out["AliasTarget"] = {"HostedZoneId": record["alias_zone"], "DNSName": str(values[0]),
                              "EvaluateTargetHealth": bool(record.get("alias_evaluate_target_health", False))}
    else:
        out["TTL"] = int(record.get("ttl") or ttl)
        out["ResourceRecords"] = [{"Value": str(v)} for v in values]
    return out


def comparable(rrset):
    """A record set reduced to what this module manages, normalised as Route 53 compares it."""
    rtype = rrset["Type"]
    out = {"Name": fqdn(rrset["Name"]), "Type": rtype}
    alias = rrset.get("AliasTarget")
    if alias:
        out["AliasTarget"] = (alias["HostedZoneId"], fqdn(alias["DNSName"]), bool(alias.get("EvaluateTargetHealth")))
    else:
        out["TTL"] = rrset.get("TTL")
        out["ResourceRecords"] = sorted(_host(r["Value"], rtype) for r in rrset.get("ResourceRecords", []))
    return out


def _zone_id(module, client):
    if module.params["zone_id"]:
        return module.params["zone_id"].split("/")[-1]
    name = fqdn(module.params["zone"])
    zones = client.list_hosted_zones_by_name(DNSName=name, aws_retry=True)["HostedZones"]
    public = [z["Id"].split("/")[-1] for z in zones if fqdn(z["Name"]) == name and not z.get("Config", {}).get("PrivateZone")]
    if len(public) != 1:
        module.fail_json(msg=f"zone {module.params['zone']}: {len(public)} public hosted zones have that name; "
                             "create it first (role dns) or give zone_id")
    return public[0]


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(zone_id=dict(type="str"), zone=dict(type="str"), ttl=dict(type="int", default=300),
                           records=dict(type="list", elements="dict", required=True), wait=dict(type="bool", default=False)),
        required_one_of=[("zone_id", "zone")],
        supports_check_mode=True,
    )
    try:
        wanted = [desired(r, module.params["ttl"]) for r in module.params["records"]]
    except (TypeError, ValueError) as e:
        module.fail_json(msg=f"records: {e}, e.g. {{name: www.example.com, type: CNAME, value: example.com}}")
    keys = [(w["Name"], w["Type"]) for w in wanted]
    if len(set(keys)) != len(keys):
        module.fail_json(msg=f"records: {sorted({k for k in keys if keys.count(k) > 1})} appear more than once: give each "
                             "name and type one entry (a list of values for several)")
    client = module.client("route53", retry_decorator=AWSRetry.jittered_backoff())
    try:
        zone_id = _zone_id(module, client)
        current = {}
        for page in client.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id):
            for rrset in page["ResourceRecordSets"]:
                if not rrset.get("SetIdentifier"):  # weighted/latency sets are not this module's
                    current[(fqdn(rrset["Name"]), rrset["Type"])] = rrset
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="Could not list the zone's records")
    results, changes, before, after = [], [], {}, {}
    for key, want in zip(keys, wanted):
        have = current.get(key)
        result = "unchanged" if have is not None and comparable(have) == comparable(want) else (
            "updated" if have is not None else "created")
        results.append({"name": key[0], "type": key[1], "result": result})
        if result != "unchanged":
            label = f"{key[1]} {key[0]}"
            before[label], after[label] = (comparable(have) if have is not None else {}), comparable(want)
            changes.append({"Action": "UPSERT", "ResourceRecordSet": want})
    if changes and not module.check_mode:
        try:
            change = client.change_resource_record_sets(
                HostedZoneId=zone_id, aws_retry=True,
                ChangeBatch={"Comment": "protea.platform.route53_records", "Changes": changes})["ChangeInfo"]
            if module.params["wait"]:
                client.get_waiter("resource_record_sets_changed").wait(Id=change["Id"])
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, botocore.exceptions.WaiterError) as e:
            module.fail_json_aws(e, msg=f"Could not upsert {', '.join(after)}")
    output = {"changed": bool(changes), "records": results, "zone_id": zone_id}
    if module._diff and changes:
        output["diff"] = {"before": before, "after": after}
    module.exit_json(**output)


if __name__ == "__main__":
    main()
