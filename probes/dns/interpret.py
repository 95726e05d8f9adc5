"""Turning a response's wire into dns_observations fields and dns_answers rows. No I/O."""

from __future__ import annotations

import ipaddress
import socket
import struct
from typing import Any

from fragscope.db.vocab import Failure, Operation
from fragscope.probes.dns import codec
from fragscope.probes.dns.codec import AA, AD, CD, RA, RD, TC, MalformedMessage, Response
from fragscope.probes.dns.svcb import parse_svcb

_RCODE_FAILURES = {
    2: Failure.DNS_SERVFAIL_ERROR,
    3: Failure.DNS_NXDOMAIN_ERROR,
    5: Failure.DNS_REFUSED_ERROR,
}
SVCB_TYPES = (64, 65)
CNAME = 5


_NO_SVCB = dict.fromkeys(
    (
        "svc_priority",
        "svc_target",
        "svc_alpn",
        "svc_port",
        "svc_ipv4hint",
        "svc_ipv6hint",
        "svc_ech",
    )
)
"""The SVCB columns of an answer row that is not SVCB/HTTPS: every dns_answers column is
then named, and the engine's row builder takes the dict as it is."""


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
        if rec.rtype not in SVCB_TYPES:
            row.update(_NO_SVCB)
        else:
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


def outcome_failure(
    resp: Response, qtype: int, wire: bytes = b""
) -> tuple[Failure | None, str | None]:
    """The failure the rcode or an empty answer means (OONI's dns_* names), if any.

    A CNAME is followed through the answer section from the question name (RFC 1034
    section 3.6.2): the answer counts only if the chain reaches a record of the asked
    type. A chain that comes back to a name it has passed is ``dns_cname_loop``; one that
    ends without the asked type is ``dns_no_answer``. The records stay stored either way.
    """
    failure = _RCODE_FAILURES.get(resp.rcode)
    if failure is not None:
        return failure, codec.rcode_text(resp.rcode)
    if resp.rcode != 0:
        return Failure.DNS_SERVER_MISBEHAVING, f"rcode {codec.rcode_text(resp.rcode)}"
    if resp.flags & TC:
        return None, None
    answers = [rec for rec in resp.records if rec.section == 0]
    if qtype in (255, CNAME):  # ANY, or the CNAME itself asked for: any answer is one
        if answers:
            return None, None
        return _NODATA
    cnames = {_folded(r.name): r for r in answers if r.rtype == CNAME}
    if cnames and resp.question_name is not None:
        return _follow_chain(resp, qtype, wire, answers, cnames)
    if any(rec.rtype == qtype for rec in answers):
        return None, None
    return _NODATA


_NODATA = (Failure.DNS_NO_ANSWER, "NOERROR without records of the asked type (NODATA)")


def _folded(name: str) -> str:
    # DNS names compare case-insensitively (RFC 4343); the root dot is optional in text.
    return name.lower().rstrip(".")


def _follow_chain(
    resp: Response,
    qtype: int,
    wire: bytes,
    answers: list[codec.Record],
    cnames: dict[str, codec.Record],
) -> tuple[Failure | None, str | None]:
    """Walk the CNAME chain from the question name; see :func:`outcome_failure`."""
    assert resp.question_name is not None
    owners = {_folded(r.name) for r in answers if r.rtype == qtype}
    name = _folded(resp.question_name)
    passed: list[str] = []
    while True:
        if name in owners:
            return None, None
        rec = cnames.get(name)
        if rec is None:
            break
        passed.append(name)
        name = _folded(codec.rdata_text(wire, rec, resp.names))
        if name in passed:
            chain = " -> ".join([*passed, name])
            return Failure.DNS_CNAME_LOOP, f"CNAME loop: {chain}"
    if not passed:
        # The question name owns no CNAME: records of the asked type owned by other names
        # count as before (this is no chain to judge).
        return (None, None) if owners else _NODATA
    chain = " -> ".join([*passed, name])
    return (
        Failure.DNS_NO_ANSWER,
        f"CNAME chain {chain} ends without records of type {codec.type_text(qtype)}",
    )


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


Interpretation = tuple[
    dict[str, Any], list[dict[str, Any]], Failure | None, Operation | None, str | None
]

_POINTER_RR = struct.Struct("!HHHIH")  # owner as one pointer, type, class, TTL, RDLENGTH
_OPT_RR = struct.Struct("!BHHIH")  # root owner, type, UDP size, TTL, RDLENGTH
_QUESTION_POINTER = 0xC000 | 12  # RFC 1035 section 4.1.4: the name at offset 12
_ADDRESS = {1: (socket.AF_INET, 4, "A"), 28: (socket.AF_INET6, 16, "AAAA")}


def _common(wire: bytes, template: codec.QueryTemplate, qtype: int) -> Interpretation | None:
    """:func:`interpret` for the shape most answers to A/AAAA queries have, or None.

    The shape: NOERROR, no TC, the question echoed byte for byte, one or more answers of
    the asked type each owned by a pointer to the question name, no authority, and at
    most an OPT record without options (the extended RCODE bits zero). Anything else, and
    every malformed message, returns None and goes through the general parser, which
    gives the same result for these messages (tests/test_dns_codec.py checks both on
    generated messages and the lab's responses). Skipping the Response and Record
    objects, the name memo and the per-record dispatch costs a third of the general path.
    """
    address = _ADDRESS.get(qtype)
    size = len(wire)
    if address is None or size < 12 or not template.names:
        return None
    qid, flags, qd, an, ns, ar = codec.HEADER.unpack_from(wire, 0)
    if qd != 1 or not an or ns or ar > 1 or flags & (TC | 0xF):
        return None
    question = template.question
    off = 12 + len(question)
    if wire[12:off] != question:
        return None
    family, length, rtype_text = address
    owner = template.names[0][1]
    rows: list[dict[str, Any]] = []
    for position in range(an):
        end = off + 12 + length
        if end > size:
            return None
        pointer, rtype, rclass, ttl, rdlength = _POINTER_RR.unpack_from(wire, off)
        if pointer != _QUESTION_POINTER or rtype != qtype or rclass != 1 or rdlength != length:
            return None
        rows.append(
            {
                "section": "answer",
                "position": position,
                "name": owner,
                "rtype": rtype_text,
                "ttl": ttl,
                "value": socket.inet_ntop(family, wire[off + 12 : end]),
                **_NO_SVCB,
            }
        )
        off = end
    if ar:
        if off + 11 != size:
            return None
        root, rtype, _udp_size, ttl, rdlength = _OPT_RR.unpack_from(wire, off)
        # RFC 6891 section 6.1.3: the OPT TTL's top byte extends the RCODE.
        if root or rtype != codec.OPT or rdlength or ttl >> 24:
            return None
    elif off != size:
        return None
    fields = {
        "query_id": qid,
        "rcode": 0,
        "rcode_name": "NOERROR",
        "flag_aa": bool(flags & AA),
        "flag_tc": False,
        "flag_rd": bool(flags & RD),
        "flag_ra": bool(flags & RA),
        "flag_ad": bool(flags & AD),
        "flag_cd": bool(flags & CD),
        "ede_code": None,
        "ede": None,
        "answer_count": an,
        "authority_count": 0,
        "additional_count": ar,
        "response_size": size,
    }
    return fields, rows, None, None, None


def interpret(
    wire: bytes, qtype: int, *, purpose: str = "query", template: codec.QueryTemplate | None = None
) -> Interpretation:
    """Fields, child rows and failure for one response. Malformed -> misbehaving."""
    if template is not None and purpose != "whoami":
        common = _common(wire, template, qtype)
        if common is not None:
            return common
    return interpret_general(wire, qtype, purpose=purpose, template=template)


def interpret_general(
    wire: bytes, qtype: int, *, purpose: str = "query", template: codec.QueryTemplate | None = None
) -> Interpretation:
    """:func:`interpret` through the full parser, whatever the message's shape."""
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
    failure, detail = outcome_failure(resp, qtype, wire)
    return fields, rows, failure, (Operation.RESOLVE if failure else None), detail
