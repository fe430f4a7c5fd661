"""The WSGI application: routing, validation, health checks.

GET  /healthz                    200 {"status":"ok","checks":{...}} or 503 naming the failed check
POST /api/visits                 {"shopper_id","zone","beacon_id"} -> 201
GET  /api/zones                  visit counts of every zone
GET  /api/zones/<zone>/visits    visit count of one zone
"""
from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading

from .config import Settings
from .store import Store

LOG = logging.getLogger("shopper_app")
# Identifiers from beacons and the shopper app: short, printable, URL-safe.
IDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
VISIT_FIELDS = ("shopper_id", "zone", "beacon_id")
MAX_BODY = 4096
ZONE_PATH = re.compile(r"^/api/zones/([^/]+)/visits$")
STATUS = {
    200: "200 OK",
    201: "201 Created",
    400: "400 Bad Request",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    413: "413 Payload Too Large",
    415: "415 Unsupported Media Type",
    503: "503 Service Unavailable",
}


class HttpError(Exception):
    def __init__(self, status: int, message: str, headers=()):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = list(headers)


def validate_visit(payload) -> dict[str, str]:
    """Return the three visit fields, or raise HttpError(400) naming what is wrong."""
    if not isinstance(payload, dict):
        raise HttpError(400, "body must be a JSON object")
    unknown = sorted(set(payload) - set(VISIT_FIELDS))
    if unknown:
        raise HttpError(400, f"unknown fields: {', '.join(unknown)}")
    visit = {}
    for field in VISIT_FIELDS:
        value = payload.get(field)
        if not isinstance(value, str) or not IDENT.match(value):
            raise HttpError(400, f"{field} must be 1-64 characters of letters, digits, '_.:-'")
        visit[field] = value
    return visit


def read_json(environ):
    if not environ.get("CONTENT_TYPE", "").split(";")[0].strip() == "application/json":
        raise HttpError(415, "Content-Type must be application/json")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError as exc:
        raise HttpError(400, "bad Content-Length") from exc
    if length > MAX_BODY:
        raise HttpError(413, f"body larger than {MAX_BODY} bytes")
    raw = environ["wsgi.input"].read(length) if length else b""
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise HttpError(400, "body is not valid JSON") from exc


def check_efs(path: str) -> None:
    """Prove the shared path is writable: write, read back and delete a probe file."""
    probe = os.path.join(path, f".healthz-{socket.gethostname()}-{os.getpid()}")
    data = b"protea healthz probe\n"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        with open(probe, "rb") as fh:
            if fh.read() != data:
                raise OSError("probe file read back differs")
    finally:
        os.unlink(probe)


class App:
    """A WSGI callable; `store` and `efs_check` are injectable for unit tests."""

    def __init__(self, settings: Settings, store=None, efs_check=check_efs):
        self.settings = settings
        self.store = store if store is not None else Store(settings)
        self.efs_check = efs_check
        self._schema_ready = False
        self._lock = threading.Lock()

    def _ensure_schema(self) -> None:
        # Once per process, on the first request (health checks included) rather than at
        # import, so the service starts and reports "db" while the database is still down.
        if self._schema_ready:
            return
        with self._lock:
            if not self._schema_ready:
                self.store.ensure_schema()
                self._schema_ready = True

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/") or "/"
        headers = [("Cache-Control", "no-store")]
        try:
            status, body = self.route(method, path, environ)
        except HttpError as err:
            status, body = err.status, {"error": err.message}
            headers += err.headers
        except Exception:  # pylint: disable=broad-except
            LOG.exception("%s %s failed", method, path)
            status, body = 503, {"error": "database unavailable"}
        payload = json.dumps(body, sort_keys=True).encode()
        headers += [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        start_response(STATUS[status], headers)
        return [payload]

    def route(self, method: str, path: str, environ):
        if path == "/healthz":
            self._allow(method, "GET", "HEAD")
            return self.healthz()
        if path == "/api/visits":
            self._allow(method, "POST")
            visit = validate_visit(read_json(environ))
            self._ensure_schema()
            self.store.add_visit(**visit)
            return 201, {"recorded": visit}
        if path == "/api/zones":
            self._allow(method, "GET")
            self._ensure_schema()
            return 200, {"zones": self.store.zone_counts()}
        match = ZONE_PATH.match(path)
        if match:
            self._allow(method, "GET")
            zone = match.group(1)
            if not IDENT.match(zone):
                raise HttpError(400, "zone must be 1-64 characters of letters, digits, '_.:-'")
            self._ensure_schema()
            return 200, {"zone": zone, "visits": self.store.zone_counts(zone).get(zone, 0)}
        raise HttpError(404, "not found")

    @staticmethod
    def _allow(method: str, *allowed: str) -> None:
        if method not in allowed:
            raise HttpError(405, f"method {method} not allowed", [("Allow", ", ".join(allowed))])

    def healthz(self):
        checks = {}
        try:
            self.store.ping()
            checks["db"] = "ok"
        except Exception as exc:  # pylint: disable=broad-except
            checks["db"] = f"failed: {type(exc).__name__}"
        if checks["db"] == "ok":
            try:
                self._ensure_schema()
                checks["schema"] = "ok" if self.store.schema_present() else "failed: table visits missing"
            except Exception as exc:  # pylint: disable=broad-except
                checks["schema"] = f"failed: {type(exc).__name__}"
        else:
            checks["schema"] = "skipped: db failed"
        try:
            self.efs_check(self.settings.efs_path)
            checks["efs"] = "ok"
        except OSError as exc:
            checks["efs"] = f"failed: {exc.strerror or type(exc).__name__}"
        failed = sorted(name for name, result in checks.items() if result != "ok")
        if failed:
            LOG.warning("healthz failed: %s", checks)
            return 503, {"status": "failed", "failed": failed, "checks": checks}
        return 200, {"status": "ok", "checks": checks}


def create_app(env=None) -> App:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return App(Settings.from_env(env))


def _file_version(path: str):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class _LazyApp:
    """Builds the App on first call so importing the module never needs the environment, and
    builds it again when the settings file (APP_ENV_FILE) changes: a rotated database password
    is used from the next request on, with no restart and no request refused."""

    def __init__(self):
        self._app = None
        self._version = None
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        version = _file_version(os.environ.get("APP_ENV_FILE", ""))
        if self._app is None or version != self._version:
            with self._lock:
                if self._app is None or version != self._version:
                    self._app = create_app()
                    self._version = version
        return self._app(environ, start_response)


application = _LazyApp()
