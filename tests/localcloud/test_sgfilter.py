"""Security groups -> iptables-restore text (tests/localcloud/sgfilter.py): no containers, no emulator."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.localcloud.sgfilter import IN_CHAIN, OUT_CHAIN, Endpoint, Group, Rule, World, is_internet, rules_text

WEB, DB, BASTION, ALB, OTHER = "sg-web", "sg-db", "sg-bastion", "sg-alb", "sg-other"


def world() -> World:
    return World(
        groups={
            DB: Group(DB, ingress=(Rule("tcp", 5432, 5432, group=WEB), Rule("tcp", 5432, 5432, group=BASTION))),
            WEB: Group(WEB, ingress=(Rule("tcp", 80, 80, group=ALB), Rule("tcp", 22, 22, group=BASTION)),
                       egress=(Rule("tcp", 5432, 5432, group=DB), Rule("tcp", 80, 80, cidr="0.0.0.0/0"),
                               Rule("tcp", 587, 587, cidr="0.0.0.0/0"))),
            BASTION: Group(BASTION, ingress=(Rule("tcp", 22, 22, prefix_list="pl-admin"),)),
            OTHER: Group(OTHER, egress=(Rule("-1", cidr="0.0.0.0/0"),)),
        },
        members={WEB: {"10.1.1.5", "10.1.1.4"}, BASTION: {"10.1.0.4", "10.1.1.254"}, DB: {"10.1.1.3"},
                 ALB: {"10.1.1.1"}, OTHER: {"10.1.1.9"}},
        prefix_lists={"pl-admin": ["203.0.113.0/24", "198.51.100.7/32"]},
    )


def accepts(text: str, chain: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(f"-A {chain} ") and line.endswith("-j ACCEPT")]


def test_group_reference_admits_exactly_the_members_on_the_port() -> None:
    text = rules_text([DB], world())
    ins = accepts(text, IN_CHAIN)
    sources = sorted(line.split(" -s ")[1].split()[0] for line in ins if " -s " in line)
    assert sources == ["10.1.0.4/32", "10.1.1.254/32", "10.1.1.4/32", "10.1.1.5/32"]
    assert all("--dport 5432" in line for line in ins if " -s " in line)
    assert "10.1.1.9" not in text, "a host in a group the DB does not admit"
    # Default deny, stateful replies, and the DB has no egress rule at all.
    assert text.splitlines()[-3:] == [f"-A {IN_CHAIN} -j DROP", f"-A {OUT_CHAIN} -j DROP", "COMMIT"]
    assert f"-A {IN_CHAIN} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT" in text
    assert [line for line in accepts(text, OUT_CHAIN) if " -d " in line] == []


def test_egress_and_prefix_lists() -> None:
    text = rules_text([WEB], world())
    outs = accepts(text, OUT_CHAIN)
    assert any("-d 10.1.1.3/32 -p tcp -m tcp --dport 5432" in line for line in outs)
    assert any("-d 0.0.0.0/0 -p tcp -m tcp --dport 587" in line for line in outs)
    bastion = accepts(rules_text([BASTION], world()), IN_CHAIN)
    assert sorted(line.split(" -s ")[1].split()[0] for line in bastion if " -s " in line) == [
        "198.51.100.7/32", "203.0.113.0/24"]


def test_rule_removed_from_group_disappears_from_the_text() -> None:
    w = world()
    before = rules_text([DB], w)
    w.groups[DB] = Group(DB, ingress=(Rule("tcp", 5432, 5432, group=BASTION),))
    after = rules_text([DB], w)
    assert "10.1.1.4/32" in before and "10.1.1.4/32" not in after
    w.members[WEB].add("10.1.1.6")  # membership changes show too
    assert "10.1.1.6/32" in rules_text([WEB, DB], World(w.groups | {DB: world().groups[DB]}, w.members))


def test_stand_ins_follow_the_egress_rule_for_the_aws_port() -> None:
    proxy = Endpoint("10.1.1.2", 3142, 80, "package mirror")
    cwagent = Endpoint("10.1.1.1", 8430, 443, "cloudwatch agent package")
    text = rules_text([WEB], world(), endpoints=[proxy, cwagent])
    assert any("-d 10.1.1.2/32 -p tcp -m tcp --dport 3142" in line for line in accepts(text, OUT_CHAIN))
    assert "--dport 8430" not in text, "no egress rule allows 443 to the internet"
    # All traffic to the internet admits every stand-in; a private CIDR admits none.
    assert "--dport 8430" in rules_text([OTHER], world(), endpoints=[cwagent])
    private = World({"g": Group("g", egress=(Rule("-1", cidr="10.0.0.0/8"),))}, {}, {})
    assert "--dport 3142" not in rules_text(["g"], private, endpoints=[proxy])
    assert is_internet("0.0.0.0/0") and is_internet("52.0.0.0/8")
    assert not is_internet("10.231.0.0/16") and not is_internet("127.0.0.1/32")


def test_dns_gateway_and_ssh_reject_and_the_off_switch() -> None:
    text = rules_text([WEB], world(), gateways=["10.1.1.1"], reject_ssh_from=["10.1.1.1"])
    lines = text.splitlines()
    reject = "-A INPUT -s 10.1.1.1/32 -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset"
    assert lines.index(reject) < lines.index(f"-A INPUT -j {IN_CHAIN}")
    assert any(f"-A {OUT_CHAIN} -d 10.1.1.1/32 -p udp -m udp --dport 53" in line for line in lines)
    off = rules_text([WEB], world(), reject_ssh_from=["10.1.1.1"], enforce=False)
    assert IN_CHAIN not in off and reject in off


def test_public_ip_forwarder_admitted_only_for_a_client_the_group_admits() -> None:
    w = world()
    relay = ("10.1.0.1", 22, "127.0.0.1")
    assert "-s 10.1.0.1/32 -p tcp -m tcp --dport 22" not in rules_text([BASTION], w, forwarded=[relay])
    w.prefix_lists["pl-admin"].append("127.0.0.1/32")
    assert "-s 10.1.0.1/32 -p tcp -m tcp --dport 22" in rules_text([BASTION], w, forwarded=[relay])


def test_same_input_same_text() -> None:
    assert rules_text([WEB, DB], world()) == rules_text([DB, WEB, DB], world())


def test_icmp_and_all_protocols() -> None:
    w = World({"g": Group("g", ingress=(Rule("icmp", 8, -1, cidr="10.0.0.0/8"), Rule("-1", cidr="10.2.0.0/16"),
                                        Rule("udp", 1000, 2000, cidr="10.3.0.0/16")))}, {}, {})
    ins = accepts(rules_text(["g"], w), IN_CHAIN)
    assert any("-s 10.0.0.0/8 -p icmp -m icmp --icmp-type 8 " in line for line in ins)
    assert any(line.startswith(f"-A {IN_CHAIN} -s 10.2.0.0/16 -m comment") for line in ins)
    assert any("-p udp -m udp --dport 1000:2000" in line for line in ins)


@pytest.mark.skipif(not shutil.which("unshare") or not shutil.which("iptables-restore"), reason="needs unshare")
def test_iptables_accepts_the_text() -> None:
    text = rules_text([WEB, DB, BASTION], world(), gateways=["10.1.1.1"], reject_ssh_from=["10.1.1.1"],
                      endpoints=[Endpoint("10.1.1.2", 3142, 80, "package mirror")], imds=("10.1.1.1", 8431))
    res = subprocess.run(["unshare", "-n", "iptables-restore", "--test"], input=text, capture_output=True, text=True)
    if res.returncode != 0 and "Permission denied" in res.stderr + res.stdout:
        pytest.skip("no permission for a network namespace")
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("enforce", [True, False])
def test_imds_is_redirected_and_never_filtered(enforce: bool) -> None:
    text = rules_text([OTHER], world(), enforce=enforce, imds=("10.1.1.1", 8431))
    nat = text[text.index("*nat"):]
    assert "-A OUTPUT -d 169.254.169.254/32 -p tcp -m tcp --dport 80" in nat
    assert nat.splitlines()[-2].endswith("-j DNAT --to-destination 10.1.1.1:8431")
    allow = [line for line in accepts(text, OUT_CHAIN) if "--ctorigdst 169.254.169.254" in line]
    # Enforced: admitted before any group rule, even for a group without egress to the gateway.
    assert len(allow) == (1 if enforce else 0)
    if enforce:
        no_egress = rules_text([DB], world(), imds=("10.1.1.1", 8431))
        assert any("--ctorigdst 169.254.169.254" in line and "--dport 8431" in line
                   for line in accepts(no_egress, OUT_CHAIN))
    assert "*nat" not in rules_text([OTHER], world(), enforce=enforce)
