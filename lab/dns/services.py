"""The DNS component's services: NSD, Knot, Unbound and the DoQ forwarder as Service records.

No I/O. ``dns_services(truth, paths)`` turns the truth's dns section into Service records,
each listener with a DNS query only the planted data answers (lab.dns.health).
"""

from __future__ import annotations

import sys
from pathlib import Path

from fragscope.lab.core.paths import RunPaths
from fragscope.lab.core.services import PYTHONPATH, Listener, Service
from fragscope.lab.dns.health import DnsCheck
from fragscope.lab.dns.render import server_processes
from fragscope.lab.truth import Resolver, Server, Truth, Zone


def _auth_check(truth: Truth, server: Server) -> DnsCheck:
    """A query only this server answers correctly: its first zone's planted data."""
    zones: list[Zone] = [z for z in truth.dns.zones if server.key in z.servers and z.is_served]
    z = zones[0]
    if z.whoami:
        # The querier is the host (health checks run there): mod-whoami must say so.
        return DnsCheck(z.name, "A", answers=frozenset({truth.host_address}))
    if z.dnssec == "knot":
        return DnsCheck(z.name, "DNSKEY", min_answers=2)  # Knot has signed: KSK + ZSK
    for owner, rtype, rdata in z.records:
        if rtype == "A":
            return DnsCheck(z.fqdn(owner), "A", answers=frozenset({rdata}))
    return DnsCheck(z.name, "SOA", min_answers=1)


def resolver_check(truth: Truth, r: Resolver) -> DnsCheck:
    """A recursive query whose answer comes only from the planted data of ``r``'s root."""
    if r.upstream is not None:
        return resolver_check(truth, truth.dns.resolvers[r.upstream])
    if r.policy is not None and r.policy.rewrite:
        name, addr = next(iter(r.policy.rewrite.items()))
        return DnsCheck(name, "A", answers=frozenset({addr}))
    assert r.root is not None
    # Prefer a signed zone for a validating resolver, so the check also proves AD.
    zones = sorted(truth.dns.zones_in(r.root), key=lambda z: not (r.validating and z.validates))
    for z in zones:
        if z.name == "." or not z.is_served or z.dnssec in {"broken", "expired"}:
            continue
        for owner, rtype, rdata in z.records:
            if rtype == "A":
                return DnsCheck(
                    z.fqdn(owner),
                    "A",
                    answers=frozenset({rdata}),
                    want_ad=r.validating and z.validates,
                )
    raise ValueError(f"resolver {r.key}: its root has no zone with an A record to check")


def dns_services(truth: Truth, paths: RunPaths) -> list[Service]:
    """Every service of the lab, authoritative servers first."""
    out: list[Service] = []
    for name, servers in server_processes(truth).items():
        software = servers[0].software
        conf = paths.conf / f"{software}-{name}.conf"
        listeners = []
        for s in servers:
            check = _auth_check(truth, s)
            listeners.append(Listener(s.address, 53, "udp", check))
            listeners.append(Listener(s.address, 53, "tcp", check))
        if software == "nsd":
            # -d: stay in the foreground, so the PID we hold is NSD's main process.
            argv: tuple[str, ...] = ("nsd", "-d", "-c", str(conf))
            auth_pidfile = paths.state(f"nsd-{name}") / "nsd.pid"
        else:
            argv = ("knotd", "-c", str(conf))
            auth_pidfile = paths.state(f"knot-{name}") / "knot.pid"
        out.append(
            Service(
                name=f"{software}-{name}",
                group=servers[0].group,
                software=software,
                argv=argv,
                listeners=tuple(listeners),
                log=paths.log(f"{software}-{name}"),
                pidfile=auth_pidfile,
                phase=0 if software == "knot" else 1,
            )
        )
    for r in truth.dns.resolvers.values():
        check = resolver_check(truth, r)
        listeners = []
        addresses = [r.address] + ([r.address6] if r.address6 else [])
        for a in addresses:
            for proto in ("udp", "tcp", "tls", "https", "quic"):
                port = getattr(r, proto)
                if port is not None:
                    listeners.append(Listener(a, port, proto, check))
        if r.software == "unbound":
            name = f"unbound-{r.key}"
            argv = ("unbound", "-d", "-c", str(paths.conf / f"{name}.conf"))
            pidfile: Path | None = paths.state(name) / "unbound.pid"
            env: dict[str, str] = {}
        elif r.software == "fragscope-doq":
            assert r.upstream is not None and r.quic is not None
            up = truth.dns.resolvers[r.upstream]
            name = r.key if "doq" in r.key else f"doq-{r.key}"
            argv = (
                sys.executable,
                "-m",
                "fragscope.lab.dns.doq",
                "--listen",
                r.address,
                "--port",
                str(r.quic),
                "--cert",
                str(paths.pki / "fullchain.pem"),
                "--key",
                str(paths.pki / "server.key"),
                "--upstream",
                f"{up.address}:{up.udp}",
            )
            pidfile = None
            env = dict(PYTHONPATH)
        else:
            raise ValueError(f"resolvers.{r.key}.software: unknown {r.software!r}")
        out.append(
            Service(
                name=name,
                group=r.group,
                software=r.software,
                argv=argv,
                listeners=tuple(listeners),
                log=paths.log(name),
                pidfile=pidfile,
                env=env,
            )
        )
    return out
