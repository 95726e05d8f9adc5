"""Render the lab's zones and daemon configurations from truth.toml and lab/dns/templates/.

Pure text generation (no I/O except reading the packaged templates); lab.world writes the
results into the run directory. Delegations (NS, glue, DS) are derived from the zone list,
so a zone added to truth.toml is delegated from its parent automatically.
"""

from __future__ import annotations

import ipaddress
import string
from functools import cache
from importlib import resources
from pathlib import Path

from fragscope.lab.core.paths import RunPaths
from fragscope.lab.truth import Resolver, Server, Truth, Zone, is_subdomain


@cache
def template(name: str) -> string.Template:
    return string.Template(
        resources.files("fragscope.lab.dns").joinpath("templates", name).read_text()
    )


def zone_file(zone: Zone) -> str:
    """File name of a zone: view and name, so colliding zones of two roots never clash."""
    label = "root" if zone.name == "." else zone.name.rstrip(".")
    return f"{zone.view}.{label}.zone"


def served_file(zone: Zone) -> str:
    signed = zone.dnssec in {"nsec", "nsec3", "expired"}
    return zone_file(zone) + (".signed" if signed else "")


def parent_of(truth: Truth, zone: Zone) -> Zone | None:
    """The closest enclosing zone of the same view (None for a root)."""
    if zone.name == ".":
        return None
    enclosing = [
        z
        for z in truth.dns.zones_in(zone.view)
        if z.name != zone.name and is_subdomain(zone.name, z.name) and z.is_served
    ]
    return (
        max(enclosing, key=lambda z: 0 if z.name == "." else z.name.count("."))
        if enclosing
        else None
    )


def children_of(truth: Truth, zone: Zone) -> list[Zone]:
    return [z for z in truth.dns.zones_in(zone.view) if parent_of(truth, z) == zone]


def ns_names(truth: Truth, zone: Zone) -> list[str]:
    return [n for s in zone.servers for n in truth.dns.servers[s].ns]


def _a_records(truth: Truth, name: str) -> list[str]:
    s = truth.dns.server_of_ns(name)
    rtype = "A" if ipaddress.ip_address(s.address).version == 4 else "AAAA"
    return [f"{name} IN {rtype} {s.address}"]


def render_zone(truth: Truth, zone: Zone, *, ds: dict[tuple[str, str], list[str]]) -> str:
    """Zone file text; ``ds[(view, child)]`` holds the DS rdatas published for a child."""
    names = ns_names(truth, zone)
    head = template("zone.header").substitute(
        zone=zone.name,
        view=zone.view,
        origin=zone.name,
        mname=names[0],
        hostmaster=zone.name if zone.name != "." else "root-servers.lab.",
    )
    lines = [head.rstrip("\n")]
    lines += [f"@ IN NS {n}" for n in names]
    address_lines: list[str] = []
    for n in names:  # in-zone addresses of the apex NS names (authoritative, or glue)
        if is_subdomain(n, zone.name):
            address_lines += _a_records(truth, n)
    lines += [f"{owner} IN {rtype} {rdata}" for owner, rtype, rdata in zone.records]
    for child in children_of(truth, zone):
        lines.append(f"; delegation: {child.name} ({child.kind}, dnssec {child.dnssec})")
        child_ns = ns_names(truth, child)
        lines += [f"{child.name} IN NS {n}" for n in child_ns]
        lines += [f"{child.name} IN DS {d}" for d in ds.get((child.view, child.name), [])]
        for n in child_ns:  # glue for in-bailiwick name servers (RFC 9471)
            if is_subdomain(n, zone.name):
                address_lines += _a_records(truth, n)
    lines += list(dict.fromkeys(address_lines))
    return "\n".join(lines) + "\n"


def _listen(key: str, addresses: list[str]) -> str:
    return "\n".join(f"    {key}: {a}@53" for a in addresses)


def nsd_conf(name: str, *, addresses: list[str], zones: list[Zone], paths: RunPaths) -> str:
    zone_blocks = "\n".join(
        f'zone:\n    name: "{z.name}"\n    zonefile: "{served_file(z)}"' for z in zones
    )
    return template("nsd.conf").substitute(
        name=name,
        listen=_listen("ip-address", addresses),
        zones_dir=paths.zones,
        state_dir=paths.state(name),
        log=paths.log(name),
        zones=zone_blocks,
    )


def knot_conf(name: str, *, addresses: list[str], zones: list[Zone], paths: RunPaths) -> str:
    blocks = []
    for z in zones:
        block = f'  - domain: {z.name}\n    file: "{zone_file(z)}"'
        if z.dnssec == "knot":
            block += "\n    dnssec-signing: on\n    dnssec-policy: lab"
        if z.whoami:
            # mod-whoami (built into Debian's knotd) answers with the querier's address.
            block += "\n    module: mod-whoami"
        blocks.append(block)
    return template("knot.conf").substitute(
        name=name,
        listen=_listen("listen", addresses),
        zones_dir=paths.zones,
        state_dir=paths.state(name),
        log=paths.log(name),
        zones="\n".join(blocks),
    )


def root_hints(truth: Truth, view: str) -> str:
    root = next(z for z in truth.dns.zones_in(view) if z.name == ".")
    lines = []
    for n in ns_names(truth, root):
        lines.append(f".  3600000 IN NS {n}")
        lines += [r.replace(" IN ", " 3600000 IN ") for r in _a_records(truth, n)]
    return "\n".join(lines) + "\n"


def rpz_zone(truth: Truth, resolver: Resolver) -> str:
    """The response-policy zone (RPZ, draft-vixie-dnsop-dns-rpz) of a manipulating resolver."""
    assert resolver.policy is not None
    p = resolver.policy
    lines = [
        f"; RPZ of resolver {resolver.key}, generated from lab/truth.toml",
        "$TTL 60",
        "@ IN SOA localhost. hostmaster.localhost. 1 3600 600 86400 60",
        "@ IN NS localhost.",
        "; rewritten names: the resolver substitutes these addresses",
    ]
    lines += [f"{name.rstrip('.')} IN A {addr}" for name, addr in p.rewrite.items()]
    lines.append("; forced NXDOMAIN (CNAME to the root, RPZ section 4.1)")
    lines += [f"{name.rstrip('.')} IN CNAME ." for name in p.nxdomain]
    lines.append("; .onion is never resolvable (RFC 7686) but this resolver answers anyway")
    lines += [f"onion IN A {p.onion_answer}", f"*.onion IN A {p.onion_answer}"]
    lines.append("; every name of a never-delegated TLD gets an answer (NXDOMAIN hijacking)")
    lines.append(f"* IN A {p.wildcard_answer}")
    lines.append("; ...except the TLDs the root really delegates: passed through")
    view = resolver.root or "icann"
    for tld in truth.dns.roots[view].tlds:
        # A TLD with a rule of its own above keeps that rule: one owner, one policy.
        if f"{tld}." not in {*p.rewrite, *p.nxdomain}:
            lines.append(f"{tld} IN CNAME rpz-passthru.")
        lines.append(f"*.{tld} IN CNAME rpz-passthru.")
    return "\n".join(lines) + "\n"


def unbound_conf(
    truth: Truth, resolver: Resolver, *, paths: RunPaths, tls_key: Path, tls_pem: Path
) -> str:
    name = f"unbound-{resolver.key}"
    addrs = [resolver.address] + ([resolver.address6] if resolver.address6 else [])
    ifs = []
    for a in addrs:
        if resolver.udp or resolver.tcp:
            ifs.append(f"    interface: {a}@{resolver.udp or resolver.tcp}")
        if resolver.tls:
            ifs.append(f"    interface: {a}@{resolver.tls}")
        if resolver.https:
            ifs.append(f"    interface: {a}@{resolver.https}")
    extra = []
    if resolver.validating:
        extra += [
            '    module-config: "respip validator iterator"'
            if resolver.policy
            else '    module-config: "validator iterator"',
            # A static anchor (RFC 5011 auto-update would try to write and roll it).
            f'    trust-anchor-file: "{paths.root_anchor}"',
            "    harden-dnssec-stripped: yes",
        ]
    else:
        extra.append(
            '    module-config: "respip iterator"'
            if resolver.policy
            else '    module-config: "iterator"'
        )
    if resolver.tls:
        extra += [f"    tls-port: {resolver.tls}", f'    tls-service-key: "{tls_key}"']
        extra.append(f'    tls-service-pem: "{tls_pem}"')
    if resolver.https:
        extra += [
            f"    https-port: {resolver.https}",
            f'    http-endpoint: "{resolver.https_path}"',
        ]
    rpz = ""
    if resolver.policy:
        rpz = (
            "rpz:\n"
            f'    name: "rpz.{resolver.key}.lab."\n'
            f'    zonefile: "{paths.zones / f"rpz.{resolver.key}.zone"}"\n'
            "    rpz-log: yes\n"
            f'    rpz-log-name: "{resolver.key}"\n'
        )
    return template("unbound.conf").substitute(
        name=name,
        interfaces="\n".join(ifs),
        log=paths.log(name),
        state_dir=paths.state(name),
        egress=resolver.egress or resolver.address,
        root_hints=paths.conf / f"{resolver.root}.hints",
        extra="\n".join(extra),
        rpz=rpz,
    )


def server_processes(truth: Truth) -> dict[str, list[Server]]:
    """Authoritative processes: a process key -> the servers (addresses) it holds."""
    procs: dict[str, list[Server]] = {}
    for s in truth.dns.servers.values():
        if s.software == "none":
            continue
        procs.setdefault(s.same_process_as or s.key, []).append(s)
    return procs
