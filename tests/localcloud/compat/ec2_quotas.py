"""EC2 / VPC default quotas, refused with AWS's error codes and messages.

moto counts almost nothing: a prefix-list reference is one rule whatever the list's weight,
any number of groups fits on a network interface, Elastic IP addresses and NAT gateways are
unlimited. AWS refuses each over its default quota (Amazon VPC quotas:
https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html), so a stack that
converges here but not on a fresh account is caught here.

Each quota is AWS's default; a test (or a user whose account had a quota raised) may set
the emulator's environment variable named in ``QUOTA_ENV`` to another value. The value is
read when a request is checked, so a server started with ``env={...}`` uses it.
"""
from __future__ import annotations

import inspect
import os
from typing import Any

from tests.localcloud.compat import Patch

# Environment variable -> AWS default (Amazon VPC quotas).
QUOTA_ENV = {
    "PROTEA_LOCALCLOUD_QUOTA_RULES_PER_SECURITY_GROUP": 60,
    "PROTEA_LOCALCLOUD_QUOTA_SECURITY_GROUPS_PER_INTERFACE": 5,
    "PROTEA_LOCALCLOUD_QUOTA_ELASTIC_IPS_PER_REGION": 5,
    "PROTEA_LOCALCLOUD_QUOTA_NAT_GATEWAYS_PER_AZ": 5,
}


def quota(env_name: str) -> int:
    default = QUOTA_ENV[env_name]
    raw = os.environ.get(env_name, "").strip()
    return int(raw) if raw.isdigit() else default


def _error(code: str, message: str, detail: str) -> Exception:
    """AWS's error; also one line in the emulator log (stdout): modules often hide the code."""
    from moto.ec2.exceptions import EC2ClientError

    print(f"localcloud: quota refused {code}: {detail}", flush=True)
    return EC2ClientError(code, message)


# --- Inbound / outbound rules per security group ------------------------------------------
# The weights of the AWS-managed prefix lists are the ones preflight counts with: one table,
# in the collection's network filters (plugins/filter/network.py, citing AWS's table).
# A customer-managed list weighs its MaxEntries (Amazon VPC quotas, "Prefix lists").
def _network_filters() -> Any:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "plugins" / "filter" / "network.py"
    spec = importlib.util.spec_from_file_location("protea_filter_network", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


_NETWORK = _network_filters()


def prefix_list_weight(backend: Any, prefix_list_id: str) -> int:
    """How many rules a reference to this prefix list counts as."""
    pl = getattr(backend, "managed_prefix_lists", {}).get(prefix_list_id)
    if pl is None:
        return 1  # unknown id: moto answers for it; count it as one rule
    if pl.max_entries not in (None, ""):
        return int(pl.max_entries)
    weight = _NETWORK.prefix_list_weight(pl.prefix_list_name or "", default=None)
    if weight is not None:
        return int(weight)
    entries = (pl.entries or {}).get(pl.version) or []
    return max(1, len(entries))


def _existing_weight(backend: Any, rule: Any) -> tuple[int, int]:
    """(IPv4, IPv6) rules one stored moto rule counts as.

    Amazon VPC quotas: the quota is enforced separately for IPv4 and IPv6 rules; a rule that
    references a security group or a prefix list counts for both (a prefix list as its weight)."""
    if rule.prefix_list_id:
        w = prefix_list_weight(backend, rule.prefix_list_id)
        return w, w
    if rule.source_group:
        return 1, 1
    return (0, 1) if "CidrIpv6" in (rule.ip_range or {}) else (1, 0)


def _request_weight(backend: Any, kwargs: dict[str, Any]) -> tuple[int, int]:
    v4 = v6 = 0
    for ip_range in kwargs.get("ip_ranges") or []:
        cidr = ip_range if isinstance(ip_range, str) else (ip_range.get("CidrIpv6") or ip_range.get("CidrIp") or "")
        if ":" in cidr:
            v6 += 1
        else:
            v4 += 1
    groups = len(kwargs.get("source_groups") or [])
    v4, v6 = v4 + groups, v6 + groups
    for pl in kwargs.get("prefix_list_ids") or []:
        w = prefix_list_weight(backend, pl.get("PrefixListId", "") if isinstance(pl, dict) else str(pl))
        v4, v6 = v4 + w, v6 + w
    return v4, v6


def _apply_rules_per_group() -> None:
    from moto.ec2.models.security_groups import SecurityGroupBackend
    from moto.ec2.responses.security_groups import SecurityGroups

    # moto's own check counts every rule as one and IPv4 + IPv6 together: replaced by the
    # weighted, per-family check below (it would refuse 40 IPv4 + 30 IPv6 rules; AWS does not).
    SecurityGroupBackend._verify_group_will_respect_rule_count_limit = (  # type: ignore[method-assign]
        lambda self, *args, **kwargs: None
    )

    def guarded(original: Any, egress: bool) -> Any:
        def handler(self: Any) -> Any:
            requests = list(self._process_rules_from_querystring())
            if requests:
                backend = self.ec2_backend
                group = backend.get_security_group_by_name_or_id(requests[0]["group_name_or_id"])
                if group is not None:
                    limit = quota("PROTEA_LOCALCLOUD_QUOTA_RULES_PER_SECURITY_GROUP")
                    v4 = v6 = 0
                    for rule in group.egress_rules if egress else group.ingress_rules:
                        a, b = _existing_weight(backend, rule)
                        v4, v6 = v4 + a, v6 + b
                    for kwargs in requests:
                        a, b = _request_weight(backend, kwargs)
                        v4, v6 = v4 + a, v6 + b
                    if max(v4, v6) > limit:
                        # Checked before any rule is added: the whole request fails, as on AWS.
                        raise _error(
                            "RulesPerSecurityGroupLimitExceeded",
                            "The maximum number of rules per security group has been reached.",
                            f"{group.id} {'egress' if egress else 'ingress'} would hold {v4} IPv4 / {v6} IPv6 "
                            f"rules (prefix lists at their weight), quota {limit}",
                        )
            return original(self)

        return handler

    SecurityGroups.authorize_security_group_ingress = guarded(  # type: ignore[method-assign]
        SecurityGroups.authorize_security_group_ingress, egress=False
    )
    SecurityGroups.authorize_security_group_egress = guarded(  # type: ignore[method-assign]
        SecurityGroups.authorize_security_group_egress, egress=True
    )


# --- Security groups per network interface ------------------------------------------------
def _check_groups_per_interface(groups: Any) -> None:
    limit = quota("PROTEA_LOCALCLOUD_QUOTA_SECURITY_GROUPS_PER_INTERFACE")
    if len(set(groups)) > limit:
        raise _error(
            "SecurityGroupsPerInterfaceLimitExceeded",
            "The maximum number of security groups per interface has been reached.",
            f"{len(set(groups))} groups on one interface ({', '.join(sorted(set(groups)))}), quota {limit}",
        )


def _group_ids(backend: Any, names_or_ids: Any) -> list[str]:
    out = []
    for item in names_or_ids or []:
        key = item if isinstance(item, str) else getattr(item, "id", str(item))
        found = backend.get_security_group_by_name_or_id(key)
        out.append(found.id if found is not None else key)
    return out


def _apply_groups_per_interface() -> None:
    from moto.ec2.models.elastic_network_interfaces import NetworkInterfaceBackend
    from moto.ec2.models.instances import InstanceBackend

    original_run = InstanceBackend.run_instances

    def run_instances(self: Any, image_id: str, count: int, user_data: Any, security_group_names: list[str],
                      **kwargs: Any) -> Any:
        # Checked before moto registers the reservation: a refused launch leaves nothing behind.
        top = _group_ids(self, security_group_names) + _group_ids(self, kwargs.get("security_group_ids"))
        nics = list(kwargs.get("nics") or [])
        if kwargs.get("launch_template"):
            try:
                data = self._get_template_from_args(kwargs["launch_template"]).data
            except Exception:  # noqa: BLE001 - an unknown template is moto's error to give
                data = {}
            if not top:
                top = _group_ids(self, data.get("SecurityGroupIds")) + _group_ids(self, data.get("SecurityGroups"))
            if not nics:
                nics = [dict(n, Groups=n.get("Groups") or n.get("SecurityGroupIds") or [])
                        for n in data.get("NetworkInterfaces") or []]
        if nics:
            for nic in nics:
                groups = _group_ids(self, nic.get("Groups"))
                if str(nic.get("DeviceIndex", "0")) == "0":
                    groups += top
                _check_groups_per_interface(groups)
        else:
            _check_groups_per_interface(top)
        return original_run(self, image_id, count, user_data, security_group_names, **kwargs)

    InstanceBackend.run_instances = run_instances  # type: ignore[method-assign]

    original_create = NetworkInterfaceBackend.create_network_interface
    create_sig = inspect.signature(original_create)

    def create_network_interface(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = create_sig.bind(self, *args, **kwargs)
        _check_groups_per_interface(bound.arguments.get("group_ids") or [])
        return original_create(self, *args, **kwargs)

    NetworkInterfaceBackend.create_network_interface = create_network_interface  # type: ignore[method-assign]

    original_modify_eni = NetworkInterfaceBackend.modify_network_interface_attribute

    def modify_network_interface_attribute(self: Any, eni_id: str, group_ids: list[str], *args: Any,
                                           **kwargs: Any) -> Any:
        _check_groups_per_interface(group_ids or [])
        return original_modify_eni(self, eni_id, group_ids, *args, **kwargs)

    NetworkInterfaceBackend.modify_network_interface_attribute = modify_network_interface_attribute  # type: ignore[method-assign]

    original_modify_instance = InstanceBackend.modify_instance_security_groups

    def modify_instance_security_groups(self: Any, instance_id: str, new_group_id_list: list[str]) -> Any:
        _check_groups_per_interface(new_group_id_list or [])
        return original_modify_instance(self, instance_id, new_group_id_list)

    InstanceBackend.modify_instance_security_groups = modify_instance_security_groups  # type: ignore[method-assign]


# --- Elastic IP addresses per Region ------------------------------------------------------
def _apply_elastic_ips_per_region() -> None:
    from moto.ec2.models.elastic_ip_addresses import ElasticAddressBackend

    original = ElasticAddressBackend.allocate_address

    def allocate_address(self: Any, *args: Any, **kwargs: Any) -> Any:
        limit = quota("PROTEA_LOCALCLOUD_QUOTA_ELASTIC_IPS_PER_REGION")
        if len(self.addresses) >= limit:
            raise _error("AddressLimitExceeded", "The maximum number of addresses has been reached.",
                         f"{len(self.addresses)} Elastic IPs in {self.region_name}, quota {limit}")
        return original(self, *args, **kwargs)

    ElasticAddressBackend.allocate_address = allocate_address  # type: ignore[method-assign]


# --- NAT gateways per Availability Zone ---------------------------------------------------
def _apply_nat_gateways_per_az() -> None:
    from moto.ec2.models.nat_gateways import NatGatewayBackend

    original = NatGatewayBackend.create_nat_gateway

    def _az(backend: Any, subnet_id: str) -> str | None:
        try:
            return backend.get_subnet(subnet_id).availability_zone
        except Exception:  # noqa: BLE001 - an unknown subnet is moto's error to give
            return None

    def create_nat_gateway(self: Any, subnet_id: str, *args: Any, **kwargs: Any) -> Any:
        az = _az(self, subnet_id)
        if az is not None:
            # pending, available and deleting gateways count; deleted (and failed) ones do not.
            in_az = [n for n in self.nat_gateways.values()
                     if n.state not in ("deleted", "failed") and _az(self, n.subnet_id) == az]
            limit = quota("PROTEA_LOCALCLOUD_QUOTA_NAT_GATEWAYS_PER_AZ")
            if len(in_az) >= limit:
                raise _error("NatGatewayLimitExceeded", "The maximum number of NAT Gateways has been reached.",
                             f"{len(in_az)} NAT gateways in {az}, quota {limit}")
        return original(self, subnet_id, *args, **kwargs)

    NatGatewayBackend.create_nat_gateway = create_nat_gateway  # type: ignore[method-assign]


_QUOTAS_DOC = "Amazon VPC quotas: https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html"
_ERRORS_DOC = "Amazon EC2 API error codes: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html"

PATCHES = [
    Patch(
        name="ec2-quota-rules-per-security-group",
        api="ec2:AuthorizeSecurityGroupIngress, ec2:AuthorizeSecurityGroupEgress",
        moto_does="Counts every rule as one, IPv4 and IPv6 together: a prefix-list reference weighs 1, so "
        "CloudFront's origin-facing list on two ports (110 rules on AWS) is accepted.",
        aws_does="Refuses with RulesPerSecurityGroupLimitExceeded (\"The maximum number of rules per security "
        "group has been reached.\") past 60 inbound or 60 outbound rules, counted per IP family; a group "
        "reference counts as 1, a prefix-list reference as the list's weight (max entries; CloudFront "
        "origin-facing: 55). The whole request fails. Quota: `PROTEA_LOCALCLOUD_QUOTA_RULES_PER_SECURITY_GROUP`.",
        doc=f"{_QUOTAS_DOC} (Security groups); AWS-managed prefix list weight: "
        "https://docs.aws.amazon.com/vpc/latest/userguide/working-with-aws-managed-prefix-lists.html; "
        + _ERRORS_DOC,
        apply=_apply_rules_per_group,
    ),
    Patch(
        name="ec2-quota-security-groups-per-interface",
        api="ec2:RunInstances, ec2:CreateNetworkInterface, ec2:ModifyNetworkInterfaceAttribute, "
        "ec2:ModifyInstanceAttribute (GroupId)",
        moto_does="Attaches any number of security groups to a network interface.",
        aws_does="Refuses more than 5 groups per network interface with SecurityGroupsPerInterfaceLimitExceeded "
        "(\"The maximum number of security groups per interface has been reached.\"). "
        "Quota: `PROTEA_LOCALCLOUD_QUOTA_SECURITY_GROUPS_PER_INTERFACE`.",
        doc=f"{_QUOTAS_DOC} (Security groups per network interface); {_ERRORS_DOC}",
        apply=_apply_groups_per_interface,
    ),
    Patch(
        name="ec2-quota-elastic-ips-per-region",
        api="ec2:AllocateAddress",
        moto_does="Allocates any number of Elastic IP addresses.",
        aws_does="Refuses a 6th address in the Region with AddressLimitExceeded (\"The maximum number of "
        "addresses has been reached.\"). Quota: `PROTEA_LOCALCLOUD_QUOTA_ELASTIC_IPS_PER_REGION`.",
        doc=f"{_QUOTAS_DOC} (Elastic IP addresses per Region); {_ERRORS_DOC}",
        apply=_apply_elastic_ips_per_region,
    ),
    Patch(
        name="ec2-quota-nat-gateways-per-az",
        api="ec2:CreateNatGateway",
        moto_does="Creates any number of NAT gateways in an Availability Zone.",
        aws_does="Refuses a 6th NAT gateway (pending, available or deleting) in one Availability Zone with "
        "NatGatewayLimitExceeded (\"The maximum number of NAT Gateways has been reached.\"). "
        "Quota: `PROTEA_LOCALCLOUD_QUOTA_NAT_GATEWAYS_PER_AZ`.",
        doc=f"{_QUOTAS_DOC} (NAT gateways per Availability Zone); {_ERRORS_DOC}",
        apply=_apply_nat_gateways_per_az,
    ),
]
