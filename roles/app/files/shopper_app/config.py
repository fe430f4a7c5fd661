"""Settings from the environment (systemd EnvironmentFile written by the app role), overlaid by
the file APP_ENV_FILE names: the settings read at boot and on rotation (runtime_config), which the
app reads again whenever that file changes (wsgi.py)."""
from __future__ import annotations

import os
from dataclasses import dataclass

ENGINES = ("postgres", "mysql", "mariadb")
# libpq's sslmode names; the same meaning is applied to PyMySQL (store.connect).
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
VERIFYING_SSLMODES = ("verify-ca", "verify-full")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


def read_env_file(path: str) -> dict[str, str]:
    """KEY="value" lines as runtime_config writes them (\\, \" and \n escaped); {} when there is no file."""
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        return {}
    values = {}
    for line in lines:
        key, sep, raw = line.partition("=")
        if not sep or not key or line.startswith("#"):
            continue
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            out, i, raw = [], 0, raw[1:-1]
            while i < len(raw):
                if raw[i] == "\\" and i + 1 < len(raw):
                    out.append(_ESCAPES.get(raw[i + 1], raw[i + 1]))
                    i += 2
                else:
                    out.append(raw[i])
                    i += 1
            raw = "".join(out)
        values[key.strip()] = raw
    return values


@dataclass(frozen=True)
class Settings:
    db_engine: str
    db_host: str
    db_port: int
    db_name: str
    db_user: str
    db_password: str
    db_sslmode: str
    db_ca_bundle: str
    db_connect_timeout: int
    efs_path: str

    @classmethod
    def from_env(cls, env=None) -> "Settings":
        if env is None:
            env = {**os.environ, **read_env_file(os.environ.get("APP_ENV_FILE", ""))}
        engine = env.get("APP_DB_ENGINE", "postgres")
        if engine not in ENGINES:
            raise ValueError(f"APP_DB_ENGINE must be one of {ENGINES}, not {engine!r}")
        default_port = "5432" if engine == "postgres" else "3306"
        # Verified TLS unless told otherwise: RDS parameter groups may refuse plain text,
        # and only a verified certificate proves the endpoint is the database.
        sslmode = env.get("APP_DB_SSLMODE") or "verify-full"
        if sslmode not in SSLMODES:
            raise ValueError(f"APP_DB_SSLMODE must be one of {SSLMODES}, not {sslmode!r}")
        ca_bundle = env.get("APP_DB_CA_BUNDLE", "")
        if sslmode in VERIFYING_SSLMODES and not ca_bundle:
            raise ValueError(f"APP_DB_SSLMODE={sslmode} needs APP_DB_CA_BUNDLE, the CA bundle file that signs the database's certificate")
        return cls(
            db_engine=engine,
            db_host=env.get("APP_DB_HOST", "127.0.0.1"),
            db_port=int(env.get("APP_DB_PORT") or default_port),
            db_name=env.get("APP_DB_NAME", "shopper"),
            db_user=env.get("APP_DB_USER", "shopper"),
            db_password=env.get("APP_DB_PASSWORD", ""),
            db_sslmode=sslmode,
            db_ca_bundle=ca_bundle,
            db_connect_timeout=int(env.get("APP_DB_CONNECT_TIMEOUT", "3")),
            efs_path=env.get("APP_EFS_PATH", "/mnt/efs/app"),
        )
