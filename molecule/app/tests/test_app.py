"""The app role on a real host, against real PostgreSQL and MariaDB servers
(the app-db-debian12 instance): service, hardening, sockets, API and health."""
from __future__ import annotations

import json
import shlex
import uuid

import pytest
import testinfra

DB = testinfra.get_host("podman://app-db-debian12")


@pytest.fixture(scope="module")
def host():
    """Only the app instance (molecule/conftest.py would give every instance)."""
    return testinfra.get_host("podman://app-debian12")


INSTANCES = [("shopper", 8000, "postgres"), ("shopper-mariadb", 8001, "mariadb")]


def http(host, method, url, body=None):
    """curl inside the instance; returns (status, parsed JSON body)."""
    cmd = ["curl", "-sS", "-o", "/tmp/body", "-w", "%{http_code}", "-X", method, url]
    if body is not None:
        cmd += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
    result = host.run_test(" ".join(f"'{c}'" for c in cmd))
    return int(result.stdout), json.loads(host.file("/tmp/body").content_string)


def db_count(engine, zone):
    """Count the zone's rows in the database itself, not through the app."""
    if engine == "postgres":
        cmd = f"runuser -u postgres -- psql -d shopper -tAc \"SELECT count(*) FROM visits WHERE zone = '{zone}'\""
    else:
        cmd = f"mariadb -N -B shopper -e \"SELECT count(*) FROM visits WHERE zone = '{zone}'\""
    return int(DB.check_output(cmd))


@pytest.mark.parametrize(("name", "port", "engine"), INSTANCES)
def test_service_enabled_running_as_unprivileged_user(host, name, port, engine):
    service = host.service(name)
    assert service.is_running and service.is_enabled
    pid = host.check_output(f"systemctl show -p MainPID --value {name}")
    assert host.check_output(f"ps -o user= -p {pid}") == "shopper-app"
    assert "gunicorn" in host.check_output(f"ps -o args= -p {pid}")


@pytest.mark.parametrize(("name", "port", "engine"), INSTANCES)
def test_unit_is_hardened(host, name, port, engine):
    props = dict(
        line.split("=", 1)
        for line in host.check_output(
            f"systemctl show {name} -p NoNewPrivileges -p ProtectSystem -p ProtectHome -p PrivateTmp -p CapabilityBoundingSet"
        ).splitlines()
    )
    assert props["NoNewPrivileges"] == "yes"
    assert props["ProtectSystem"] == "strict"
    assert props["ProtectHome"] == "yes"
    assert props["PrivateTmp"] == "yes"
    assert props["CapabilityBoundingSet"] == ""


@pytest.mark.parametrize(("name", "port", "engine"), INSTANCES)
def test_listens_on_loopback_only(host, name, port, engine):
    assert host.socket(f"tcp://127.0.0.1:{port}").is_listening
    assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening
    address = host.interface("eth0").addresses[0]
    assert host.run(f"curl -sS -m 3 http://{address}:{port}/healthz").rc != 0


@pytest.mark.parametrize(("name", "port", "engine"), INSTANCES)
def test_secret_only_in_root_only_environment_file(host, name, port, engine):
    env = host.file(f"/etc/{name}/app.env")
    assert env.user == "root" and env.mode == 0o600
    # Written escaped for systemd, read back exactly by the service's environment.
    assert 'APP_DB_PASSWORD="p@ss\'w\\"rd$x%"' in env.content_string
    assert "p@ss" not in host.file(f"/etc/systemd/system/{name}.service").content_string
    pid = host.check_output(f"systemctl show -p MainPID --value {name}")
    assert "p@ss" not in host.check_output(f"ps -o args= -p {pid}")


@pytest.mark.parametrize(("name", "port", "engine"), INSTANCES)
def test_healthz_ok_against_the_real_database(host, name, port, engine):
    status, body = http(host, "GET", f"http://127.0.0.1:{port}/healthz")
    assert status == 200, body
    assert body == {"status": "ok", "checks": {"db": "ok", "schema": "ok", "efs": "ok"}}


@pytest.mark.parametrize(("name", "port", "engine"), INSTANCES)
def test_visit_is_stored_and_counted(host, name, port, engine):
    zone = f"zone-{uuid.uuid4().hex[:8]}"
    for beacon in ("b-1", "b-2"):
        status, body = http(host, "POST", f"http://127.0.0.1:{port}/api/visits",
                            {"shopper_id": "shopper-42", "zone": zone, "beacon_id": beacon})
        assert status == 201, body
    assert http(host, "GET", f"http://127.0.0.1:{port}/api/zones/{zone}/visits") == (200, {"zone": zone, "visits": 2})
    status, body = http(host, "GET", f"http://127.0.0.1:{port}/api/zones")
    assert status == 200 and body["zones"][zone] == 2
    assert db_count(engine, zone) == 2


def test_invalid_visit_rejected(host):
    status, body = http(host, "POST", "http://127.0.0.1:8000/api/visits", {"shopper_id": "s", "zone": "dairy"})
    assert status == 400 and "beacon_id" in body["error"]


def test_healthz_names_the_database_when_it_is_down(host):
    DB.run_test("systemctl stop mariadb")
    try:
        status, body = http(host, "GET", "http://127.0.0.1:8001/healthz")
        assert status == 503
        assert body["failed"] == ["db", "schema"] and body["checks"]["efs"] == "ok"
        # The PostgreSQL instance is unaffected.
        assert http(host, "GET", "http://127.0.0.1:8000/healthz")[0] == 200
    finally:
        DB.run_test("systemctl start mariadb")
    assert http(host, "GET", "http://127.0.0.1:8001/healthz")[0] == 200


# --- Database TLS: verified, for both drivers ----------------------------------------
# The database server (tests/containers/db_tls.yml) refuses plain text and presents a
# certificate from a test CA naming app-db-debian12. The postgres instance downloaded
# that CA from a URL, the mariadb instance found it on the host.
BUNDLES = {"shopper": "/etc/shopper/db-ca-bundle.pem", "shopper-mariadb": "/usr/local/share/protea-test/db-ca.pem"}


def try_connect(host, name, **env):
    """Open one connection with the app's own code, the service's environment file and
    account, plus `env` overrides; returns the command result (stdout 'connected')."""
    code = ("import json, os, sys; os.environ.update(json.loads(sys.argv[1]));"
            "from shopper_app.config import Settings; from shopper_app.store import connect;"
            "connect(Settings.from_env()).close(); print('connected')")
    cmd = ["systemd-run", "--quiet", "--pipe", "--wait", "--uid", "shopper-app",
           "-p", f"EnvironmentFile=/etc/{name}/app.env", "-p", f"WorkingDirectory=/opt/{name}",
           "python3", "-c", code, json.dumps(env)]
    return host.run(shlex.join(cmd))


@pytest.mark.parametrize(("name", "port", "engine"), INSTANCES)
def test_environment_asks_for_verified_tls(host, name, port, engine):
    env = host.file(f"/etc/{name}/app.env").content_string
    assert 'APP_DB_SSLMODE="verify-full"' in env
    assert f'APP_DB_CA_BUNDLE="{BUNDLES[name]}"' in env


def test_ca_bundle_downloaded_from_the_url(host):
    bundle = host.file(BUNDLES["shopper"])
    assert bundle.user == "root" and bundle.mode == 0o644
    assert bundle.content_string == DB.file("/etc/ssl/protea-db/ca.pem").content_string


@pytest.mark.parametrize(("name", "port", "engine"), INSTANCES)
def test_connects_with_verify_full(host, name, port, engine):
    result = try_connect(host, name)
    assert result.stdout.strip() == "connected", result.stderr


@pytest.mark.parametrize(("name", "port", "engine"), INSTANCES)
def test_database_refuses_plain_text(host, name, port, engine):
    result = try_connect(host, name, APP_DB_SSLMODE="disable")
    assert "connected" not in result.stdout
    assert result.rc != 0


@pytest.mark.parametrize(("name", "port", "engine"), INSTANCES)
def test_certificate_from_another_ca_is_refused(host, name, port, engine):
    result = try_connect(host, name, APP_DB_CA_BUNDLE="/usr/local/share/protea-test/other-ca.pem")
    assert "connected" not in result.stdout
    assert "certificate verify failed" in result.stderr, result.stderr


@pytest.mark.parametrize(("name", "port", "engine"), INSTANCES)
def test_certificate_must_name_the_host(host, name, port, engine):
    address = DB.interface("eth0").addresses[0]
    # By address the chain is still good (verify-ca) but the name is not (verify-full).
    assert try_connect(host, name, APP_DB_HOST=address, APP_DB_SSLMODE="verify-ca").stdout.strip() == "connected"
    result = try_connect(host, name, APP_DB_HOST=address)
    assert "connected" not in result.stdout
    assert "match" in result.stderr, result.stderr


# --- The service's log file ---------------------------------------------------------


@pytest.mark.parametrize(("name", "port", "engine"), INSTANCES)
def test_log_file_grows_with_each_request(host, name, port, engine):
    log = host.file(f"/var/log/{name}/app.log")
    assert log.exists and log.user == "root" and log.mode == 0o640
    before = log.size
    marker = f"zone-{uuid.uuid4().hex[:8]}"
    http(host, "GET", f"http://127.0.0.1:{port}/api/zones/{marker}/visits")
    assert host.file(f"/var/log/{name}/app.log").size > before
    assert marker in host.file(f"/var/log/{name}/app.log").content_string


@pytest.mark.parametrize(("name", "port", "engine"), INSTANCES)
def test_log_rotation(host, name, port, engine):
    log = f"/var/log/{name}/app.log"
    assert log in host.file(f"/etc/logrotate.d/{name}").content_string
    # A forced rotation with the installed rule: the file is copied away, truncated in
    # place, and the service keeps appending to it.
    host.run_test(f"logrotate -f /etc/logrotate.d/{name}")
    assert host.file(f"{log}.1").exists
    http(host, "GET", f"http://127.0.0.1:{port}/api/zones")
    assert "/api/zones" in host.file(log).content_string
