"""DNSSEC checks for the iterative resolver, on top of dnspython's dns.dnssec. No I/O.

Classification follows RFC 4035 section 4.3: *secure* (a chain of validated DS -> DNSKEY ->
RRSIG from the trust anchor down to the answer, or a validated NSEC or NSEC3 denial),
*insecure* (a validated proof that a delegation has no DS, or an NSEC3 Opt-Out span:
nothing below can be validated), *bogus* (a signature, key or proof that should validate
and does not), *indeterminate* (no trust anchor, or no server answered). NSEC3 proofs
(RFC 5155 section 8) are in probes.dns.nsec3.
"""

from __future__ import annotations

from enum import StrEnum

import dns.dnssec
import dns.exception
import dns.name
import dns.rdatatype
import dns.rrset


class Security(StrEnum):
    SECURE = "secure"
    INSECURE = "insecure"
    BOGUS = "bogus"
    INDETERMINATE = "indeterminate"


_RANK = {Security.SECURE: 0, Security.INSECURE: 1, Security.INDETERMINATE: 2, Security.BOGUS: 3}


def worst(*states: Security) -> Security:
    """Combine states along a chain (e.g. a CNAME chain): bogus dominates."""
    return max(states, key=_RANK.__getitem__)


class DnssecError(Exception):
    """Validation failed (bogus); the message says what."""


def validate_rrset(
    rrset: dns.rrset.RRset,
    rrsigs: dns.rrset.RRset | None,
    zone: dns.name.Name,
    keys: dns.rrset.RRset,
) -> None:
    """Check ``rrset`` against its RRSIGs with the zone's validated DNSKEY RRset."""
    if rrsigs is None or len(rrsigs) == 0:
        raise DnssecError(f"no RRSIG over {rrset.name} {dns.rdatatype.to_text(rrset.rdtype)}")
    try:
        dns.dnssec.validate(rrset, rrsigs, {zone: keys})
    except dns.exception.ValidationFailure as exc:
        raise DnssecError(
            f"RRSIG over {rrset.name} {dns.rdatatype.to_text(rrset.rdtype)} does not validate: "
            f"{exc}"
        ) from None


def validate_dnskeys(
    zone: dns.name.Name,
    keys: dns.rrset.RRset,
    rrsigs: dns.rrset.RRset | None,
    ds: dns.rrset.RRset,
) -> None:
    """A zone's DNSKEY RRset is trusted when a key matches a DS and signs the RRset."""
    matched = []
    for key in keys:
        for d in ds:
            try:
                if dns.dnssec.make_ds(zone, key, d.digest_type) == d:
                    matched.append(key)
            except (dns.exception.UnsupportedAlgorithm, ValueError):
                continue
    if not matched:
        raise DnssecError(f"no DNSKEY of {zone} matches its DS")
    subset = dns.rrset.RRset(zone, keys.rdclass, keys.rdtype)
    subset.update_ttl(keys.ttl)
    for k in matched:
        subset.add(k)
    # The DNSKEY RRset must be signed by a key the DS vouches for (RFC 4035 section 5.2).
    if rrsigs is None or len(rrsigs) == 0:
        raise DnssecError(f"DNSKEY RRset of {zone} is not signed")
    try:
        dns.dnssec.validate(keys, rrsigs, {zone: subset})
    except dns.exception.ValidationFailure as exc:
        raise DnssecError(f"DNSKEY RRset of {zone} does not validate: {exc}") from None


def anchor_matches(
    zone: dns.name.Name, keys: dns.rrset.RRset, anchors: list[dns.rrset.RRset]
) -> dns.rrset.RRset:
    """Turn trust-anchor RRsets (DNSKEY or DS) into a DS set for ``zone``."""
    ds = dns.rrset.RRset(zone, keys.rdclass, dns.rdatatype.DS)
    for anchor in anchors:
        if anchor.name != zone:
            continue
        if anchor.rdtype == dns.rdatatype.DS:
            for d in anchor:
                ds.add(d)
        elif anchor.rdtype == dns.rdatatype.DNSKEY:
            for key in anchor:
                ds.add(dns.dnssec.make_ds(zone, key, "SHA256"))
    return ds


def unanchored_signers(
    zone: dns.name.Name, keys: dns.rrset.RRset, rrsigs: dns.rrset.RRset | None, ds: dns.rrset.RRset
) -> tuple[list[int], list[int]] | None:
    """When no trust anchor matches a key that signs the DNSKEY RRset: the key tags of the
    signing keys and of the anchors, for a warning (the anchor is stale, e.g. it holds only
    KSK-2017 after the 2026-10-11 root rollover, docs/dns.md); None when one matches."""
    tags = {sig.key_tag for sig in rrsigs or ()}
    signers = [k for k in keys if dns.dnssec.key_id(k) in tags]
    for key in signers:
        for d in ds:
            try:
                if dns.dnssec.make_ds(zone, key, d.digest_type) == d:
                    return None
            except (dns.exception.UnsupportedAlgorithm, ValueError):
                continue
    return sorted(dns.dnssec.key_id(k) for k in signers), sorted(d.key_tag for d in ds)


def nsec_types(rdata: object) -> set[int]:
    types: set[int] = set()
    for window, bitmap in rdata.windows:  # type: ignore[attr-defined]
        for i, byte in enumerate(bitmap):
            for bit in range(8):
                if byte & (0x80 >> bit):
                    types.add(window * 256 + i * 8 + bit)
    return types


def covers(owner: dns.name.Name, nxt: dns.name.Name, name: dns.name.Name) -> bool:
    """True when ``name`` falls strictly between owner and next (RFC 4034 section 6.1 order)."""
    if owner < nxt:
        return bool(owner < name < nxt)
    # The last NSEC of the zone wraps around to the apex.
    return bool(name > owner or name < nxt)
