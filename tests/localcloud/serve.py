"""The emulator process: moto's server app with the compat layer applied in-process.

    python -m tests.localcloud.serve --port N [--host 127.0.0.1] [--disable a,b]

Started by tests/localcloud/emulator.py (never import this from test code: it patches moto).
Also runs the DNS double (tests/doubles/dns_double.py) on a free UDP+TCP port of --host, answering
NS queries from Route 53's public hosted zones as the registrar would once the domain is delegated.
Adds a small WSGI layer in front of moto's DomainDispatcherApplication:
  GET  /_localcloud/health   {"status": "ok", "patches": [...], "seeds": [...], "disabled": [...],
                              "dns_double": {"host": ..., "port": N}}
  GET  /_localcloud/calls    {"calls": N}  AWS API requests served (not /moto-api, not /_localcloud)
  POST /moto-api/reset       moto's reset, then the call counter is zeroed and the seeds re-applied
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import traceback
from typing import Any, Callable

from tests.localcloud.emulator import DNS_DOUBLE_SWITCH

# moto reads these at import time; the server is always started with them.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")


class LocalCloudApp:
    """WSGI middleware: counts AWS API calls and re-seeds after moto's reset."""

    def __init__(self, app: Any, seeds: list[Any], info: dict[str, Any]):
        self.app = app
        self.seeds = seeds
        self.info = info
        self.calls = 0
        self.lock = threading.Lock()
        self.reset_lock = threading.Lock()

    def run_seeds(self) -> None:
        for seed in self.seeds:
            seed.apply()

    def _json(self, start_response: Callable, body: dict[str, Any], status: str = "200 OK") -> list[bytes]:
        data = json.dumps(body).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/_localcloud/health":
            return self._json(start_response, {"status": "ok", **self.info})
        if path == "/_localcloud/calls":
            with self.lock:
                return self._json(start_response, {"calls": self.calls})
        if path.startswith("/_localcloud/"):
            return self._json(start_response, {"error": "not found"}, "404 Not Found")
        if path.rstrip("/") == "/moto-api/reset" and method == "POST":
            with self.reset_lock:
                # Flask builds the whole response eagerly: the reset is done when this returns.
                result = list(self.app(environ, start_response))
                with self.lock:
                    self.calls = 0
                self.run_seeds()
            return result
        if path.startswith("/moto-api") or path == "/favicon.ico":
            return self.app(environ, start_response)
        with self.lock:
            self.calls += 1
        what = describe_call(environ)

        def _start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            # One line per AWS call that failed, naming the action: werkzeug's access log only
            # shows "POST / 400", which hides which API a module tripped over.
            if not status.startswith(("2", "3")):
                print(f"localcloud: {what} -> {status}", flush=True)
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return self.app(environ, _start_response)


def describe_call(environ: dict[str, Any]) -> str:
    """'service Action' of an AWS request, as far as the request shows it (for the log)."""
    import io
    import re
    from urllib.parse import parse_qs

    service = "?"
    m = re.search(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
    if m:
        service = f"{m.group(2)}@{m.group(1)}"
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return f"{service} {target.split('.')[-1]}"
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        try:
            size = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            size = 0
        if size:
            body = environ["wsgi.input"].read(size)
            environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again
            action = parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
            return f"{service} {action}"
    return f"{service} {environ.get('REQUEST_METHOD', '')} {environ.get('PATH_INFO', '')}"


def build_app(disable: set[str], instances: bool = False) -> LocalCloudApp:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from tests.localcloud import compat

    patches, seeds = compat.select(disable, instances=instances)
    for patch in patches:
        patch.apply()
    moto_app = DomainDispatcherApplication(create_backend_app)
    moto_app.debug = True  # type: ignore[attr-defined]
    app: Any = moto_app
    for patch in patches:
        if patch.wrap is not None:
            app = patch.wrap(app)
    info = {
        "patches": [p.name for p in patches],
        "seeds": [s.name for s in seeds],
        "disabled": sorted(disable),
        "pid": os.getpid(),
        "instances": instances,
    }
    local = LocalCloudApp(app, seeds, info)
    local.run_seeds()
    return local


def route53_public_zones() -> dict[str, list[str]]:
    """{zone name: its delegation set's name servers} of every public hosted zone moto holds."""
    from moto.route53.models import route53_backends

    zones: dict[str, list[str]] = {}
    for regions in list(route53_backends.values()):
        for backend in list(regions.values()):
            for zone in list(backend.zones.values()):
                if not zone.private_zone and zone.delegation_set is not None:
                    zones[zone.name] = list(zone.delegation_set.name_servers)
    return zones


def start_dns_double(app: LocalCloudApp, host: str, state_dir: str) -> Any:
    """The DNS double (tests/doubles/dns_double.py) on a free port of host, answering from Route 53's
    public hosted zones; switch file <state_dir>/dns-double.json. Its address goes into /_localcloud/health."""
    from tests.doubles.dns_double import DnsDouble

    double = DnsDouble(route53_public_zones, os.path.join(os.path.abspath(state_dir), DNS_DOUBLE_SWITCH), host).start()
    app.info["dns_double"] = {"host": double.host, "port": double.port}
    return double


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.localcloud.serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--disable", default="", help="comma-separated compat patch/seed names to leave out")
    parser.add_argument("--instances", action="store_true", default=os.environ.get("PROTEA_LOCALCLOUD_INSTANCES") == "1",
                        help="materialise instances as podman containers (tests/localcloud/instances.py)")
    parser.add_argument("--state-dir", default=os.environ.get("PROTEA_LOCALCLOUD_STATE_DIR", "."),
                        help="where the doubles' files go (the DNS double's switch; instance mode: instances.json)")
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))

    from werkzeug.serving import run_simple
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    from tests.localcloud import compat

    disable = compat.disabled_from_env([n.strip() for n in args.disable.split(",") if n.strip()])
    reconciler = None
    try:
        if args.instances:
            from tests.localcloud import instances

            # Created before the patches are applied (they hook into it), started once the app exists.
            reconciler = instances.RECONCILER = instances.Reconciler(args.state_dir)
        app = build_app(disable, instances=args.instances)
    except Exception:
        traceback.print_exc()
        sys.exit(3)
    if reconciler is not None:
        reconciler.start()
    try:
        start_dns_double(app, args.host, args.state_dir)
    except Exception:
        traceback.print_exc()
        sys.exit(3)
    print(f"localcloud: patches={app.info['patches']} seeds={app.info['seeds']} disabled={sorted(disable)}", flush=True)

    def _stop(signum: int, frame: Any) -> None:
        # Everything is in memory and the log is unbuffered: skip the slow interpreter
        # teardown of moto's large object graphs (seconds per server).
        print(f"localcloud: signal {signum}, exiting", flush=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
