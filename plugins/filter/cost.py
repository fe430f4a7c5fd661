# -*- coding: utf-8 -*-
# Copyright: Protea founding engineers
# Apache License 2.0 (see galaxy.yml)
"""Monthly cost of an environment from its configuration and a price table (roles/cost).

Pure arithmetic on the control node: no AWS call, so it runs before anything exists."""
from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

# What the configuration must say (roles/cost/vars/main.yml builds it from the roles' variables).
CONFIG_KEYS = (
    "region", "azs", "nat_gateway_mode", "bastion_count", "bastion_instance_type", "bastion_volume_gb",
    "web_instance_type", "web_desired", "web_max", "web_volume_gb", "db_engine", "db_instance_class",
    "db_multi_az", "db_storage_gb", "efs_gb", "cloudfront_gb", "cloudfront_requests", "edge_price_class",
    "nat_gb", "alb_lcu", "ses_emails", "alarms", "kms_keys", "logs_gb", "single_box_instance_type",
    "single_box_volume_gb", "efs_replica",
)
# Sizes in the order AWS scales them: "one size down" is the previous one.
SIZES = ("nano", "micro", "small", "medium", "large", "xlarge", "2xlarge")
# RDS prices are per engine family: MariaDB is priced as MySQL.
ENGINE_FAMILY = {"postgres": "postgres", "mysql": "mysql", "mariadb": "mysql"}


def _line(item: str, quantity: float, unit: str, unit_price: float | None, factor: float, note: str = "") -> dict[str, Any]:
    """One resource: `quantity` of `unit` at `unit_price`, times `factor` (hours per month, or 1)."""
    monthly = None if unit_price is None else round(quantity * unit_price * factor, 2)
    return {"item": item, "quantity": quantity, "unit": unit, "unit_price": unit_price, "monthly": monthly, "note": note}


def _config(config: Any) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise AnsibleFilterError(f"cost_estimate: the configuration must be a dict, not {type(config).__name__}")
    missing = [key for key in CONFIG_KEYS if key not in config]
    if missing:
        raise AnsibleFilterError(f"cost_estimate: the configuration lacks {', '.join(missing)}")
    return config


def _lines(c: dict[str, Any], prices: dict[str, Any]) -> list[dict[str, Any]]:
    hours = float(prices["hours_per_month"])
    g = prices["global"]
    r = prices["regions"][c["region"]]
    ec2 = r["ec2_hour"]
    azs = int(c["azs"])
    nats = 0 if c["nat_gateway_mode"] == "none" else (azs if c["nat_gateway_mode"] == "per_az" else 1)
    bastions = int(c["bastion_count"])
    web = int(c["web_desired"])
    multi = bool(c["db_multi_az"])
    copies = 2 if multi else 1
    family = ENGINE_FAMILY.get(str(c["db_engine"]), str(c["db_engine"]))
    db_hour = r["rds_hour"].get(family, {}).get(c["db_instance_class"])
    edge = c["edge_price_class"]
    ips = nats + bastions + azs  # the NAT gateways' and the bastions' Elastic IPs, one per ALB node
    return [
        _line(f"web servers ({c['web_instance_type']}, Auto Scaling desired)", web, "instance-hour",
              ec2.get(c["web_instance_type"]), hours, f"up to {c['web_max']} at peak (asg_max_size)"),
        _line("web server volumes (gp3)", web * int(c["web_volume_gb"]), "GB-month", r["ebs_gp3_gb_month"], 1),
        _line(f"bastions ({c['bastion_instance_type']})", bastions, "instance-hour", ec2.get(c["bastion_instance_type"]), hours),
        _line("bastion volumes (gp3)", bastions * int(c["bastion_volume_gb"]), "GB-month", r["ebs_gp3_gb_month"], 1),
        _line(f"NAT gateways ({c['nat_gateway_mode']})", nats, "gateway-hour", r["nat_gateway_hour"], hours),
        _line("NAT data processed", float(c["nat_gb"]), "GB", r["nat_gateway_gb"], 1, "assumed (cost_nat_gb)" if nats else ""),
        _line("public IPv4 addresses (NAT, bastions, ALB nodes)", ips, "address-hour", g["public_ipv4_hour"], hours),
        _line("application load balancer", 1, "ALB-hour", r["alb_hour"], hours),
        _line("load balancer capacity units", float(c["alb_lcu"]), "LCU-hour", r["alb_lcu_hour"], hours, "assumed (cost_alb_lcu)"),
        _line(f"RDS {c['db_engine']} {c['db_instance_class']}" + (" Multi-AZ" if multi else " single-AZ"), copies,
              "instance-hour", db_hour, hours, "primary + standby" if multi else ""),
        _line("RDS storage" + (" (both copies)" if multi else ""), copies * int(c["db_storage_gb"]), "GB-month",
              r["rds_storage_gb_month"], 1, "backups up to the database's size are free"),
        _line("EFS standard storage", float(c["efs_gb"]), "GB-month", r["efs_standard_gb_month"], 1, "assumed (cost_efs_gb)"),
    ] + ([
        # Priced in the platform's region; a replica in another region adds inter-region transfer.
        _line("EFS replica (efs_replication)", float(c["efs_gb"]), "GB-month", r["efs_standard_gb_month"], 1,
              "a second copy of the data, minutes behind"),
    ] if c["efs_replica"] else []) + [
        _line("AWS Backup of EFS (warm)", float(c["efs_gb"]), "GB-month", r["backup_efs_warm_gb_month"], 1,
              "daily, incremental: about one copy of the data"),
        _line(f"CloudFront data out ({edge})", float(c["cloudfront_gb"]), "GB", g["cloudfront_gb"].get(edge), 1,
              "assumed (cost_cloudfront_gb)"),
        _line(f"CloudFront HTTPS requests ({edge})", float(c["cloudfront_requests"]) / 10000, "10k requests",
              g["cloudfront_10k_https_requests"].get(edge), 1, "assumed (cost_cloudfront_requests)"),
        _line("Route 53 hosted zone", 1, "zone-month", g["route53_zone_month"], 1),
        _line("SES email", float(c["ses_emails"]) / 1000, "1,000 emails", g["ses_thousand_emails"], 1, "assumed (cost_ses_emails)"),
        _line("CloudWatch alarms", int(c["alarms"]), "alarm-month", g["cloudwatch_alarm_month"], 1),
        _line("CloudWatch Logs ingestion (flow logs, app logs)", float(c["logs_gb"]), "GB", r["logs_ingest_gb"], 1,
              "assumed (cost_logs_gb)"),
        _line("KMS keys (EFS, RDS, parameters, backup vaults)", int(c["kms_keys"]), "key-month", g["kms_key_month"], 1),
    ]


def _total(lines: list[dict[str, Any]]) -> float:
    return round(sum(line["monthly"] or 0 for line in lines), 2)


def _single_box(c: dict[str, Any], prices: dict[str, Any]) -> dict[str, Any]:
    """The case study's starting point: one instance with the whole stack, serving the internet itself."""
    hours = float(prices["hours_per_month"])
    r = prices["regions"][c["region"]]
    lines = [
        _line(f"one instance ({c['single_box_instance_type']}), web and database", 1, "instance-hour",
              r["ec2_hour"].get(c["single_box_instance_type"]), hours),
        _line("its volume (gp3)", int(c["single_box_volume_gb"]), "GB-month", r["ebs_gp3_gb_month"], 1),
        _line("its public IPv4 address", 1, "address-hour", prices["global"]["public_ipv4_hour"], hours),
        _line("data out to the internet (no CDN)", float(c["cloudfront_gb"]), "GB", r["internet_egress_gb"], 1),
    ]
    return {"lines": lines, "total": _total(lines), "complete": all(line["monthly"] is not None for line in lines)}


def _smaller(name: str, available: dict[str, Any]) -> str | None:
    """The next smaller size of the same family that has a price, e.g. t3.small -> t3.micro."""
    head, size = name.rpartition(".")[::2]
    if size not in SIZES:
        return None
    for smaller in reversed(SIZES[:SIZES.index(size)]):
        if f"{head}.{smaller}" in available:
            return f"{head}.{smaller}"
    return None


def _levers(c: dict[str, Any], prices: dict[str, Any], total: float) -> list[dict[str, Any]]:
    r = prices["regions"][c["region"]]
    family = ENGINE_FAMILY.get(str(c["db_engine"]), str(c["db_engine"]))
    options = []
    if c["nat_gateway_mode"] == "per_az" and int(c["azs"]) > 1:
        options.append(("vpc_nat_gateway_mode: single", {"nat_gateway_mode": "single"},
                        "private subnets lose internet egress when the NAT gateway's AZ fails"))
    if int(c["bastion_count"]) > 1:
        options.append(("bastion_count: 1", {"bastion_count": 1}, "no ssh path while that bastion's AZ is down"))
    if c["db_multi_az"]:
        options.append(("rds_multi_az: false", {"db_multi_az": False},
                        "no standby: an AZ or instance failure means a restore, not a 1-2 minute fail-over"))
    if c["efs_replica"]:
        options.append(("efs_replication: false", {"efs_replica": False},
                        "no copy minutes behind the file system: the daily backup is the newest copy"))
    smaller_db = _smaller(c["db_instance_class"], r["rds_hour"].get(family, {}))
    if smaller_db:
        options.append((f"rds_instance_class: {smaller_db}", {"db_instance_class": smaller_db}, "half the memory and CPU credits"))
    smaller_web = _smaller(c["web_instance_type"], r["ec2_hour"])
    if smaller_web:
        options.append((f"asg_instance_type: {smaller_web}", {"web_instance_type": smaller_web},
                        "half the memory per web server; the group scales out sooner"))
    levers = []
    for setting, change, tradeoff in options:
        changed = _total(_lines({**c, **change}, prices))
        levers.append({"setting": setting, "monthly": changed, "saves": round(total - changed, 2), "tradeoff": tradeoff})
    return levers


def cost_estimate(config: Any, prices: Any) -> dict[str, Any]:
    """Monthly cost per resource, its total, the single box it replaces, and the levers that change it.

    `config` holds CONFIG_KEYS; `prices` is roles/cost/vars/prices.yml's cost_prices. A region
    without prices gives `priced: false` and no lines; a type without a price gives a line whose
    `monthly` is None (the total is then marked incomplete)."""
    c = _config(config)
    if not isinstance(prices, dict) or "regions" not in prices:
        raise AnsibleFilterError("cost_estimate: prices must be roles/cost/vars/prices.yml's cost_prices")
    base = {"region": c["region"], "currency": prices["currency"], "as_of": prices["as_of"]}
    if c["region"] not in prices["regions"]:
        return {**base, "priced": False, "regions": sorted(prices["regions"])}
    lines = _lines(c, prices)
    total = _total(lines)
    return {
        **base,
        "priced": True,
        "region_name": prices["regions"][c["region"]]["name"],
        "lines": lines,
        "total": total,
        "complete": all(line["monthly"] is not None for line in lines),
        "unpriced": [line["item"] for line in lines if line["monthly"] is None],
        "single_box": _single_box(c, prices),
        "levers": _levers(c, prices, total),
    }


def _money(value: float | None) -> str:
    return "no price" if value is None else f"{value:,.2f}"


def cost_table(estimate: Any) -> list[str]:
    """The estimate as text lines: one per resource, the total, the single box, the levers."""
    if not isinstance(estimate, dict) or "priced" not in estimate:
        raise AnsibleFilterError("cost_table: expected the result of cost_estimate")
    if not estimate["priced"]:
        return [f"No prices for {estimate['region']} in roles/cost/vars/prices.yml (it has {', '.join(estimate['regions'])}):"
                f" add the Region's figures there to get an estimate."]
    cur = estimate["currency"]
    out = [f"Monthly estimate, {estimate['region']} ({estimate['region_name']}), {cur} on-demand list prices as of"
           f" {estimate['as_of']} (roles/cost/vars/prices.yml):"]
    width = max(len(line["item"]) for line in estimate["lines"])
    for line in estimate["lines"]:
        qty = f"{line['quantity']:g} {line['unit']}"
        note = f"  {line['note']}" if line["note"] else ""
        out.append(f"  {line['item']:<{width}}  {qty:>22}  {_money(line['monthly']):>10}{note}")
    total = _money(estimate["total"]) + ("" if estimate["complete"] else f" + unpriced: {', '.join(estimate['unpriced'])}")
    out.append(f"  {'total per month':<{width}}  {'':>22}  {total:>10}")
    box = estimate["single_box"]
    out.append(f"The single box it replaces: {_money(box['total'])} {cur}/month ("
               + "; ".join(f"{line['item']} {_money(line['monthly'])}" for line in box["lines"]) + ").")
    if box["complete"] and estimate["complete"]:
        difference = round(estimate["total"] - box["total"], 2)
        out.append(f"  The platform costs {_money(abs(difference))} {cur}/month {'more' if difference >= 0 else 'less'}"
                   f" ({estimate['total'] / box['total']:.1f} times the single box) for what the box lacks: a second AZ, a load"
                   " balancer, a CDN near the users, managed backups and alarms.")
    for lever in estimate["levers"]:
        out.append(f"Lever: {lever['setting']} -> {_money(lever['monthly'])} {cur}/month (saves {_money(lever['saves'])});"
                   f" trade-off: {lever['tradeoff']}")
    return out


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"cost_estimate": cost_estimate, "cost_table": cost_table}
