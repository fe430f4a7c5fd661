"""Security groups as packet filters: the pure part (no podman, no moto imports at module level).

Instance mode (instances.py) runs every local-cloud host -- instance containers and database
containers -- in its own network namespace. This module turns the security groups of one host
into the ``iptables-restore`` text of that namespace's filter table; the reconciler applies it
with ``nsenter -t <pid> -n iptables-restore`` whenever the text changes (one atomic swap).

How AWS security groups behave, and how each behaviour is expressed here
(Amazon VPC User Guide, "Control traffic to your AWS resources using security groups" and
"Security group rules": https://docs.aws.amazon.com/vpc/latest/userguide/vpc-security-groups.html,
https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html):

* Allow rules only; anything no rule allows is dropped  -> chains end in DROP (AWS drops silently).
* Stateful: the response to allowed traffic flows back whatever the rules say
                                                      -> ``conntrack --ctstate ESTABLISHED,RELATED`` ACCEPT.
* The rules of all the host's groups are aggregated  -> one chain per direction, every rule of every group.
* Source/destination a CIDR                           -> ``-s``/``-d`` CIDR.
* A prefix-list reference                             -> one match per entry of the list.
* A security-group reference: the private IPs of every network interface in that group
                                                      -> one match per member address (/32).
* Traffic to the instance metadata service (169.254.169.254) is not filtered
                                                      -> nat OUTPUT DNAT to the stand-in, ACCEPT by
                                                         ``conntrack --ctorigdst 169.254.169.254``.
* Traffic to the Amazon DNS server is not filtered   -> udp/tcp 53 to and from the network's gateway,
                                                         where podman's DNS answers.
Stand-ins of the local cloud (not AWS hosts, so they carry no group themselves):
* The package proxy (.2) stands in for NAT gateway + Debian mirror; the SES SMTP and CloudWatch agent
  doubles (.1) for public AWS endpoints: an instance reaches them only if its egress rules allow the
  AWS port (80, 587, 443) to an internet address (``Endpoint``).
* The host (.1) is where the ALB's health checks and the ALB's traffic come from: the caller counts the
  gateway addresses as members of every ALB's security groups, so a web host admits them exactly as it
  admits the ALB's group. TCP 22 from the host to a private host is refused first (outside the VPC).
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Iterable

IMDS_ADDRESS = "169.254.169.254"
IN_CHAIN = "PROTEA-SG-IN"
OUT_CHAIN = "PROTEA-SG-OUT"

# Address ranges that are not "the internet": a CIDR rule inside them does not reach a public endpoint.
NOT_INTERNET = [ipaddress.ip_network(n) for n in
                ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16")]

_PROTO = {"6": "tcp", "17": "udp", "1": "icmp", "all": "-1"}


@dataclass(frozen=True)
class Rule:
    """One security group rule (moto's SecurityGroupRule: one CIDR, group or prefix list each)."""

    proto: str  # tcp | udp | icmp | -1 (all) | a protocol number
    from_port: int | None = None
    to_port: int | None = None
    cidr: str | None = None
    group: str | None = None
    prefix_list: str | None = None

    @property
    def protocol(self) -> str:
        p = str(self.proto).lower()
        return _PROTO.get(p, p)


@dataclass(frozen=True)
class Group:
    id: str
    ingress: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class Endpoint:
    """A stand-in for a public endpoint: traffic to ip:port counts as TCP to the internet on aws_port."""

    ip: str
    port: int
    aws_port: int
    name: str = ""


@dataclass
class World:
    """What the filter needs to know about the VPC: groups, who is in them, prefix lists."""

    groups: dict[str, Group] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)  # group id -> private IPs
    prefix_lists: dict[str, list[str]] = field(default_factory=dict)  # pl id -> CIDRs

    def peers(self, rule: Rule) -> list[str]:
        """The addresses/CIDRs a rule names, sorted (stable text: rebuilt only when something changed)."""
        if rule.cidr:
            return [rule.cidr]
        if rule.prefix_list:
            return sorted(self.prefix_lists.get(rule.prefix_list, []))
        if rule.group:
            return [f"{ip}/32" for ip in sorted(self.members.get(rule.group, set()), key=ipaddress.ip_address)]
        return []


def is_internet(cidr: str) -> bool:
    """True when the CIDR contains public addresses (0.0.0.0/0, 52.0.0.0/8, ...), not only private ones."""
    net = ipaddress.ip_network(cidr, strict=False)
    if net.version != 4:
        return False
    return not any(net.subnet_of(private) for private in NOT_INTERNET)


def rule_allows(rule: Rule, proto: str, port: int) -> bool:
    if rule.protocol == "-1":
        return True
    if rule.protocol != proto:
        return False
    if rule.from_port is None or rule.from_port == -1:
        return True
    return int(rule.from_port) <= port <= int(rule.to_port if rule.to_port is not None else rule.from_port)


def reaches_internet(rule: Rule, world: World) -> bool:
    if rule.cidr:
        return is_internet(rule.cidr)
    if rule.prefix_list:
        return any(is_internet(c) for c in world.prefix_lists.get(rule.prefix_list, []))
    return False


def _match(rule: Rule) -> list[str]:
    proto = rule.protocol
    if proto == "-1":
        return []
    out = ["-p", proto]
    if proto in ("tcp", "udp") and rule.from_port is not None and rule.from_port != -1:
        lo, hi = int(rule.from_port), int(rule.to_port if rule.to_port is not None else rule.from_port)
        out += ["--dport", str(lo) if lo == hi else f"{lo}:{hi}"]
    elif proto == "icmp" and rule.from_port is not None and int(rule.from_port) != -1:
        code = rule.to_port
        out += ["--icmp-type", f"{int(rule.from_port)}" + (f"/{int(code)}" if code is not None and int(code) != -1 else "")]
    return out


def _comment(text: str) -> list[str]:
    safe = "".join(c if c.isalnum() or c in "-_.:/ " else "_" for c in text)[:250]
    return ["-m", "comment", "--comment", f'"{safe}"']


def rules_text(
    group_ids: Iterable[str],
    world: World,
    *,
    gateways: Iterable[str] = (),
    endpoints: Iterable[Endpoint] = (),
    reject_ssh_from: Iterable[str] = (),
    forwarded: Iterable[tuple[str, int, str]] = (),
    enforce: bool = True,
    imds: tuple[str, int] | None = None,
) -> str:
    """The ``iptables-restore`` input (filter table) for a host in ``group_ids``.

    gateways: the host's networks' gateway addresses (Amazon DNS stand-in: 53 always allowed).
    endpoints: stand-ins for public endpoints (package mirror, SES SMTP, ...), judged by egress rules.
    reject_ssh_from: addresses whose TCP 22 is refused with a reset first (the host, outside the VPC).
    forwarded: (relay ip, tcp port, client ip): the public-IP forwarder relays from relay ip for a client at
        client ip (127.0.0.1); admitted when an ingress CIDR/prefix-list rule admits the client on that port.
    enforce: False -> only the reject_ssh_from rules (the local cloud without security groups).
    imds: (ip, tcp port) of the instance metadata service stand-in: a nat table DNATs 169.254.169.254:80
        there, and the filter admits it whatever the groups say (AWS never filters IMDS traffic).
    """
    gateways = sorted(set(gateways), key=ipaddress.ip_address)
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
    for ip in sorted(set(reject_ssh_from), key=ipaddress.ip_address):
        lines.append(f"-A INPUT -s {ip}/32 -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset")
    nat: list[str] = []
    if imds is not None:
        nat = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
               ":POSTROUTING ACCEPT [0:0]",
               " ".join([f"-A OUTPUT -d {IMDS_ADDRESS}/32 -p tcp -m tcp --dport 80",
                         *_comment("instance metadata service"), f"-j DNAT --to-destination {imds[0]}:{imds[1]}"]),
               "COMMIT"]
    if not enforce:
        lines.append("COMMIT")
        return "\n".join(lines + nat) + "\n"
    lines += [f":{IN_CHAIN} - [0:0]", f":{OUT_CHAIN} - [0:0]",
              f"-A INPUT -j {IN_CHAIN}", f"-A OUTPUT -j {OUT_CHAIN}"]
    for chain, iface in ((IN_CHAIN, "-i lo"), (OUT_CHAIN, "-o lo")):
        lines += [f"-A {chain} {iface} -j ACCEPT",
                  f"-A {chain} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"]
    for gw in gateways:
        for proto in ("udp", "tcp"):
            lines.append(f"-A {OUT_CHAIN} -d {gw}/32 -p {proto} -m {proto} --dport 53 -j ACCEPT "
                         + " ".join(_comment("Amazon DNS is not filtered by security groups")))
    if imds is not None:
        lines.append(" ".join([f"-A {OUT_CHAIN} -d {imds[0]}/32 -p tcp -m tcp --dport {imds[1]} -m conntrack",
                               f"--ctorigdst {IMDS_ADDRESS}", *_comment("IMDS is not filtered by security groups"),
                               "-j ACCEPT"]))
    groups = [world.groups[g] for g in sorted(set(group_ids)) if g in world.groups]
    for chain, flag, attr in ((IN_CHAIN, "-s", "ingress"), (OUT_CHAIN, "-d", "egress")):
        for group in groups:
            for rule in getattr(group, attr):
                match = _match(rule)
                if "--dport" in match or "--icmp-type" in match:
                    match = match[:2] + ["-m", match[1]] + match[2:]
                for peer in world.peers(rule):
                    lines.append(" ".join([f"-A {chain}", flag, peer, *match, *_comment(group.id), "-j ACCEPT"]))
    ingress = [r for g in groups for r in g.ingress]
    for relay, port, client in sorted(set(forwarded)):
        if any(rule_allows(r, "tcp", port) and any(ipaddress.ip_address(client) in ipaddress.ip_network(c, strict=False)
                                                   for c in world.peers(r) if not r.group) for r in ingress):
            lines.append(" ".join([f"-A {IN_CHAIN} -s {relay}/32 -p tcp -m tcp --dport {port}",
                                   *_comment(f"public IP forwarder for {client}"), "-j ACCEPT"]))
    egress = [r for g in groups for r in g.egress]
    for ep in sorted(set(endpoints), key=lambda e: (ipaddress.ip_address(e.ip), e.port)):
        if any(rule_allows(r, "tcp", ep.aws_port) and reaches_internet(r, world) for r in egress):
            lines.append(" ".join([f"-A {OUT_CHAIN} -d {ep.ip}/32 -p tcp -m tcp --dport {ep.port}",
                                   *_comment(f"{ep.name}: internet tcp {ep.aws_port}"), "-j ACCEPT"]))
    lines += [f"-A {IN_CHAIN} -j DROP", f"-A {OUT_CHAIN} -j DROP", "COMMIT"]
    return "\n".join(lines + nat) + "\n"


def from_moto_group(group: object) -> Group:
    """A moto SecurityGroup as a Group (duck-typed: ingress_rules/egress_rules of SecurityGroupRule)."""

    def rule(r: object) -> Rule:
        ip_range = getattr(r, "ip_range", None) or {}
        source = getattr(r, "source_group", None) or {}
        return Rule(proto=str(getattr(r, "ip_protocol", "-1") or "-1"), from_port=getattr(r, "from_port", None),
                    to_port=getattr(r, "to_port", None), cidr=ip_range.get("CidrIp"),
                    group=source.get("GroupId"), prefix_list=getattr(r, "prefix_list_id", None))

    return Group(id=group.id, ingress=tuple(rule(r) for r in group.ingress_rules),  # type: ignore[attr-defined]
                 egress=tuple(rule(r) for r in group.egress_rules))  # type: ignore[attr-defined]
