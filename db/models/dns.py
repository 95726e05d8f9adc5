"""Tables of the DNS probes (dns.query, dns.iterative) and their view. No I/O.

``dns_observations`` holds one row per query attempt (or iterative resolution) with the
typed columns researchers filter on; ``dns_answers`` one row per resource record;
``dns_iterative_steps`` one row per query of an iterative resolution. The view
``dns_answers_flat`` (migration 0100_dns) joins answers to their query's context.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fragscope.db.models.core import (
    Base,
    ObservationMixin,
    child_of,
    defaults_to,
    envelope_args,
)


class DnsObservation(ObservationMixin, Base):
    """One DNS exchange (one attempt on one transport), or one iterative resolution."""

    __tablename__ = "dns_observations"
    __table_args__ = envelope_args(
        "DNS probes (dns.query, dns.iterative): one row per query attempt on one transport "
        "(a UDP attempt truncated with TC and its TCP retry are two rows), or per iterative "
        "resolution; timeouts and errors are rows too.",
    )

    qname: Mapped[str | None] = mapped_column(
        String(255), doc="the name asked, in A-label (ASCII, IDNA 2008/UTS 46) form"
    )
    qname_unicode: Mapped[str | None] = mapped_column(
        String(255), doc="the name asked, in U-label (Unicode) form"
    )
    qtype: Mapped[str | None] = mapped_column(
        String(16), doc="the query type mnemonic (A, AAAA, HTTPS, TYPE65534, ...)"
    )
    purpose: Mapped[str] = mapped_column(
        String(16),
        **defaults_to("query"),
        doc="query (a target), whoami (the resolver's egress address), tc_fallback "
        "(the TCP retry of a truncated UDP answer) or stray (a datagram from the resolver "
        "that answers no query: wrong ID, a question not asked, garbage; one row per "
        "distinct datagram, never another query's evidence)",
    )
    transport: Mapped[str | None] = mapped_column(
        ForeignKey("vocab_transport.name"), doc="udp, tcp, tls (DoT), https (DoH), quic (DoQ)"
    )
    resolver_address: Mapped[str | None] = mapped_column(
        String(64), doc="IP address the query went to"
    )
    resolver_port: Mapped[int | None] = mapped_column(Integer, doc="port the query went to")
    resolver_role: Mapped[str | None] = mapped_column(
        String(16), doc="control or test (the campaign's design; divergence is test vs control)"
    )
    resolver_operator: Mapped[str | None] = mapped_column(
        String(128), doc="who operates the resolver (campaign label)"
    )
    resolver_namespace: Mapped[str | None] = mapped_column(
        String(32), doc="the naming system the resolver serves (icann, opennic, handshake, ...)"
    )
    query_id: Mapped[int | None] = mapped_column(Integer, doc="DNS message ID of the query")
    rcode: Mapped[int | None] = mapped_column(
        Integer, doc="response code incl. extended bits (RFC 6891 section 6.1.3); NULL: none"
    )
    rcode_name: Mapped[str | None] = mapped_column(
        String(16), doc="response code mnemonic (NOERROR, NXDOMAIN, SERVFAIL, ...)"
    )
    flag_aa: Mapped[bool | None] = mapped_column(doc="AA: authoritative answer")
    flag_tc: Mapped[bool | None] = mapped_column(doc="TC: truncated")
    flag_rd: Mapped[bool | None] = mapped_column(doc="RD: recursion desired (echoed)")
    flag_ra: Mapped[bool | None] = mapped_column(doc="RA: recursion available")
    flag_ad: Mapped[bool | None] = mapped_column(
        doc="AD: the resolver says it validated the answer with DNSSEC (RFC 4035 section 3.2.3)"
    )
    flag_cd: Mapped[bool | None] = mapped_column(doc="CD: checking disabled (echoed)")
    ede_code: Mapped[int | None] = mapped_column(
        Integer, doc="first Extended DNS Error info-code (RFC 8914), if any"
    )
    ede: Mapped[list[Any] | None] = mapped_column(
        doc="JSON list of [info-code, extra-text] of every EDE option (RFC 8914)"
    )
    answer_count: Mapped[int | None] = mapped_column(Integer, doc="ANCOUNT")
    authority_count: Mapped[int | None] = mapped_column(Integer, doc="NSCOUNT")
    additional_count: Mapped[int | None] = mapped_column(Integer, doc="ARCOUNT (incl. OPT)")
    response_size: Mapped[int | None] = mapped_column(
        Integer, doc="size of the DNS response message in octets"
    )
    rtt_ms: Mapped[float | None] = mapped_column(
        Float,
        doc="query sent to response received, milliseconds (excl. connection set-up "
        "for UDP; incl. it for TCP, DoT, DoH, DoQ on a fresh connection)",
    )
    raw_wire: Mapped[bytes | None] = mapped_column(
        LargeBinary, doc="the response message as received (for DoH/DoQ the HTTP/stream payload)"
    )
    late: Mapped[bool] = mapped_column(
        **defaults_to(False),
        doc="true: a response that came after its query had timed out (or a duplicate); "
        "never matched to a newer query",
    )
    duplicate: Mapped[bool] = mapped_column(
        **defaults_to(False),
        doc="true: a second response to an already answered query (injection?)",
    )
    whoami_address: Mapped[str | None] = mapped_column(
        String(64), doc="for purpose=whoami: the egress address the whoami service reported"
    )
    validation: Mapped[str | None] = mapped_column(
        String(16),
        doc="dns.iterative: secure, insecure, bogus or indeterminate (RFC 4035 section 4.3); "
        "NULL for dns.query",
    )
    validation_detail: Mapped[str | None] = mapped_column(
        Text, doc="dns.iterative: why the chain was classified as it was"
    )


class DnsAnswer(Base):
    """One resource record of a DNS response (answer, authority or additional section)."""

    __tablename__ = "dns_answers"
    # No (name, rtype) index: the hot path pays for every index (0500); `fragscope db
    # index` adds the research indexes to a database after a campaign.
    __table_args__ = {
        "comment": "Resource records of DNS responses, one row per record, with HTTPS/SVCB "
        "parameters parsed (RFC 9460)."
    }

    id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False, doc="64-bit hash of parent, index"
    )
    observation_id: Mapped[int] = child_of("dns_observations")
    section: Mapped[str] = mapped_column(String(12), doc="answer, authority or additional")
    position: Mapped[int] = mapped_column(Integer, doc="order in the response, from 0")
    name: Mapped[str] = mapped_column(String(255), doc="owner name, presentation form")
    rtype: Mapped[str] = mapped_column(String(16), doc="record type mnemonic")
    ttl: Mapped[int] = mapped_column(BigInteger, doc="TTL in seconds")
    value: Mapped[str] = mapped_column(Text, doc="RDATA in presentation form")
    svc_priority: Mapped[int | None] = mapped_column(
        Integer, doc="HTTPS/SVCB SvcPriority (0 = AliasMode)"
    )
    svc_target: Mapped[str | None] = mapped_column(String(255), doc="HTTPS/SVCB TargetName")
    svc_alpn: Mapped[str | None] = mapped_column(
        String(255), doc="HTTPS/SVCB alpn ids, comma-separated (h3,h2)"
    )
    svc_port: Mapped[int | None] = mapped_column(Integer, doc="HTTPS/SVCB port")
    svc_ipv4hint: Mapped[str | None] = mapped_column(
        Text, doc="HTTPS/SVCB ipv4hint, comma-separated"
    )
    svc_ipv6hint: Mapped[str | None] = mapped_column(
        Text, doc="HTTPS/SVCB ipv6hint, comma-separated"
    )
    svc_ech: Mapped[bool | None] = mapped_column(doc="HTTPS/SVCB: an ech parameter is present")


class DnsIterativeStep(Base):
    """One query of an iterative resolution: which server, what came back."""

    __tablename__ = "dns_iterative_steps"
    __table_args__ = {
        "comment": "The steps of dns.iterative resolutions: server asked, referral or "
        "answer received, RTT, DNSSEC state at that zone cut."
    }

    id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False, doc="64-bit hash of parent, index"
    )
    observation_id: Mapped[int] = child_of("dns_observations")
    step: Mapped[int] = mapped_column(Integer, doc="order of the step, from 0")
    depth: Mapped[int] = mapped_column(
        Integer, doc="0 for the main chain, 1.. inside out-of-bailiwick NS lookups"
    )
    zone: Mapped[str] = mapped_column(String(255), doc="the zone the server was asked as")
    server_name: Mapped[str | None] = mapped_column(String(255), doc="NS name of the server")
    server_address: Mapped[str] = mapped_column(String(64), doc="IP address asked")
    qname: Mapped[str] = mapped_column(String(255), doc="the name asked at this step")
    qtype: Mapped[str] = mapped_column(String(16), doc="the type asked at this step")
    outcome: Mapped[str] = mapped_column(
        String(16),
        doc="referral, answer, cname, nxdomain, nodata, lame, error or timeout",
    )
    rcode: Mapped[int | None] = mapped_column(Integer, doc="response code, NULL if none")
    referral_zone: Mapped[str | None] = mapped_column(
        String(255), doc="for a referral: the delegated zone"
    )
    referral_ns: Mapped[str | None] = mapped_column(
        Text, doc="for a referral: the NS names, comma-separated"
    )
    rtt_ms: Mapped[float | None] = mapped_column(Float, doc="round-trip time, milliseconds")
    dnssec: Mapped[str | None] = mapped_column(
        String(16), doc="secure, insecure, bogus or indeterminate as of this zone"
    )
    detail: Mapped[str | None] = mapped_column(Text, doc="error or validation detail")


VIEWS: dict[str, str] = {
    "dns_answers_flat": "One row per DNS resource record joined with its query's context "
    "(run, vantage, resolver role/operator/namespace, qname, qtype, rcode, AD, failure, "
    "validation): the usual starting point for answer-divergence questions. Created in "
    "migration 0100_dns.",
}
"""SQL views the migrations create (name -> description), for db describe."""
