"""Load and query lab/truth.toml, the lab's planted facts. No I/O beyond reading the file.

The renderer builds zones and configurations from these objects; tests and the indicator
work read the same objects to know what each server and resolver must answer.
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fragscope.lab.chain.truth import Truth as ChainFacts

DNSSEC_MODES = frozenset({"none", "nsec", "nsec3", "knot", "broken", "expired"})
ZONE_KINDS = frozenset({"served", "lame", "dead"})
SOFTWARE = frozenset({"nsd", "knot", "none"})


class TruthError(ValueError):
    """truth.toml is inconsistent; the message names the offending entry and field."""


def absolute(name: str) -> str:
    """``name`` as an absolute, lower-case DNS name ("." for the root)."""
    name = name.strip().lower()
    return name if name.endswith(".") else name + "."


def is_subdomain(name: str, zone: str) -> bool:
    """True when ``name`` is ``zone`` or below it (both absolute)."""
    return zone == "." or name == zone or name.endswith("." + zone)


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


WEB_KINDS = frozenset({"h3", "caddy", "tcponly", "advertised", "hostile", "retry"})
# RFC 9000; RFC 9369 section 3.1; draft-ietf-quic-v2-01..04 (0x709a50c4); draft-ietf-quic-
# transport-29 (0xff00001d): old quic-go builds (Debian's Caddy) still list the last two.
QUIC_VERSIONS = {
    "v1": 0x00000001,
    "v2": 0x6B3343CF,
    "v2-draft": 0x709A50C4,
    "draft-29": 0xFF00001D,
}


@dataclass(frozen=True)
class WebHost:
    """A web host of the lab (part 2): where it listens and what it speaks and advertises."""

    key: str
    group: str
    kind: str
    name: str
    port: int
    address: str | None = None
    address6: str | None = None
    quic_versions: tuple[str, ...] = ()
    vn_versions: tuple[str, ...] = ()
    alt_svc: str = ""
    https_alpn: tuple[str, ...] = ()
    server_header: str = ""
    retry: bool = False  # its QUIC server answers every first Initial with a Retry

    @property
    def has_tcp(self) -> bool:
        """HTTPS over TCP (every kind but the QUIC-only Retry host)."""
        return self.kind != "retry"

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(a for a in (self.address, self.address6) if a)

    @property
    def has_udp(self) -> bool:
        return bool(self.quic_versions)

    def https_rdata(self) -> str:
        """The HTTPS record (RFC 9460 section 2.3, ServiceMode at the owner name)."""
        out = f'1 . alpn="{",".join(self.https_alpn)}" port={self.port}'
        if self.address:
            out += f" ipv4hint={self.address}"
        if self.address6:
            out += f" ipv6hint={self.address6}"
        return out

    def records(self) -> list[tuple[str, str, str]]:
        """(absolute owner, type, rdata) the zones get for this host."""
        out = [(self.name, "A", self.address)] if self.address else []
        if self.address6:
            out.append((self.name, "AAAA", self.address6))
        return [*out, (self.name, "HTTPS", self.https_rdata())]


@dataclass(frozen=True)
class Chain:
    """Where the lab's chain runs; its names and records are in ``facts_path``."""

    group: str
    rpc_address: str
    rpc_port: int
    gateway_address: str
    gateway_port: int
    facts_path: Path
    chain_json: str = "chain.json"

    @property
    def rpc_url(self) -> str:
        return f"http://{self.rpc_address}:{self.rpc_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.gateway_address}:{self.gateway_port}"

    def facts(self) -> ChainFacts:
        """The chain's names, records and contract addresses (lab/chain/truth.toml)."""
        from fragscope.lab.chain.truth import load_truth

        return load_truth(self.facts_path)


@dataclass(frozen=True)
class Truth:
    """Everything in truth.toml, typed."""

    namespace: str
    ca_file: str
    tls_hostname: str
    host_address: str
    host_address6: str
    cert_dns_names: tuple[str, ...]
    cert_ip_addresses: tuple[str, ...]
    groups: dict[str, tuple[str, ...]]
    servers: dict[str, Server]
    roots: dict[str, Root]
    zones: tuple[Zone, ...]
    resolvers: dict[str, Resolver]
    source: Path = field(default=Path("truth.toml"))
    web: dict[str, WebHost] = field(default_factory=dict)
    chain: Chain | None = None

    # -- queries used by the renderer and the tests ------------------------------------
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

    def whoami_answer(self, via: str | None = None) -> str:
        """What the whoami zone answers: the host itself when asked directly (``via`` None),
        else the egress address of resolver ``via`` (or of its upstream, for DoQ)."""
        if via is None:
            return self.host_address
        r = self.resolvers[via]
        if r.upstream is not None:
            return self.whoami_answer(r.upstream)
        if r.root != "icann" or r.egress is None:
            raise KeyError(f"resolver {via} does not reach the whoami zone")
        return r.egress

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

    def group_closure(self, groups: list[str] | tuple[str, ...]) -> set[str]:
        """The groups plus every group they need (transitively)."""
        todo, seen = list(groups), set()
        while todo:
            g = todo.pop()
            if g in seen:
                continue
            if g not in self.groups:
                raise TruthError(f"unknown group {g!r} (known: {', '.join(sorted(self.groups))})")
            seen.add(g)
            todo.extend(self.groups[g])
        return seen


# -- loading -------------------------------------------------------------------------------
def _get(table: dict[str, Any], key: str, where: str) -> Any:
    try:
        return table[key]
    except KeyError:
        raise TruthError(f"{where}: missing field {key!r}") from None


def _check_ip(value: str, where: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise TruthError(f"{where}: {value!r} is not an IP address") from None
    return value


def _server(key: str, t: dict[str, Any]) -> Server:
    where = f"servers.{key}"
    software = _get(t, "software", where)
    if software not in SOFTWARE:
        raise TruthError(f"{where}.software: {software!r} not in {sorted(SOFTWARE)}")
    return Server(
        key=key,
        group=_get(t, "group", where),
        software=software,
        address=_check_ip(_get(t, "address", where), f"{where}.address"),
        ns=tuple(absolute(n) for n in _get(t, "ns", where)),
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
        name=absolute(_get(t, "name", where)),
        view=_get(t, "view", where),
        servers=tuple(_get(t, "servers", where)),
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
                absolute(k): _check_ip(v, f"{pw}.rewrite.{k}")
                for k, v in _get(p, "rewrite", pw).items()
            },
            nxdomain=tuple(absolute(n) for n in _get(p, "nxdomain", pw)),
            onion_answer=_check_ip(_get(p, "onion_answer", pw), f"{pw}.onion_answer"),
            wildcard_answer=_check_ip(_get(p, "wildcard_answer", pw), f"{pw}.wildcard_answer"),
        )
    known = {f for f in Resolver.__dataclass_fields__ if f not in {"key", "policy"}}
    unknown = set(t) - known - {"policy"}
    if unknown:
        raise TruthError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    values = {k: v for k, v in t.items() if k != "policy"}
    _check_ip(_get(t, "address", where), f"{where}.address")
    return Resolver(key=key, policy=policy, **values)


def _web(key: str, t: dict[str, Any]) -> WebHost:
    where = f"web.{key}"
    known = {f for f in WebHost.__dataclass_fields__ if f != "key"}
    unknown = set(t) - known
    if unknown:
        raise TruthError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    kind = _get(t, "kind", where)
    if kind not in WEB_KINDS:
        raise TruthError(f"{where}.kind: {kind!r} not in {sorted(WEB_KINDS)}")
    for fam, field_name in ((4, "address"), (6, "address6")):
        if (
            field_name in t
            and ipaddress.ip_address(_check_ip(t[field_name], f"{where}.{field_name}")).version
            != fam
        ):
            raise TruthError(f"{where}.{field_name}: {t[field_name]!r} is not IPv{fam}")
    if "address" not in t and "address6" not in t:
        raise TruthError(f"{where}: needs address and/or address6")
    if kind == "retry" and ("address6" in t or "address" not in t):
        raise TruthError(f"{where}: a retry host has exactly one address (IPv4)")
    for f in ("quic_versions", "vn_versions"):
        bad = [v for v in t.get(f, []) if v not in QUIC_VERSIONS]
        if bad:
            raise TruthError(
                f"{where}.{f}: unknown version(s) {bad} (known: {', '.join(QUIC_VERSIONS)})"
            )
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in t.items()}
    values["name"] = absolute(_get(t, "name", where))
    _get(t, "port", where)
    _get(t, "group", where)
    return WebHost(key=key, **values)


def _facts_path(rel: str, source: Path) -> Path:
    """``rel`` next to the truth file, else in the lab package (a copied truth.toml)."""
    for base in (source.parent, default_path().parent):
        if (base / rel).is_file():
            return (base / rel).resolve()
    raise TruthError(f"chain.facts: {rel!r} found neither next to {source} nor in the lab package")


def _chain(t: dict[str, Any], source: Path) -> Chain:
    where = "chain"
    return Chain(
        group=_get(t, "group", where),
        rpc_address=_check_ip(_get(t, "rpc_address", where), "chain.rpc_address"),
        rpc_port=int(_get(t, "rpc_port", where)),
        gateway_address=_check_ip(_get(t, "gateway_address", where), "chain.gateway_address"),
        gateway_port=int(_get(t, "gateway_port", where)),
        facts_path=_facts_path(_get(t, "facts", where), source),
        chain_json=t.get("chain_json", "chain.json"),
    )


def _with_web_records(zones: tuple[Zone, ...], web: dict[str, WebHost]) -> tuple[Zone, ...]:
    """Add each web host's A/AAAA/HTTPS records to the ICANN-like zone holding its name."""
    out = list(zones)
    for host in web.values():
        # A web name belongs in a served zone below the root (the root holds delegations).
        icann = [
            i
            for i, z in enumerate(out)
            if z.view == "icann"
            and z.name != "."
            and z.is_served
            and is_subdomain(host.name, z.name)
        ]
        if not icann:
            raise TruthError(f"web.{host.key}.name: no ICANN-like zone holds {host.name}")
        i = max(icann, key=lambda j: len(out[j].name))
        z = out[i]
        owner = host.name[: -len(z.name) - 1] if z.name != "." else host.name.rstrip(".")
        clash = [
            r for r in z.records if z.fqdn(r[0]) == host.name and r[1] in {"A", "AAAA", "HTTPS"}
        ]
        if clash:
            raise TruthError(f"web.{host.key}: zone {z.name} already has {clash[0]} (generated)")
        extra = tuple((owner or "@", t, r) for _, t, r in host.records())
        out[i] = replace(z, records=z.records + extra)
    return tuple(out)


def default_path() -> Path:
    return Path(str(resources.files("fragscope.lab").joinpath("truth.toml")))


def load(path: Path | str | None = None) -> Truth:
    """Parse and cross-check truth.toml (the packaged one by default)."""
    path = Path(path) if path is not None else default_path()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise TruthError(f"{path}: {exc}") from None
    lab = _get(raw, "lab", str(path))
    web = {k: _web(k, v) for k, v in raw.get("web", {}).items()}
    zones = tuple(_zone(i, z) for i, z in enumerate(_get(raw, "zones", str(path))))
    truth = Truth(
        namespace=_get(lab, "namespace", "lab"),
        ca_file=_get(lab, "ca_file", "lab"),
        tls_hostname=_get(lab, "tls_hostname", "lab"),
        host_address=_check_ip(_get(lab, "host_address", "lab"), "lab.host_address"),
        host_address6=_check_ip(_get(lab, "host_address6", "lab"), "lab.host_address6"),
        cert_dns_names=tuple(lab.get("cert_dns_names", [])),
        cert_ip_addresses=tuple(lab.get("cert_ip_addresses", [])),
        groups={k: tuple(v) for k, v in _get(lab, "groups", "lab").items()},
        servers={k: _server(k, v) for k, v in _get(raw, "servers", str(path)).items()},
        roots={
            k: Root(
                key=k,
                tlds=tuple(v.get("tlds", [])),
                collides_with_icann=tuple(v.get("collides_with_icann", [])),
            )
            for k, v in _get(raw, "roots", str(path)).items()
        },
        zones=_with_web_records(zones, web),
        resolvers={k: _resolver(k, v) for k, v in _get(raw, "resolvers", str(path)).items()},
        source=path,
        web=web,
        chain=_chain(raw["chain"], path) if "chain" in raw else None,
    )
    _cross_check(truth)
    return truth


def _cross_check(t: Truth) -> None:
    for z in t.zones:
        for s in z.servers:
            if s not in t.servers:
                raise TruthError(f"zone {z.name} ({z.view}).servers: unknown server {s!r}")
        if z.view not in t.roots:
            raise TruthError(f"zone {z.name}.view: unknown root {z.view!r}")
    for key, root in t.roots.items():
        actual = sorted(
            z.name.rstrip(".") for z in t.zones_in(key) if z.name.count(".") == 1 and z.name != "."
        )
        if actual != sorted(root.tlds):
            raise TruthError(f"roots.{key}.tlds: {sorted(root.tlds)} but the zones give {actual}")
        icann = set(t.roots["icann"].tlds) if "icann" in t.roots else set()
        collide = sorted(set(root.tlds) & icann) if key != "icann" else []
        if collide != sorted(root.collides_with_icann):
            raise TruthError(f"roots.{key}.collides_with_icann: expected {collide}")
    for server in t.servers.values():
        if server.group not in t.groups:
            raise TruthError(f"servers.{server.key}.group: unknown group {server.group!r}")
    for h in t.web.values():
        if h.group not in t.groups:
            raise TruthError(f"web.{h.key}.group: unknown group {h.group!r}")
    if t.chain is not None and t.chain.group not in t.groups:
        raise TruthError(f"chain.group: unknown group {t.chain.group!r}")
    for r in t.resolvers.values():
        if r.group not in t.groups:
            raise TruthError(f"resolvers.{r.key}.group: unknown group {r.group!r}")
        if r.root is not None and r.root not in t.roots:
            raise TruthError(f"resolvers.{r.key}.root: unknown root {r.root!r}")
        if r.upstream is not None and r.upstream not in t.resolvers:
            raise TruthError(f"resolvers.{r.key}.upstream: unknown resolver {r.upstream!r}")
