"""The pure DNS layers: names, lean codec, SVCB params. Table tests and hypothesis."""

from __future__ import annotations

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rrset
import idna
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fragscope.probes.dns import codec
from fragscope.probes.dns.interpret import _common, interpret, interpret_general
from fragscope.probes.dns.names import InvalidName, normalize
from fragscope.probes.dns.resolvers import BadResolverURL, parse_resolver
from fragscope.probes.dns.svcb import parse_svcb
from tests.dns.agree import dnspython_view, lean_view
from tests.dns.svcb_vectors import VECTORS
from tests.dns.world import ECH

# ----------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("text", "ascii_form", "unicode_form"),
    [
        ("www.example.test", "www.example.test.", "www.example.test."),
        ("WWW.Example.TEST.", "www.example.test.", "www.example.test."),
        ("Bücher.example", "xn--bcher-kva.example.", "bücher.example."),
        ("xn--bcher-kva.example", "xn--bcher-kva.example.", "bücher.example."),
        ("faß.de", "xn--fa-hia.de.", "faß.de."),  # IDNA 2008: ß is kept (UTS 46 nontransitional)
        ("例え。テスト", "xn--r8jz45g.xn--zckzah.", "例え.テスト."),  # ideographic full stop
        (
            "_443._udp.www.example.test",
            "_443._udp.www.example.test.",
            "_443._udp.www.example.test.",
        ),
        (".", ".", "."),
    ],
)
def test_normalize_valid(text: str, ascii_form: str, unicode_form: str) -> None:
    name = normalize(text)
    assert (name.ascii, name.unicode) == (ascii_form, unicode_form)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty name"),
        ("a..b", "empty label"),
        ("a" * 64 + ".test", "64 octets"),
        (".".join(["a" * 63] * 4) + ".test", "octets on the wire"),
        ("ex ample.test", "characters outside"),
        ("☃.net", "not valid IDNA 2008"),
        ("xn--zz.test", "not a valid A-label"),
    ],
)
def test_normalize_invalid(text: str, fragment: str) -> None:
    with pytest.raises(InvalidName, match=fragment):
        normalize(text)


_label = st.text(
    alphabet=st.characters(codec=None, categories=("Ll", "Lu", "Nd", "Lo")), min_size=1, max_size=20
)


@given(st.lists(_label, min_size=1, max_size=5))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_normalize_never_crashes_and_round_trips(labels: list[str]) -> None:
    """Any text either normalises to a sendable name that IDNA round-trips, or is invalid."""
    text = ".".join(labels)
    try:
        name = normalize(text)
    except InvalidName:
        return
    assert name.ascii.isascii() and name.ascii.endswith(".")
    assert len(codec.encode_name(name.ascii)) <= 255
    assert all(0 < len(lbl) <= 63 for lbl in name.ascii.rstrip(".").split("."))
    assert normalize(name.ascii) == name  # the A-label form is a fixed point
    assert normalize(name.unicode).ascii == name.ascii
    # dnspython agrees on the wire form
    assert dns.name.from_text(name.ascii).to_wire() == codec.encode_name(name.ascii)


@given(st.text(max_size=80))
@settings(max_examples=300)
def test_normalize_arbitrary_text_is_name_or_invalid(text: str) -> None:
    try:
        name = normalize(text)
    except InvalidName:
        return
    assert name.ascii.isascii() and normalize(name.ascii) == name
    for label in name.ascii.rstrip(".").split("."):
        if label.startswith("xn--"):
            idna.decode(label)  # every A-label decodes (raises otherwise)


# ----------------------------------------------------------------------------- resolver URLs


def test_resolver_urls() -> None:
    r = parse_resolver("tls://127.0.0.1:8853#resolver.test")
    assert (r.transport, r.address, r.port, r.auth_name) == (
        "tls",
        "127.0.0.1",
        8853,
        "resolver.test",
    )
    r = parse_resolver("https://127.0.0.2/dns-query#resolver.test")
    assert (r.address, r.port, r.http_get, r.doh_url) == (
        "127.0.0.2",
        443,
        False,
        "https://resolver.test:443/dns-query",
    )
    assert parse_resolver("https://127.0.0.2:8443").doh_url == "https://127.0.0.2:8443/dns-query"
    assert parse_resolver("udp://[::1]:5353").address == "::1"
    assert parse_resolver("quic://127.0.0.1").port == 853
    for bad, why in [
        ("ftp://127.0.0.1", "scheme"),
        ("udp://resolver.test", "not an IP"),
        ("udp://127.0.0.1#name", "authentication name"),
        ("https://resolver.test/dns-query", "not an IP"),
        ("tls://127.0.0.1/path", "no path or query"),
        ("udp://127.0.0.1:99999", "bad port"),
    ]:
        with pytest.raises(BadResolverURL, match=why):
            parse_resolver(bad)


# ----------------------------------------------------------------------------- SVCB


@pytest.mark.parametrize(("label", "rdtype", "presentation", "wire", "expected"), VECTORS)
def test_rfc9460_appendix_d(
    label: str, rdtype: str, presentation: str, wire: str, expected: dict[str, object]
) -> None:
    # The wire vector is what RFC 9460 prints and what dnspython encodes from the text.
    assert dns.rdata.from_text("IN", rdtype, presentation).to_wire().hex() == wire
    params = parse_svcb(bytes.fromhex(wire))
    for key, value in expected.items():
        assert getattr(params, key) == value, key


@pytest.mark.parametrize(
    ("wire", "why"),
    [
        ("0001", "shorter"),
        ("000100" + "0003000100", "port SvcParam must be 2"),
        ("000100" + "000300020035" + "00010003026832", "out of order"),
        ("000100" + "00040003010203", "multiple of 4"),
        ("000100" + "00010003026832ff", "runs past"),
        ("000100" + "0001000400026832", "alpn-id"),
    ],
)
def test_svcb_malformed(wire: str, why: str) -> None:
    with pytest.raises(codec.MalformedMessage, match=why):
        parse_svcb(bytes.fromhex(wire))


def test_svcb_ech_flag() -> None:
    rd = dns.rdata.from_text(
        "IN",
        "HTTPS",
        '1 . alpn="h3" ech=' + ECH,
    )
    params = parse_svcb(rd.to_wire())
    assert params.ech and params.alpn == ("h3",) and not params.alias_mode


# ----------------------------------------------------------------------------- lean codec


def test_template_is_what_dnspython_builds() -> None:
    t = codec.make_template("www.example.test.", 65, dnssec_ok=True, edns_size=1232)
    msg = dns.message.from_wire(t.wire(0x1234))
    assert msg.id == 0x1234 and msg.flags & dns.flags.RD and not msg.flags & dns.flags.CD
    assert msg.question[0].to_text() == "www.example.test. IN HTTPS"
    assert msg.edns == 0 and msg.payload == 1232 and msg.ednsflags & dns.flags.DO
    plain = codec.make_template("a.test.", 1, rd=False, cd=True, edns_size=None)
    msg = dns.message.from_wire(plain.wire(7))
    assert msg.edns == -1 and not msg.flags & dns.flags.RD and msg.flags & dns.flags.CD


def test_ede_and_extended_rcode() -> None:
    q = dns.message.make_query("x.test.", "A", use_edns=0)
    r = dns.message.make_response(q)
    r.set_rcode(dns.rcode.SERVFAIL)
    r.use_edns(0, 0, 1232, options=[dns.edns.EDEOption(6, "bogus sig"), dns.edns.EDEOption(9)])
    resp = codec.parse(r.to_wire())
    assert resp.rcode == 2 and resp.ede == [(6, "bogus sig"), (9, "")]
    r.use_edns(0, 0, 1232, options=[dns.edns.EDEOption(0, "x\x00")])
    assert codec.parse(r.to_wire()).ede == [(0, "x")]  # a NUL terminator is dropped
    r.set_rcode(dns.rcode.BADVERS)  # 16: needs the OPT's extended bits (RFC 6891 6.1.3)
    assert codec.parse(r.to_wire()).rcode == 16


@pytest.mark.parametrize(
    ("wire", "why"),
    [
        (b"\x00\x01", "shorter than a header"),
        (bytes.fromhex("000181800001000000000000") + b"\x03abc", "runs past|ends inside"),
        (bytes.fromhex("000181800001000000000000") + b"\xc0\x0c\x00\x01\x00\x01", "pointer"),
        (bytes.fromhex("000181800000000000000000") + b"junk", "trailing junk"),
        (
            bytes.fromhex("000181800000000100000000")
            + b"\x00\x00\x01\x00\x01\x00\x00\x00\x01\x00\x09\x01",
            "past the end",
        ),
        (
            bytes.fromhex("000181800001000000000000")
            + b"\x50"
            + b"a" * 80
            + b"\x00\x00\x01\x00\x01",
            "label length",
        ),
    ],
)
def test_parse_malformed(wire: bytes, why: str) -> None:
    with pytest.raises(codec.MalformedMessage, match=why):
        codec.parse(wire)


_dns_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12)
_dns_name = st.lists(_dns_label, min_size=1, max_size=4).map(lambda ls: ".".join(ls) + ".test.")
_rdata = st.one_of(
    st.tuples(st.just("A"), st.ip_addresses(v=4).map(str)),
    st.tuples(st.just("AAAA"), st.ip_addresses(v=6).map(str)),
    st.tuples(st.just("CNAME"), _dns_name),
    st.tuples(st.just("NS"), _dns_name),
    st.tuples(
        st.just("MX"), st.tuples(st.integers(0, 65535), _dns_name).map(lambda t: f"{t[0]} {t[1]}")
    ),
    st.tuples(
        st.just("TXT"),
        st.text(alphabet='abc xyz"\\;', max_size=30).map(
            lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
        ),
    ),
    st.tuples(
        st.just("HTTPS"),
        st.tuples(
            st.integers(1, 5), st.sampled_from(["h2", "h3", "h3,h2"]), st.integers(1, 65535)
        ).map(lambda t: f'{t[0]} . alpn="{t[1]}" port={t[2]}'),
    ),
    st.tuples(st.just("SOA"), _dns_name.map(lambda n: f"{n} host.{n} 1 2 3 4 5")),
    st.tuples(st.just("CAA"), st.just('0 issue "ca.test"')),
    st.tuples(st.just("DS"), st.just("12345 13 2 " + "ab" * 32)),
)


@given(
    qid=st.integers(0, 65535),
    rcode=st.sampled_from([0, 2, 3, 5]),
    flags=st.integers(0, 0xFFFF).map(lambda f: (f & 0x07B0) | 0x8000),
    records=st.lists(
        st.tuples(st.integers(0, 2), _dns_name, st.integers(0, 2**31 - 1), _rdata), max_size=8
    ),
    edns=st.booleans(),
    ede=st.lists(st.tuples(st.integers(0, 30), st.text(max_size=10)), max_size=2),
)
@settings(max_examples=200, deadline=None)
def test_lean_parser_agrees_with_dnspython_on_generated_messages(
    qid: int,
    rcode: int,
    flags: int,
    records: list[tuple[int, str, int, tuple[str, str]]],
    edns: bool,
    ede: list[tuple[int, str]],
) -> None:
    q = dns.message.make_query("q.example.test.", "A")
    msg = dns.message.make_response(q)
    msg.id = qid
    msg.flags = flags
    msg.set_rcode(rcode)
    sections = (msg.answer, msg.authority, msg.additional)
    for section, name, ttl, (rdtype, text) in records:
        sections[section].append(dns.rrset.from_text(name, ttl, "IN", rdtype, text))
    if edns:
        msg.use_edns(
            0, dns.flags.DO, 1232, options=[dns.edns.EDEOption(c, t or None) for c, t in ede]
        )
    wire = msg.to_wire()
    assert lean_view(wire) == dnspython_view(wire)


# ------------------------------------------------------------ interpret's common-case path

_QNAME = "q.example.test."


@given(
    qtype=st.sampled_from(["A", "AAAA"]),
    qid=st.integers(0, 65535),
    rcode=st.sampled_from([0, 0, 0, 2, 3, 16]),
    flags=st.integers(0, 0xFFFF).map(lambda f: (f & 0x07B0) | 0x8000),
    answers=st.lists(
        st.tuples(
            st.sampled_from([_QNAME, _QNAME, "other.example.test."]),
            st.sampled_from(["A", "AAAA", "A", "AAAA", "CNAME"]),
            st.integers(0, 2**31 - 1),
            st.integers(0, 2**32 - 1),
        ),
        max_size=4,
    ),
    authority=st.booleans(),
    edns=st.sampled_from(["none", "plain", "plain", "ede"]),
    tail=st.sampled_from([b"", b"", b"", b"x"]),
)
@settings(max_examples=300, deadline=None)
def test_common_path_equals_the_general_interpretation(
    qtype: str,
    qid: int,
    rcode: int,
    flags: int,
    answers: list[tuple[str, str, int, int]],
    authority: bool,
    edns: str,
    tail: bytes,
) -> None:
    """interpret() on a template's responses equals the full parser's view, whether the
    common-case path takes the message (NOERROR, answers of the asked type) or not."""
    template = codec.make_template(_QNAME, codec.type_code(qtype))
    msg = dns.message.make_response(dns.message.make_query(_QNAME, qtype))
    msg.id = qid
    msg.flags = flags
    for name, rdtype, ttl, seed in answers:
        if rdtype == "A":
            text = ".".join(str((seed >> s) & 0xFF) for s in (24, 16, 8, 0))
        elif rdtype == "AAAA":
            text = f"fd99::{seed & 0xFFFF:x}:{seed >> 16:x}"
        else:
            text = "target.example.test."
        msg.answer.append(dns.rrset.from_text(name, ttl, "IN", rdtype, text))
    if authority:
        msg.authority.append(dns.rrset.from_text("example.test.", 60, "IN", "NS", "ns.test."))
    if edns != "none":
        options = [dns.edns.EDEOption(3, "stale")] if edns == "ede" else []
        msg.use_edns(0, dns.flags.DO, 1232, options=options)
    msg.set_rcode(rcode)
    wire = msg.to_wire() + tail
    code = codec.type_code(qtype)
    got = interpret(wire, code, template=template)
    assert got == interpret_general(wire, code, template=template)
    plain_shape = (
        rcode == 0
        and not flags & codec.TC
        and answers
        and all(n == _QNAME and t == qtype for n, t, _, _ in answers)
        and not authority
        and edns != "ede"
        and not tail
    )
    # dnspython merges same-name same-type answers into one RRset: still the common shape.
    assert (_common(wire, template, code) is not None) == bool(plain_shape)


def test_common_path_takes_a_plain_answer() -> None:
    template = codec.make_template(_QNAME, 1)
    msg = dns.message.make_response(dns.message.make_query(_QNAME, "A", want_dnssec=True))
    msg.answer.append(dns.rrset.from_text(_QNAME, 300, "IN", "A", "127.0.0.1", "10.1.2.3"))
    wire = msg.to_wire()
    fields, rows, failure, operation, detail = interpret(wire, 1, template=template)
    assert _common(wire, template, 1) is not None
    assert (failure, operation, detail) == (None, None, None)
    assert fields["answer_count"] == 2 and fields["additional_count"] == 1
    assert sorted((r["name"], r["rtype"], r["value"]) for r in rows) == [
        (_QNAME, "A", "10.1.2.3"),
        (_QNAME, "A", "127.0.0.1"),
    ]
    assert (fields, rows) == interpret_general(wire, 1, template=template)[:2]
