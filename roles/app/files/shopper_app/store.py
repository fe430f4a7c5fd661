"""Visit storage in PostgreSQL or MySQL/MariaDB.

A new connection per unit of work: after an RDS Multi-AZ failover the endpoint's
DNS name points at the new primary, and a fresh connection simply follows it.
"""
from __future__ import annotations

import contextlib

# Both drivers use the "format" paramstyle (%s), so one set of statements serves.
SCHEMA = {
    "postgres": [
        # Concurrent CREATE ... IF NOT EXISTS can still collide in PostgreSQL's
        # catalog when several workers start together: serialise them.
        "SELECT pg_advisory_xact_lock(7460311)",
        "CREATE TABLE IF NOT EXISTS visits ("
        " id BIGSERIAL PRIMARY KEY,"
        " shopper_id VARCHAR(64) NOT NULL,"
        " zone VARCHAR(64) NOT NULL,"
        " beacon_id VARCHAR(64) NOT NULL,"
        " visited_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)",
        "CREATE INDEX IF NOT EXISTS visits_zone_idx ON visits (zone)",
    ],
    "mysql": [
        "CREATE TABLE IF NOT EXISTS visits ("
        " id BIGINT AUTO_INCREMENT PRIMARY KEY,"
        " shopper_id VARCHAR(64) NOT NULL,"
        " zone VARCHAR(64) NOT NULL,"
        " beacon_id VARCHAR(64) NOT NULL,"
        " visited_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,"
        " INDEX visits_zone_idx (zone)) ENGINE=InnoDB",
    ],
}
SCHEMA["mariadb"] = SCHEMA["mysql"]


class InsecureConnection(ConnectionError):
    """The database answered without TLS although the settings require it."""


# sslmode -> what PyMySQL gets. PyMySQL has no sslmode of its own: `ssl` turns TLS on,
# `ca` + verify_mode check the chain, check_hostname the endpoint's name.
def mysql_ssl_args(settings):
    """PyMySQL's `ssl` argument for the settings' sslmode (None: no TLS)."""
    mode = settings.db_sslmode
    if mode == "disable":
        return None
    if mode in ("allow", "prefer", "require"):
        return {"verify_mode": False, "check_hostname": False}
    return {"ca": settings.db_ca_bundle, "verify_mode": True, "check_hostname": mode == "verify-full"}


def postgres_ssl_args(settings):
    """libpq's own sslmode, with the CA bundle when one is set."""
    args = {"sslmode": settings.db_sslmode}
    if settings.db_ca_bundle:
        args["sslrootcert"] = settings.db_ca_bundle
    return args


def connect(settings):
    """Open a connection with the driver that matches the engine, over TLS as the
    settings' sslmode says (verify-full: the CA bundle signs a certificate that
    names db_host)."""
    if settings.db_engine == "postgres":
        import psycopg2  # pylint: disable=import-outside-toplevel

        return psycopg2.connect(
            host=settings.db_host,
            port=settings.db_port,
            dbname=settings.db_name,
            user=settings.db_user,
            password=settings.db_password,
            connect_timeout=settings.db_connect_timeout,
            application_name="shopper_app",
            **postgres_ssl_args(settings),
        )
    import pymysql  # pylint: disable=import-outside-toplevel

    ssl_args = mysql_ssl_args(settings)
    extra = {} if ssl_args is None else {"ssl": ssl_args}
    conn = pymysql.connect(
        host=settings.db_host,
        port=settings.db_port,
        database=settings.db_name,
        user=settings.db_user,
        password=settings.db_password,
        connect_timeout=settings.db_connect_timeout,
        charset="utf8mb4",
        **extra,
    )
    # PyMySQL silently stays in plain text when the server does not offer TLS (libpq
    # refuses for require/verify-*): refuse such a connection before any query.
    if settings.db_sslmode in ("require", "verify-ca", "verify-full") and not mysql_session_encrypted(conn):
        conn.close()
        raise InsecureConnection(f"{settings.db_host}:{settings.db_port} answered without TLS (sslmode {settings.db_sslmode})")
    return conn


def mysql_session_encrypted(conn):
    """Whether a PyMySQL connection runs over TLS. PyMySQL records it in ``_secure``; where a
    version lacks that attribute, ask the server (an empty Ssl_cipher means plain text)."""
    secure = getattr(conn, "_secure", None)
    if secure is not None:
        return bool(secure)
    cur = conn.cursor()
    try:
        cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        row = cur.fetchone()
    finally:
        cur.close()
    return bool(row and row[1])


class Store:
    """The three things the API needs from the database."""

    def __init__(self, settings, connect_fn=connect):
        self.settings = settings
        self._connect = connect_fn

    @contextlib.contextmanager
    def _cursor(self):
        conn = self._connect(self.settings)
        try:
            cur = conn.cursor()
            try:
                yield cur
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            finally:
                cur.close()
        finally:
            conn.close()

    def ensure_schema(self) -> None:
        with self._cursor() as cur:
            for statement in SCHEMA[self.settings.db_engine]:
                cur.execute(statement)

    def ping(self) -> None:
        with self._cursor() as cur:
            cur.execute("SELECT 1")
            if cur.fetchone()[0] != 1:
                raise RuntimeError("SELECT 1 returned something else")

    def schema_present(self) -> bool:
        # information_schema exists in both engines; the schema filter differs.
        if self.settings.db_engine == "postgres":
            query = "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = %s"
        else:
            query = "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = %s"
        with self._cursor() as cur:
            cur.execute(query, ("visits",))
            return cur.fetchone()[0] == 1

    def add_visit(self, shopper_id: str, zone: str, beacon_id: str) -> None:
        with self._cursor() as cur:
            cur.execute(
                "INSERT INTO visits (shopper_id, zone, beacon_id) VALUES (%s, %s, %s)",
                (shopper_id, zone, beacon_id),
            )

    def zone_counts(self, zone: str | None = None) -> dict[str, int]:
        with self._cursor() as cur:
            if zone is None:
                cur.execute("SELECT zone, count(*) FROM visits GROUP BY zone ORDER BY zone")
            else:
                cur.execute("SELECT zone, count(*) FROM visits WHERE zone = %s GROUP BY zone", (zone,))
            return {row[0]: int(row[1]) for row in cur.fetchall()}
