"""Lean DNS wire codec for the hot path: query templates and struct-based parsing. No I/O.

dnspython's ``from_wire`` costs ~290 us a message here (docs/architecture.md
§8); this parser reads the header, checks the echoed question, walks every section
and extracts the EDNS OPT record with its Extended DNS Errors in a few microseconds, and
keeps offsets so rdata is rendered only when needed. dnspython remains the full decoder for
rare types (``rdata_text`` falls back to it) and for everything off the hot path.
"""

from __future__ import annotations

import re
import socket
import struct
from dataclasses import dataclass, field
from functools import cache

import dns.rdata
import dns.rdataclass
import dns.rdatatype

HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_H = struct.Struct("!H")

# Header flag bits (RFC 1035 section 4.1.1; AD and CD from RFC 4035 section 3.2).
QR, AA, TC, RD, RA, AD, CD = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080, 0x0020, 0x0010
OPT = 41
EDE_OPTION = 15  # RFC 8914 section 2
DO_BIT = 0x8000  # in the OPT TTL field (RFC 3225)
DEFAULT_EDNS_SIZE = 1232  # the DNS flag day 2020 value, avoids IP fragmentation

SECTIONS = ("answer", "authority", "additional")

RCODE_NAMES = {
    0: "NOERROR",
    1: "FORMERR",
    2: "SERVFAIL",
    3: "NXDOMAIN",
    4: "NOTIMP",
    5: "REFUSED",
    6: "YXDOMAIN",
    7: "YXRRSET",
    8: "NXRRSET",
    9: "NOTAUTH",
    10: "NOTZONE",
    16: "BADVERS",
}


class MalformedMessage(ValueError):
    """The bytes are not a DNS message we can read; the text says where it broke."""


@cache
def type_text(rtype: int) -> str:
    return dns.rdatatype.to_text(dns.rdatatype.RdataType.make(rtype))


@cache
def type_code(text: str) -> int:
    """The type number of a mnemonic (``HTTPS``) or ``TYPE123``; ValueError if unknown."""
    try:
        return int(dns.rdatatype.from_text(text.strip().upper()))
    except dns.rdatatype.UnknownRdatatype:
        raise ValueError(f"unknown DNS record type {text!r}") from None


def unknown_type_names(texts: tuple[str, ...]) -> str | None:
    """What is wrong with a list of record type names (a config ``check``), or None."""
    for text in texts:
        try:
            type_code(text)
        except ValueError as exc:
            return str(exc)
    return None


def rcode_text(rcode: int) -> str:
    name = RCODE_NAMES.get(rcode)  # not .get(rcode, f"..."): that formats on every call
    return name if name is not None else f"RCODE{rcode}"


def encode_name(ascii_name: str) -> bytes:
    """Uncompressed wire form of an absolute ASCII name (already checked by ``names``)."""
    out = bytearray()
    for label in ascii_name.rstrip(".").split("."):
        if label:
            raw = label.encode("ascii")
            out.append(len(raw))
            out += raw
    out.append(0)
    return bytes(out)


@dataclass(frozen=True, slots=True)
class QueryTemplate:
    """A query with everything but the 2-byte ID precomputed (the lean path's trick)."""

    qname: str
    qtype: int
    question: bytes
    """The question section as sent; a response must echo it (RFC 5452 section 9.1)."""
    tail: bytes
    edns_size: int
    names: tuple[tuple[int, str], ...] = ()
    """Offset in a message (from 12) -> text of every suffix of the question name, so a
    response that echoes the question exactly need not decode it again."""

    def wire(self, qid: int) -> bytes:
        return qid.to_bytes(2, "big") + self.tail


def make_template(
    qname: str,
    qtype: int,
    *,
    rd: bool = True,
    cd: bool = False,
    dnssec_ok: bool = True,
    edns_size: int | None = DEFAULT_EDNS_SIZE,
) -> QueryTemplate:
    """Build a query template: QD=1, EDNS0 OPT (RFC 6891) with DO unless disabled."""
    flags = (RD if rd else 0) | (CD if cd else 0)
    question = encode_name(qname) + struct.pack("!HH", qtype, 1)
    arcount = 1 if edns_size else 0
    tail = struct.pack("!HHHHH", flags, 1, 0, 0, arcount) + question
    if edns_size:
        # OPT pseudo-RR: root owner, CLASS = UDP payload size, TTL = ext-rcode/version/DO.
        tail += b"\x00" + struct.pack("!HHIH", OPT, edns_size, DO_BIT if dnssec_ok else 0, 0)
    labels = [lbl for lbl in qname.rstrip(".").split(".") if lbl]
    names = []
    off = 12
    for i, label in enumerate(labels):
        names.append((off, ".".join(labels[i:]) + "."))
        off += 1 + len(label)
    return QueryTemplate(qname, qtype, question, tail, edns_size or 512, tuple(names))


# Characters dnspython escapes in a label's text form, and everything non-printable.
_NEEDS_ESCAPE = re.compile(rb'[^\x21-\x7e]|["().;\\@$]')
_ESCAPED = b'"().;\\@$'


def _label_text(label: bytes) -> str:
    if _NEEDS_ESCAPE.search(label) is None:
        return label.decode("ascii")
    out = []
    for c in label:
        if c in _ESCAPED:
            out.append("\\" + chr(c))
        elif 0x20 < c < 0x7F:
            out.append(chr(c))
        else:
            out.append(f"\\{c:03d}")
    return "".join(out)


def decode_name(buf: bytes, off: int, memo: dict[int, str] | None = None) -> tuple[str, int]:
    """Read a possibly compressed name (RFC 1035 section 4.1.4); return text and next offset.

    Pointers must point backwards, which also rules out loops. ``memo`` maps offsets of
    names already decoded in this message to their text: a name that is just a pointer
    (the common case in answers) then costs one dict lookup.
    """
    if memo is not None:
        first = buf[off] if off < len(buf) else 0
        if first >= 0xC0 and off + 1 < len(buf):
            known = memo.get(((first & 0x3F) << 8) | buf[off + 1])
            if known is not None:
                return known, off + 2
        elif first == 0:
            return ".", off + 1
    labels: list[str] = []
    starts: list[int] = []
    end = -1
    limit = off
    total = 0
    try:
        while True:
            length = buf[off]
            if length >= 0xC0:
                target = ((length & 0x3F) << 8) | buf[off + 1]
                if end < 0:
                    end = off + 2
                if target >= limit:
                    raise MalformedMessage(f"compression pointer forward or looping at {off}")
                if memo is not None and target in memo:
                    tail = memo[target]
                    if tail != ".":
                        if total + len(tail) > 254:
                            raise MalformedMessage("name longer than 255 octets")
                        labels.append(tail[:-1])
                    break
                limit = target
                off = target
                continue
            if length > 63:
                raise MalformedMessage(f"bad label length {length} at offset {off}")
            if length == 0:
                off += 1
                break
            starts.append(off)
            off += 1
            label = buf[off : off + length]
            if len(label) != length:
                raise MalformedMessage("name runs past the end of the message")
            total += length + 1
            if total > 254:
                raise MalformedMessage("name longer than 255 octets")
            labels.append(_label_text(label))
            off += length
    except IndexError:
        raise MalformedMessage("name runs past the end of the message") from None
    text = (".".join(labels) + ".") if labels else "."
    if memo is not None:
        # Every suffix of this name may be the target of a later pointer.
        for i, pos in enumerate(starts):
            if pos not in memo:
                memo[pos] = ".".join(labels[i:]) + "."
    return text, (end if end >= 0 else off)


@dataclass(slots=True)
class Record:
    """One resource record: where its rdata sits in the message, not a decoded copy."""

    section: int
    name: str
    rtype: int
    rclass: int
    ttl: int
    rdata_offset: int
    rdata_length: int


@dataclass(slots=True)
class Response:
    """A parsed response. ``records`` excludes the OPT pseudo-record (its data is below)."""

    id: int
    flags: int
    rcode: int
    qdcount: int
    counts: tuple[int, int, int]
    records: list[Record]
    question_name: str | None = None
    question_type: int | None = None
    edns: bool = False
    edns_size: int | None = None
    dnssec_ok: bool = False
    ede: list[tuple[int, str]] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)
    """Offsets of names decoded so far -> text (reused by compression pointers)."""

    def answers_of(self, rtype: int) -> list[Record]:
        return [r for r in self.records if r.section == 0 and r.rtype == rtype]


def question_matches(buf: bytes, template: QueryTemplate) -> bool:
    """True when ``buf`` echoes exactly our question (names compare case-insensitively)."""
    q = template.question
    got = buf[12 : 12 + len(q)]
    if got == q:
        return len(buf) >= 12 and buf[4:6] == b"\x00\x01"
    # DNS names are case-insensitive (RFC 4343); 0x20-randomising servers echo the case.
    return got.lower() == q.lower() and buf[4:6] == b"\x00\x01"


def parse(buf: bytes, template: QueryTemplate | None = None) -> Response:
    """Parse a whole message: header, question, every RR, OPT and EDE.

    With the ``template`` of the query, a question echoed byte for byte is not decoded
    again (the hot path); anything else is parsed in full.
    """
    if len(buf) < 12:
        raise MalformedMessage(f"message of {len(buf)} octets is shorter than a header")
    qid, flags, qd, an, ns, ar = HEADER.unpack_from(buf, 0)
    qdcount = qd
    off = 12
    qname: str | None = None
    qtype: int | None = None
    unpack_rr = _RR.unpack_from
    memo: dict[int, str] = {}
    try:
        if (
            template is not None
            and qd == 1
            and buf[12 : 12 + len(template.question)] == template.question
        ):
            memo = dict(template.names)
            qname, qtype = template.qname, template.qtype
            off = 12 + len(template.question)
            qd = 0
        for _ in range(qd):
            qname, off = decode_name(buf, off, memo)
            qtype = _H.unpack_from(buf, off)[0]
            off += 4
        records: list[Record] = []
        resp = Response(
            qid,
            flags,
            flags & 0xF,
            qdcount,
            (an, ns, ar),
            records,
            qname,
            qtype,
        )
        resp.names = memo
        size = len(buf)
        for section, count in ((0, an), (1, ns), (2, ar)):
            for _ in range(count):
                name, off = decode_name(buf, off, memo)
                rtype, rclass, ttl, rdlen = unpack_rr(buf, off)
                off += 10
                if off + rdlen > size:
                    raise MalformedMessage(
                        f"rdata of a {type_text(rtype)} record runs past the end"
                    )
                if rtype == OPT:
                    _read_opt(resp, buf, rclass=rclass, ttl=ttl, off=off, end=off + rdlen)
                else:
                    records.append(Record(section, name, rtype, rclass, ttl, off, rdlen))
                off += rdlen
    except struct.error:
        raise MalformedMessage("message ends inside a record header") from None
    except IndexError:
        raise MalformedMessage("message ends inside a record") from None
    if off != len(buf):
        raise MalformedMessage(f"{len(buf) - off} octets of trailing junk after the last record")
    return resp


def _read_opt(resp: Response, buf: bytes, *, rclass: int, ttl: int, off: int, end: int) -> None:
    # RFC 6891 section 6.1.3: the upper 8 bits of the 12-bit RCODE are in the OPT TTL.
    resp.edns = True
    resp.edns_size = rclass
    resp.rcode = ((ttl >> 24) << 4) | (resp.flags & 0xF)
    resp.dnssec_ok = bool(ttl & DO_BIT)
    while off + 4 <= end:
        code, length = struct.unpack_from("!HH", buf, off)
        off += 4
        data = buf[off : off + length]
        if len(data) != length or off + length > end:
            raise MalformedMessage("EDNS option runs past the end of the OPT record")
        if code == EDE_OPTION:
            if length < 2:
                raise MalformedMessage("EDE option shorter than its info-code")
            info = (data[0] << 8) | data[1]
            text = data[2:]
            if text and text[-1] == 0:
                text = text[:-1]  # some servers NUL-terminate EXTRA-TEXT (as dnspython reads)
            resp.ede.append((info, text.decode("utf-8", "replace")))
        off += length


def rdata_text(buf: bytes, rec: Record, memo: dict[int, str] | None = None) -> str:
    """RDATA in presentation form, identical to dnspython's ``to_text()``."""
    off, length, rtype = rec.rdata_offset, rec.rdata_length, rec.rtype
    if rtype == 1 and length == 4 and rec.rclass == 1:
        return socket.inet_ntop(socket.AF_INET, buf[off : off + 4])
    if rtype == 28 and length == 16 and rec.rclass == 1:
        return socket.inet_ntop(socket.AF_INET6, buf[off : off + 16])
    if rtype in (2, 5, 12, 39):  # NS, CNAME, PTR, DNAME
        name, end = decode_name(buf, off, memo)
        if end == off + length:
            return name
    elif rtype == 15 and length >= 3:  # MX
        name, end = decode_name(buf, off + 2, memo)
        if end == off + length:
            return f"{_H.unpack_from(buf, off)[0]} {name}"
    try:
        rd = dns.rdata.from_wire(
            dns.rdataclass.RdataClass.make(rec.rclass),
            dns.rdatatype.RdataType.make(rtype),
            buf,
            off,
            length,
        )
    except Exception as exc:  # dnspython raises many types on bad rdata
        raise MalformedMessage(f"bad {type_text(rtype)} rdata: {exc}") from None
    return rd.to_text()
