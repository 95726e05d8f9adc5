"""NSEC3 denial-of-existence proofs (RFC 5155 section 8), on top of dnspython. No I/O.

The caller validates the NSEC3 RRsets' signatures first (probes.dns.dnssec.validate_rrset);
this module checks what the validated records prove. Each check returns the state the
proof supports (*secure*, or *insecure* where an opt-out span leaves room for an unsigned
delegation) or raises ``DnssecError`` (bogus) naming what is missing.

Hashed owners are compared as base32hex text, whose order is the order of the hashes
(RFC 4648 section 7), so no decoding is needed.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass

import dns.dnssec
import dns.name
import dns.rdatatype
import dns.rrset

from fragscope.probes.dns.dnssec import DnssecError, Security, nsec_types

SHA1 = 1
"""The only NSEC3 hash algorithm defined (RFC 5155 section 11); others are ignored (8.1)."""
OPT_OUT = 0x01
MAX_ITERATIONS = 150
"""RFC 9276 section 3.2: validators may treat proofs with more iterations as insecure;
150 is the limit the major validators chose (BIND 9.16.16, Unbound 1.13.2)."""
NS, SOA, DS, CNAME, DNAME = (
    dns.rdatatype.NS,
    dns.rdatatype.SOA,
    dns.rdatatype.DS,
    dns.rdatatype.CNAME,
    dns.rdatatype.DNAME,
)


@dataclass(frozen=True, slots=True)
class _Record:
    owner_hash: str  # base32hex, upper case
    next_hash: str
    opt_out: bool
    types: frozenset[int]
    salt: bytes
    iterations: int

    def covers(self, hashed: str) -> bool:
        # Strictly between owner and next; the last record wraps to the first (5155 1.3).
        if self.owner_hash < self.next_hash:
            return self.owner_hash < hashed < self.next_hash
        return hashed > self.owner_hash or hashed < self.next_hash


class Nsec3Proof:
    """The usable NSEC3 records of one response for one zone."""

    def __init__(self, zone: dns.name.Name, rrsets: Iterable[dns.rrset.RRset]) -> None:
        self.zone = zone
        self.records: list[_Record] = []
        for rrset in rrsets:
            # RFC 5155 section 8.1-8.2: the owner is one hash label directly under the
            # zone; unknown hash algorithms and flag values other than 0 or 1 are ignored.
            if rrset.rdtype != dns.rdatatype.NSEC3 or rrset.name.parent() != zone:
                continue
            for rd in rrset:
                if rd.algorithm != SHA1 or rd.flags & ~OPT_OUT:
                    continue
                self.records.append(
                    _Record(
                        owner_hash=rrset.name.labels[0].decode("ascii").upper(),
                        next_hash=base64.b32hexencode(rd.next).decode("ascii").rstrip("="),
                        opt_out=bool(rd.flags & OPT_OUT),
                        types=frozenset(nsec_types(rd)),
                        salt=rd.salt,
                        iterations=rd.iterations,
                    )
                )
        if not self.records:
            raise DnssecError(f"no usable NSEC3 record of {zone} (RFC 5155 section 8.1)")
        params = {(r.salt, r.iterations) for r in self.records}
        if len(params) > 1:
            raise DnssecError(f"NSEC3 records of {zone} disagree on salt and iterations")
        self.salt, self.iterations = params.pop()

    @property
    def too_costly(self) -> bool:
        return self.iterations > MAX_ITERATIONS

    def hash(self, name: dns.name.Name) -> str:
        return dns.dnssec.nsec3_hash(name, self.salt, self.iterations, SHA1).upper()

    def matching(self, name: dns.name.Name) -> _Record | None:
        hashed = self.hash(name)
        return next((r for r in self.records if r.owner_hash == hashed), None)

    def covering(self, name: dns.name.Name) -> _Record | None:
        hashed = self.hash(name)
        return next((r for r in self.records if r.covers(hashed)), None)

    def closest_encloser(self, qname: dns.name.Name) -> tuple[dns.name.Name, _Record]:
        """RFC 5155 section 8.3: the closest encloser (an ancestor with a matching NSEC3)
        and the NSEC3 covering the next closer name, the closest encloser plus one label."""
        if not qname.is_subdomain(self.zone) or qname == self.zone:
            raise DnssecError(f"{qname} is not below {self.zone}: no closest encloser proof")
        next_closer = qname
        encloser = qname.parent()
        while True:
            match = self.matching(encloser)
            if match is not None:
                # A match from the parent side of a delegation, or at a DNAME, proves
                # nothing about the names below it (RFC 5155 section 8.3).
                if DNAME in match.types or (NS in match.types and SOA not in match.types):
                    raise DnssecError(
                        f"NSEC3 matching {encloser} is a delegation or DNAME: not an encloser"
                    )
                covering = self.covering(next_closer)
                if covering is None:
                    raise DnssecError(f"no NSEC3 covers the next closer name {next_closer}")
                return encloser, covering
            if encloser == self.zone:
                raise DnssecError(
                    f"no NSEC3 matches any ancestor of {qname} (not even {self.zone})"
                )
            next_closer, encloser = encloser, encloser.parent()

    def nxdomain(self, qname: dns.name.Name) -> Security:
        """RFC 5155 section 8.4: closest encloser proof plus a covered wildcard."""
        encloser, covering = self.closest_encloser(qname)
        wildcard = dns.name.Name((b"*", *encloser.labels))
        if self.covering(wildcard) is None:
            raise DnssecError(f"no NSEC3 covers the wildcard {wildcard}")
        # An opt-out span may hide an unsigned delegation: the name's absence is not
        # proven (RFC 5155 section 9.2), so the answer is insecure, not secure.
        return Security.INSECURE if covering.opt_out else Security.SECURE

    def nodata(self, qname: dns.name.Name, qtype: int) -> Security:
        """RFC 5155 sections 8.5-8.7: NODATA at an existing name, at a DS query under an
        opt-out span, or at a wildcard that matched."""
        match = self.matching(qname)
        if match is not None:
            if qtype in match.types or CNAME in match.types:
                raise DnssecError(f"NSEC3 matching {qname} lists the type or a CNAME")
            return Security.SECURE
        encloser, covering = self.closest_encloser(qname)
        if qtype == DS:
            # Section 8.6: no match for a DS query is only acceptable under opt-out.
            if not covering.opt_out:
                raise DnssecError(f"no NSEC3 matches {qname} and its span is not opt-out")
            return Security.INSECURE
        wildcard = dns.name.Name((b"*", *encloser.labels))
        wild = self.matching(wildcard)
        if wild is None:
            raise DnssecError(f"no NSEC3 matches {qname} or the wildcard {wildcard}")
        if qtype in wild.types or CNAME in wild.types:
            raise DnssecError(f"NSEC3 matching {wildcard} lists the type or a CNAME")
        return Security.SECURE

    def unsigned_delegation(self, child: dns.name.Name) -> Security:
        """RFC 5155 section 8.9: a referral without DS is insecure when an NSEC3 matches the
        child with NS and without DS and SOA, or an opt-out NSEC3 covers its next closer."""
        match = self.matching(child)
        if match is not None:
            if NS not in match.types or DS in match.types or SOA in match.types:
                raise DnssecError(f"NSEC3 matching {child} does not prove an unsigned delegation")
            return Security.INSECURE
        _encloser, covering = self.closest_encloser(child)
        if not covering.opt_out:
            raise DnssecError(f"no NSEC3 matches {child} and its span is not opt-out")
        return Security.INSECURE
