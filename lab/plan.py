"""The lab's measurement plan: what a round asks, and each vantage's campaign. Does file I/O
only to write the target lists (:func:`write_targets`).

One plan, derived from the lab truth (lab/truth.toml, lab/vantages/truth.toml,
lab/chain/truth.toml), is what both ``fragscope demo`` (lab/demo.py) and the lab indicator
tests (tests/analysis/test_lab_indicators.py) run at every vantage, so the demo measures
everything the indicators need (docs/indicators.md) and the tests check what the demo
shows. :func:`campaign_text` renders one vantage's campaign TOML (docs/campaigns.md):
its own resolver (and any further ones its network offers) against the control on its own
address, dns.iterative over the DNSSEC cases, whoami, the TLDs' SOA, canaries, the
transport probes (transport.ech included) and the path probe over the pinned web hosts,
and naming.resolve over every root and the chain; at least ``retries = 2``, more where the
vantage's path loses packets (lab/budget.py).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fragscope.lab import budget as path_budget
from fragscope.lab import truth as lab_truth
from fragscope.lab.dpi.policy import Mode
from fragscope.lab.vantages import HOST_VANTAGES
from fragscope.probes.naming.probe import NamingProbe

if TYPE_CHECKING:
    from fragscope.lab.vantages.model import Vantage
    from fragscope.lab.world import Lab

# Every lab vantage (lab/vantages/truth.toml): the demo's round runs the plan at each.
VANTAGES = ("clean", "censored", "lossy", "distant", "altroot", "dpi-inline", "dpi-residual")
# The vantages whose every indicator follows from the truth alone. At dpi-residual which
# flows trigger the censor is a seeded draw over each flow's 4-tuple, whose source port the
# kernel picks (lab.dpi.policy.DpiPolicy.triggers), and a triggered 3-tuple then drops the
# other probes' flows to that address for residual_s: its values are checked against the
# recorded flows instead (tests/transport/test_sni_lab.py).
EXACT_VANTAGES = tuple(v for v in VANTAGES if v != "dpi-residual")
# The control vantage: the host itself, on no planted path (every other vantage's C1 and
# pair tests compare with it).
CONTROL_VANTAGE = "clean"
# The registry namespace each lab root stands for (lab/truth.toml [roots.*]).
NAMESPACE_OF_VIEW = {"icann": "icann", "alt": "opennic", "hns": "handshake"}
# manipulating resolver leaves them alone, so they carry no divergence.
PLAIN_NAMES = ("mail.example.test.", "mail.nsec.test.", "caddy.example.test.")
# N8's canaries: one name under each special-use TLD that must never resolve (RFC 7686
# .onion with a v3-length label, RFC 6761 .invalid, RFC 9476 .alt).
CANARIES = ("a" * 56 + ".onion.", "fscanary.invalid.", "fscanary.alt.")
QTYPES = ("A", "AAAA", "SOA")  # A/AAAA for N1/N5/N6/N8 and T5's AAAA_share; SOA for N2
WHOAMI = "whoami.lab."
# transport.sni's control name: innocuous, served by no lab host (a TLS alert or a QUIC
# close still proves the ClientHello reached a TLS stack), blocked by no censor.
SNI_CONTROL = "example.com"
SNI_HANDSHAKE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Plan:
    """What the campaigns ask, derived from the truth files (the test's inputs)."""

    names: tuple[str, ...]  # the planted and plain names (N1's and N5's own list)
    dnssec: tuple[str, ...]  # names in zones with a DS (dns.iterative and dns.query)
    tlds: tuple[str, ...]  # every TLD of every root (N2)
    pins: tuple[tuple[str, str], ...]  # (host name, pinned address) for transport probes
    alt_dns: tuple[str, ...]  # naming.resolve's DNS names: one per served zone of each root
    chain: tuple[str, ...]  # naming.resolve's ENS and UNS names (lab/chain/truth.toml)
    path_control: tuple[str, str]  # (host name, address): the same-path control target
    sni_pins: tuple[tuple[str, str], ...]  # (host name, IPv6 address): transport.sni's tests

    @property
    def asked(self) -> tuple[str, ...]:
        """Every name dns.query asks (qtypes QTYPES) of both resolvers."""
        return tuple(sorted({*self.names, *self.dnssec, *CANARIES, *self.tlds}))


def icann_a(t: lab_truth.Truth, name: str) -> set[str]:
    """The addresses the ICANN-like view answers for ``name`` A (empty: no such name)."""
    return set(t.dns.expected(name, "A", "icann"))


def make_plan(t: lab_truth.Truth) -> Plan:
    policy = t.dns.resolvers["manip"].policy
    assert policy is not None
    planted = [*policy.rewrite, *policy.nxdomain]
    # Only names the control can answer: a planted NXDOMAIN for a name that does not exist
    # in the ICANN view (www.geek.) is no divergence, so it would only dilute the share.
    names = tuple(sorted(n for n in {*planted, *PLAIN_NAMES} if icann_a(t, n)))
    # dns.iterative classifies the names in zones with a DS in their parent: the asked
    # names of signed zones (secure, N6's AD test) and one A owner of each bogus zone
    # (broken and expired signatures, N6's SERVFAIL test).
    dnssec = {n for n in names if t.dns.authority(n, "icann").has_ds}
    for z in t.dns.zones_in("icann"):
        owners = sorted(z.fqdn(o) for o, typ, _ in z.records if typ == "A")
        if z.has_ds and not z.validates and owners:
            dnssec.add(owners[0])
    tlds = tuple(sorted({tld + "." for r in t.dns.roots.values() for tld in r.tlds}))
    pins = []
    for host in sorted(t.web.values(), key=lambda h: h.key):
        # One address per host (the engine keys a task by probe|name|endpoint): IPv4 when
        # the host has it, else IPv6 (the v6-only host).
        pins.append((host.name.rstrip("."), host.address or host.address6 or ""))
    # N3/N4: one name per served zone (with an A record) of every root, asked of every
    # root's resolver, so each root shows which TLDs it has; and every planted chain name.
    alt_dns = set()
    for view in t.dns.roots:
        for z in t.dns.zones_in(view):
            owners = sorted(z.fqdn(o) for o, typ, _ in z.records if typ == "A")
            if z.is_served and owners:
                alt_dns.add(owners[0])
    return Plan(
        names=names,
        dnssec=tuple(sorted(dnssec)),
        tlds=tlds,
        pins=tuple(pins),
        alt_dns=tuple(sorted(alt_dns)),
        chain=tuple(sorted(n for n in planted_chain_names(chain_facts(t)) if on_chain(n))),
        path_control=path_control(t),
        sni_pins=sni_pins(t),
    )


def sni_pins(t: lab_truth.Truth) -> tuple[tuple[str, str], ...]:
    """transport.sni's tests: every web host with an IPv6 address, on that address. The
    other transport probes pin IPv4 wherever a host has it (:func:`make_plan`), so every
    dual-stack host's SNI A/B tests use 3-tuples no other probe of the run shares: a
    residual block that a real-SNI flow leaves behind (docs/indicators.md, T10) drops no
    other probe's flow, and no other probe's flow triggers a block before the control SNI
    has gone first. (The v6-only host shares its address with the other probes; no censor
    blocks its name.)"""
    hosts = sorted(t.web.values(), key=lambda h: h.key)
    return tuple((h.name.rstrip("."), h.address6) for h in hosts if h.address6)


def path_control(t: lab_truth.Truth) -> tuple[str, str]:
    """The same-path control (analysis/pathcontrol.py, docs/indicators.md Method 8): the
    first web host, by key, that answers TLS (it advertises h3) and QUIC v1 on an IPv4
    address no vantage blocks, interferes with or strips; as (host name, address)."""
    touched = {str(b.address) for v in t.vantages.values() for b in v.blocks}
    for host in sorted(t.web.values(), key=lambda h: h.key):
        untouched = not touched & set(host.addresses)
        if host.address and untouched and host.alt_svc == "h3" and "v1" in host.quic_versions:
            return host.name.rstrip("."), host.address
    raise ValueError("lab truth: no web host every vantage reaches for the path control")


def on_chain(name: str) -> bool:
    """A name the probe routes to the ENS or UNS endpoints (by its TLD, in the shipped
    registry). Not the UNS .wallet names: .wallet is a Handshake TLD too (a real
    collision), and the registry gives a colliding TLD to the first alternative namespace."""
    return NamingProbe().namespace_of(name) in ("ens", "unstoppable")


def chain_facts(t: lab_truth.Truth) -> lab_truth.ChainPlan:
    assert t.chain is not None, "the lab truth plants a chain"
    return t.chain.plan


# -- naming.resolve's endpoints: (label, endpoint namespace, method, URL, options) ---------


@dataclass(frozen=True)
class NamingEndpoint:
    label: str
    namespace: str
    method: str
    url: str
    options: dict[str, object]
    names: tuple[str, ...]  # the round's names it is asked (its `namespaces`)
    resolver: str | None = None  # the lab resolver key of a dns endpoint
    stale: dict[str, str] | None = None  # a gateway bridge's stale table (None: no bridge)


def naming_endpoints(
    t: lab_truth.Truth, plan: Plan, vantage: str | None = None
) -> list[NamingEndpoint]:
    """Each root's resolver for the DNS names, the chain's JSON-RPC for ENS (eth-rpc) and
    for UNS (uns); at the vantages that look host names up in the lab (by_name_vantage), the
    chain's JSON-RPC for ENS once more by its ICANN host name (APD's dependent path). An
    endpoint serves exactly its names: `namespaces` lists the registry namespaces of its
    names (probes/naming/data), checked to keep the two sets apart. Without a vantage, the
    endpoints every vantage asks (the by-name endpoint left out)."""
    probe = NamingProbe()
    dns_ns = sorted({probe.namespace_of(n) for n in plan.alt_dns})
    chain_ns = {n: probe.namespace_of(n) for n in plan.chain}
    assert set(chain_ns.values()) == {"ens", "unstoppable"}, chain_ns
    assert not set(dns_ns) & set(chain_ns.values()), dns_ns
    out = []
    for view, ns in NAMESPACE_OF_VIEW.items():
        key = resolver_key(t, t.dns.resolver_for_view(view).address)
        options: dict[str, object] = {"method": "dns", "qtypes": ["A"], "namespaces": dns_ns}
        url = f"udp://{t.dns.resolvers[key].address}"
        out.append(NamingEndpoint(f"root-{view}", ns, "dns", url, options, plan.alt_dns, key))
    c, facts = t.chain, chain_facts(t)
    assert c is not None
    common: dict[str, object] = {"chain_id": facts.chain_id}
    ens: dict[str, object] = {
        "method": "eth-rpc",
        "universal_resolver": facts.addresses["universal_resolver"],
        "registry": facts.addresses["ens_registry"],
    }
    ens["namespaces"] = ["ens"]
    uns: dict[str, object] = {"method": "uns", "proxy_reader": facts.addresses[facts.uns_reader]}
    uns["namespaces"] = ["unstoppable"]
    for label, ns, options in (("chain-ens", "ens", ens), ("chain-uns", "unstoppable", uns)):
        names = tuple(n for n in plan.chain if chain_ns[n] == ns)
        method = str(options["method"])
        out.append(NamingEndpoint(label, ns, method, f"eth+{c.rpc_url}", options | common, names))
    ens_names = tuple(n for n in plan.chain if chain_ns[n] == "ens")
    if vantage is not None and by_name_vantage(vantage):
        url = f"eth+http://{rpc_host_name(t).rstrip('.')}:{c.rpc_port}"
        label = "chain-ens-byname"
        out.append(NamingEndpoint(label, "ens", "eth-rpc", url, ens | common, ens_names))
    for b in c.bridges:
        # The ENS names through each gateway bridge, as through eth.limo (N4's AGF).
        options = {"method": "http-gateway", "url_template": b.url + "/{name}"}
        options["namespaces"] = ["ens"]
        bridge = NamingEndpoint(b.name, "ens", "http-gateway", b.url + "/", options, ens_names)
        out.append(dataclasses.replace(bridge, stale=b.stale))
    return out


def rpc_host_name(t: lab_truth.Truth) -> str:
    """The ICANN-like name whose A record is the chain's JSON-RPC address (lab/truth.toml)."""
    assert t.chain is not None
    found = [
        z.fqdn(owner)
        for z in t.dns.zones_in("icann")
        for owner, rtype, rdata in z.records
        if rtype == "A" and rdata == t.chain.rpc_address
    ]
    assert len(found) == 1, found
    return found[0]


def by_name_vantage(vantage: str) -> bool:
    """The vantages that reach an endpoint by host name: those in a namespace, whose
    resolv.conf names the vantage's lab resolver (lab.vantages.runner). Not the host
    vantages (the host's own resolver is outside the lab: the engine refuses to ask it)
    nor lossy (its loss would make the host-name lookup, not the path, fail at random)."""
    return vantage not in HOST_VANTAGES and vantage != "lossy"


def resolver_key(t: lab_truth.Truth, address: str) -> str:
    """The lab/truth.toml key of the resolver at ``address`` (IPv4 or IPv6)."""
    for key, r in t.dns.resolvers.items():
        if address in (r.address, r.address6):
            return key
    raise KeyError(address)


def planted_chain_names(c: lab_truth.ChainPlan) -> set[str]:
    """Every planted ENS and UNS name (lab/chain/truth.toml): registered, unregistered,
    under the wildcard, served off-chain (EIP-3668), minted and unminted."""
    names = {e.name for e in c.ens_names} | {e.name for e in c.wildcard_samples}
    names |= {e.name for e in c.offchain_names} | {e.name for e in c.uns_names}
    return names | set(c.unregistered) | set(c.uns_unminted)


def target_text(
    targets_dir: Path,
    name: str,
    file: str,
    namespace: str,
    *,
    fmt: str | None = None,
    role: str | None = None,
) -> str:
    """One ``[[targets]]`` table of a lab campaign (docs/campaigns.md): list ``name`` read
    from ``targets_dir / file``."""
    lines = ["[[targets]]", f'list = "{name}"', f'file = "{targets_dir / file}"']
    lines += [f'format = "{fmt}"'] if fmt else []
    lines += [f'namespace = "{namespace}"']
    lines += [f'role = "{role}"'] if role else []
    return "\n".join(lines) + "\n"


def web_probes_text(lab: Lab, lists: tuple[str, ...] = ("hosts",), *, retries: int = 2) -> str:
    """transport.tls and transport.quic over ``lists``, trusting the lab's CA: the web
    probes every lab campaign runs (2 s per step, ``retries`` extra attempts)."""
    names = json.dumps(list(lists))
    return f'''[probes."transport.tls"]
lists = {names}
ca_file = "{lab.ca_file}"
connect_timeout_s = 2.0
handshake_timeout_s = 2.0
http_timeout_s = 2.0
retries = {retries}

[probes."transport.quic"]
lists = {names}
ca_file = "{lab.ca_file}"
handshake_timeout_s = 2.0
http_timeout_s = 2.0
retries = {retries}
'''


def campaign_text(lab: Lab, vantage: str, targets_dir: Path, round_name: str) -> str:
    """The campaign TOML of ``vantage`` for round ``round_name``: its own resolver (test)
    against the ICANN-like resolver on its IPv6 address (control), the lists
    :func:`write_targets` wrote to ``targets_dir``, and the running lab's CA, root hints
    and trust anchor."""
    t = lab.truth
    v = lab_truth.load().vantages[vantage]
    own = str(v.resolver)
    control6 = t.dns.resolvers["icann"].address6
    p = make_plan(t)
    naming = naming_endpoints(t, p, vantage)
    b = vantage_budget(v, p, naming)
    return f"""
name = "truth-{vantage}"
vantage = "{vantage}"
round = "{round_name}"

{target_text(targets_dir, "names", "names.txt", "icann", fmt="lines")}
{target_text(targets_dir, "dnssec", "dnssec.txt", "icann", fmt="lines")}
{target_text(targets_dir, "whoami", "whoami.txt", "icann", fmt="lines", role="control")}
{target_text(targets_dir, "hosts", "hosts.csv", "icann")}
{target_text(targets_dir, "alt", "alt.txt", "mixed", fmt="lines")}
# The same-path control: a host no vantage blocks, probed beside the tests on TLS and
# QUIC; a test pair's failure in the same window as its failure is the path's
# (analysis/pathcontrol.py).
{target_text(targets_dir, "path-control", "path-control.csv", "icann", role="control")}
{target_text(targets_dir, "sni", "sni.csv", "icann")}
[[endpoints]]
url = "udp://{own}"
label = "own"
operator = "vantage"
role = "test"

[[endpoints]]
url = "udp://[{control6}]"
label = "control"
operator = "lab-icann"
role = "control"
{also_resolvers_text(v)}{naming_endpoint_text(naming)}
[probes."dns.query"]
lists = ["names", "whoami"]
endpoints = {json.dumps(dns_endpoint_labels(v))}
qtypes = {list(QTYPES)!r}
whoami_names = ["{WHOAMI.rstrip(".")}/A"]
timeout_s = 1.0
retries = {b.retries(b.dns_attempts)}

[probes."dns.iterative"]
lists = ["dnssec"]
root_hints = "{lab.paths.conf / "icann.hints"}"
trust_anchor = "{lab.paths.root_anchor}"
# Per query, its UDP retransmissions included (each try a third): a lost datagram at
# lossy is sent again, and a try still outlasts distant's 300 ms round trip.
timeout_s = 3.0
# A walk whose every retransmission was lost is tried again, as a dns.query is.
retries = {b.retries(b.dns_attempts)}

{web_probes_text(lab, ("hosts", "path-control"), retries=b.retries(b.transport_attempts))}
[probes."transport.quic_vn"]
lists = ["hosts"]
retries = {b.retries(b.vn_attempts)}

{sni_probe_text(lab, v, b)}
{ech_probe_text(lab, own, b.transport_attempts + 1)}
[probes."naming.resolve"]
lists = ["alt"]
endpoints = {json.dumps([ep.label for ep in naming])}
timeout_s = {b.naming_timeout_s}
deadline = {b.naming_deadline_s}
retries = {b.retries(b.naming_attempts)}
ens_registry_walk = {str(registry_walk(v)).lower()}

{path_probe(b.path_tries)}
# Retries separate loss from blocking, as a real campaign would: a pair is ok when any
# attempt worked, so the lossy vantage's dropped packets are retried away while the
# censored vantage's deterministic drops time out on every attempt.
[limits]
concurrency = 16
deadline = 8.0
retries = 2
backoff = 0.05
rate = 200
burst = 20

[safety]
allowed = ["10.99.0.0/16", "fd99::/16"]
"""


def ech_probe_text(lab: Lab, resolver: str, tries: int) -> str:
    """transport.ech (T11, T12) over the pinned hosts, asking the vantage's own resolver
    for their HTTPS records: ``tries`` handshakes per step (one more than a transport pair
    gets: each handshake can also lose its ClientHello or ServerHello)."""
    return f"""
[probes."transport.ech"]
lists = ["hosts"]
resolver = "{resolver}"
ca_file = "{lab.ca_file}"
handshake_timeout_s = 2.0
tries = {tries}
"""


def registry_walk(v: Vantage) -> bool:
    """Whether each ENS lookup also walks the registry (registry_walk_agrees, docs/naming.md):
    at the control vantage only. Every vantage reads the same chain, so the walk's answer
    does not depend on the path, and nothing in analysis/ reads the agreement; but the walk
    doubles a lookup's eth_calls (each record again, an EIP-3668 name's gateway round trips
    again), and the lab's one chain node answers them in turn: with the walk at every
    vantage, ENS lookups were the longest part of each vantage's campaign (15-20 s each on
    a loaded machine), paid again by every perturbed round. The agreement is compared in
    the round at clean and name by name in tests/test_naming_lab_chain.py."""
    return v.name == CONTROL_VANTAGE


def dns_endpoint_labels(v: Vantage) -> list[str]:
    """dns.query's endpoints at vantage ``v``: its own resolver, the further resolvers its
    network offers (:func:`also_resolvers_text`) and the control."""
    return ["own", *(f"own-{i}" for i, _ in enumerate(v.also_resolvers, start=2)), "control"]


def also_resolvers_text(v: Vantage) -> str:
    """[[endpoints]] of the further test resolvers of vantage ``v`` (lab/vantages/truth.toml
    `also_resolvers`), over TCP: an endpoint (address, port, transport) apart from the
    vantage's own resolver and the control, and from the other vantages' `udp` test keys
    that C1 compares."""
    out = []
    for i, address in enumerate(v.also_resolvers, start=2):
        host = f"[{address}]" if address.version == 6 else str(address)
        out.append(
            f"""
[[endpoints]]
url = "tcp://{host}"
label = "own-{i}"
operator = "vantage"
role = "test"
"""
        )
    return "".join(out)


def vantage_budget(v: Vantage, p: Plan, naming: list[NamingEndpoint]) -> path_budget.Budget:
    """Attempts and time for vantage ``v``'s campaign (lab/budget.py): its dns.query tasks
    (every asked name and whoami, each qtype, each resolver), naming.resolve lookups and
    transport pairs (the pins and the path control)."""
    return path_budget.budget(
        v,
        dns_queries=(len(p.asked) + 1) * len(QTYPES) * len(dns_endpoint_labels(v)),
        lookups=sum(len(ep.names) for ep in naming),
        pairs=len(p.pins) + 1,
        path_packets=path_budget.PATH_PACKETS_PER_HOST * len(p.pins),
        sni_handshakes=path_budget.SNI_STEPS * 2 * len(p.sni_pins),
    )


def sni_probe_text(lab: Lab, v: Vantage, b: path_budget.Budget) -> str:
    """transport.sni over the IPv6 pins (:func:`sni_pins`): each step up to ``b.sni_tries``
    handshakes, so loss never reads as SNI filtering; a residual block is waited out for the
    vantage's planted residual time (lab/vantages/truth.toml); the task's deadline covers
    four steps that all time out, the VN probe and that wait."""
    # One second past the planted block; 1 s where nothing plants one (nothing to wait).
    residual = v.dpi is not None and v.dpi.mode is Mode.RESIDUAL
    residual_s = v.dpi.residual_s + 1.0 if residual and v.dpi is not None else 1.0
    deadline = path_budget.sni_deadline_s(b.sni_tries, SNI_HANDSHAKE_TIMEOUT_S, residual_s)
    return f"""[probes."transport.sni"]
lists = ["sni"]
ca_file = "{lab.ca_file}"
control_sni = "{SNI_CONTROL}"
handshake_timeout_s = {SNI_HANDSHAKE_TIMEOUT_S}
tries = {b.sni_tries}
residual_s = {residual_s}
deadline = {deadline}
"""


def naming_endpoint_text(endpoints: list[NamingEndpoint]) -> str:
    """[[endpoints]] tables of naming.resolve (JSON strings, numbers and string arrays are
    TOML too)."""
    out = []
    for ep in endpoints:
        options = ", ".join(f"{k} = {json.dumps(v)}" for k, v in ep.options.items())
        out.append(
            f"""
[[endpoints]]
url = "{ep.url}"
label = "{ep.label}"
operator = "lab-{ep.label}"
namespace = "{ep.namespace}"
options = {{ {options} }}
"""
        )
    return "".join(out)


def path_probe(tries: int) -> str:
    """path.udp443 (O1) at every vantage, each packet sent up to ``tries`` times: a packet
    lost every time would read as a `broken` A/B test or a `dropped` UDP/443 (noise that is
    no fragmentation, and C1 would count it); lab/budget.py sizes ``tries`` by the path's
    loss."""
    return f"""
[probes."path.udp443"]
lists = ["hosts"]
timeout_s = 1.0
tries = {tries}
"""


def write_targets(plan: Plan, work: Path) -> None:
    (work / "names.txt").write_text("".join(n.rstrip(".") + "\n" for n in plan.asked))
    (work / "dnssec.txt").write_text("".join(n.rstrip(".") + "\n" for n in plan.dnssec))
    (work / "whoami.txt").write_text(WHOAMI.rstrip(".") + "\n")
    alt = [n.rstrip(".") for n in (*plan.alt_dns, *plan.chain)]
    (work / "alt.txt").write_text("".join(n + "\n" for n in alt), encoding="utf-8")
    (work / "hosts.csv").write_text(
        "".join(f"{i},{n},{a}\n" for i, (n, a) in enumerate(plan.pins, start=1))
    )
    name, address = plan.path_control
    (work / "path-control.csv").write_text(f"1,{name},{address}\n")
    (work / "sni.csv").write_text(
        "".join(f"{i},{n},{a}\n" for i, (n, a) in enumerate(plan.sni_pins, start=1))
    )
