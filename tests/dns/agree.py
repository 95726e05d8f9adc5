"""The lean parser's view and dnspython's view of one message, in the same shape."""

from __future__ import annotations

import dns.message
import dns.rdatatype

from fragscope.probes.dns import codec


def lean_view(wire: bytes) -> tuple[object, ...]:
    resp = codec.parse(wire)
    records = [
        (
            codec.SECTIONS[r.section],
            r.name.lower(),
            codec.type_text(r.rtype),
            r.ttl,
            codec.rdata_text(wire, r),
        )
        for r in resp.records
    ]
    return (resp.id, resp.flags, resp.rcode, resp.counts, sorted(resp.ede), records)


def dnspython_view(wire: bytes) -> tuple[object, ...]:
    msg = dns.message.from_wire(wire, one_rr_per_rrset=True)
    records = []
    for section_name, section in zip(
        codec.SECTIONS, (msg.answer, msg.authority, msg.additional), strict=True
    ):
        for rrset in section:
            for rd in rrset:
                records.append(
                    (
                        section_name,
                        rrset.name.to_text().lower(),
                        dns.rdatatype.to_text(rrset.rdtype),
                        rrset.ttl,
                        rd.to_text(),
                    )
                )
    ede = sorted(
        (int(o.code), o.text or "")
        for o in msg.options
        if o.otype == dns.edns.OptionType.EDE  # type: ignore[attr-defined]
    )
    counts = (
        sum(len(r) for r in msg.answer),
        sum(len(r) for r in msg.authority),
        sum(len(r) for r in msg.additional) + (1 if msg.edns >= 0 else 0),
    )
    return (msg.id, msg.flags, msg.rcode(), counts, ede, records)
