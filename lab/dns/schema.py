"""The dns section of the lab's truth: servers, roots, zones, resolvers. No I/O.

Parsed from truth.toml's ``[servers.*]``, ``[roots.*]``, ``[[zones]]`` and ``[resolvers.*]``
tables; the renderer builds zones and configurations from these objects, and tests and the
indicator work read the same objects to know what each server and resolver must answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fragscope.lab.core.schema import (
    TruthError,
    absolute,
    check_asn,
    check_ip,
    get_field,
    is_subdomain,
)

DNSSEC_MODES = frozenset({"none", "nsec", "nsec3", "knot", "broken", "expired"})
ZONE_KINDS = frozenset({"served", "lame", "dead"})
SOFTWARE = frozenset({"nsd", "knot", "none"})


@dataclass(frozen=True)
class Server:
    """An authoritative server address (one process may hold several addresses)."""

    key: str
    group: str
    software: str
    address: str
    ns: tuple[str, ...]
    same_process_as: str | None = None


@dataclass(frozen=True)
class Zone:
    """A zone in one naming view, with the records the renderer writes into it."""

    name: str
    view: str
    servers: tuple[str, ...]
    dnssec: str
    kind: str
    records: tuple[tuple[str, str, str], ...]
    whoami: bool = False

    @property
    def is_served(self) -> bool:
        return self.kind == "served"

    @property
    def has_ds(self) -> bool:
        """The parent publishes a DS for this zone (secure, or deliberately broken)."""
        return self.dnssec in {"nsec", "nsec3", "knot", "broken", "expired"}

    @property
    def validates(self) -> bool:
        """A validating resolver returns its data with AD set."""
        return self.dnssec in {"nsec", "nsec3", "knot"}

    @property
    def expected_ede(self) -> frozenset[int]:
        """Extended DNS Error codes (RFC 8914 section 4) a validator may attach to SERVFAIL.

        broken: 9 DNSKEY Missing (first query) or 10 RRSIGs Missing; expired: 7 Signature
        Expired (first query); either: 6 DNSSEC Bogus (Unbound, answering from its cache of
        the failed validation). Empty when validation succeeds or is moot.
        """
        return {"broken": frozenset({6, 9, 10}), "expired": frozenset({6, 7})}.get(
            self.dnssec, frozenset()
        )

    def fqdn(self, owner: str) -> str:
        if owner == "@":
            return self.name
        return absolute(owner + ("" if self.name == "." else "." + self.name.rstrip(".")))

    def rdatas(self, name: str, rdtype: str) -> list[str]:
        """Presentation rdata of ``name``/``rdtype`` as written in the truth file."""
        name, rdtype = absolute(name), rdtype.upper()
        return [r for o, t, r in self.records if self.fqdn(o) == name and t.upper() == rdtype]


@dataclass(frozen=True)
class Root:
    key: str
    tlds: tuple[str, ...]
    collides_with_icann: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    """The manipulating resolver's planted policy (RPZ)."""

    rewrite: dict[str, str]
    nxdomain: tuple[str, ...]
    onion_answer: str
    wildcard_answer: str


@dataclass(frozen=True)
class Resolver:
    """A resolver's addresses and endpoints; None = that transport is not offered."""

    key: str
    group: str
    address: str
    software: str = "unbound"
    address6: str | None = None
    egress: str | None = None
    # The origin AS of `egress` in the lab's IP-to-ASN mapping (analysis/data/lab-*.ipasn):
    # N7 counts whoami answers by it. A planted fact; tests check the mapping agrees.
    egress_asn: int | None = None
    root: str | None = None
    validating: bool = False
    udp: int | None = None
    tcp: int | None = None
    tls: int | None = None
    https: int | None = None
    https_path: str = "/dns-query"
    quic: int | None = None
    upstream: str | None = None
    policy: Policy | None = None

    @property
    def doh_url(self) -> str | None:
        if self.https is None:
            return None
        port = "" if self.https == 443 else f":{self.https}"
        return f"https://{self.address}{port}{self.https_path}"


@dataclass(frozen=True)
class DnsTruth:
    """The dns section: authoritative servers, naming roots, zones and resolvers."""

    servers: dict[str, Server]
    roots: dict[str, Root]
    zones: tuple[Zone, ...]
    resolvers: dict[str, Resolver]

    def zones_in(self, view: str) -> list[Zone]:
        return [z for z in self.zones if z.view == view]

    def zone(self, name: str, view: str = "icann") -> Zone:
        name = absolute(name)
        for z in self.zones:
            if z.name == name and z.view == view:
                return z
        raise KeyError(f"no zone {name} in view {view}")

    def authority(self, name: str, view: str) -> Zone:
        """The deepest zone of ``view`` that contains ``name`` (where its data lives)."""
        name = absolute(name)
        best = [z for z in self.zones_in(view) if is_subdomain(name, z.name)]
        return max(best, key=lambda z: len(z.name.strip(".").split(".")) if z.name != "." else 0)

    def expected(self, name: str, rdtype: str, view: str) -> list[str]:
        """The rdata a resolver of ``view`` returns for ``name`` (no CNAME chasing)."""
        return self.authority(name, view).rdatas(name, rdtype)

    def resolver_for_view(self, view: str) -> Resolver:
        for r in self.resolvers.values():
            if r.root == view and r.policy is None:
                return r
        raise KeyError(f"no plain resolver for view {view}")

    def server_of_ns(self, ns_name: str) -> Server:
        for s in self.servers.values():
            if absolute(ns_name) in s.ns:
                return s
        raise KeyError(ns_name)


def parse(raw: dict[str, Any], where: str) -> DnsTruth:
    """The dns section from the whole truth file's tables (zones without web records yet)."""
    return DnsTruth(
        servers={k: _server(k, v) for k, v in get_field(raw, "servers", where).items()},
        roots={
            k: Root(
                key=k,
                tlds=tuple(v.get("tlds", [])),
                collides_with_icann=tuple(v.get("collides_with_icann", [])),
            )
            for k, v in get_field(raw, "roots", where).items()
        },
        zones=tuple(_zone(i, z) for i, z in enumerate(get_field(raw, "zones", where))),
        resolvers={k: _resolver(k, v) for k, v in get_field(raw, "resolvers", where).items()},
    )


def _server(key: str, t: dict[str, Any]) -> Server:
    where = f"servers.{key}"
    software = get_field(t, "software", where)
    if software not in SOFTWARE:
        raise TruthError(f"{where}.software: {software!r} not in {sorted(SOFTWARE)}")
    return Server(
        key=key,
        group=get_field(t, "group", where),
        software=software,
        address=check_ip(get_field(t, "address", where), f"{where}.address"),
        ns=tuple(absolute(n) for n in get_field(t, "ns", where)),
        same_process_as=t.get("same_process_as"),
    )


def _zone(i: int, t: dict[str, Any]) -> Zone:
    where = f"zones[{i}] ({t.get('name', '?')})"
    dnssec = t.get("dnssec", "none")
    kind = t.get("kind", "served")
    if dnssec not in DNSSEC_MODES:
        raise TruthError(f"{where}.dnssec: {dnssec!r} not in {sorted(DNSSEC_MODES)}")
    if kind not in ZONE_KINDS:
        raise TruthError(f"{where}.kind: {kind!r} not in {sorted(ZONE_KINDS)}")
    records = []
    for j, rec in enumerate(t.get("records", [])):
        if not (isinstance(rec, list) and len(rec) == 3 and all(isinstance(x, str) for x in rec)):
            raise TruthError(f"{where}.records[{j}]: want [owner, type, rdata], got {rec!r}")
        records.append((rec[0], rec[1].upper(), rec[2]))
    return Zone(
        name=absolute(get_field(t, "name", where)),
        view=get_field(t, "view", where),
        servers=tuple(get_field(t, "servers", where)),
        dnssec=dnssec,
        kind=kind,
        records=tuple(records),
        whoami=bool(t.get("whoami", False)),
    )


def _resolver(key: str, t: dict[str, Any]) -> Resolver:
    where = f"resolvers.{key}"
    policy = None
    if "policy" in t:
        p = t["policy"]
        pw = f"{where}.policy"
        policy = Policy(
            rewrite={
                absolute(k): check_ip(v, f"{pw}.rewrite.{k}")
                for k, v in get_field(p, "rewrite", pw).items()
            },
            nxdomain=tuple(absolute(n) for n in get_field(p, "nxdomain", pw)),
            onion_answer=check_ip(get_field(p, "onion_answer", pw), f"{pw}.onion_answer"),
            wildcard_answer=check_ip(get_field(p, "wildcard_answer", pw), f"{pw}.wildcard_answer"),
        )
    known = {f for f in Resolver.__dataclass_fields__ if f not in {"key", "policy"}}
    unknown = set(t) - known - {"policy"}
    if unknown:
        raise TruthError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    values = {k: v for k, v in t.items() if k != "policy"}
    check_ip(get_field(t, "address", where), f"{where}.address")
    if "egress_asn" in t:
        check_asn(t["egress_asn"], f"{where}.egress_asn")
    return Resolver(key=key, policy=policy, **values)
