"""nginx from the web role in front of the upstream double: service, headers, EFS
files with CDN cache headers, real client IP from trusted proxies only, JSON log."""
from __future__ import annotations

import json
import shlex

import pytest

LOG = "/var/log/nginx/access.json.log"
CLIENT = "203.0.113.7"  # documentation address: only ever a header value


def get(host, url, headers=()):
    """curl inside the instance: (status, {lower-case header: value}, body)."""
    cmd = ["curl", "-sS", "-D", "/tmp/h", "-o", "/tmp/b", "-w", "%{http_code}", url]
    for header in headers:
        cmd += ["-H", header]
    status = int(host.check_output(shlex.join(cmd)))
    lines = host.file("/tmp/h").content_string.splitlines()[1:]
    head = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if ":" in line)}
    return status, head, host.file("/tmp/b").content.decode("utf-8", "replace")  # may be gzip


def last_log(host):
    return json.loads(host.check_output(f"tail -n 1 {LOG}"))


@pytest.fixture(scope="module")
def own_address(host):
    """The instance's address on the test network, which converge made the 'VPC'."""
    return host.interface("eth0").addresses[0]


def test_nginx_enabled_running_on_port_80(host):
    assert host.service("nginx").is_running and host.service("nginx").is_enabled
    assert host.socket("tcp://0.0.0.0:80").is_listening
    assert host.run("nginx -t").rc == 0


def test_server_tokens_off(host):
    _, head, _ = get(host, "http://127.0.0.1/")
    assert head["server"] == "nginx"


def test_healthz_passthrough_uncached_unlogged(host):
    before = host.check_output(f"wc -l < {LOG}")
    status, head, body = get(host, "http://127.0.0.1/healthz")
    assert status == 200 and json.loads(body)["path"] == "/healthz"
    assert head["cache-control"] == "no-store"  # the upstream's own max-age is replaced
    assert host.check_output(f"wc -l < {LOG}") == before


def test_static_from_efs_long_lived_immutable_and_gzipped(host):
    host.run_test("python3 -c \"open('/mnt/efs/app/static/app.css','w').write('body { margin: 0 }\\n' * 200)\"")
    status, head, body = get(host, "http://127.0.0.1/static/app.css")
    assert status == 200 and body.startswith("body { margin: 0 }")
    assert head["cache-control"] == "public, max-age=31536000, immutable"
    _, head, _ = get(host, "http://127.0.0.1/static/app.css", ["Accept-Encoding: gzip"])
    assert head["content-encoding"] == "gzip" and head["vary"] == "Accept-Encoding"
    status, head, _ = get(host, "http://127.0.0.1/static/missing.css")
    assert status == 404 and "immutable" not in head.get("cache-control", "")


def test_uploads_short_lived_and_not_sniffed(host):
    host.run_test("echo '<script>x</script>' > /mnt/efs/app/uploads/receipt.txt")
    status, head, _ = get(host, "http://127.0.0.1/uploads/receipt.txt")
    assert status == 200
    assert head["cache-control"] == "public, max-age=300"
    assert head["x-content-type-options"] == "nosniff"
    assert "sandbox" in head["content-security-policy"]


def test_forwarded_for_from_trusted_proxy_sets_client_ip(host, own_address):
    status, _, body = get(host, f"http://{own_address}/api/zones", [f"X-Forwarded-For: {CLIENT}"])
    assert status == 200
    assert json.loads(body)["headers"]["X-Real-IP"] == CLIENT
    entry = last_log(host)
    assert entry["remote_addr"] == CLIENT and entry["peer_addr"] == own_address


def test_forwarded_for_from_untrusted_address_is_ignored(host):
    status, _, body = get(host, "http://127.0.0.1/api/zones", ["X-Forwarded-For: 203.0.113.8"])
    assert status == 200
    assert json.loads(body)["headers"]["X-Real-IP"] == "127.0.0.1"
    entry = last_log(host)
    assert entry["remote_addr"] == "127.0.0.1"
    assert entry["x_forwarded_for"] == "203.0.113.8"  # logged, but not believed


def test_json_log_line_parses_with_the_request(host):
    get(host, "http://127.0.0.1/api/zones/dairy/visits?x=\"quoted\"", ['User-Agent: probe "q"'])
    entry = last_log(host)
    assert entry["uri"] == '/api/zones/dairy/visits?x="quoted"'
    assert entry["user_agent"] == 'probe "q"'
    assert entry["status"] == 200 and entry["method"] == "GET"
    assert isinstance(entry["request_time"], float) and len(entry["request_id"]) == 32
