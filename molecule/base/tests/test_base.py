"""protea.platform.base, checked inside the converged container: what sshd
really runs with (sshd -T), what a real ssh client is offered and refused,
and what chrony, unattended-upgrades and journald actually read."""
import pytest

SSH = ("ssh -p 22 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
       "-o BatchMode=yes -o ConnectTimeout=5")
TESTER = "protea-tester"


@pytest.fixture(scope="module")
def sshd(host):
    """`sshd -T`: the effective configuration (all files merged) as a dict."""
    out = host.check_output("/usr/sbin/sshd -T")
    conf = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        conf[key] = value
    return conf


@pytest.fixture(scope="module")
def tester(host):
    """A user with a real password AND an authorised key, so a refused password
    proves the server refuses passwords, not that the user has none."""
    host.run_expect([0], f"id {TESTER} || useradd -m -s /bin/bash {TESTER}")
    host.run_expect([0], f"echo '{TESTER}:Corr3ct-Horse-Battery' | chpasswd")
    host.run_expect([0], f"rm -f /root/.ssh/tester; ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/tester")
    host.run_expect([0], f"install -d -m 700 -o {TESTER} -g {TESTER} /home/{TESTER}/.ssh && "
                         f"install -m 600 -o {TESTER} -g {TESTER} /root/.ssh/tester.pub /home/{TESTER}/.ssh/authorized_keys")
    return TESTER


def test_sshd_is_running_with_a_valid_config(host):
    assert host.service("ssh").is_running
    assert host.run("/usr/sbin/sshd -t").rc == 0


@pytest.mark.parametrize("key,value", [
    ("passwordauthentication", "no"),
    ("kbdinteractiveauthentication", "no"),
    ("permitemptypasswords", "no"),
    ("pubkeyauthentication", "yes"),
    ("authenticationmethods", "publickey"),
    ("permitrootlogin", "no"),
    ("x11forwarding", "no"),
    ("allowtcpforwarding", "no"),
    ("maxauthtries", "3"),
    ("banner", "/etc/issue.net"),
])
def test_sshd_effective_settings(sshd, key, value):
    assert sshd[key] == value


def test_sshd_offers_only_modern_algorithms(sshd):
    ciphers = set(sshd["ciphers"].split(","))
    macs = set(sshd["macs"].split(","))
    kex = set(sshd["kexalgorithms"].split(","))
    assert not {c for c in ciphers if "cbc" in c or "3des" in c}
    assert all(m.endswith("-etm@openssh.com") for m in macs)
    assert not {k for k in kex if "sha1" in k or "group1-" in k or "group14" in k}
    assert "chacha20-poly1305@openssh.com" in ciphers and "curve25519-sha256" in kex


def test_key_login_works(host, tester):
    out = host.run(f"{SSH} -i /root/.ssh/tester {tester}@127.0.0.1 id -un")
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() == tester


def test_password_login_is_refused_and_banner_shown(host, tester):
    # The server's answer lists the methods it still accepts: only publickey.
    out = host.run(f"{SSH} -o PubkeyAuthentication=no "
                   f"-o PreferredAuthentications=password,keyboard-interactive {tester}@127.0.0.1 true")
    assert out.rc == 255
    assert "Permission denied (publickey)" in out.stderr
    assert "Authorised access only" in out.stderr  # the pre-auth banner


@pytest.mark.parametrize("option", [
    "-c aes128-cbc",
    "-c aes128-ctr -m hmac-sha1",  # a non-AEAD cipher, so the MAC is negotiated
    "-o KexAlgorithms=diffie-hellman-group14-sha1",
])
def test_weak_algorithms_are_refused_by_the_server(host, tester, option):
    out = host.run(f"{SSH} {option} -i /root/.ssh/tester {tester}@127.0.0.1 true")
    assert out.rc == 255
    assert "no matching" in out.stderr, out.stderr


def test_chrony_uses_amazon_time_sync(host):
    assert host.package("chrony").is_installed
    assert host.service("chrony").is_enabled
    # chronyd itself parses the file (-p prints the config it would use).
    out = host.check_output("chronyd -p")
    assert "server 169.254.169.123 prefer iburst minpoll 4 maxpoll 4" in out
    assert not [line for line in out.splitlines() if line.startswith(("pool ", "server ")) and "169.254.169.123" not in line]


def test_unattended_upgrades_take_security_only(host):
    assert host.package("unattended-upgrades").is_installed
    dump = host.check_output("apt-config dump APT::Periodic")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in dump
    assert 'APT::Periodic::Update-Package-Lists "1";' in dump
    assert host.service("apt-daily-upgrade.timer").is_enabled
    # unattended-upgrade resolves the patterns against this host's distribution.
    out = host.run("unattended-upgrade --dry-run --debug 2>&1 | grep -A1 -i 'allowed origins'")
    patterns = host.check_output("apt-config dump Unattended-Upgrade::Origins-Pattern")
    assert "bookworm-security" in out.stdout, out.stdout
    assert "codename=${distro_codename},label=Debian\"" not in patterns
    assert all("security" in line for line in patterns.splitlines()[1:] if line.strip()), patterns


def test_journald_limits_are_in_effect(host):
    # journald reports the limit it applies when it opens the system journal.
    out = host.check_output("journalctl -b -u systemd-journald --no-pager -o cat")
    assert "max 500.0M" in out, out[-2000:]
    assert host.file("/var/log/journal").is_directory  # Storage=persistent
