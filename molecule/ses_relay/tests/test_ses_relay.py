"""ses_relay in a real container: postfix relays to the SES SMTP double over verified TLS."""
from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import yaml

VARS = yaml.safe_load((Path(__file__).resolve().parent.parent / "vars" / "test.yml").read_text())
REGION = VARS["ses_double_region"]
# molecule/web_host runs these tests with its own double port.
PORT = int(os.environ.get("PROTEA_SES_DOUBLE_PORT") or VARS["ses_double_port"])
RELAY = f"[email-smtp.{REGION}.amazonaws.com]:{PORT}"
STORE = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "ses-double" / "store" / "messages.jsonl"


def _postconf(host, name: str) -> str:
    return host.check_output(f"postconf -h {name}").strip()


def test_postfix_running_and_enabled(host):
    svc = host.service("postfix")
    assert svc.is_running and svc.is_enabled
    assert host.process.filter(comm="master")


def test_listens_on_loopback_only(host):
    listeners = [s for s in host.socket.get_listening_sockets() if s.startswith("tcp://") and s.endswith(":25")]
    assert "tcp://127.0.0.1:25" in listeners
    assert all(s in ("tcp://127.0.0.1:25", "tcp://::1:25") for s in listeners), listeners
    assert not host.socket("tcp://0.0.0.0:25").is_listening


def test_postconf(host):
    assert _postconf(host, "relayhost") == RELAY
    assert _postconf(host, "inet_interfaces") == "loopback-only"
    assert _postconf(host, "smtp_tls_security_level") == "secure"
    assert _postconf(host, "smtp_tls_CAfile") == "/etc/ssl/certs/ca-certificates.crt"
    assert _postconf(host, "smtp_sasl_auth_enable") == "yes"
    assert _postconf(host, "smtp_sasl_password_maps") == "hash:/etc/postfix/sasl_passwd"
    assert _postconf(host, "sender_canonical_maps") == "regexp:/etc/postfix/sender_canonical"
    assert _postconf(host, "smtp_header_checks") == "regexp:/etc/postfix/ses_header_checks"
    host.run_expect([0], "postfix check")


def test_credentials_files_root_only(host):
    for path in ("/etc/postfix/sasl_passwd", "/etc/postfix/sasl_passwd.db"):
        f = host.file(path)
        assert f.exists and f.user == "root" and f.group == "root" and f.mode == 0o600, path
    entry = host.check_output(f"postmap -q '{RELAY}' hash:/etc/postfix/sasl_passwd")
    assert entry.split(":", 1)[0] == VARS["ses_double_key_id"]


def test_aliases_route_root_to_operators(host):
    assert host.check_output("postalias -q root hash:/etc/aliases").strip() == "ops@ops.example"


def _wait_for(subject: str, timeout: int = 90) -> dict | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if STORE.exists():
            for line in STORE.read_text(encoding="utf-8").splitlines():
                msg = json.loads(line)
                if subject in msg["data"]:
                    return msg
        time.sleep(1)
    return None


def test_sendmail_reaches_the_ses_double_authenticated_over_tls(host):
    subject = f"relay-test-{uuid.uuid4().hex}"
    # An unqualified local sender, as cron and scripts write them.
    host.run_expect(
        [0], "printf 'From: root\\nTo: ops@ops.example\\nSubject: %%s\\n\\nsent by molecule\\n' %s | /usr/sbin/sendmail -t",
        subject)
    msg = _wait_for(subject)
    assert msg is not None, host.run("postqueue -p; journalctl -u postfix@- --no-pager -n 30").stdout
    assert msg["tls"] is True and msg["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert msg["auth_user"] == VARS["ses_double_key_id"]
    assert msg["mail_from"] == f"root@{VARS['ses_double_sender_domain']}"
    assert msg["rcpt_tos"] == ["ops@ops.example"]
    assert f"From: root@{VARS['ses_double_sender_domain']}" in msg["data"]
    # It came from the instance, not from the host.
    assert msg["peer"] in host.check_output("hostname -I").split()
    # SES applies the configuration set named in the header (events: bounces, complaints).
    assert msg["configuration_set"] == VARS["ses_double_configuration_set"]
    sets = [v for k, v in msg["headers"] if k.upper() == "X-SES-CONFIGURATION-SET"]
    assert sets == [VARS["ses_double_configuration_set"]]


def test_configuration_set_of_the_sender_is_replaced_by_the_platforms(host):
    # A sender (or a compromised app) naming another set would bypass the platform's
    # event handling, and SES refuses a set that does not exist: the relay sends one
    # header, the platform's.
    subject = f"relay-set-{uuid.uuid4().hex}"
    host.run_expect(
        [0], "printf 'X-SES-Configuration-Set: not-ours\\nFrom: app@shopper.example\\nTo: ops@ops.example\\n"
        "Subject: %%s\\n\\nsent by molecule\\n' %s | /usr/sbin/sendmail -t", subject)
    msg = _wait_for(subject)
    assert msg is not None, host.run("postqueue -p; journalctl -u postfix@- --no-pager -n 30").stdout
    sets = [v for k, v in msg["headers"] if k.upper() == "X-SES-CONFIGURATION-SET"]
    assert sets == [VARS["ses_double_configuration_set"]]
