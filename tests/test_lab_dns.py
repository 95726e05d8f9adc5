"""Every planted fact of the lab's DNS world, checked with independent clients.

The clients are dig and kdig (subprocesses) and dnspython called directly, never fragscope's
own probes. Expected values come from lab/truth.toml, the file the zones were built from.
"""

from __future__ import annotations

import asyncio
import random
import re
import ssl
import string
import struct
import subprocess
from typing import Any

import dns.dnssec
import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.rdtypes.svcbbase
import pytest
from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import QuicEvent, StreamDataReceived, StreamReset

from fragscope.lab.truth import Resolver, Truth, load
from fragscope.lab.world import Lab

pytestmark = pytest.mark.lab
TRUTH: Truth = load()
ICANN = TRUTH.dns.resolvers["icann"]
MANIP = TRUTH.dns.resolvers["manip"]
DOQ = TRUTH.dns.resolvers["doq"]


# -- clients --------------------------------------------------------------------------------
def ask(
    resolver_or_ip: Resolver | str,
    qname: str,
    rdtype: str = "A",
    *,
    dnssec: bool = True,
    tcp: bool = False,
    rd: bool = True,
) -> dns.message.Message:
    """dnspython, straight to the server (no fragscope code)."""
    ip = resolver_or_ip if isinstance(resolver_or_ip, str) else resolver_or_ip.address
    q = dns.message.make_query(qname, rdtype, want_dnssec=dnssec)
    if not rd:
        q.flags &= ~dns.flags.RD
    if tcp:
        return dns.query.tcp(q, ip, port=53, timeout=10)
    return dns.query.udp(q, ip, port=53, timeout=10)


def tool(*argv: str) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, f"{argv}: {proc.stderr}"
    return proc.stdout


def dig(server: str, qname: str, rdtype: str = "A", *extra: str) -> str:
    return tool("dig", f"@{server}", qname, rdtype, "+time=5", "+tries=1", *extra)


def dig_short(server: str, qname: str, rdtype: str = "A") -> set[str]:
    return {line for line in dig(server, qname, rdtype, "+short").splitlines() if line}


def status_of(dig_output: str) -> str:
    m = re.search(r"status: (\w+)", dig_output)
    assert m, dig_output
    return m.group(1)


def flags_of(dig_output: str) -> set[str]:
    m = re.search(r";; flags: ([a-z ]+);", dig_output)
    assert m, dig_output
    return set(m.group(1).split())


def rdatas(msg: dns.message.Message, rdtype: str) -> set[str]:
    t = dns.rdatatype.from_text(rdtype)
    return {rd.to_text() for rr in msg.answer if rr.rdtype == t for rd in rr}


def ede_codes(msg: dns.message.Message) -> set[int]:
    return {int(o.code) for o in msg.options if o.otype == dns.edns.OptionType.EDE}


def random_label(n: int = 12) -> str:
    return "".join(random.choice(string.ascii_lowercase) for _ in range(n))


def a_of(zone_name: str, owner: str, view: str = "icann") -> str:
    return TRUTH.dns.zone(zone_name, view).rdatas(f"{owner}.{zone_name}", "A")[0]


# -- the ICANN-like hierarchy and DNSSEC ------------------------------------------------------
SIGNED = [z for z in TRUTH.dns.zones_in("icann") if z.validates and z.is_served and z.name != "."]


@pytest.mark.parametrize("zone", SIGNED, ids=lambda z: z.name)
def test_signed_zone_validates_with_ad(lab: Lab, zone) -> None:  # type: ignore[no-untyped-def]
    msg = ask(ICANN, zone.name, "SOA")
    assert msg.rcode() == dns.rcode.NOERROR
    assert msg.flags & dns.flags.AD, f"{zone.name} SOA through the validator lacks AD"
    out = dig(ICANN.address, zone.name, "SOA", "+dnssec")
    assert "ad" in flags_of(out)


def test_signed_a_record_has_ad_and_planted_address(lab: Lab) -> None:
    msg = ask(ICANN, "www.example.test.")
    assert msg.flags & dns.flags.AD
    assert rdatas(msg, "A") == set(TRUTH.dns.expected("www.example.test.", "A", "icann"))
    assert any(rr.rdtype == dns.rdatatype.RRSIG for rr in msg.answer)


def test_root_and_tld_are_signed_by_their_own_signers(lab: Lab) -> None:
    root = TRUTH.dns.servers["icann-root"].address
    tld = TRUTH.dns.servers["tld"].address
    for server, zone in ((root, "."), (tld, "test.")):
        msg = ask(server, zone, "DNSKEY", rd=False)
        keys = [rd for rr in msg.answer if rr.rdtype == dns.rdatatype.DNSKEY for rd in rr]
        assert {k.flags for k in keys} == {256, 257}, zone  # a ZSK and a KSK (SEP)
        assert any(rr.rdtype == dns.rdatatype.RRSIG for rr in msg.answer)
    # test. is signed by Knot: the root publishes a DS that matches Knot's KSK.
    ds_msg = ask(root, "test.", "DS", rd=False)
    published = {rd for rr in ds_msg.answer if rr.rdtype == dns.rdatatype.DS for rd in rr}
    keys_msg = ask(tld, "test.", "DNSKEY", rd=False)
    ksks = [rd for rr in keys_msg.answer if rr.rdtype == dns.rdatatype.DNSKEY for rd in rr]
    derived = {dns.dnssec.make_ds("test.", k, "SHA256") for k in ksks if k.flags == 257}
    assert published and published == derived


def test_unsigned_tld_is_insecure(lab: Lab) -> None:
    msg = ask(ICANN, "host.lab.")
    assert rdatas(msg, "A") == set(TRUTH.dns.expected("host.lab.", "A", "icann"))
    assert not msg.flags & dns.flags.AD


def test_broken_dnssec_servfail_with_ede(lab: Lab) -> None:
    name = "www.broken.test."
    assert TRUTH.dns.zone("broken.test.").dnssec == "broken"
    out = dig(ICANN.address, name, "A", "+dnssec")
    assert status_of(out) == "SERVFAIL"
    assert re.search(r"EDE: (9|6|10)\b", out), out  # DNSKEY Missing / Bogus / RRSIGs Missing
    msg = ask(ICANN, name)
    assert (
        msg.rcode() == dns.rcode.SERVFAIL and ede_codes(msg) & TRUTH.dns.zone(name[4:]).expected_ede
    )
    # With CD (checking disabled, RFC 4035 3.2.2) the unvalidated data comes through.
    cd = dig(ICANN.address, name, "A", "+cd", "+short").split()
    assert cd == [a_of("broken.test.", "www")]


def test_expired_signature_servfail_with_ede_7(lab: Lab) -> None:
    assert TRUTH.dns.zone("expired.test.").dnssec == "expired"
    # A type no campaign asks (CAA), so the answer is validated now: Unbound gives EDE 7
    # only on a fresh validation and EDE 6 from its cache of the failure (Zone.expected_ede),
    # and the lab round's campaigns ask www.expired.test. A of this resolver (its control).
    out = dig(ICANN.address, "www.expired.test.", "CAA", "+dnssec")
    assert status_of(out) == "SERVFAIL"
    assert "EDE: 7 (Signature Expired)" in out
    again = ede_codes(ask(ICANN, "www.expired.test."))
    assert again and again <= TRUTH.dns.zone("expired.test.").expected_ede
    # The authoritative server really serves signatures that ended in the past.
    msg = ask(TRUTH.dns.servers["sld"].address, "www.expired.test.", rd=False)
    sigs = [rd for rr in msg.answer if rr.rdtype == dns.rdatatype.RRSIG for rd in rr]
    assert sigs and all(s.expiration < 1700000000 for s in sigs)


@pytest.mark.parametrize("zone", ["lame.test.", "dead.test."])
def test_lame_and_dead_delegations_servfail(lab: Lab, zone: str) -> None:
    assert TRUTH.dns.zone(zone).kind in {"lame", "dead"}
    out = dig(ICANN.address, f"www.{zone}", "A")
    assert status_of(out) == "SERVFAIL"
    # The delegation exists in the parent: the failure is the child's servers.
    ref = ask(TRUTH.dns.servers["tld"].address, f"www.{zone}", rd=False)
    assert any(rr.rdtype == dns.rdatatype.NS for rr in ref.authority)


def test_lame_server_refuses_the_zone(lab: Lab) -> None:
    msg = ask(TRUTH.dns.servers["sld"].address, "www.lame.test.", rd=False)
    assert msg.rcode() == dns.rcode.REFUSED


@pytest.mark.parametrize(("zone", "denial"), [("nsec.test.", "NSEC"), ("example.test.", "NSEC3")])
def test_denial_of_existence_proofs(lab: Lab, zone: str, denial: str) -> None:
    assert TRUTH.dns.zone(zone).dnssec == denial.lower()
    name = f"{random_label()}.{zone}"
    msg = ask(ICANN, name)
    assert msg.rcode() == dns.rcode.NXDOMAIN
    assert msg.flags & dns.flags.AD
    types = {dns.rdatatype.to_text(rr.rdtype) for rr in msg.authority}
    assert denial in types, types
    out = dig(TRUTH.dns.servers["sld"].address, name, "A", "+dnssec", "+norec")
    assert status_of(out) == "NXDOMAIN"
    assert re.search(rf"\sIN\s+{denial}\s", out), out


# -- the signed SLD's record types -------------------------------------------------------------
EXAMPLE = TRUTH.dns.zone("example.test.")
EXAMPLE_RRSETS = sorted({(EXAMPLE.fqdn(o), t) for o, t, _ in EXAMPLE.records})


@pytest.mark.parametrize(("name", "rdtype"), EXAMPLE_RRSETS, ids=lambda x: str(x))
def test_example_records_served_as_planted(lab: Lab, name: str, rdtype: str) -> None:
    want = {dns.rdata.from_text("IN", rdtype, r, origin=None) for r in EXAMPLE.rdatas(name, rdtype)}
    msg = ask(TRUTH.dns.servers["sld"].address, name, rdtype, rd=False)
    got = {rd for rr in msg.answer if rr.rdtype == dns.rdatatype.from_text(rdtype) for rd in rr}
    assert got == want


def test_cname_chain_through_resolver(lab: Lab) -> None:
    msg = ask(ICANN, "alias1.example.test.")
    cnames = [rr for rr in msg.answer if rr.rdtype == dns.rdatatype.CNAME]
    assert len(cnames) == 3
    assert rdatas(msg, "A") == set(TRUTH.dns.expected("www.example.test.", "A", "icann"))
    assert msg.flags & dns.flags.AD


def test_https_record_parameters(lab: Lab) -> None:
    msg = ask(ICANN, "www.example.test.", "HTTPS")
    (rd,) = [rd for rr in msg.answer if rr.rdtype == dns.rdatatype.HTTPS for rd in rr]
    keys = dns.rdtypes.svcbbase.ParamKey
    assert rd.priority == 1
    assert list(rd.params[keys.ALPN].ids) == [b"h3", b"h2"]
    assert rd.params[keys.PORT].port == 443
    assert [a for a in rd.params[keys.IPV4HINT].addresses] == [a_of("example.test.", "www")]
    assert list(rd.params[keys.IPV6HINT].addresses) == ["fd99::80:1"]
    out = dig(ICANN.address, "svc.example.test.", "SVCB")
    assert 'alpn="h3,h2" port=8443 ipv4hint=10.99.80.1 ipv6hint=fd99::80:1' in out


VECTORS = TRUTH.dns.zone("svcb-vectors.test.")


@pytest.mark.parametrize("record", VECTORS.records, ids=lambda r: r[0])
def test_rfc9460_appendix_d_vectors(lab: Lab, record: tuple[str, str, str]) -> None:
    owner, rdtype, text = record
    msg = ask(TRUTH.dns.servers["sld"].address, VECTORS.fqdn(owner), rdtype, rd=False)
    (got,) = [rd for rr in msg.answer for rd in rr]
    assert got.to_wire() == dns.rdata.from_text("IN", rdtype, text).to_wire()


# -- alternative roots ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("view", "tld"),
    [(v, t) for v in ("alt", "hns") for t in TRUTH.dns.roots[v].tlds],
)
def test_alternative_root_tlds(lab: Lab, view: str, tld: str) -> None:
    zone = TRUTH.dns.zone(f"{tld}.", view)
    owner, _, addr = next(r for r in zone.records if r[1] == "A")
    name = zone.fqdn(owner)
    resolver = TRUTH.dns.resolver_for_view(view)
    assert dig_short(resolver.address, name) == {addr}
    assert rdatas(ask(resolver, name), "A") == {addr}
    # The root of that view delegates the TLD (a referral, RD off).
    root = TRUTH.dns.servers[f"{view}-root"].address
    ref = ask(root, name, rd=False, dnssec=False)
    assert any(
        rr.rdtype == dns.rdatatype.NS and rr.name.to_text() == f"{tld}." for rr in ref.authority
    )
    if tld not in TRUTH.dns.roots[view].collides_with_icann:
        # Not in the ICANN-like root: the validating resolver proves it does not exist.
        msg = ask(ICANN, name)
        assert msg.rcode() == dns.rcode.NXDOMAIN and msg.flags & dns.flags.AD


@pytest.mark.parametrize(
    ("view", "tld"),
    [(v, t) for v in ("alt", "hns") for t in TRUTH.dns.roots[v].collides_with_icann],
)
def test_colliding_tld_answers_differ(lab: Lab, view: str, tld: str) -> None:
    alt_zone = TRUTH.dns.zone(f"{tld}.", view)
    owner, _, alt_addr = next(r for r in alt_zone.records if r[1] == "A")
    name = alt_zone.fqdn(owner)
    icann_addrs = set(TRUTH.dns.expected(name, "A", "icann"))
    assert icann_addrs and icann_addrs != {alt_addr}
    assert dig_short(TRUTH.dns.resolver_for_view(view).address, name) == {alt_addr}
    assert dig_short(ICANN.address, name) == icann_addrs


def test_colliding_test_tld_txt_views(lab: Lab) -> None:
    alt = TRUTH.dns.resolver_for_view("alt")
    assert rdatas(ask(alt, "example.test.", "TXT"), "TXT") == {'"alt-root-view"'}
    assert rdatas(ask(ICANN, "example.test.", "TXT"), "TXT") == {'"icann-view"'}


# -- the manipulating resolver -------------------------------------------------------------------
assert MANIP.policy is not None
POLICY = MANIP.policy


@pytest.mark.parametrize(("name", "addr"), sorted(POLICY.rewrite.items()))
def test_manipulating_resolver_rewrites(lab: Lab, name: str, addr: str) -> None:
    assert dig_short(MANIP.address, name) == {addr}
    honest = set(TRUTH.dns.expected(name, "A", "icann"))
    assert honest and addr not in honest
    assert rdatas(ask(ICANN, name), "A") == honest


@pytest.mark.parametrize("name", POLICY.nxdomain)
def test_manipulating_resolver_nxdomains(lab: Lab, name: str) -> None:
    assert status_of(dig(MANIP.address, name)) == "NXDOMAIN"
    assert ask(MANIP, name).rcode() == dns.rcode.NXDOMAIN


def test_manipulating_resolver_nxdomains_existing_names(lab: Lab) -> None:
    # At least one blocked name really exists: the honest resolver answers it.
    existing = [n for n in POLICY.nxdomain if TRUTH.dns.expected(n, "A", "icann")]
    assert existing
    for name in existing:
        assert ask(ICANN, name).rcode() == dns.rcode.NOERROR


def test_manipulating_resolver_answers_onion(lab: Lab) -> None:
    for name in (f"{random_label(16)}.onion.", "onion."):
        assert dig_short(MANIP.address, name) == {POLICY.onion_answer}
    assert ask(ICANN, f"{random_label(16)}.onion.").rcode() == dns.rcode.NXDOMAIN


def test_manipulating_resolver_answers_never_delegated_labels(lab: Lab) -> None:
    for name in (f"{random_label()}.", f"www.{random_label()}.", f"a.b.{random_label()}."):
        assert dig_short(MANIP.address, name) == {POLICY.wildcard_answer}, name
        assert ask(ICANN, name).rcode() == dns.rcode.NXDOMAIN


def test_manipulating_resolver_passes_other_names_through(lab: Lab) -> None:
    for name in ("mail.example.test.", "www.nsec.test."):
        if name in POLICY.rewrite or name in POLICY.nxdomain:
            continue
        assert rdatas(ask(MANIP, name), "A") == set(TRUTH.dns.expected(name, "A", "icann"))
    msg = ask(MANIP, f"{random_label()}.example.test.")
    assert msg.rcode() == dns.rcode.NXDOMAIN  # the wildcard does not reach delegated TLDs


# -- encrypted transports -------------------------------------------------------------------------
WWW = "www.example.test."


def _kdig(lab: Lab, server: str, *opts: str) -> str:
    return tool(
        "kdig",
        f"@{server}",
        f"+tls-ca={lab.ca_file}",
        f"+tls-hostname={TRUTH.tls_hostname}",
        *opts,
        WWW,
        "A",
    )


def test_dot_kdig_and_dnspython(lab: Lab) -> None:
    out = _kdig(lab, ICANN.address, "+tls")
    assert ";; TLS session" in out and a_of("example.test.", "www") in out
    ctx = ssl.create_default_context(cafile=str(lab.ca_file))
    q = dns.message.make_query(WWW, "A", want_dnssec=True)
    r = dns.query.tls(
        q,
        ICANN.address,
        port=ICANN.tls,
        ssl_context=ctx,
        server_hostname=TRUTH.tls_hostname,
        timeout=10,
    )
    assert rdatas(r, "A") == {a_of("example.test.", "www")} and r.flags & dns.flags.AD


def test_doh_kdig_and_dnspython(lab: Lab) -> None:
    out = _kdig(lab, ICANN.address, "+https")
    assert ";; HTTP session (HTTP/2" in out and a_of("example.test.", "www") in out
    q = dns.message.make_query(WWW, "A")
    assert ICANN.doh_url is not None
    ctx = ssl.create_default_context(cafile=str(lab.ca_file))
    r = dns.query.https(q, ICANN.doh_url, verify=ctx, timeout=10)
    assert rdatas(r, "A") == {a_of("example.test.", "www")}


def test_doq_kdig_and_dnspython(lab: Lab) -> None:
    # kdig: +quic must come after the +tls-* options (lab-recipes section 2).
    out = _kdig(lab, DOQ.address, "-p", str(DOQ.quic), "+quic")
    assert ";; QUIC session" in out and a_of("example.test.", "www") in out
    q = dns.message.make_query(WWW, "A", want_dnssec=True)
    r = dns.query.quic(
        q,
        DOQ.address,
        port=DOQ.quic,
        verify=str(lab.ca_file),
        server_hostname=TRUTH.tls_hostname,
        timeout=10,
    )
    assert rdatas(r, "A") == {a_of("example.test.", "www")} and r.flags & dns.flags.AD
    assert r.id == 0  # RFC 9250 section 4.2.1


def test_doq_rejects_unknown_ca(lab: Lab) -> None:
    q = dns.message.make_query(WWW, "A")
    # The system trust store does not know the lab CA: the handshake must fail.
    with pytest.raises(Exception):  # noqa: B017 (dnspython raises various types here)
        dns.query.quic(
            q,
            DOQ.address,
            port=DOQ.quic,
            verify=True,
            server_hostname=TRUTH.tls_hostname,
            timeout=5,
        )


def test_resolver_over_ipv6(lab: Lab) -> None:
    assert ICANN.address6
    assert dig_short(ICANN.address6, WWW) == {a_of("example.test.", "www")}
    assert dig_short(ICANN.address6, WWW, "AAAA") == set(TRUTH.dns.expected(WWW, "AAAA", "icann"))


PLAIN = [r for r in TRUTH.dns.resolvers.values() if r.udp]


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize("resolver", PLAIN, ids=lambda r: r.key)
def test_do53_udp_and_tcp(lab: Lab, resolver: Resolver, tcp: bool) -> None:
    # Each resolver's own view: its root's first A record (or its first rewrite).
    if resolver.policy:
        name, addr = next(iter(resolver.policy.rewrite.items()))
        want = {addr}
    else:
        assert resolver.root
        zone = next(z for z in TRUTH.dns.zones_in(resolver.root) if z.name != "." and z.records)
        owner, _, _ = next(r for r in zone.records if r[1] == "A")
        name = zone.fqdn(owner)
        want = set(TRUTH.dns.expected(name, "A", resolver.root))
    assert rdatas(ask(resolver, name, tcp=tcp), "A") == want
    assert dig_short(resolver.address, name) == want


# -- whoami ----------------------------------------------------------------------------------------
WHOAMI = next(z for z in TRUTH.dns.zones if z.whoami)


def test_whoami_direct_sees_the_host(lab: Lab) -> None:
    server = TRUTH.dns.servers[WHOAMI.servers[0]].address
    assert dig_short(server, WHOAMI.name) == {TRUTH.whoami_answer()}
    assert rdatas(ask(server, WHOAMI.name, rd=False), "A") == {TRUTH.host_address}


@pytest.mark.parametrize("key", [k for k, r in TRUTH.dns.resolvers.items() if r.root == "icann"])
def test_whoami_through_resolver_sees_its_egress(lab: Lab, key: str) -> None:
    r = TRUTH.dns.resolvers[key]
    assert r.egress and TRUTH.whoami_answer(key) == r.egress
    assert dig_short(r.address, WHOAMI.name) == {r.egress}


def test_whoami_through_doq_sees_the_upstream_egress(lab: Lab) -> None:
    q = dns.message.make_query(WHOAMI.name, "A")
    r = dns.query.quic(
        q,
        DOQ.address,
        port=DOQ.quic,
        verify=str(lab.ca_file),
        server_hostname=TRUTH.tls_hostname,
        timeout=10,
    )
    assert rdatas(r, "A") == {TRUTH.whoami_answer(DOQ.key)} == {ICANN.egress}


# -- the lab's own DoQ server (lab/dns/doq.py), spoken to with a raw aioquic client ---------------
class _RawDoq(QuicConnectionProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.events: asyncio.Queue[QuicEvent] = asyncio.Queue()
        self.data = bytearray()

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, StreamDataReceived):
            self.data += event.data
            if event.end_stream:
                self.events.put_nowait(event)
        elif isinstance(event, StreamReset):
            self.events.put_nowait(event)


async def _raw_doq(lab: Lab, payload: bytes) -> tuple[QuicEvent, bytes]:
    config = QuicConfiguration(
        is_client=True, alpn_protocols=["doq"], server_name=TRUTH.tls_hostname
    )
    config.load_verify_locations(str(lab.ca_file))
    assert DOQ.quic is not None
    async with connect(DOQ.address, DOQ.quic, configuration=config, create_protocol=_RawDoq) as c:
        assert isinstance(c, _RawDoq)
        stream = c._quic.get_next_available_stream_id()
        c._quic.send_stream_data(stream, payload, end_stream=True)
        c.transmit()
        event = await asyncio.wait_for(c.events.get(), 10)
        return event, bytes(c.data)


def test_doq_framing_rfc9250(lab: Lab) -> None:
    wire = dns.message.make_query(WWW, "A").to_wire()
    wire = b"\x00\x00" + wire[2:]  # message ID 0 (RFC 9250 section 4.2.1)
    event, data = asyncio.run(_raw_doq(lab, struct.pack("!H", len(wire)) + wire))
    assert isinstance(event, StreamDataReceived) and event.end_stream
    (length,) = struct.unpack("!H", data[:2])
    assert length == len(data) - 2
    answer = dns.message.from_wire(data[2:])
    assert answer.id == 0 and rdatas(answer, "A") == {a_of("example.test.", "www")}


def test_doq_malformed_frame_resets_stream(lab: Lab) -> None:
    event, _ = asyncio.run(_raw_doq(lab, b"\x00\x40" + b"\x00" * 5))  # says 64, has 5
    assert isinstance(event, StreamReset) and event.error_code == 0x2  # DOQ_PROTOCOL_ERROR


def test_large_answer_truncated_over_udp_and_complete_over_doq(lab: Lab) -> None:
    name = "big.example.test."
    want = set(TRUTH.dns.expected(name, "TXT", "icann"))
    q = dns.message.make_query(name, "TXT", use_edns=False)  # 512-octet UDP limit
    udp = dns.query.udp(q, ICANN.address, port=53, timeout=10)
    assert udp.flags & dns.flags.TC
    out = dig(TRUTH.dns.servers["sld"].address, name, "TXT", "+noedns", "+ignore", "+norec")
    assert "tc" in flags_of(out)
    # The DoQ server got TC from Unbound over UDP and retried over TCP (lab/dns/doq.py).
    assert DOQ.quic is not None
    r = dns.query.quic(
        q,
        DOQ.address,
        port=DOQ.quic,
        verify=str(lab.ca_file),
        server_hostname=TRUTH.tls_hostname,
        timeout=10,
    )
    assert not r.flags & dns.flags.TC
    assert rdatas(r, "TXT") == want and len(r.to_wire()) > 512
