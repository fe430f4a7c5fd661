#!/usr/bin/python3
"""Upstream DOUBLE for molecule/web: stands in for the app on 127.0.0.1:8000.

Answers every request with 200 and a JSON echo of what nginx forwarded (path and
the proxy headers), so the tests can see what the app would receive."""
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ECHO = ("X-Forwarded-For", "X-Real-IP", "X-Forwarded-Proto", "X-Request-Id", "Host")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = json.dumps({"status": "ok", "path": self.path,
                           "headers": {h: self.headers.get(h) for h in ECHO}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "public, max-age=600")  # nginx must override it on /healthz
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", 8000), Handler).serve_forever()
