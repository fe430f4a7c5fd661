"""Pure logic of the reference app (roles/app/files/shopper_app): routing, validation,
health check reporting. A fake store stands in for the database here; the real
PostgreSQL/MariaDB paths are proven in molecule/app and molecule/web_host."""
from __future__ import annotations

import io
import json
import sys

import pytest

from tests.helpers import REPO

sys.dont_write_bytecode = True  # keep __pycache__ out of the role's files/ (it is deployed as is)
sys.path.insert(0, str(REPO / "roles" / "app" / "files"))

from shopper_app import config, store, wsgi  # noqa: E402  pylint: disable=wrong-import-position

BUNDLE = "/etc/shopper/db-ca-bundle.pem"


class FakeStore:
    def __init__(self, db_up=True, schema=True):
        self.db_up = db_up
        self.schema = schema
        self.visits = []
        self.ensure_calls = 0

    def _need_db(self):
        if not self.db_up:
            raise ConnectionError("db down")

    def ensure_schema(self):
        self._need_db()
        self.ensure_calls += 1

    def ping(self):
        self._need_db()

    def schema_present(self):
        self._need_db()
        return self.schema

    def add_visit(self, shopper_id, zone, beacon_id):
        self._need_db()
        self.visits.append((shopper_id, zone, beacon_id))

    def zone_counts(self, zone=None):
        self._need_db()
        counts = {}
        for _, z, _ in self.visits:
            if zone is None or z == zone:
                counts[z] = counts.get(z, 0) + 1
        return counts


def make_app(store=None, efs_ok=True):
    def efs_check(path):
        if not efs_ok:
            raise PermissionError(13, "Permission denied", path)

    settings = config.Settings.from_env({"APP_EFS_PATH": "/nonexistent", "APP_DB_CA_BUNDLE": BUNDLE})
    return wsgi.App(settings, store=store or FakeStore(), efs_check=efs_check)


def call(app, method, path, body=None, content_type="application/json"):
    raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_TYPE": content_type if body is not None else "",
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
    }
    seen = {}

    def start_response(status, headers):
        seen["status"] = int(status.split()[0])
        seen["headers"] = dict(headers)

    out = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], json.loads(out)


def test_healthz_ok_reports_every_check():
    status, headers, body = call(make_app(), "GET", "/healthz")
    assert status == 200
    assert body == {"status": "ok", "checks": {"db": "ok", "schema": "ok", "efs": "ok"}}
    assert headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("store", "efs_ok", "failed"),
    [
        (FakeStore(db_up=False), True, ["db", "schema"]),
        (FakeStore(schema=False), True, ["schema"]),
        (FakeStore(), False, ["efs"]),
    ],
)
def test_healthz_503_names_the_failed_check(store, efs_ok, failed):
    status, _, body = call(make_app(store, efs_ok), "GET", "/healthz")
    assert status == 503
    assert body["status"] == "failed"
    assert body["failed"] == failed


def test_visit_then_counts():
    store = FakeStore()
    app = make_app(store)
    for zone in ("entrance", "entrance", "dairy"):
        status, _, body = call(app, "POST", "/api/visits", {"shopper_id": "s-1", "zone": zone, "beacon_id": "b:07"})
        assert status == 201
    assert call(app, "GET", "/api/zones/entrance/visits")[2] == {"zone": "entrance", "visits": 2}
    assert call(app, "GET", "/api/zones/tills/visits")[2] == {"zone": "tills", "visits": 0}
    assert call(app, "GET", "/api/zones")[2] == {"zones": {"entrance": 2, "dairy": 1}}
    assert store.ensure_calls == 1  # schema ensured once per process, not per request


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"shopper_id": "s1", "zone": "a"}, "beacon_id"),
        ({"shopper_id": "s1", "zone": "a b", "beacon_id": "b"}, "zone"),
        ({"shopper_id": "x" * 65, "zone": "a", "beacon_id": "b"}, "shopper_id"),
        ({"shopper_id": 7, "zone": "a", "beacon_id": "b"}, "shopper_id"),
        ({"shopper_id": "s", "zone": "a", "beacon_id": "b", "admin": True}, "unknown fields: admin"),
        (["not", "an", "object"], "JSON object"),
        (b"{not json", "not valid JSON"),
    ],
)
def test_invalid_visits_are_rejected_before_the_database(body, message):
    store = FakeStore(db_up=False)  # a 400 must not depend on (or touch) the database
    status, _, answer = call(make_app(store), "POST", "/api/visits", body)
    assert status == 400
    assert message in answer["error"]


def test_wrong_content_type_and_oversized_body():
    app = make_app()
    assert call(app, "POST", "/api/visits", b"{}", content_type="text/plain")[0] == 415
    assert call(app, "POST", "/api/visits", b"x" * 5000)[0] == 413


def test_routing_404_405():
    app = make_app()
    assert call(app, "GET", "/nope")[0] == 404
    status, headers, _ = call(app, "GET", "/api/visits")
    assert status == 405 and headers["Allow"] == "POST"
    assert call(app, "DELETE", "/healthz")[0] == 405
    assert call(app, "GET", "/api/zones/bad%zone/visits")[0] == 400


def test_database_down_on_api_is_503_not_a_crash():
    status, _, body = call(make_app(FakeStore(db_up=False)), "GET", "/api/zones")
    assert status == 503 and body == {"error": "database unavailable"}


def test_settings_default_ports_follow_the_engine():
    env = {"APP_DB_CA_BUNDLE": BUNDLE}
    assert config.Settings.from_env({**env, "APP_DB_ENGINE": "postgres"}).db_port == 5432
    assert config.Settings.from_env({**env, "APP_DB_ENGINE": "mariadb"}).db_port == 3306
    assert config.Settings.from_env({**env, "APP_DB_ENGINE": "mysql", "APP_DB_PORT": "3307"}).db_port == 3307
    with pytest.raises(ValueError):
        config.Settings.from_env({**env, "APP_DB_ENGINE": "oracle"})


def test_efs_probe_writes_and_removes(tmp_path):
    wsgi.check_efs(str(tmp_path))
    assert not list(tmp_path.iterdir())
    with pytest.raises(OSError):
        wsgi.check_efs(str(tmp_path / "missing"))


# --- Database TLS: what the drivers are handed -----------------------------------------
# The real handshakes (verify-full against a test CA, refused with another CA, plain text
# refused by the server) run in molecule/app against PostgreSQL and MariaDB.


class _Recorder:
    """Stands in for a driver module: records connect()'s keyword arguments."""

    def __init__(self, conn=None):
        self.calls = []
        self.conn = conn if conn is not None else _FakeConn(secure=True)

    def connect(self, **kwargs):
        self.calls.append(kwargs)
        return self.conn


class _FakeConn:
    def __init__(self, secure):
        self._secure = secure  # what PyMySQL sets once its socket is wrapped in TLS
        self.closed = False

    def close(self):
        self.closed = True


def _settings(**env):
    return config.Settings.from_env({"APP_DB_CA_BUNDLE": BUNDLE, **env})


def test_tls_is_verified_by_default():
    settings = config.Settings.from_env({"APP_DB_CA_BUNDLE": BUNDLE})
    assert settings.db_sslmode == "verify-full" and settings.db_ca_bundle == BUNDLE


def test_postgres_connects_with_verify_full_and_the_bundle(monkeypatch):
    driver = _Recorder()
    monkeypatch.setitem(sys.modules, "psycopg2", driver)
    store.connect(_settings(APP_DB_ENGINE="postgres", APP_DB_HOST="db.example.internal"))
    (kwargs,) = driver.calls
    assert kwargs["sslmode"] == "verify-full"
    assert kwargs["sslrootcert"] == BUNDLE
    assert kwargs["host"] == "db.example.internal"


@pytest.mark.parametrize("engine", ["mysql", "mariadb"])
def test_pymysql_connects_with_the_bundle_and_a_hostname_check(monkeypatch, engine):
    driver = _Recorder()
    monkeypatch.setitem(sys.modules, "pymysql", driver)
    store.connect(_settings(APP_DB_ENGINE=engine, APP_DB_HOST="db.example.internal"))
    (kwargs,) = driver.calls
    assert kwargs["ssl"] == {"ca": BUNDLE, "verify_mode": True, "check_hostname": True}
    assert kwargs["host"] == "db.example.internal"


def test_pymysql_verify_ca_checks_the_chain_but_not_the_name(monkeypatch):
    driver = _Recorder()
    monkeypatch.setitem(sys.modules, "pymysql", driver)
    store.connect(_settings(APP_DB_ENGINE="mysql", APP_DB_SSLMODE="verify-ca"))
    assert driver.calls[0]["ssl"] == {"ca": BUNDLE, "verify_mode": True, "check_hostname": False}


def test_pymysql_refuses_a_server_that_answered_in_plain_text(monkeypatch):
    # PyMySQL silently stays in plain text when the server offers no TLS.
    conn = _FakeConn(secure=False)
    monkeypatch.setitem(sys.modules, "pymysql", _Recorder(conn))
    with pytest.raises(store.InsecureConnection, match="without TLS"):
        store.connect(_settings(APP_DB_ENGINE="mariadb"))
    assert conn.closed


class _NoSecureAttrConn:
    """A PyMySQL connection without ``_secure``: the server's Ssl_cipher decides."""

    def __init__(self, cipher):
        self.cipher, self.queries, self.closed = cipher, [], False

    def cursor(self):
        conn = self

        class _Cur:
            def execute(self, sql):
                conn.queries.append(sql)

            def fetchone(self):
                return ("Ssl_cipher", conn.cipher)

            def close(self):
                pass

        return _Cur()

    def close(self):
        self.closed = True


@pytest.mark.parametrize(("cipher", "refused"), [("", True), ("TLS_AES_256_GCM_SHA384", False)])
def test_pymysql_without_secure_attribute_asks_the_server(monkeypatch, cipher, refused):
    conn = _NoSecureAttrConn(cipher)
    monkeypatch.setitem(sys.modules, "pymysql", _Recorder(conn))
    if refused:
        with pytest.raises(store.InsecureConnection, match="without TLS"):
            store.connect(_settings(APP_DB_ENGINE="mysql"))
    else:
        assert store.connect(_settings(APP_DB_ENGINE="mysql")) is conn
    assert conn.queries == ["SHOW SESSION STATUS LIKE 'Ssl_cipher'"]
    assert conn.closed is refused


def test_sslmode_disable_sends_no_tls_arguments(monkeypatch):
    mysql, pg = _Recorder(_FakeConn(secure=False)), _Recorder()
    monkeypatch.setitem(sys.modules, "pymysql", mysql)
    monkeypatch.setitem(sys.modules, "psycopg2", pg)
    store.connect(config.Settings.from_env({"APP_DB_ENGINE": "mysql", "APP_DB_SSLMODE": "disable"}))
    store.connect(config.Settings.from_env({"APP_DB_ENGINE": "postgres", "APP_DB_SSLMODE": "disable"}))
    assert "ssl" not in mysql.calls[0]
    assert pg.calls[0]["sslmode"] == "disable" and "sslrootcert" not in pg.calls[0]


@pytest.mark.parametrize("mode", ["verify-ca", "verify-full"])
def test_verifying_sslmode_without_a_bundle_is_refused(mode):
    with pytest.raises(ValueError, match="APP_DB_CA_BUNDLE"):
        config.Settings.from_env({"APP_DB_SSLMODE": mode})


def test_unknown_sslmode_is_refused():
    with pytest.raises(ValueError, match="APP_DB_SSLMODE"):
        config.Settings.from_env({"APP_DB_SSLMODE": "on", "APP_DB_CA_BUNDLE": BUNDLE})


def test_the_env_file_is_read_as_runtime_config_writes_it(tmp_path):
    path = tmp_path / "shopper.env"
    path.write_text('APP_DB_USER="shopper_app_b"\nAPP_DB_PASSWORD="a\\"b\\\\c\\nd"\n# note\n')
    assert config.read_env_file(str(path)) == {"APP_DB_USER": "shopper_app_b", "APP_DB_PASSWORD": 'a"b\\c\nd'}
    assert config.read_env_file(str(tmp_path / "missing")) == {} == config.read_env_file("")


def test_a_changed_env_file_is_used_from_the_next_request_on(tmp_path, monkeypatch):
    path = tmp_path / "shopper.env"
    monkeypatch.setenv("APP_ENV_FILE", str(path))
    monkeypatch.setenv("APP_DB_SSLMODE", "disable")
    monkeypatch.setenv("APP_DB_USER", "from_unit")
    seen = []
    monkeypatch.setattr(wsgi, "create_app", lambda env=None: seen.append(config.Settings.from_env().db_user)
                        or (lambda environ, start_response: [b""]))
    app = wsgi._LazyApp()  # pylint: disable=protected-access
    app({}, None)
    path.write_text('APP_DB_USER="shopper_app"\n')
    app({}, None)
    app({}, None)
    path.write_text('APP_DB_USER="shopper_app_b"\n')
    import os
    os.utime(path, ns=(1, 1))  # a new version even within the file system's time resolution
    app({}, None)
    assert seen == ["from_unit", "shopper_app", "shopper_app_b"]
