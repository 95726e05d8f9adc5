"""NSEC3 denial proofs (probes/dns/nsec3.py) against RFC 5155's own vectors: the hashes of
the Appendix A example zone and the proofs of Appendix B, plus properties (hypothesis)."""

from __future__ import annotations

import dns.dnssec
import dns.name
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fragscope.probes.dns.dnssec import DnssecError, Security
from fragscope.probes.dns.nsec3 import Nsec3Proof

SALT, ITERATIONS = bytes.fromhex("aabbccdd"), 12
ZONE = dns.name.from_text("example.")

# RFC 5155 Appendix A: owner names of the example zone and their hashes.
HASHES = {
    "example": "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom",
    "a.example": "35mthgpgcu1qg68fab165klnsnk3dpvl",
    "ai.example": "gjeqe526plbf1g8mklp59enfd789njgi",
    "ns1.example": "2t7b4g4vsa5smi47k61mv5bv1a22bojr",
    "ns2.example": "q04jkcevqvmu85r014c7dkba38o0ji5r",
    "w.example": "k8udemvp1j2f7eg6jebps17vp3n8i58h",
    "*.w.example": "r53bq7cc2uvmubfu5ocmm6pers9tk9en",
    "x.w.example": "b4um86eghhds6nea196smvmlo4ors995",
    "y.w.example": "ji6neoaepv8b5o6k4ev33abha8ht9fgc",
    "x.y.w.example": "2vptu5timamqttgl4luu9kg21e0aor3s",
    "xx.example": "t644ebqk9bibcna874givr6joj62mlhv",
    "2t7b4g4vsa5smi47k61mv5bv1a22bojr.example": "kohar7mbb8dc2ce8a9qvl8hon4k53uhi",
}

# RFC 5155 Appendix A: the zone's NSEC3 chain (owner hash, next hash, types); every
# record has the Opt-Out flag set.
CHAIN = [
    (
        "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom",
        "2t7b4g4vsa5smi47k61mv5bv1a22bojr",
        "NS SOA MX RRSIG DNSKEY NSEC3PARAM",
    ),
    ("2t7b4g4vsa5smi47k61mv5bv1a22bojr", "2vptu5timamqttgl4luu9kg21e0aor3s", "A RRSIG"),
    ("2vptu5timamqttgl4luu9kg21e0aor3s", "35mthgpgcu1qg68fab165klnsnk3dpvl", "MX RRSIG"),
    ("35mthgpgcu1qg68fab165klnsnk3dpvl", "b4um86eghhds6nea196smvmlo4ors995", "NS DS RRSIG"),
    ("b4um86eghhds6nea196smvmlo4ors995", "gjeqe526plbf1g8mklp59enfd789njgi", "MX RRSIG"),
    ("gjeqe526plbf1g8mklp59enfd789njgi", "ji6neoaepv8b5o6k4ev33abha8ht9fgc", "A HINFO AAAA RRSIG"),
    ("ji6neoaepv8b5o6k4ev33abha8ht9fgc", "k8udemvp1j2f7eg6jebps17vp3n8i58h", ""),
    ("k8udemvp1j2f7eg6jebps17vp3n8i58h", "kohar7mbb8dc2ce8a9qvl8hon4k53uhi", ""),
    ("kohar7mbb8dc2ce8a9qvl8hon4k53uhi", "q04jkcevqvmu85r014c7dkba38o0ji5r", "A RRSIG"),
    ("q04jkcevqvmu85r014c7dkba38o0ji5r", "r53bq7cc2uvmubfu5ocmm6pers9tk9en", "A RRSIG"),
    ("r53bq7cc2uvmubfu5ocmm6pers9tk9en", "t644ebqk9bibcna874givr6joj62mlhv", "MX RRSIG"),
    ("t644ebqk9bibcna874givr6joj62mlhv", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom", "A HINFO AAAA RRSIG"),
]


def nsec3(owner: str, nxt: str, types: str, flags: int = 1) -> dns.rrset.RRset:
    return dns.rrset.from_text(
        f"{owner}.example.", 3600, "IN", "NSEC3", f"1 {flags} 12 aabbccdd {nxt} {types}"
    )


def proof(*owners: str, flags: int = 1) -> Nsec3Proof:
    """The NSEC3 records of CHAIN with these owner hashes, as a response would hold them."""
    rows = {o: (n, t) for o, n, t in CHAIN}
    return Nsec3Proof(ZONE, [nsec3(o, *rows[o], flags=flags) for o in owners])


def name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


@pytest.mark.parametrize(("owner", "hashed"), HASHES.items())
def test_appendix_a_hashes(owner: str, hashed: str) -> None:
    assert proof(CHAIN[0][0]).hash(name(owner)) == hashed.upper()
    assert dns.dnssec.nsec3_hash(owner, SALT, ITERATIONS, 1).lower() == hashed


def test_b1_name_error() -> None:
    # a.c.x.w.example: closest encloser x.w.example, next closer c.x.w.example covered,
    # wildcard *.x.w.example covered. Opt-Out spans: the absence is not proven secure.
    p = proof(
        "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom",
        "b4um86eghhds6nea196smvmlo4ors995",
        "35mthgpgcu1qg68fab165klnsnk3dpvl",
    )
    encloser, _ = p.closest_encloser(name("a.c.x.w.example."))
    assert encloser == name("x.w.example.")
    assert p.nxdomain(name("a.c.x.w.example.")) is Security.INSECURE
    same = proof(
        "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom",
        "b4um86eghhds6nea196smvmlo4ors995",
        "35mthgpgcu1qg68fab165klnsnk3dpvl",
        flags=0,
    )
    assert same.nxdomain(name("a.c.x.w.example.")) is Security.SECURE


def test_b1_name_error_missing_wildcard_cover_is_bogus() -> None:
    p = proof("0p9mhaveqvm6t7vbl5lop2u3t2rp3tom", "b4um86eghhds6nea196smvmlo4ors995", flags=0)
    with pytest.raises(DnssecError, match=r"wildcard \*\.x\.w\.example"):
        p.nxdomain(name("a.c.x.w.example."))


def test_b1_name_error_missing_next_closer_cover_is_bogus() -> None:
    p = proof("b4um86eghhds6nea196smvmlo4ors995", "35mthgpgcu1qg68fab165klnsnk3dpvl", flags=0)
    with pytest.raises(DnssecError, match=r"next closer name c\.x\.w\.example"):
        p.nxdomain(name("a.c.x.w.example."))


def test_b2_no_data() -> None:
    p = proof("2t7b4g4vsa5smi47k61mv5bv1a22bojr")
    assert p.nodata(name("ns1.example."), dns.rdatatype.MX) is Security.SECURE
    with pytest.raises(DnssecError, match="lists the type"):
        p.nodata(name("ns1.example."), dns.rdatatype.A)


def test_b21_no_data_empty_non_terminal() -> None:
    p = proof("ji6neoaepv8b5o6k4ev33abha8ht9fgc")
    assert p.nodata(name("y.w.example."), dns.rdatatype.A) is Security.SECURE


def test_b3_referral_to_opt_out_unsigned_zone() -> None:
    p = proof("0p9mhaveqvm6t7vbl5lop2u3t2rp3tom", "35mthgpgcu1qg68fab165klnsnk3dpvl")
    assert p.unsigned_delegation(name("c.example.")) is Security.INSECURE
    without_opt_out = proof(
        "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom", "35mthgpgcu1qg68fab165klnsnk3dpvl", flags=0
    )
    with pytest.raises(DnssecError, match="not opt-out"):
        without_opt_out.unsigned_delegation(name("c.example."))


def test_signed_delegation_is_not_an_unsigned_one() -> None:
    # a.example has NS and DS (Appendix A): its NSEC3 cannot prove it unsigned.
    with pytest.raises(DnssecError, match="does not prove an unsigned delegation"):
        proof("35mthgpgcu1qg68fab165klnsnk3dpvl").unsigned_delegation(name("a.example."))


def test_b5_wildcard_no_data() -> None:
    # a.z.w.example AAAA: closest encloser w.example, next closer z.w.example covered,
    # the wildcard *.w.example matched without AAAA.
    p = proof(
        "k8udemvp1j2f7eg6jebps17vp3n8i58h",
        "q04jkcevqvmu85r014c7dkba38o0ji5r",
        "r53bq7cc2uvmubfu5ocmm6pers9tk9en",
    )
    assert p.nodata(name("a.z.w.example."), dns.rdatatype.AAAA) is Security.SECURE
    with pytest.raises(DnssecError, match="lists the type"):
        p.nodata(name("a.z.w.example."), dns.rdatatype.MX)


def test_b6_ds_child_zone_no_data() -> None:
    p = proof("0p9mhaveqvm6t7vbl5lop2u3t2rp3tom")
    assert p.nodata(name("example."), dns.rdatatype.DS) is Security.SECURE


def test_delegation_match_is_not_a_closest_encloser() -> None:
    # Names below a delegation (a.example, NS without SOA) are not the zone's to deny.
    p = proof("35mthgpgcu1qg68fab165klnsnk3dpvl", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom", flags=0)
    with pytest.raises(DnssecError, match="delegation or DNAME"):
        p.nxdomain(name("zz.a.example."))


def test_unknown_algorithm_and_flags_are_ignored() -> None:
    odd = [
        dns.rrset.from_text(
            "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example.",
            3600,
            "IN",
            "NSEC3",
            "1 2 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr NS",
        ),
    ]
    with pytest.raises(DnssecError, match="no usable NSEC3"):
        Nsec3Proof(ZONE, odd)


EXISTING = [name(f"{n}.") for n in HASHES if not n.startswith("2t7b")]


@settings(deadline=None, max_examples=60)
@given(st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True), st.sampled_from(EXISTING))
def test_full_chain_denies_only_absent_names(label: str, parent: dns.name.Name) -> None:
    """With the whole chain (Opt-Out cleared) every absent name has a secure NXDOMAIN proof,
    and no existing name has one. Names directly under w.example match its wildcard
    *.w.example, so they exist (RFC 4592) and are left out."""
    chain = Nsec3Proof(ZONE, [nsec3(o, n, t, flags=0) for o, n, t in CHAIN])
    child = dns.name.Name((label.encode(), *parent.labels))
    exists = child.to_text().rstrip(".") in HASHES or child in EXISTING
    below_delegation = child.is_subdomain(name("a.example.")) or child.is_subdomain(
        name("c.example.")
    )
    if child.parent() == name("w.example."):
        return
    if exists:
        with pytest.raises(DnssecError):
            chain.nxdomain(child)
    elif not below_delegation:
        assert chain.nxdomain(child) is Security.SECURE
