"""What each indicator must be for the lab round, DERIVED from the lab's truth files.

Nothing here reads a database or the network: the expectations come only from
lab/truth.toml (zones, the manipulating resolver's RPZ policy, web hosts), lab/vantages/
truth.toml (each vantage's resolver and blocked addresses), lab/chain/truth.toml (the ENS
and UNS names, the CCIP-read gateway's behaviour), lab/truth.toml's gateway bridges and
the lab's own IP-to-ASN mapping.
Each function restates an indicator's formula (docs/indicators.md) over a model of what
the lab's servers answer, so a test compares the analysis code with an independent
derivation, never with a number written into a test. Reads the truth files, and each
indicator's documented minimum n from docs/indicators.md (:func:`minimum_n`).
"""

from __future__ import annotations

import base64
import ipaddress
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fragscope.analysis.asn import AsnMap
from fragscope.lab import truth as lab_truth
from fragscope.lab.dpi.policy import Mode
from fragscope.lab.vantages.model import Action, Vantage
from fragscope.probes.transport.quic_wire import classify_version

# T8's legacy versions (docs/indicators.md): gQUIC and IETF drafts.
LEGACY_KINDS = frozenset({"gquic", "draft"})
# C2's pillars (docs/indicators.md, "Composite (C2) pillars"); members X.param are params.
PILLARS = {
    "naming": ("N1", "N2", "N5", "N8", "N6"),
    "concentration": ("N7", "N7.spd", "N4.apd"),
    "transport": ("T1", "T2", "T3", "T4", "T5"),
}
PILLAR_MIN_COVERAGE = 0.6
C2_MEMBERS = frozenset(c for codes in PILLARS.values() for c in codes)
# The indicators that combine others' inputs and move with nearly any perturbation: C1
# (every key's outcome class) and C2 (its members).
FOLLOWS_THE_OTHERS = frozenset({"C1", "C2"})
INDICATORS_DOC = Path(__file__).resolve().parents[2] / "docs" / "indicators.md"


@cache
def minimum_n() -> dict[str, int]:
    """Each indicator's "minimum n = K" (docs/indicators.md, its Inputs line): below it the
    value is withheld, whatever the formula gives."""
    out: dict[str, int] = {}
    for section in re.split(r"^## ", INDICATORS_DOC.read_text(encoding="utf-8"), flags=re.M):
        code = re.match(r"([NTOC]\d+):", section)
        found = re.search(r"minimum n = (\d+)", section)
        if code and found:
            out[code.group(1)] = int(found.group(1))
    return out


def withheld_below_minimum(code: str, value: float | None, n: int) -> float | None:
    """``value``, or None (withheld) when ``n`` is below the code's documented minimum."""
    return None if n < minimum_n().get(code, 0) else value


# -- DNS: what a lab resolver answers ---------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One resolver's answer to (name, type) in the model: rcode, A/AAAA addresses, whether
    the answer section holds a record of the type, and the AD bit."""

    rcode: str
    addresses: frozenset[str] = frozenset()
    answered: bool = False
    ad: bool = False


NXDOMAIN = Answer("NXDOMAIN")
SERVFAIL = Answer("SERVFAIL")


def _tld(name: str) -> str:
    return lab_truth.absolute(name).rstrip(".").rsplit(".", 1)[-1]


def _exists(zone: lab_truth.Zone, name: str) -> bool:
    """The name owns records in its zone, or is an empty non-terminal above some."""
    owners = {zone.fqdn(o) for o, _t, _r in zone.records} | {zone.name}
    return any(o == name or o.endswith("." + name) for o in owners)


def _data(t: lab_truth.Truth, view: str, name: str, qtype: str) -> Answer:
    """An honest resolver of ``view``: iterate from the root (no validation applied yet)."""
    if name != "." and _tld(name) not in t.dns.roots[view].tlds:
        return NXDOMAIN  # the root does not delegate the TLD
    zone = t.dns.authority(name, view)
    if not zone.is_served:
        return SERVFAIL  # lame or dead delegation
    if qtype == "SOA" and name == zone.name:
        return Answer("NOERROR", answered=True)
    if not _exists(zone, name):
        return NXDOMAIN
    rdatas = zone.rdatas(name, qtype)
    addresses = frozenset(rdatas) if qtype in ("A", "AAAA") else frozenset()
    return Answer("NOERROR", addresses, answered=bool(rdatas))


def answer(t: lab_truth.Truth, resolver: str, name: str, qtype: str) -> Answer:
    """What lab resolver ``resolver`` (a key of [resolvers]) answers, from the truth."""
    name = lab_truth.absolute(name)
    r = t.dns.resolvers[resolver]
    view = r.root or "icann"
    p = r.policy
    if p is not None:
        # The RPZ (lab/dns/render.py rpz_zone): exact names first, then .onion, then the
        # wildcard for every TLD the root does not delegate. Local data is A only, so other
        # types get NODATA; it is never signed, so AD is never set (RFC 4035 section 3.2.3).
        if name in p.nxdomain:
            return NXDOMAIN
        planted = p.rewrite.get(name)
        if planted is None and _tld(name) == "onion":
            planted = p.onion_answer
        elif planted is None and _tld(name) not in t.dns.roots[view].tlds:
            planted = p.wildcard_answer
        if planted is not None:
            a = qtype == "A"
            return Answer("NOERROR", frozenset({planted} if a else ()), answered=a)
    found = _data(t, view, name, qtype)
    if found.rcode == "NOERROR" and r.validating and name != ".":
        zone = t.dns.authority(name, view)
        if zone.has_ds and not zone.validates:
            return SERVFAIL  # bogus: DS in the parent, no valid signatures (RFC 4035 5.5)
        return Answer(found.rcode, found.addresses, found.answered, ad=zone.validates)
    return found


# -- per-indicator derivations (naming) --------------------------------------------------


@dataclass(frozen=True)
class DnsPlan:
    """The DNS side of the round: names asked (qtypes), their resolvers, canaries."""

    names: tuple[str, ...]
    qtypes: tuple[str, ...]
    tests: tuple[str, ...]  # resolver keys of the vantage's own resolver(s), the test endpoints
    control: str  # resolver key of the control


def _consistent(test: Answer, control: Answer, asn: AsnMap | None) -> bool:
    """cons(d, r) of N1 as docs/indicators.md states it."""
    if test.rcode == control.rcode and test.rcode in ("NXDOMAIN", "SERVFAIL"):
        return True
    if test.rcode != "NOERROR" or control.rcode != "NOERROR":
        return False
    if not test.addresses and not control.addresses:
        return True
    if test.addresses & control.addresses:
        return True
    if asn is None:
        return False
    at = {asn.lookup(a) for a in test.addresses}
    ac = {asn.lookup(a) for a in control.addresses}
    return None not in at and None not in ac and bool(at & ac)


def _address_qtypes(plan: DnsPlan) -> list[str]:
    return [q for q in plan.qtypes if q in ("A", "AAAA")]


def n1(t: lab_truth.Truth, plan: DnsPlan, asn: AsnMap | None) -> tuple[float, int]:
    """(RAD, n names): share of (name, A/AAAA, test resolver) tests inconsistent with the
    control."""
    bad = tests = 0
    for name in plan.names:
        for q in _address_qtypes(plan):
            control = answer(t, plan.control, name, q)
            for r in plan.tests:
                tests += 1
                bad += 0 if _consistent(answer(t, r, name, q), control, asn) else 1
    return bad / tests, len(plan.names)


def _answer_class(a: Answer, asn: AsnMap | None) -> str | None:
    if a.rcode == "NXDOMAIN":
        return "NXDOMAIN"
    if a.rcode != "NOERROR":
        return None
    if asn is not None and a.addresses:
        found = {asn.lookup(x) for x in a.addresses}
        if None not in found:
            return "as:" + ",".join(sorted(map(str, found)))
    return "ip:" + ",".join(sorted(a.addresses))


def n5(
    t: lab_truth.Truth,
    plan: DnsPlan,
    asn: AsnMap | None,
    roots: Mapping[str, Iterable[str]] | None = None,
) -> tuple[float, int]:
    """(NAE, n names): names with >= 2 answer classes, or NXDOMAIN beside an answer, over
    the dns.query resolvers and the root resolvers naming.resolve asks (``roots``: name ->
    resolver keys; A only, and a root's answer counts when the lookup got one: NOERROR
    or NXDOMAIN)."""
    roots = roots or {}
    names = {lab_truth.absolute(n) for n in (*plan.names, *roots)}
    asked = {lab_truth.absolute(n) for n in plan.names}
    amb = 0
    for name in names:
        hit = False
        for q in _address_qtypes(plan):
            resolvers = (*plan.tests, plan.control) if name in asked else ()
            answers = [answer(t, r, name, q) for r in resolvers]
            if q == "A":
                at_roots = [answer(t, r, name, "A") for r in roots.get(name, ())]
                answers += [a for a in at_roots if a.rcode in ("NOERROR", "NXDOMAIN")]
            classes = {c for a in answers if (c := _answer_class(a, asn))}
            answered = classes - {"NXDOMAIN"}
            hit |= len(answers) >= 2 and (
                len(answered) >= 2 or ("NXDOMAIN" in classes and bool(answered))
            )
        amb += hit
    return amb / len(names), len(names)


def single_labels(plan: DnsPlan) -> list[str]:
    return [n for n in plan.names if "." not in n.rstrip(".")]


def n2(t: lab_truth.Truth, plan: DnsPlan) -> tuple[float, int]:
    """(RZD, n TLDs): (TLD, test resolver) pairs whose SOA existence differs from the
    control's (exists = NOERROR with an answer record)."""
    tlds = single_labels(plan)
    differ = sum(
        answer(t, r, tld, "SOA").answered != answer(t, plan.control, tld, "SOA").answered
        for tld in tlds
        for r in plan.tests
    )
    return differ / (len(tlds) * len(plan.tests)), len(tlds)


def is_special_use(name: str) -> bool:
    return _tld(name) in ("onion", "invalid", "alt")  # RFC 7686, RFC 6761, RFC 9476


def n8(t: lab_truth.Truth, plan: DnsPlan) -> tuple[float, int]:
    """(NXI, n canaries): (canary, qtype, test resolver) tests not answered NXDOMAIN (the
    control is the reference, not a resolver under test)."""
    canaries = [n for n in plan.names if is_special_use(n)]
    tests = [
        answer(t, r, name, q).rcode != "NXDOMAIN"
        for name in canaries
        for q in plan.qtypes
        for r in plan.tests
    ]
    return sum(tests) / len(tests), len(canaries)


def dnssec_names(t: lab_truth.Truth, names: Iterable[str]) -> tuple[set[str], set[str]]:
    """(bogus, secure) among ``names``: how an iterative validator classes them."""
    bogus, secure = set(), set()
    for name in names:
        zone = t.dns.authority(name, "icann")
        if zone.has_ds and not zone.validates:
            bogus.add(name)
        elif zone.validates and _data(t, "icann", lab_truth.absolute(name), "A").answered:
            secure.add(name)
    return bogus, secure


def n6(t: lab_truth.Truth, plan: DnsPlan, checked: Iterable[str]) -> tuple[float, int]:
    """(1 - DVR, n resolvers): the share of the vantage's test resolvers that do not
    validate; one validates iff it SERVFAILs every bogus name and sets AD on every NOERROR
    answer for a secure name (the control is not a test resolver)."""
    bogus, secure = dnssec_names(t, checked)
    failing = 0
    for r in plan.tests:
        ok = True
        for name in plan.names:
            n = lab_truth.absolute(name)
            for q in plan.qtypes:
                a = answer(t, r, n, q)
                if name in bogus:
                    ok &= a.rcode == "SERVFAIL"
                elif name in secure and a.rcode == "NOERROR":
                    ok &= a.ad
        failing += not ok
    return failing / len(plan.tests), len(plan.tests)


def hhi_star(counts: Iterable[int]) -> float:
    """Normalised Herfindahl-Hirschman index (1 when one operator holds everything)."""
    c = [x for x in counts if x > 0]
    total = sum(c)
    n = len(c)
    if n == 1:
        return 1.0
    h = sum((x / total) ** 2 for x in c)
    return (h - 1 / n) / (1 - 1 / n)


def reaches_whoami(t: lab_truth.Truth, resolver: str) -> bool:
    """The resolver iterates a root that delegates the whoami zone (an alternative root's
    resolver gets NXDOMAIN: no egress address comes back)."""
    try:
        t.whoami_answer(resolver)
    except KeyError:
        return False
    return True


def n7(t: lab_truth.Truth, plan: DnsPlan, asn: AsnMap) -> tuple[float, int]:
    """(HHI*, n whoami answers): the egress addresses' ASes when whoami.lab is asked once
    through each resolver of the run that reaches it (lab/truth.toml `egress`)."""
    asns = Counter(
        asn.lookup(t.whoami_answer(r)) for r in (*plan.tests, plan.control) if reaches_whoami(t, r)
    )
    return hhi_star(asns.values()), sum(asns.values())


def spd(delegations: Mapping[str, Iterable[str]]) -> float:
    """N7's SPD: the share of delegated zones whose NS host names share one parent domain
    (every lab NS host is asked at a lab address the mapping gives one AS, and one NS host
    is one parent domain, so both of the analysis' provider rules agree here)."""
    single = [len({n.split(".", 1)[1] for n in ns}) == 1 for ns in delegations.values()]
    return sum(single) / len(single)


# -- per-indicator derivations (transport) ------------------------------------------------


@dataclass(frozen=True)
class Pin:
    """One (host, pinned address) the transport probes test."""

    host: lab_truth.WebHost
    address: str


def pins(t: lab_truth.Truth, pinned: Iterable[tuple[str, str]]) -> list[Pin]:
    by_name = {h.name.rstrip("."): h for h in t.web.values()}
    return [Pin(by_name[n], a) for n, a in pinned]


# The versions a client of ours offers (transport.quic): QUIC v1 (RFC 9000) and v2 (RFC 9369).
STANDARD_VERSIONS = frozenset({"v1", "v2"})


def udp_block(v: Vantage, address: str) -> Action | None:
    for b in v.blocks:
        if str(b.address) == address and b.port == 443 and b.protocol.value == "udp":
            return b.action
    return None


def tcp_ok(p: Pin, v: Vantage) -> bool:
    # A reset fails every connection; an ECN-setup drop only the ECN-setup SYN (O1).
    tcp_blocked = any(
        str(b.address) == p.address
        and b.protocol.value == "tcp"
        and b.port == 443
        and b.action.blocks_connections
        for b in v.blocks
    )
    return p.host.has_tcp and not tcp_blocked


def sni_blocked(p: Pin, v: Vantage) -> bool:
    """An inline censor on ``v``'s path drops every TLS or QUIC v1/v2 handshake that names
    the host (lab/vantages/truth.toml dpi-inline: TCP reset after the ClientHello, QUIC
    Initials dropped); the TCP connect and a VN probe's unknown version still pass."""
    dpi = v.dpi
    return (
        dpi is not None and dpi.mode is Mode.INLINE and p.host.name.rstrip(".") in dpi.blocked_sni
    )


def tls_ok(p: Pin, v: Vantage) -> bool:
    """A TLS handshake completes here: the TCP connect works and no censor reads the SNI."""
    return tcp_ok(p, v) and not sni_blocked(p, v)


def vn_reply(p: Pin, v: Vantage) -> bool:
    """A QUIC server answers here: every UDP listener of the lab answers an Initial of a
    version it does not speak with a Version Negotiation (RFC 9000 section 6.1)."""
    return p.host.has_udp and udp_block(v, p.address) is None


def quic_ok(p: Pin, v: Vantage) -> bool:
    """A QUIC handshake completes here: the server answers and speaks v1 or v2 (the draft
    host answers only with a Version Negotiation)."""
    standard = bool(STANDARD_VERSIONS & set(p.host.quic_versions))
    return vn_reply(p, v) and standard and not sni_blocked(p, v)


def vn_kinds(p: Pin, v: Vantage) -> frozenset[str] | None:
    """The version kinds in the host's Version Negotiation list; None = no VN came back."""
    if not vn_reply(p, v):
        return None
    return frozenset(str(classify_version(lab_truth.QUIC_VERSIONS[x])) for x in p.host.vn_versions)


def _share(flags: list[bool]) -> tuple[float, int]:
    return sum(flags) / len(flags), len(flags)


def ech_published(t: lab_truth.Truth, p: Pin, resolver: str) -> bool:
    """The host publishes an ECH config and ``resolver`` returns its HTTPS record."""
    return p.host.has_ech and answer(t, resolver, p.host.name, "HTTPS").answered


def ech_control_ok(p: Pin, v: Vantage) -> bool:
    """transport.ech's control (TLS 1.3 with the real SNI, no ECH) reaches the server: TCP
    passes and no inline censor blocks the name (the residual censor sees UDP only)."""
    dpi = v.dpi
    sni_blocked = (
        dpi is not None
        and dpi.mode.value == "inline"
        and any(p.host.name.rstrip(".") == n.rstrip(".") for n in dpi.blocked_sni)
    )
    return tcp_ok(p, v) and not sni_blocked


def t11(t: lab_truth.Truth, ps: list[Pin], resolver: str) -> tuple[float, int]:
    """(ECH adoption, n targets): pins whose HTTPS record, through ``resolver``, carries
    the planted ECH config."""
    return _share([ech_published(t, p, resolver) for p in ps])


def t12(t: lab_truth.Truth, ps: list[Pin], v: Vantage, resolver: str) -> tuple[float | None, int]:
    """(ECH interference, n decided): of the ECH-capable pins whose control passes, the
    share where ECH is lost: all of them behind a censor that blocks the ECH extension
    (block_ech), none elsewhere. None (not applicable) without ECH-capable pins."""
    capable = [p for p in ps if ech_published(t, p, resolver)]
    decided = [p for p in capable if ech_control_ok(p, v)]
    if not decided:
        return None, 0
    blocks = v.dpi is not None and v.dpi.block_ech
    return _share([blocks for _ in decided])


def t3(ps: list[Pin], v: Vantage) -> tuple[float, int]:
    """(NSV, n QUIC servers): servers answering VN or QUIC whose VN list and negotiated
    version hold neither v1 nor v2."""
    servers = [p for p in ps if vn_reply(p, v)]
    offered = [set(p.host.vn_versions) | set(p.host.quic_versions) for p in servers]
    return _share([not (STANDARD_VERSIONS & versions) for versions in offered])


def t4(ps: list[Pin], v: Vantage) -> tuple[float, int]:
    """(STM, n): 1 - mean(TLS 1.3, h2, h3) over targets with TLS; every lab TCP server
    (Hypercorn on Python's ssl, Caddy) negotiates TLS 1.3 and picks h2 when its HTTPS
    record lists h2 (it advertises what it serves)."""
    reach = [p for p in ps if tls_ok(p, v)]
    gaps = [1 - (1 + ("h2" in p.host.https_alpn) + quic_ok(p, v)) / 3 for p in reach]
    return sum(gaps) / len(gaps), len(gaps)


def t5(ps: list[Pin], v: Vantage, aaaa: Iterable[str]) -> tuple[float, int]:
    """(V6F, n targets) = 1 - AAAA_share * P6: AAAA_share = hosts with an AAAA answer (names
    in ``aaaa``) or pinned on IPv6; P6 = those pinned on IPv6 whose TCP connect works, over
    those pinned on IPv6."""
    names = set(aaaa)
    hosts: dict[str, list[Pin]] = {}
    for p in ps:
        hosts.setdefault(p.host.name.rstrip("."), []).append(p)
    v6 = {
        h: [p for p in pl if ipaddress.ip_address(p.address).version == 6]
        for h, pl in hosts.items()
    }
    with_aaaa = [h for h in hosts if h in names or v6[h]]
    probed = [h for h in with_aaaa if v6[h]]
    working = [h for h in probed if any(tcp_ok(p, v) for p in v6[h])]
    p6 = len(working) / len(probed) if probed else 0.0
    return 1 - len(with_aaaa) / len(hosts) * p6, len(hosts)


def t6(ps: list[Pin], v: Vantage) -> tuple[float, int]:
    """(1 - Jaccard, n targets) of {Alt-Svc h3 on a TLS response} and {QUIC/VN answered}
    (no HTTPS records are asked in the round, so that is the only pair)."""
    alt = {p.host.key for p in ps if p.host.alt_svc == "h3" and tls_ok(p, v)}
    quic = {p.host.key for p in ps if vn_reply(p, v)}
    return 1 - len(alt & quic) / len(alt | quic), len(ps)


def t7(ps: list[Pin], v: Vantage, asn: AsnMap) -> tuple[float, int]:
    """(HHI*, n h3 targets) of the h3-capable targets' origin ASes."""
    asns = Counter(asn.lookup(p.address) for p in ps if quic_ok(p, v))
    return hhi_star(asns.values()), sum(asns.values())


def t8(ps: list[Pin], v: Vantage) -> tuple[float, int]:
    """(share, n VN responders) listing a legacy (gQUIC or draft) version."""
    kinds = [k for p in ps if (k := vn_kinds(p, v)) is not None]
    return _share([bool(k & LEGACY_KINDS) for k in kinds])


def t9(ps: list[Pin], v: Vantage, control: Vantage) -> tuple[float | None, int]:
    """(f_tcp / (f_tcp + f_quic), n pairs) over pairs where both work from the control;
    None (withheld) when neither fails here."""
    both = [p for p in ps if tls_ok(p, control) and quic_ok(p, control)]
    f_tcp = sum(not tls_ok(p, v) for p in both) / len(both)
    f_quic = sum(not quic_ok(p, v) for p in both) / len(both)
    if f_tcp + f_quic == 0:
        return None, len(both)
    return f_tcp / (f_tcp + f_quic), len(both)


def o1(ps: list[Pin], v: Vantage) -> tuple[float, int]:
    """(EXT, n targets) over the two A/B tests per target (tcp_ecn, tcp_exp_option): a
    path that drops ECN-setup SYNs to the target (lab/vantages/truth.toml drop_ecn_setup)
    makes its tcp_ecn `broken`, every other baseline success is a `works`; targets without
    a working TCP listener are `offline` and outside the ratio."""
    ecn_dropped = {str(b.address) for b in v.blocks if b.action is Action.DROP_ECN_SETUP}
    tcp = [p for p in ps if tcp_ok(p, v)]
    broken = sum(p.address in ecn_dropped for p in tcp)
    return broken / (2 * len(tcp)), len(tcp)


def t10(ps: list[Pin], v: Vantage) -> tuple[float, int]:
    """(SNI filtering share, n targets) over transport.sni's tests (lab/plan.py sni_pins,
    over TCP and QUIC) whose control SNI reaches a TLS stack: over TCP when the connect
    works, over QUIC when the server answers at all (a VN-only server's Version
    Negotiation closes the handshake: an answer); a test is filtered when an inline censor
    blocks its name. Not for a residual censor (a draw over kernel-chosen ports)."""
    assert v.dpi is None or v.dpi.mode is Mode.INLINE, v.name
    decided = [(p, "tcp") for p in ps if tcp_ok(p, v)] + [(p, "quic") for p in ps if vn_reply(p, v)]
    filtered = sum(sni_blocked(p, v) for p, _ in decided)
    return filtered / len(decided), len({p.host.key for p, _ in decided})


# -- C1: the outcome of every key, against the control vantage's ------------------------
#
# The probes' outcome words for what the lab plants (db/vocab.py; analysis.facts folds a
# pair's attempts to "ok" when any worked): a SYN answered by a RST (no listener, or an nft
# "reject with tcp reset") is ECONNREFUSED; a RST after the ClientHello (the inline
# censor) ECONNRESET; an ICMP port unreachable (no UDP listener) refuses a QUIC client's
# connected socket; a QUIC Initial that nothing answers, or that only a VN answers with
# no version in common, fails so. The lab's namespaces send every ICMP error (no rate
# limit: lab.core.topology.ICMP_UNLIMITED), so these do not depend on timing.
TCP_REFUSED, TCP_RESET = "connection_refused", "connection_reset"
QUIC_SILENT, QUIC_NO_VERSION = "quic_no_reply", "quic_incompatible_version"


def tls_class(p: Pin, v: Vantage) -> str:
    if tls_ok(p, v):
        return "ok"
    return TCP_RESET if tcp_ok(p, v) else TCP_REFUSED


def quic_class(p: Pin, v: Vantage) -> str:
    if quic_ok(p, v):
        return "ok"
    if not p.host.has_udp:
        return TCP_REFUSED  # ICMP port unreachable on the connected UDP socket
    assert udp_block(v, p.address) in (None, Action.DROP), (p, v.name)  # no other plant
    return QUIC_NO_VERSION if vn_reply(p, v) and not sni_blocked(p, v) else QUIC_SILENT


def vn_class(p: Pin, v: Vantage) -> str:
    if vn_reply(p, v):
        return "vn"
    return "icmp" if not p.host.has_udp else "none"


def path_classes(p: Pin, v: Vantage) -> dict[str, str]:
    """path.udp443's three tests of one target (PATHspider classes for the two TCP A/B
    tests; the UDP/443 datagram answered, rejected by ICMP or dropped)."""
    ecn_dropped = any(
        str(b.address) == p.address and b.action is Action.DROP_ECN_SETUP for b in v.blocks
    )
    tcp = "works" if tcp_ok(p, v) else "offline"
    if not p.host.has_udp:
        udp = "rejected"
    else:
        udp = "dropped" if udp_block(v, p.address) is Action.DROP else "answered"
    return {
        "tcp_ecn": "broken" if tcp == "works" and ecn_dropped else tcp,
        "tcp_exp_option": tcp,
        "udp443": udp,
    }


def dns_class(test: Answer, control: Answer, asn: AsnMap | None) -> str:
    """A test resolver's answer as N1 judges it: consistent, rewrite, or its rcode."""
    if _consistent(test, control, asn):
        return "consistent"
    return "rewrite" if test.rcode == "NOERROR" else test.rcode


Outcomes = dict[tuple[str, ...], tuple[str, str]]  # key -> (cluster, outcome class)


def c1_outcomes(
    t: lab_truth.Truth, ps: list[Pin], v: Vantage, plan: DnsPlan, asn: AsnMap | None
) -> Outcomes:
    """Every C1 key of vantage ``v``'s run: (channel, target, address) for tls, quic and
    vn, (path, target, test), and (dns, name, qtype) for the vantage's own resolver (its
    only test endpoint over UDP) against the control."""
    out: Outcomes = {}
    for p in ps:
        target = p.host.name.rstrip(".")
        out[("tls", target, p.address)] = (target, "tls:" + tls_class(p, v))
        out[("quic", target, p.address)] = (target, "quic:" + quic_class(p, v))
        out[("vn", target, p.address)] = (target, "vn:" + vn_class(p, v))
        for test, cls in path_classes(p, v).items():
            out[("path", target, test)] = (target, f"path:{test}:{cls}")
    own = plan.tests[0]
    for name in plan.names:
        for q in plan.qtypes:
            found = dns_class(answer(t, own, name, q), answer(t, plan.control, name, q), asn)
            out[("dns", name.rstrip("."), q)] = (name.rstrip("."), "dns:" + found)
    return out


def jsd(p: Mapping[str, int], q: Mapping[str, int]) -> float:
    """Jensen-Shannon divergence (log base 2) of two count distributions."""
    tp, tq = sum(p.values()), sum(q.values())
    out = 0.0
    for c in set(p) | set(q):
        a, b = p.get(c, 0) / tp, q.get(c, 0) / tq
        m = (a + b) / 2
        out += (a * math.log2(a / m) if a else 0.0) + (b * math.log2(b / m) if b else 0.0)
    return out / 2


def c1(mine: Outcomes, control: Outcomes) -> tuple[float, int]:
    """(CVD, n clusters) over the keys both runs have."""
    common = sorted(set(mine) & set(control))
    return (
        jsd(Counter(mine[k][1] for k in common), Counter(control[k][1] for k in common)),
        len({mine[k][0] for k in common}),
    )


# -- per-indicator derivations (alternative namespaces: naming.resolve) ------------------

EXISTS, ABSENT, FAILED = "exists", "absent", "failed"  # what one lookup gets


@dataclass(frozen=True)
class Lookup:
    """One naming.resolve lookup of the round: the endpoint's namespace, method and URL,
    the name, and what the lab answers (EXISTS, ABSENT or FAILED)."""

    namespace: str
    method: str
    endpoint: str
    name: str
    outcome: str


def dns_outcome(t: lab_truth.Truth, resolver: str, name: str) -> str:
    """naming.resolve's dns method asking A only: NOERROR (with or without the record) is
    a name that exists, NXDOMAIN one that does not, any other rcode a failure."""
    rcode = answer(t, resolver, name, "A").rcode
    return {"NOERROR": EXISTS, "NXDOMAIN": ABSENT}.get(rcode, FAILED)


def chain_outcomes(c: lab_truth.ChainPlan, *, gateway_up: bool = True) -> dict[str, str]:
    """Every planted ENS and UNS name (lab/chain/truth.toml) -> what an eth_call lookup
    gets: a name with a resolver (or under the wildcard) exists, one without does not; an
    EIP-3668 name exists when the CCIP-read gateway answers it correctly and fails when the
    gateway errs (HTTP 500, forged binding) or is down."""
    out = {e.name: EXISTS if e.resolver else ABSENT for e in c.ens_names}
    out |= dict.fromkeys(c.unregistered, ABSENT)
    out |= {e.name: EXISTS for e in c.wildcard_samples}
    out |= {
        e.name: EXISTS if e.gateway == "ok" and gateway_up else FAILED for e in c.offchain_names
    }
    out |= {e.name: EXISTS for e in c.uns_names}
    out |= dict.fromkeys(c.uns_unminted, ABSENT)
    return out


def _alternative(lookups: Iterable[Lookup]) -> list[Lookup]:
    return [lk for lk in lookups if lk.namespace != "icann"]


def n3(lookups: list[Lookup], special_use: frozenset[str]) -> tuple[float, int, dict[str, float]]:
    """(ACR, n (namespace, TLD) pairs, ACR_n): each alternative namespace's TLDs (of names
    its endpoints find) that the ICANN endpoints also find or that are special-use."""
    tlds: dict[str, set[str]] = {}
    for lk in lookups:
        if lk.outcome == EXISTS:
            tlds.setdefault(lk.namespace, set()).add(_tld(lk.name))
    reference = tlds.pop("icann", set()) | special_use
    pairs = [(ns, tld) for ns, labels in tlds.items() for tld in labels]
    per_ns = {ns: len(labels & reference) / len(labels) for ns, labels in tlds.items()}
    return sum(tld in reference for _ns, tld in pairs) / len(pairs), len(pairs), per_ns


def n4(lookups: list[Lookup]) -> tuple[float, int, dict[str, float]]:
    """(1 - ANR, n (namespace, name) clusters, ANR per namespace/method) over the lookups at
    alternative-namespace endpoints."""
    alt = _alternative(lookups)
    per: dict[str, list[int]] = {}
    for lk in alt:
        row = per.setdefault(f"{lk.namespace}/{lk.method}", [0, 0])
        row[0] += 1
        row[1] += lk.outcome != FAILED
    failed = sum(lk.outcome == FAILED for lk in alt)
    clusters = {(lk.namespace, lk.name) for lk in alt}
    return failed / len(alt), len(clusters), {k: ok / n for k, (n, ok) in per.items()}


def apd(lookups: list[Lookup], needs_icann_dns: Callable[[str], bool]) -> float:
    """1 - independent / working (namespace, method, endpoint) paths of the alternative
    namespaces; a path works when one of its lookups got an answer."""
    working = {(lk.namespace, lk.method, lk.endpoint) for lk in _alternative(lookups)}
    working -= {
        p
        for p in set(working)
        if all(
            lk.outcome == FAILED for lk in lookups if (lk.namespace, lk.method, lk.endpoint) == p
        )
    }
    return 1 - sum(not needs_icann_dns(url) for _ns, _m, url in working) / len(working)


# -- the composite ------------------------------------------------------------------------


def c2(members: Mapping[str, float | None]) -> float | None:
    """AFI: the mean of the pillars that have >= 60% of their members, each pillar the
    mean of its members present (``members`` maps code -> expected value or None)."""
    pillars = []
    for codes in PILLARS.values():
        found = [members[c] for c in codes if members.get(c) is not None]
        if len(found) >= PILLAR_MIN_COVERAGE * len(codes):
            pillars.append(sum(found) / len(found))  # type: ignore[arg-type]
    return sum(pillars) / len(pillars) if pillars else None


# -- bridge fidelity (N4's AGF): the ENS-to-HTTP gateway bridges (lab/chain/bridge.py) ------

IPFS_NS = b"\xe3\x01"  # EIP-1577 ipfs-ns, as a multiformats varint
Pointer = tuple[bytes, bytes]  # (EIP-1577 namespace, content): what fidelity compares


def on_chain_pointer(c: lab_truth.ChainPlan, name: str) -> Pointer | None:
    """The planted contenthash of ``name`` (EIP-1577) as (namespace, content): for IPFS the
    multihash after CIDv1 and dag-pb, so CIDv0 and CIDv1 forms of one content are equal."""
    records = {e.name: e.records for e in c.ens_names if e.resolver}
    records |= {e.name: e.records for e in c.offchain_names}
    raw = records[name].contenthash if name in records else None
    if raw is None:
        return None
    if raw[:2] == IPFS_NS:
        assert raw[2:4] == b"\x01\x70", raw.hex()  # CIDv1, dag-pb (the planted form)
        return IPFS_NS, raw[4:]
    return raw[:2], raw[2:]


def path_pointer(path: str) -> Pointer:
    """(ipfs-ns, multihash) of a bridge's ``/ipfs/b<base32 CIDv1 dag-pb>`` path."""
    text = path.removeprefix("/ipfs/b").upper()
    cid = base64.b32decode(text + "=" * (-len(text) % 8))
    assert cid[:2] == b"\x01\x70", cid.hex()
    return IPFS_NS, cid[2:]


def bridge_outcome(c: lab_truth.ChainPlan, name: str, *, gateway_up: bool = True) -> str:
    """What the http-gateway method records for a bridge's answer about an ENS name: 404
    (ABSENT) when the chain has no contenthash for it, 200 (EXISTS) for IPFS content; 501
    for swarm and 502 when its lookup through the CCIP-read gateway fails are http_error
    failures (FAILED): a 4xx/5xx other than 404 resolves nothing (docs/naming.md)."""
    if chain_outcomes(c, gateway_up=gateway_up)[name] == FAILED:
        return FAILED
    pointer = on_chain_pointer(c, name)
    if pointer is None:
        return ABSENT
    return EXISTS if pointer[0] == IPFS_NS else FAILED


def served_pointer(c: lab_truth.ChainPlan, name: str, stale: Mapping[str, str]) -> Pointer | None:
    """What a bridge's X-Ipfs-Path says for an ENS name whose chain lookup works: the
    chain's IPFS content, or the planted stale path instead; nothing for swarm (501)."""
    chain = on_chain_pointer(c, name)
    if chain is None or chain[0] != IPFS_NS:
        return None
    return path_pointer(stale[name]) if name in stale else chain


def agf(
    c: lab_truth.ChainPlan, lookups: list[Lookup], stale: Mapping[str, Mapping[str, str]]
) -> tuple[float | None, dict[str, float]]:
    """(AGF, AGF per namespace/method): of the bridge lookups that got an answer, for names
    whose on-chain lookup (eth-rpc) of the same run got one, the share whose pointer equals
    the chain's (none on both sides is equal). ``stale``: the bridge endpoint URL -> its
    stale table."""
    truth = {
        lk.name: lk.outcome for lk in lookups if lk.method == "eth-rpc" and lk.outcome != FAILED
    }
    per: dict[str, list[int]] = {}
    for lk in lookups:
        if lk.method != "http-gateway" or lk.outcome == FAILED or lk.name not in truth:
            continue
        chain = on_chain_pointer(c, lk.name) if truth[lk.name] == EXISTS else None
        row = per.setdefault(f"{lk.namespace}/{lk.method}", [0, 0])
        row[0] += served_pointer(c, lk.name, stale[lk.endpoint]) == chain
        row[1] += 1
    match, judged = sum(r[0] for r in per.values()), sum(r[1] for r in per.values())
    return (match / judged if judged else None), {k: m / n for k, (m, n) in per.items()}
