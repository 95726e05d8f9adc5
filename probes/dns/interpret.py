"""Turning a response's wire into dns_observations fields and dns_answers rows. No I/O."""

from __future__ import annotations

import ipaddress
from typing import Any

from db.vocab import Failure, Operation
from probes.dns import codec
from probes.dns.codec import AA, AD, CD, RA, RD, TC, MalformedMessage, Response
from probes.dns.svcb import parse_svcb

_RCODE_FAILURES = {
    2: Failure.DNS_SERVFAIL_ERROR,
    3: Failure.DNS_NXDOMAIN_ERROR,
    5: Failure.DNS_REFUSED_ERROR,
}
SVCB_TYPES = (64, 65)
CNAME = 5


def header_fields(resp: Response, wire: bytes) -> dict[str, Any]:
    flags = resp.flags
    an, ns, ar = resp.counts
    return {
        "query_id": resp.id,
        "rcode": resp.rcode,
        "rcode_name": codec.rcode_text(resp.rcode),
        "flag_aa": bool(flags & AA),
        "flag_tc": bool(flags & TC),
        "flag_rd": bool(flags & RD),
        "flag_ra": bool(flags & RA),
        "flag_ad": bool(flags & AD),
        "flag_cd": bool(flags & CD),
        "ede_code": resp.ede[0][0] if resp.ede else None,
        "ede": [list(e) for e in resp.ede] if resp.ede else None,
        "answer_count": an,
        "authority_count": ns,
        "additional_count": ar,
        "response_size": len(wire),
    }


def record_rows(resp: Response, wire: bytes) -> list[dict[str, Any]]:
    """One dict per record, in message order, ready for dns_answers."""
    rows: list[dict[str, Any]] = []
    sections = codec.SECTIONS
    memo = resp.names
    for position, rec in enumerate(resp.records):
        row: dict[str, Any] = {
            "section": sections[rec.section],
            "position": position,
            "name": rec.name,
            "rtype": codec.type_text(rec.rtype),
            "ttl": rec.ttl,
            "value": codec.rdata_text(wire, rec, memo),
        }
        if rec.rtype in SVCB_TYPES:
            off = rec.rdata_offset
            params = parse_svcb(wire[off : off + rec.rdata_length])
            row["svc_priority"] = params.priority
            row["svc_target"] = params.target
            row["svc_alpn"] = ",".join(params.alpn) if params.alpn else None
            row["svc_port"] = params.port
            row["svc_ipv4hint"] = ",".join(params.ipv4hint) if params.ipv4hint else None
            row["svc_ipv6hint"] = ",".join(params.ipv6hint) if params.ipv6hint else None
            row["svc_ech"] = params.ech
        rows.append(row)
    return rows


def outcome_failure(resp: Response, qtype: int) -> tuple[Failure | None, str | None]:
    """The failure the rcode or an empty answer means (OONI's dns_* names), if any."""
    failure = _RCODE_FAILURES.get(resp.rcode)
    if failure is not None:
        return failure, codec.rcode_text(resp.rcode)
    if resp.rcode != 0:
        return Failure.DNS_SERVER_MISBEHAVING, f"rcode {codec.rcode_text(resp.rcode)}"
    if resp.flags & TC:
        return None, None
    for rec in resp.records:
        if rec.section == 0 and (rec.rtype == qtype or rec.rtype == CNAME or qtype == 255):
            return None, None
    return Failure.DNS_NO_ANSWER, "NOERROR without records of the asked type (NODATA)"


def whoami_address(resp: Response, wire: bytes) -> str | None:
    """The egress address a whoami service reports: an A/AAAA answer or an IP in a TXT."""
    for rec in resp.records:
        if rec.section != 0:
            continue
        if rec.rtype in (1, 28):
            return codec.rdata_text(wire, rec)
        if rec.rtype == 16:
            text = codec.rdata_text(wire, rec)
            for token in text.replace('"', " ").split():
                try:
                    return str(ipaddress.ip_address(token))
                except ValueError:
                    continue
    return None


def interpret(
    wire: bytes, qtype: int, *, purpose: str = "query", template: codec.QueryTemplate | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]], Failure | None, Operation | None, str | None]:
    """Fields, child rows and failure for one response. Malformed -> misbehaving."""
    try:
        resp = codec.parse(wire, template)
        fields = header_fields(resp, wire)
        rows = record_rows(resp, wire)
    except MalformedMessage as exc:
        return (
            {"response_size": len(wire)},
            [],
            Failure.DNS_SERVER_MISBEHAVING,
            Operation.DNS_ROUND_TRIP,
            f"malformed response: {exc}",
        )
    if purpose == "whoami":
        fields["whoami_address"] = whoami_address(resp, wire)
    failure, detail = outcome_failure(resp, qtype)
    return fields, rows, failure, (Operation.RESOLVE if failure else None), detail
