"""The emulator process: moto's server app with the compat layer applied in-process.

    python -m tests.localcloud.serve --port N [--host 127.0.0.1] [--disable a,b]

Started by tests/localcloud/emulator.py (never import this from test code: it patches moto).
Also runs the DNS double (tests/doubles/dns_double.py) on a free UDP+TCP port of --host, answering
NS queries from Route 53's public hosted zones as the registrar would once the domain is delegated.
Adds a small WSGI layer in front of moto's DomainDispatcherApplication:
  GET  /_localcloud/health   {"status": "ok", "patches": [...], "seeds": [...], "disabled": [...],
                              "dns_double": {"host": ..., "port": N}}
  GET  /_localcloud/calls    {"calls": N}  AWS API requests served (not /moto-api, not /_localcloud)
  GET  /_localcloud/mutations {"mutations": ["ec2@us-east-1 CreateVpc", ...]}  the mutating calls served, in order
  POST /_localcloud/crash    {"pid": P, "after": N, "action": "CreateNatGateway" or null}: the crash harness
                             (tests/crash.py). Once N more mutating calls (only those whose action is `action`,
                             when given) have been served, moto has done the N-th, and before its response is
                             sent, process group P and every descendant of P get SIGKILL: a client killed right
                             after AWS acted, the hardest point to resume from. One arming fires once.
  GET  /_localcloud/crash    the arming: {"armed": {...} or null, "fired": "ec2@... CreateNatGateway" or null}
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
        self.mutations: list[str] = []
        self.crash: dict[str, Any] | None = None
        self.crash_fired: str | None = None
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
        if path == "/_localcloud/mutations":
            with self.lock:
                return self._json(start_response, {"mutations": list(self.mutations)})
        if path == "/_localcloud/crash":
            return self._crash_endpoint(environ, start_response)
        if path.startswith("/_localcloud/"):
            return self._json(start_response, {"error": "not found"}, "404 Not Found")
        if path.rstrip("/") == "/moto-api/reset" and method == "POST":
            with self.reset_lock:
                # Flask builds the whole response eagerly: the reset is done when this returns.
                result = list(self.app(environ, start_response))
                with self.lock:
                    self.calls = 0
                    self.mutations = []
                self.run_seeds()
            return result
        if path.startswith("/moto-api") or path == "/favicon.ico":
            return self.app(environ, start_response)
        with self.lock:
            self.calls += 1
        what, mutating = describe_call(environ)

        def _start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            # One line per AWS call that failed, naming the action: werkzeug's access log only
            # shows "POST / 400", which hides which API a module tripped over.
            if not status.startswith(("2", "3")):
                print(f"localcloud: {what} -> {status}", flush=True)
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        if not mutating:
            return self.app(environ, _start_response)
        # Flask builds the response eagerly: once this returns, moto has done the call.
        result = self.app(environ, _start_response)
        with self.lock:
            self.mutations.append(what)
            victim = self._crash_due(what)
        if victim is not None:
            kill_tree(victim)
            print(f"localcloud: crash harness killed process group {victim} right after {what}", flush=True)
        return result

    def _crash_due(self, what: str) -> int | None:
        """The pid to kill now, if the armed crash point is this call (called under the lock)."""
        if self.crash is None:
            return None
        action = self.crash.get("action")
        if action and what.rsplit(" ", 1)[-1] != action:
            return None
        self.crash["seen"] += 1
        if self.crash["seen"] < self.crash["after"]:
            return None
        pid, self.crash, self.crash_fired = self.crash["pid"], None, what
        return pid

    def _crash_endpoint(self, environ: dict[str, Any], start_response: Callable) -> list[bytes]:
        if environ.get("REQUEST_METHOD") == "POST":
            try:
                body = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)) or b"{}")
                arming = {"pid": int(body["pid"]), "after": int(body.get("after", 1)),
                          "action": body.get("action") or None, "seen": 0}
                if arming["after"] < 1 or arming["pid"] <= 1:
                    raise ValueError("after must be >= 1 and pid > 1")
            except (KeyError, TypeError, ValueError) as exc:
                return self._json(start_response, {"error": f"bad crash arming: {exc}"}, "400 Bad Request")
            with self.lock:
                self.crash, self.crash_fired = arming, None
        elif environ.get("REQUEST_METHOD") == "DELETE":
            with self.lock:
                self.crash = None
        with self.lock:
            return self._json(start_response, {"armed": self.crash, "fired": self.crash_fired})


# Actions that read or compute, never change what an account holds (the crash harness counts the
# others). Prefixes of AWS's read verbs, plus the crypto and token calls that create nothing.
_READ_PREFIXES = ("Describe", "List", "Get", "Head", "BatchGet", "Lookup", "Search", "Query", "Scan",
                  "Simulate", "Validate", "Estimate", "Preview", "Test", "Check")
_READ_ACTIONS = {"AssumeRole", "AssumeRoleWithWebIdentity", "DecodeAuthorizationMessage", "Encrypt", "Decrypt",
                 "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateRandom", "Sign",
                 "Verify"}


def is_mutating(action: str) -> bool:
    """Whether a query- or JSON-protocol action may change the account, by its verb."""
    return not (action.startswith(_READ_PREFIXES) or action in _READ_ACTIONS or action == "?")


# Signing names whose botocore model has another name.
_MODEL_OF = {"elasticfilesystem": "efs", "email": "sesv2", "execute-api": "apigateway"}
_REST_ROUTES: dict[str, list[tuple[int, str, Any, str, str]]] = {}


def rest_action(service: str, method: str, path: str, query: str = "") -> str | None:
    """The operation name of a REST call (Route 53, CloudFront, Lambda, EFS, Backup, S3, ...), read
    from botocore's model of the service: the operation whose HTTP method, request URI and query
    key (e.g. CloudFront's ``?WithTags``) match, the most specific first. None when none does."""
    import re

    if service not in _REST_ROUTES:
        routes: list[tuple[int, str, Any, str, str]] = []
        try:
            import botocore.session

            model = botocore.session.get_session().get_service_model(_MODEL_OF.get(service, service))
            for name in model.operation_names:
                http = model.operation_model(name).http
                template, _, key = http.get("requestUri", "/").partition("?")
                pattern = re.sub(r"\\\{[^}]+\\\+\\\}", ".+", re.escape(template))
                pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)
                key = key.split("&", 1)[0].split("=", 1)[0]
                # Most specific first: a required query key, then fewer placeholders.
                rank = (0 if key else 1000) + template.count("{")
                routes.append((rank, http.get("method", "POST"), re.compile(pattern.rstrip("/") + "/?$"), key, name))
        except Exception:  # noqa: BLE001 - an unknown service only loses its names in the log
            routes = []
        _REST_ROUTES[service] = sorted(routes, key=lambda r: r[0])
    keys = {part.split("=", 1)[0] for part in query.split("&") if part}
    for _, verb, pattern, key, name in _REST_ROUTES[service]:
        if verb == method and pattern.match(path) and (not key or key in keys):
            return name
    return None


def kill_tree(pid: int) -> None:
    """SIGKILL process group `pid` and every process descended from `pid` (a worker that moved to
    a session of its own included), children first found, then killed, so none can fork away."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    doomed, todo = [], [pid]
    while todo:
        current = todo.pop()
        doomed.append(current)
        todo.extend(children.get(current, []))
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    for victim in doomed:
        try:
            os.kill(victim, signal.SIGKILL)
        except OSError:
            pass


def describe_call(environ: dict[str, Any]) -> tuple[str, bool]:
    """('service Action', whether it may change the account) of an AWS request, as far as the request
    shows it: query and JSON protocols by their action's verb, REST calls by their HTTP method (GET and
    HEAD read), named from botocore's model of the service."""
    import io
    import re
    from urllib.parse import parse_qs

    service, signing = "?", "?"
    m = re.search(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
    if m:
        signing = m.group(2)
        service = f"{signing}@{m.group(1)}"
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        action = target.split(".")[-1]
        return f"{service} {action}", is_mutating(action)
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        try:
            size = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            size = 0
        if size:
            body = environ["wsgi.input"].read(size)
            environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again
            action = parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
            return f"{service} {action}", is_mutating(action)
    method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
    name = rest_action(signing, method, path, environ.get("QUERY_STRING", ""))
    return f"{service} {name or method + ' ' + path}", method not in ("GET", "HEAD", "OPTIONS")


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
