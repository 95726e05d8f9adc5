"""One planted fact changed per indicator (issue 19, "One perturbation test per
indicator"): the catalogue, its batches, and how a batch is applied to the running lab and
undone. Does I/O when applying: rewrites the running lab's RPZ zone, the manipulating
Unbound's configuration, one NSD zone file and the censored vantage's nftables table,
signals Unbound and NSD to reload, stops and restarts the CCIP-read gateway.

A perturbation is a pure edit of the lab's facts (:class:`World`: the truth, the
vantages, whether the CCIP-read gateway runs), so the same edit yields both the perturbed
lab (:func:`applied`) and the perturbed expectations (lab_expectations via the test's
``expected_all``). Every perturbation acts on the censored vantage's view (its resolver,
its middlebox) or on a server every vantage reaches. Each names the indicators it is the
test for (its ``targets``); a batch puts perturbations together whose targets no other
member of the batch moves (tests/analysis/test_perturbation_derivations.py proves it on
the derivations), so one measured round per batch tests every target of the batch.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode

from fragscope.lab import truth as lab_truth
from fragscope.lab.core import process
from fragscope.lab.dns import render
from fragscope.lab.dns.schema import Zone
from fragscope.lab.vantages import lab_layout, nft
from fragscope.lab.vantages.model import Action, Block, Protocol, Vantage
from fragscope.lab.world import Lab
from tests.analysis import lab_expectations as expect

LABEL = "censored"  # the vantage every perturbed round is measured from


@dataclass(frozen=True)
class World:
    """The lab's planted facts a round depends on."""

    truth: lab_truth.Truth
    vantages: dict[str, Vantage]
    gateway_up: bool = True


@dataclass(frozen=True)
class Perturbation:
    """One planted fact changed: ``edit`` maps the lab's facts to the perturbed ones;
    ``targets`` are the indicators this perturbation is the test for."""

    key: str
    what: str
    targets: tuple[str, ...]
    edit: Callable[[World], World]
    # The other indicators the derivation moves too (the composite C2 aside: it follows
    # its members); tests/analysis/test_perturbation_derivations.py checks it is all.
    also: tuple[str, ...] = ()


# -- the edits ---------------------------------------------------------------------------


def _manip(w: World, **changes: object) -> World:
    t = w.truth
    m = dataclasses.replace(t.dns.resolvers["manip"], **changes)  # type: ignore[arg-type]
    dns_truth = dataclasses.replace(t.dns, resolvers={**t.dns.resolvers, "manip": m})
    return dataclasses.replace(w, truth=dataclasses.replace(t, dns=dns_truth))


def _policy(w: World, **changes: object) -> World:
    policy = w.truth.dns.resolvers["manip"].policy
    assert policy is not None
    return _manip(w, policy=dataclasses.replace(policy, **changes))  # type: ignore[arg-type]


def no_rewrite(*names: str) -> Callable[[World], World]:
    def edit(w: World) -> World:
        policy = w.truth.dns.resolvers["manip"].policy
        assert policy is not None and set(names) <= set(policy.rewrite), names
        return _policy(w, rewrite={k: v for k, v in policy.rewrite.items() if k not in names})

    return edit


def nxdomain(name: str) -> Callable[[World], World]:
    def edit(w: World) -> World:
        policy = w.truth.dns.resolvers["manip"].policy
        assert policy is not None and name not in policy.nxdomain, name
        return _policy(w, nxdomain=(*policy.nxdomain, name))

    return edit


def egress_of(resolver: str) -> Callable[[World], World]:
    """The manipulating resolver sends its queries from ``resolver``'s egress address."""

    def edit(w: World) -> World:
        return _manip(w, egress=w.truth.dns.resolvers[resolver].egress)

    return edit


def without_owner(view: str, zone: str, owner: str) -> Callable[[World], World]:
    """Zone ``zone`` of root ``view`` without the records of ``owner``."""

    def edit(w: World) -> World:
        t = w.truth
        zones = []
        for z in t.dns.zones:
            if (z.view, z.name) == (view, zone):
                kept = tuple(r for r in z.records if r[0] != owner)
                assert len(kept) < len(z.records), (zone, owner)
                z = dataclasses.replace(z, records=kept)
            zones.append(z)
        dns_truth = dataclasses.replace(t.dns, zones=tuple(zones))
        return dataclasses.replace(w, truth=dataclasses.replace(t, dns=dns_truth))

    return edit


def block(host: str, action: Action, protocol: Protocol) -> Callable[[World], World]:
    """The censored middlebox also applies ``action`` to ``protocol``/443 towards the
    pinned address of web host ``host`` (its key in lab/truth.toml)."""

    def edit(w: World) -> World:
        h = w.truth.web[host]
        address = ipaddress.ip_address(h.address or h.address6 or "")
        v = w.vantages[LABEL]
        assert not any(b.address == address and b.protocol is protocol for b in v.blocks)
        blocks = (*v.blocks, Block(address, action, protocol))
        return _vantage(w, dataclasses.replace(v, blocks=blocks))

    return edit


def unblock(host: str, protocol: Protocol) -> Callable[[World], World]:
    """The censored middlebox without its ``protocol`` rule for web host ``host``."""

    def edit(w: World) -> World:
        h = w.truth.web[host]
        v = w.vantages[LABEL]
        blocks = tuple(
            b for b in v.blocks if not (str(b.address) in h.addresses and b.protocol is protocol)
        )
        assert len(blocks) < len(v.blocks), (host, protocol)
        return _vantage(w, dataclasses.replace(v, blocks=blocks))

    return edit


def _vantage(w: World, v: Vantage) -> World:
    return dataclasses.replace(w, vantages={**w.vantages, v.name: v})


def gateway_down(w: World) -> World:
    return dataclasses.replace(w, gateway_up=False)


TCP, UDP = Protocol.TCP, Protocol.UDP
# The catalogue: every indicator of the exact tests is the target of exactly one entry (the
# composites C1 and C2 move with their members and are checked in every batch).
CATALOGUE = (
    Perturbation("rpz-host-lab", "RPZ: no rewrite of host.lab.", ("N1",), no_rewrite("host.lab.")),
    Perturbation(
        "rpz-nx-lab", "RPZ: NXDOMAIN for the TLD lab.", ("N2",), nxdomain("lab."), ("N1", "N5")
    ),
    Perturbation(
        "alt-test-collision",
        "OpenNIC-like test. zone without www.example (its collision data)",
        ("N3",),
        without_owner("alt", "test.", "www.example"),
    ),
    Perturbation("gateway-down", "CCIP-read gateway stopped", ("N4",), gateway_down),
    Perturbation(
        "rpz-rewritten",
        "RPZ: no rewrite of rewritten.example.test.",
        ("N5",),
        no_rewrite("rewritten.example.test."),
        ("N1",),
    ),
    Perturbation(
        "rpz-secure-rewrites",
        "RPZ: no rewrite in the signed example.test. zone",
        ("N6",),
        no_rewrite("www.example.test.", "rewritten.example.test."),
        ("N1", "N5"),
    ),
    Perturbation(
        "manip-egress",
        "manipulating resolver egresses from the ICANN-like resolver's address",
        ("N7",),
        egress_of("icann"),
    ),
    Perturbation(
        "rpz-nx-canary",
        "RPZ: NXDOMAIN for fscanary.invalid.",
        ("N8",),
        nxdomain("fscanary.invalid."),
        ("N1", "N5"),
    ),
    Perturbation(
        "reset-noudp",
        "TCP/443 reset to noudp.example.test",
        ("T1",),
        block("noudp", Action.RESET, TCP),
        ("O1", "T4", "T6"),
    ),
    Perturbation(
        "unreset-news",
        "no TCP/443 reset to news.example.test",
        ("T2",),
        unblock("news", TCP),
        ("O1", "T1", "T4", "T6", "T9"),
    ),
    Perturbation(
        "drop-udp-draft",
        "UDP/443 dropped to draft.example.test",
        ("T3", "T6", "T8"),
        block("draft", Action.DROP, UDP),
    ),
    Perturbation(
        "reset-hostile",
        "TCP/443 reset to hostile.example.test",
        ("T4",),
        block("hostile", Action.RESET, TCP),
        ("O1",),
    ),
    Perturbation(
        "reset-v6only",
        "TCP/443 reset to v6only.example.test",
        ("T5",),
        block("v6only", Action.RESET, TCP),
        ("O1", "T1", "T2", "T4", "T6", "T9"),
    ),
    Perturbation(
        "drop-udp-retry",
        "UDP/443 dropped to retry.example.test",
        ("T7",),
        block("retry", Action.DROP, UDP),
        ("T3", "T6", "T8"),
    ),
    Perturbation(
        "drop-udp-news",
        "UDP/443 dropped to news.example.test",
        ("T9",),
        block("news", Action.DROP, UDP),
        ("T3", "T6", "T7", "T8"),
    ),
    Perturbation(
        "rpz-nx-ech",
        "RPZ: NXDOMAIN for ech.example.test. (its HTTPS record and ECH config with it)",
        ("T11",),
        nxdomain("ech.example.test."),
        ("T12",),
    ),
    Perturbation(
        "reset-ech",
        "TCP/443 reset to ech.example.test (ECH and its control both lost: undecided)",
        ("T12",),
        block("ech", Action.RESET, TCP),
        ("O1", "T1", "T2", "T4", "T6", "T9"),
    ),
    Perturbation(
        "ecn-caddy",
        "ECN-setup SYNs dropped to caddy.example.test",
        ("O1",),
        block("caddy", Action.DROP_ECN_SETUP, TCP),
    ),
)
BY_KEY = {p.key: p for p in CATALOGUE}
# One measured round each; within a batch no member moves another member's targets.
BATCHES: tuple[tuple[str, ...], ...] = (
    # Five is the fewest: ecn-caddy and the four TCP/443 resets of the censored vantage's
    # middlebox each move the others' targets (O1 and T1/T2/T4/T5 read the same handshakes).
    (
        "reset-noudp",
        "rpz-host-lab",
        "alt-test-collision",
        "gateway-down",
        "manip-egress",
        "rpz-nx-ech",
    ),
    ("unreset-news", "rpz-nx-lab"),
    ("reset-hostile", "drop-udp-draft", "rpz-rewritten"),
    ("reset-v6only", "reset-ech", "rpz-secure-rewrites", "drop-udp-retry"),
    ("ecn-caddy", "drop-udp-news", "rpz-nx-canary"),
)


def apply_all(w: World, keys: tuple[str, ...]) -> World:
    for key in keys:
        w = BY_KEY[key].edit(w)
    return w


# -- applying a perturbed world to the running lab ---------------------------------------


def _signal(lab: Lab, service: str, sig: signal.Signals = signal.SIGHUP) -> None:
    """Unbound re-reads its configuration and zone files (the RPZ) and drops its cache on
    SIGHUP; NSD re-reads changed zone files."""
    found = [r for r in process.load(lab.paths.pids) if r.service == service]
    assert found and process.alive(found[0]), f"{service} is not running"
    os.kill(found[0].pid, sig)


def wait_answer(server: str, name: str, want: expect.Answer, timeout: float = 20.0) -> None:
    """Poll ``server`` until it answers ``name`` A as ``want`` says (the reload is done)."""
    deadline = time.monotonic() + timeout
    got: object = None
    while time.monotonic() < deadline:
        try:
            r = dns.query.udp(dns.message.make_query(name, "A"), server, timeout=0.5)
        except (OSError, dns.exception.Timeout) as exc:
            got = exc
        else:
            addrs = {rr.to_text() for rrset in r.answer for rr in rrset if rrset.rdtype == 1}
            got = (dns.rcode.to_text(r.rcode()), addrs)
            if got == (want.rcode, set(want.addresses)):
                return
        time.sleep(0.2)
    raise AssertionError(f"{server} answers {name} with {got}, not {want}")


def _manip_files(lab: Lab, t: lab_truth.Truth) -> dict[str, str]:
    """The manipulating resolver's RPZ zone and configuration, rendered from ``t``."""
    p, m = lab.paths, t.dns.resolvers["manip"]
    conf = render.unbound_conf(
        t, m, paths=p, tls_key=p.pki / "server.key", tls_pem=p.pki / "fullchain.pem"
    )
    return {
        str(p.zones / "rpz.manip.zone"): render.rpz_zone(t, m),
        str(p.conf / "unbound-manip.conf"): conf,
    }


def _settle_manip(t: lab_truth.Truth, names: list[str]) -> None:
    m = t.dns.resolvers["manip"]
    for name in names:
        wait_answer(m.address, name, expect.answer(t, "manip", name, "A"))
    wait_answer(
        m.address, "whoami.lab.", expect.Answer("NOERROR", frozenset({t.whoami_answer("manip")}))
    )


@contextmanager
def manip_as(
    lab: Lab, base: lab_truth.Truth, after: lab_truth.Truth, names: list[str]
) -> Iterator[None]:
    """The manipulating Unbound running ``after``'s policy and egress; ``base``'s again
    in the finally. ``names``: the asked names, polled until the answers are ``after``'s."""
    before = _manip_files(lab, base)
    for path, text in before.items():
        assert Path(path).read_text() == text, path  # the lab runs what the truth says
    if before == _manip_files(lab, after):
        yield
        return
    try:
        for path, text in _manip_files(lab, after).items():
            Path(path).write_text(text)
        _signal(lab, "unbound-manip")
        _settle_manip(after, names)
        yield
    finally:
        for path, text in before.items():
            Path(path).write_text(text)
        _signal(lab, "unbound-manip")
        _settle_manip(base, names)


def _changed_zones(base: lab_truth.Truth, after: lab_truth.Truth) -> list[tuple[Zone, Zone]]:
    return [(b, a) for b, a in zip(base.dns.zones, after.dns.zones, strict=True) if b != a]


@contextmanager
def zones_as(lab: Lab, base: lab_truth.Truth, after: lab_truth.Truth) -> Iterator[None]:
    """The changed zones served as in ``after`` (an unsigned zone with no signed child: its
    file is the rendering alone), the view's resolver restarted cold; restored after."""
    changed = _changed_zones(base, after)
    saved: dict[str, str] = {}
    try:
        for b, a in changed:
            assert b.dnssec == "none" and not any(c.has_ds for c in render.children_of(base, b))
            path = lab.paths.zones / render.zone_file(b)
            saved[str(path)] = path.read_text()
            assert saved[str(path)] == render.render_zone(base, b, ds={}), path
            path.write_text(render.render_zone(after, a, ds={}))
            _reload_zone(lab, after, a)
        yield
    finally:
        for b, _a in changed:
            path = lab.paths.zones / render.zone_file(b)
            path.write_text(saved.get(str(path), path.read_text()))
            _reload_zone(lab, base, b)


def _reload_zone(lab: Lab, t: lab_truth.Truth, z: Zone) -> None:
    """NSD re-reads the zone; the view's resolver drops its cache; both polled until the
    resolver answers every owner of the zone (and the removed ones) as ``t`` says."""
    assert t.dns.servers[z.servers[0]].software == "nsd", z
    _signal(lab, f"nsd-{z.servers[0]}")
    resolver = t.dns.resolver_for_view(z.view)
    planted = next(x for x in lab.truth.dns.zones if (x.view, x.name) == (z.view, z.name))
    owners = {z.fqdn(o) for zone in (z, planted) for o, typ, _r in zone.records if typ == "A"}
    time.sleep(0.5)  # NSD forks its reload; the old process answers until it is done
    _signal(lab, f"unbound-{resolver.key}")
    for name in sorted(owners):
        wait_answer(resolver.address, name, expect.answer(t, resolver.key, name, "A"))


def _nft(ns: str, *args: str, text: str | None = None) -> str:
    done = subprocess.run(
        ["ip", "netns", "exec", ns, "nft", *args],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    return done.stdout


@contextmanager
def middlebox_as(v_base: Vantage, v_after: Vantage) -> Iterator[None]:
    """The vantage's middlebox table replaced atomically (one nft transaction) by the
    ruleset rendered from ``v_after``, and by ``v_base``'s in the finally."""
    if v_base == v_after:
        yield
        return
    ns = lab_layout(v_base.name).mbox_ns
    before = _nft(ns, "-s", "list", "table", "inet", nft.TABLE)
    flush = f"flush table inet {nft.TABLE}\n"
    try:
        _nft(ns, "-f", "-", text=flush + nft.render(v_after))
        yield
    finally:
        _nft(ns, "-f", "-", text=flush + nft.render(v_base))
        # Restored exactly (counters aside: -s lists the rules without their state).
        assert _nft(ns, "-s", "list", "table", "inet", nft.TABLE) == before


@contextmanager
def service_stopped(lab: Lab, name: str) -> Iterator[None]:
    """Lab service ``name`` stopped (SIGTERM by its recorded PID, then its record dropped),
    started again (recorded, so `lab down` stops it) and health-checked in the finally."""
    service = next(s for s in lab.services if s.name == name)
    running = process.load(lab.paths.pids)
    found = [r for r in running if r.service == name]
    assert found and process.alive(found[0]), f"{name} is not running"
    process.stop_all(found)
    process.save(lab.paths.pids, [r for r in running if r.service != name])
    try:
        yield
    finally:
        lab._wait([service], lab._start([service]), timeout=30.0)


@contextmanager
def applied(lab: Lab, base: World, after: World, names: list[str]) -> Iterator[None]:
    """The running lab as ``after`` says (``base`` is what it runs now), restored after."""
    with ExitStack() as stack:
        stack.enter_context(manip_as(lab, base.truth, after.truth, names))
        stack.enter_context(zones_as(lab, base.truth, after.truth))
        for label, v in base.vantages.items():
            stack.enter_context(middlebox_as(v, after.vantages[label]))
        if base.gateway_up and not after.gateway_up:
            stack.enter_context(service_stopped(lab, "ccip-gateway"))
        yield
