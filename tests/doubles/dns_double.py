"""DNS double: a real DNS server on loopback (UDP and TCP, one unprivileged port) that answers
what public DNS says about the local cloud's domains once their registrar has delegated them.

For a name that is a public hosted zone it answers the NS query with the name servers a registrar
would list, as a recursive resolver returns them (answer section, RA, NOERROR): by default the
zone's own delegation set, i.e. "delegated". Names below a zone exist without NS records (NOERROR,
no answer); any other name does not exist (NXDOMAIN), as for an unregistered domain.

The zones come from ``zones()``, a callable returning ``{zone name: [name servers]}``: inside the
local cloud, Route 53's hosted zones read from moto (tests/localcloud/serve.py), so the double
follows what the playbooks created. The switch file (``switch``, JSON, read on every query) makes
it answer as the registrar of a domain not delegated yet, or not at all:

* ``{"name_servers": ["ns1.registrar.example", ...]}``: these for every zone (not delegated);
* ``{"drop": true}``: no answer (the client times out);
* absent, empty or ``{}``: the zones' own name servers (delegated).

Run standalone (fixed zones) for manual use:
``python -m tests.doubles.dns_double --port 5354 --zone example.com=ns1.example.net,ns2.example.net``
"""
from __future__ import annotations

import argparse
import json
import socketserver
import struct
import threading
from pathlib import Path
from typing import Callable

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

Zones = Callable[[], dict[str, list[str]]]


class DnsDouble:
    def __init__(self, zones: Zones, switch: str | Path | None = None, host: str = "127.0.0.1", port: int = 0,
                 ttl: int = 172800):
        self.zones = zones
        self.switch = Path(switch) if switch else None
        self.ttl = ttl
        self.queries: list[tuple[str, str]] = []  # (name, type) of every query answered or dropped
        self._udp, self._tcp = self._bind(host, port)
        self.host, self.port = self._udp.server_address[:2]
        self._threads = [threading.Thread(target=s.serve_forever, name=f"dns-double-{kind}", daemon=True)
                         for kind, s in (("udp", self._udp), ("tcp", self._tcp))]

    # -- lifecycle -----------------------------------------------------------------
    def _bind(self, host: str, port: int) -> tuple[socketserver.ThreadingUDPServer, socketserver.ThreadingTCPServer]:
        """UDP and TCP servers on the same port (a free one when port is 0: retried if TCP's is taken)."""
        double = self

        class Udp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                reply = double.answer(data)
                if reply is not None:
                    sock.sendto(reply, self.client_address)

        class Tcp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                head = self.request.recv(2)
                if len(head) < 2:
                    return
                (length,) = struct.unpack("!H", head)
                data = b""
                while len(data) < length:
                    chunk = self.request.recv(length - len(data))
                    if not chunk:
                        return
                    data += chunk
                reply = double.answer(data, limit=65535)
                if reply is not None:
                    self.request.sendall(struct.pack("!H", len(reply)) + reply)

        socketserver.ThreadingUDPServer.allow_reuse_address = True
        last: OSError | None = None
        for _ in range(20):
            udp = socketserver.ThreadingUDPServer((host, port), Udp)
            udp.daemon_threads = True
            try:
                tcp = socketserver.ThreadingTCPServer((host, udp.server_address[1]), Tcp)
            except OSError as e:
                udp.server_close()
                last = e
                if port:
                    raise
                continue
            tcp.daemon_threads = True
            return udp, tcp
        raise OSError(f"no port free for both UDP and TCP: {last}")

    def start(self) -> "DnsDouble":
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        for s in (self._udp, self._tcp):
            s.shutdown()
            s.server_close()

    def __enter__(self) -> "DnsDouble":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- answers -------------------------------------------------------------------
    def _switch(self) -> dict:
        if self.switch is None:
            return {}
        try:
            return json.loads(self.switch.read_text() or "{}")
        except (OSError, ValueError):
            return {}

    def answer(self, wire: bytes, limit: int = 512) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except Exception:  # noqa: BLE001 - not DNS: no answer, as a server drops garbage
            return None
        if not query.question:
            return None
        question = query.question[0]
        self.queries.append((question.name.to_text(), dns.rdatatype.to_text(question.rdtype)))
        switch = self._switch()
        if switch.get("drop"):
            return None
        reply = dns.message.make_response(query)
        reply.flags |= dns.flags.RA
        zones = {dns.name.from_text(z): servers for z, servers in (self.zones() or {}).items()}
        # The closest enclosing zone, as a resolver finds it.
        zone = max((z for z in zones if question.name.is_subdomain(z)), key=len, default=None)
        if zone is None:
            reply.set_rcode(dns.rcode.NXDOMAIN)
        elif question.name == zone and question.rdtype == dns.rdatatype.NS and question.rdclass == dns.rdataclass.IN:
            servers = switch.get("name_servers") or zones[zone]
            reply.answer.append(dns.rrset.from_text_list(zone, self.ttl, "IN", "NS",
                                                         [s.rstrip(".") + "." for s in servers]))
        return reply.to_wire(max_size=limit)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.doubles.dns_double")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--zone", action="append", default=[], help="NAME=NS1,NS2 (repeatable)")
    parser.add_argument("--switch", help="the switch file (JSON, see the module docstring)")
    args = parser.parse_args(argv)
    zones = {z.split("=", 1)[0]: z.split("=", 1)[1].split(",") for z in args.zone}
    double = DnsDouble(lambda: zones, args.switch, args.host, args.port).start()
    print(f"{double.host}:{double.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        double.stop()


if __name__ == "__main__":
    main()
