"""The lab's truth: every planted fact, in one schema with a section per component. Reads files.

One :class:`Truth` holds the lab-wide facts (namespace, CA, host addresses, groups) and one
section per component: ``dns`` (lab.dns.schema: servers, roots, zones, resolvers), ``web``
(lab.web.schema: the web hosts), ``chain`` (lab.chain.schema: where the chain runs and what
is planted on it) and ``vantages`` (lab.vantages.facts). The data lives in lab/truth.toml
(lab-wide, dns, web and the chain's location) and two files it names, lab/chain/truth.toml
and lab/vantages/truth.toml; every section raises the one :class:`TruthError`. The
renderer builds zones and configurations from these objects; tests and the indicator work
read the same objects to know what each server, host and vantage must answer.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from fragscope.lab.chain import schema as chain_schema
from fragscope.lab.chain.schema import Chain, ChainPlan
from fragscope.lab.core.schema import (
    TruthError,
    absolute,
    check_ip,
    companion_file,
    get_field,
    is_subdomain,
)
from fragscope.lab.dns import schema as dns_schema
from fragscope.lab.dns.schema import (
    DNSSEC_MODES,
    SOFTWARE,
    ZONE_KINDS,
    DnsTruth,
    Policy,
    Resolver,
    Root,
    Server,
    Zone,
)
from fragscope.lab.vantages import facts as vantage_facts
from fragscope.lab.vantages.model import Vantage
from fragscope.lab.web import schema as web_schema
from fragscope.lab.web.schema import QUIC_VERSIONS, WEB_KINDS, WebHost

__all__ = [
    "DNSSEC_MODES",
    "QUIC_VERSIONS",
    "SOFTWARE",
    "WEB_KINDS",
    "ZONE_KINDS",
    "Chain",
    "ChainPlan",
    "DnsTruth",
    "Policy",
    "Resolver",
    "Root",
    "Server",
    "Truth",
    "TruthError",
    "Vantage",
    "WebHost",
    "Zone",
    "absolute",
    "default_path",
    "is_subdomain",
    "load",
]


@dataclass(frozen=True)
class Truth:
    """Everything the lab plants, typed: lab-wide facts and one section per component."""

    namespace: str
    ca_file: str
    tls_hostname: str
    host_address: str
    host_address6: str
    cert_dns_names: tuple[str, ...]
    cert_ip_addresses: tuple[str, ...]
    groups: dict[str, tuple[str, ...]]
    dns: DnsTruth
    source: Path = field(default=Path("truth.toml"))
    web: dict[str, WebHost] = field(default_factory=dict)
    chain: Chain | None = None
    vantages: dict[str, Vantage] = field(default_factory=dict)

    def whoami_answer(self, via: str | None = None) -> str:
        """What the whoami zone answers: the host itself when asked directly (``via`` None),
        else the egress address of resolver ``via`` (or of its upstream, for DoQ)."""
        if via is None:
            return self.host_address
        r = self.dns.resolvers[via]
        if r.upstream is not None:
            return self.whoami_answer(r.upstream)
        if r.root != "icann" or r.egress is None:
            raise KeyError(f"resolver {via} does not reach the whoami zone")
        return r.egress

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


def default_path() -> Path:
    return Path(str(resources.files("fragscope.lab").joinpath("truth.toml")))


def load(path: Path | str | None = None) -> Truth:
    """Parse and cross-check truth.toml (the packaged one by default) and the files it names."""
    path = Path(path) if path is not None else default_path()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise TruthError(f"{path}: {exc}") from None
    lab = get_field(raw, "lab", str(path))
    web = {k: web_schema.parse_host(k, v) for k, v in raw.get("web", {}).items()}
    dns = dns_schema.parse(raw, str(path))
    truth = Truth(
        namespace=get_field(lab, "namespace", "lab"),
        ca_file=get_field(lab, "ca_file", "lab"),
        tls_hostname=get_field(lab, "tls_hostname", "lab"),
        host_address=check_ip(get_field(lab, "host_address", "lab"), "lab.host_address"),
        host_address6=check_ip(get_field(lab, "host_address6", "lab"), "lab.host_address6"),
        cert_dns_names=tuple(lab.get("cert_dns_names", [])),
        cert_ip_addresses=tuple(lab.get("cert_ip_addresses", [])),
        groups={k: tuple(v) for k, v in get_field(lab, "groups", "lab").items()},
        dns=DnsTruth(
            servers=dns.servers,
            roots=dns.roots,
            zones=web_schema.with_web_records(dns.zones, web),
            resolvers=dns.resolvers,
        ),
        source=path,
        web=web,
        chain=chain_schema.parse(raw["chain"], path) if "chain" in raw else None,
        vantages=_vantages(raw, path),
    )
    _cross_check(truth)
    return truth


def _vantages(raw: dict[str, Any], source: Path) -> dict[str, Vantage]:
    """The vantages section: the file ``[vantages] facts`` names (default the packaged one)."""
    rel = raw.get("vantages", {}).get("facts", "vantages/truth.toml")
    return vantage_facts.load(companion_file(rel, source, default_path().parent, "vantages.facts"))


def _cross_check(t: Truth) -> None:
    for z in t.dns.zones:
        for s in z.servers:
            if s not in t.dns.servers:
                raise TruthError(f"zone {z.name} ({z.view}).servers: unknown server {s!r}")
        if z.view not in t.dns.roots:
            raise TruthError(f"zone {z.name}.view: unknown root {z.view!r}")
    for key, root in t.dns.roots.items():
        actual = sorted(
            z.name.rstrip(".")
            for z in t.dns.zones_in(key)
            if z.name.count(".") == 1 and z.name != "."
        )
        if actual != sorted(root.tlds):
            raise TruthError(f"roots.{key}.tlds: {sorted(root.tlds)} but the zones give {actual}")
        icann = set(t.dns.roots["icann"].tlds) if "icann" in t.dns.roots else set()
        collide = sorted(set(root.tlds) & icann) if key != "icann" else []
        if collide != sorted(root.collides_with_icann):
            raise TruthError(f"roots.{key}.collides_with_icann: expected {collide}")
    for server in t.dns.servers.values():
        if server.group not in t.groups:
            raise TruthError(f"servers.{server.key}.group: unknown group {server.group!r}")
    for h in t.web.values():
        if h.group not in t.groups:
            raise TruthError(f"web.{h.key}.group: unknown group {h.group!r}")
    if t.chain is not None and t.chain.group not in t.groups:
        raise TruthError(f"chain.group: unknown group {t.chain.group!r}")
    for r in t.dns.resolvers.values():
        if r.group not in t.groups:
            raise TruthError(f"resolvers.{r.key}.group: unknown group {r.group!r}")
        if r.root is not None and r.root not in t.dns.roots:
            raise TruthError(f"resolvers.{r.key}.root: unknown root {r.root!r}")
        if r.upstream is not None and r.upstream not in t.dns.resolvers:
            raise TruthError(f"resolvers.{r.key}.upstream: unknown resolver {r.upstream!r}")
