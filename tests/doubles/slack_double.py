"""Slack double: a real HTTP server on loopback that speaks Slack's incoming-webhook protocol.

What Slack does (https://api.slack.com/messaging/webhooks, "Handling errors"), and so does this:
* ``POST /services/<T>/<B>/<secret>`` with a JSON body (``Content-Type: application/json``).
* ``200 ok`` (text/plain) when the message is accepted.
* ``400 invalid_payload`` for a body that is not JSON, ``400 no_text`` when neither ``text``
  nor ``blocks``/``attachments`` is given, ``400 invalid_blocks`` for blocks Slack refuses
  (tests/doubles/block_kit.py: types, required text, length and count limits).
* ``404 no_service`` for an unknown or revoked webhook path, ``405`` for other methods.
* ``429 rate_limited`` with a ``Retry-After`` header (seconds) when rate limited.
* ``500 rollup_error`` when Slack itself fails.

Tests script failures with ``fail_next(status, count, retry_after)``; ``new_webhook()`` adds a
webhook (as a Slack app's "Add New Webhook" does) and ``revoke(url)`` removes one (rotation).
Accepted messages are in ``messages`` (parsed JSON), every request (accepted or not) in ``requests``.
Run standalone for manual use: ``python -m tests.doubles.slack_double --port 8089``.
"""
from __future__ import annotations

import argparse
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.doubles import block_kit

ERROR_BODIES = {429: "rate_limited", 500: "rollup_error", 502: "bad_gateway", 503: "service_unavailable"}


class SlackDouble:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.path = self._new_path()
        self.paths = {self.path}
        self.messages: list[dict] = []
        self.message_paths: list[str] = []  # the webhook each accepted message came to
        self.requests: list[dict] = []
        self.refusals: list[list[str]] = []  # why each 400 invalid_blocks was answered
        self._failures: list[tuple[int, int | None]] = []
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="slack-double", daemon=True)

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> "SlackDouble":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def webhook_url(self) -> str:
        return self.base_url + self.path

    @staticmethod
    def _new_path() -> str:
        return f"/services/T{secrets.token_hex(4).upper()}/B{secrets.token_hex(4).upper()}/{secrets.token_urlsafe(18)}"

    # -- scripting -----------------------------------------------------------------
    def new_webhook(self) -> str:
        """Another webhook of the same app: its URL (the first one keeps working until revoked)."""
        path = self._new_path()
        with self._lock:
            self.paths.add(path)
        return self.base_url + path

    def revoke(self, url: str) -> None:
        """Remove a webhook: posts to it get 404 no_service from now on."""
        with self._lock:
            self.paths.discard(url.removeprefix(self.base_url))

    def fail_next(self, status: int, count: int = 1, retry_after: int | None = None) -> None:
        """Answer the next ``count`` valid posts with ``status`` (429 carries Retry-After)."""
        with self._lock:
            self._failures.extend([(status, retry_after)] * count)

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.message_paths.clear()
            self.requests.clear()
            self.refusals.clear()
            self._failures.clear()

    def wait_for(self, count: int = 1, timeout: float = 30.0) -> list[dict]:
        """Block until at least ``count`` messages were accepted; return them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"Slack double got {len(self.messages)} message(s), expected {count}; "
                                       f"requests: {[r['status'] for r in self.requests]}")
                self._cond.wait(left)
            return list(self.messages)

    # -- protocol ------------------------------------------------------------------
    def _answer(self, method: str, path: str, headers, body: bytes) -> tuple[int, dict, str]:
        if method != "POST":
            return 405, {"Allow": "POST"}, "invalid_method"
        with self._lock:
            known = path in self.paths
        if not known:
            return 404, {}, "no_service"
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return 400, {}, "invalid_payload"
        if not isinstance(payload, dict):
            return 400, {}, "invalid_payload"
        if not (payload.get("text") or payload.get("blocks") or payload.get("attachments")):
            return 400, {}, "no_text"
        refused = block_kit.problems(payload)
        if refused:
            with self._lock:
                self.refusals.append(refused)
            return 400, {}, "invalid_blocks"
        with self._cond:
            if self._failures:
                status, retry_after = self._failures.pop(0)
                extra = {"Retry-After": str(retry_after if retry_after is not None else 1)} if status == 429 else {}
                return status, extra, ERROR_BODIES.get(status, "error")
            self.messages.append(payload)
            self.message_paths.append(path)
            self._cond.notify_all()
        return 200, {}, "ok"

    def _handler_class(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "SlackDouble/1"

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, text = double._answer(self.command, self.path, self.headers, body)
                with double._lock:
                    double.requests.append({"method": self.command, "path": self.path, "status": status,
                                            "content_type": self.headers.get("Content-Type"), "body": body})
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET = do_PUT = _serve

            def log_message(self, *args):  # keep test output quiet
                pass

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with SlackDouble(port=args.port) as double:
        print(double.webhook_url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
