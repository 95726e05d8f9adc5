"""The lab's services as data: what runs, where it listens, how its health is checked.

No I/O. `build(truth, paths)` turns truth.toml into Service records; lab.world starts and
stops them. Part 2 adds services by appending more Service records (any daemon that runs
in the foreground and can be checked with a real query fits).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from fragscope.lab.health import Check, DnsCheck
from fragscope.lab.render import RunPaths, server_processes
from fragscope.lab.truth import Resolver, Server, Truth, Zone


@dataclass(frozen=True)
class Listener:
    """One address/port/protocol of a service and the query that proves it works."""

    address: str
    port: int
    protocol: str  # udp | tcp | tls | https | quic (part 2 may add others)
    check: Check | None = None


@dataclass(frozen=True)
class Service:
    """A daemon of the lab: started with ``argv`` inside the lab namespace."""

    name: str
    group: str
    software: str
    argv: tuple[str, ...]
    listeners: tuple[Listener, ...]
    log: Path
    pidfile: Path | None = None  # the daemon's own pidfile (ours is the run's pids.json)
    phase: int = 1  # phase 0 runs first: its data (Knot's DS) is needed to sign the root
    env: dict[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return self.listeners[0].address

    @property
    def port(self) -> int:
        return self.listeners[0].port

    @property
    def protocol(self) -> str:
        return self.listeners[0].protocol


def _auth_check(truth: Truth, server: Server) -> DnsCheck:
    """A query only this server answers correctly: its first zone's planted data."""
    zones: list[Zone] = [z for z in truth.zones if server.key in z.servers and z.is_served]
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
        return resolver_check(truth, truth.resolvers[r.upstream])
    if r.policy is not None and r.policy.rewrite:
        name, addr = next(iter(r.policy.rewrite.items()))
        return DnsCheck(name, "A", answers=frozenset({addr}))
    assert r.root is not None
    # Prefer a signed zone for a validating resolver, so the check also proves AD.
    zones = sorted(truth.zones_in(r.root), key=lambda z: not (r.validating and z.validates))
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


def build(truth: Truth, paths: RunPaths) -> list[Service]:
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
    for r in truth.resolvers.values():
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
            up = truth.resolvers[r.upstream]
            name = r.key if "doq" in r.key else f"doq-{r.key}"
            argv = (
                sys.executable,
                "-m",
                "fragscope.lab.doq",
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
            # The lab package must be importable inside the namespace, installed or not.
            env = {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
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
