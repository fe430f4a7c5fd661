"""The web instance composed as baked (base, efs_mount, app, web, ses_relay,
cloudwatch_agent) serving through nginx -> gunicorn -> a real PostgreSQL server."""
from __future__ import annotations

import json
import shlex
import time
import uuid

import pytest
import testinfra

DB = testinfra.get_host("podman://web-host-db-debian12")


@pytest.fixture(scope="module")
def host():
    """Only the web-host instance (molecule/conftest.py would give every instance)."""
    return testinfra.get_host("podman://web-host-debian12")


def request(host, method, url, body=None, headers=()):
    """curl inside the instance: (status, {lower-case header: value}, body text)."""
    cmd = ["curl", "-sS", "-D", "/tmp/h", "-o", "/tmp/b", "-w", "%{http_code}", "-X", method, url]
    for header in headers:
        cmd += ["-H", header]
    if body is not None:
        cmd += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
    status = int(host.check_output(shlex.join(cmd)))
    lines = host.file("/tmp/h").content_string.splitlines()[1:]
    head = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if ":" in line)}
    return status, head, host.file("/tmp/b").content_string


@pytest.mark.parametrize("service", ["nginx", "shopper", "postfix", "amazon-cloudwatch-agent", "ssh"])
def test_services_running_and_enabled(host, service):
    assert host.service(service).is_running and host.service(service).is_enabled


def test_ports(host):
    assert host.socket("tcp://0.0.0.0:80").is_listening
    assert host.socket("tcp://127.0.0.1:8000").is_listening
    assert not host.socket("tcp://0.0.0.0:8000").is_listening


def test_app_path_lives_under_the_efs_mount_entry(host):
    entry = host.check_output("findmnt --fstab --noheadings --raw -o SOURCE,FSTYPE /mnt/efs")
    assert entry == "fs-0123456789abcdef0.efs.af-south-1.amazonaws.com:/ nfs4"
    assert host.file("/mnt/efs/app").user == "shopper-app"


def test_healthz_through_nginx_against_the_real_database(host):
    status, head, body = request(host, "GET", "http://127.0.0.1/healthz")
    assert status == 200, body
    assert json.loads(body) == {"status": "ok", "checks": {"db": "ok", "schema": "ok", "efs": "ok"}}
    assert head["cache-control"] == "no-store" and head["server"] == "nginx"


def test_visit_through_nginx_is_counted(host):
    zone = f"tills-{uuid.uuid4().hex[:8]}"
    status, _, body = request(host, "POST", "http://127.0.0.1/api/visits",
                              {"shopper_id": "s-9", "zone": zone, "beacon_id": "b-3"})
    assert status == 201, body
    status, _, body = request(host, "GET", f"http://127.0.0.1/api/zones/{zone}/visits")
    assert (status, json.loads(body)) == (200, {"zone": zone, "visits": 1})
    status, _, body = request(host, "GET", "http://127.0.0.1/api/zones")
    assert json.loads(body)["zones"][zone] == 1
    rows = DB.check_output(f"runuser -u postgres -- psql -d shopper -tAc \"SELECT count(*) FROM visits WHERE zone = '{zone}'\"")
    assert rows == "1"


def test_static_file_from_efs_with_cache_control(host):
    host.run_test("install -o shopper-app -m 0644 /dev/null /mnt/efs/app/static/logo.svg && echo '<svg/>' > /mnt/efs/app/static/logo.svg")
    status, head, body = request(host, "GET", "http://127.0.0.1/static/logo.svg")
    assert status == 200 and body.strip() == "<svg/>"
    assert head["cache-control"] == "public, max-age=31536000, immutable"


def test_client_ip_from_the_alb_is_logged(host):
    address = host.interface("eth0").addresses[0]
    request(host, "GET", f"http://{address}/api/zones", headers=["X-Forwarded-For: 203.0.113.20"])
    entry = json.loads(host.check_output("tail -n 1 /var/log/nginx/access.json.log"))
    assert entry["remote_addr"] == "203.0.113.20" and entry["peer_addr"] == address


AGENT_CONFIG = "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json"


def _sizes(host, paths):
    return {p: (host.file(p).size if host.file(p).exists else -1) for p in paths}


def test_every_file_the_agent_ships_exists_and_grows(host):
    cfg = json.loads(host.file(AGENT_CONFIG).content_string)
    paths = [f["file_path"] for f in cfg["logs"]["logs_collected"]["files"]["collect_list"]]
    # nginx's access and error logs, the app's log, the system log: nothing else, nothing less.
    assert sorted(paths) == ["/var/log/nginx/access.json.log", "/var/log/nginx/error.log",
                             "/var/log/shopper/app.log", "/var/log/syslog"]
    before = _sizes(host, paths)
    missing = [p for p, size in before.items() if size < 0]
    assert not missing, f"configured but not on the host: {missing}"
    marker = uuid.uuid4().hex[:12]
    # One request the app answers (access log + app log), one nginx cannot (error log:
    # open() failed), and a system message (syslog, through the journal and rsyslog).
    request(host, "GET", f"http://127.0.0.1/api/zones/z-{marker}/visits")
    request(host, "GET", f"http://127.0.0.1/static/missing-{marker}.css")
    host.run_test(f"logger -t protea-test syslog-{marker}")
    grown = {}
    for _ in range(20):
        grown = {p: size > before[p] for p, size in _sizes(host, paths).items()}
        if all(grown.values()):
            break
        time.sleep(0.5)
    assert all(grown.values()), grown
    assert f"z-{marker}" in host.file("/var/log/shopper/app.log").content_string
    assert f"missing-{marker}" in host.file("/var/log/nginx/error.log").content_string
    assert f"syslog-{marker}" in host.file("/var/log/syslog").content_string


def test_database_connection_is_verified_tls(host):
    env = host.file("/etc/shopper/app.env").content_string
    assert 'APP_DB_SSLMODE="verify-full"' in env and 'APP_DB_CA_BUNDLE="/etc/shopper/db-ca-bundle.pem"' in env
    # The database refuses plain text (hostssl only, as rds.force_ssl), so the healthy
    # /healthz above went over TLS; prove the refusal with the same driver.
    code = ("import psycopg2; psycopg2.connect(host='web-host-db-debian12', dbname='shopper', user='shopper',"
            " password='x', sslmode='disable', connect_timeout=3)")
    result = host.run(shlex.join(["python3", "-c", code]))
    assert result.rc != 0 and "no encryption" in result.stderr, result.stderr
