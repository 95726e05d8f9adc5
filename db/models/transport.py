"""Tables of the transport probes: TLS over TCP, QUIC, Version Negotiation, path tests. No I/O.

Each discovery channel has its own table (docs/architecture.md §4, issue 8): Alt-Svc comes from
``tls_observations``, handshakes from ``quic_observations``, VN answers from
``quic_vn_observations``; HTTPS-record alpn stays in the DNS probe's rows. The view
``quic_adoption`` (migration 0200_transport) joins them per target and address.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from fragscope.db.models.core import Base, ObservationMixin, child_of, envelope_args

QUIC_STAGES = ("not_sent", "initial_sent", "server_replied", "handshake_done", "http_done")
VN_REPLIES = ("vn", "other", "malformed", "none", "icmp")
PATH_TESTS = ("udp443", "tcp_ecn", "tcp_exp_option")


def _in(column: str, values: tuple[str, ...]) -> CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_allowed")


class _AddressMixin:
    """Where a transport probe sent its packets: one IP literal, one port, one family."""

    address: Mapped[str | None] = mapped_column(
        String(64), index=True, doc="the IP address probed (IPv4 or IPv6 literal)"
    )
    port: Mapped[int | None] = mapped_column(Integer, doc="the TCP or UDP port probed")
    ip_version: Mapped[int | None] = mapped_column(Integer, doc="4 or 6")


def _cert_failure() -> Mapped[str | None]:
    return mapped_column(
        ForeignKey("vocab_failure.name"),
        doc="why verification failed (ssl_unknown_authority, ssl_invalid_hostname, "
        "ssl_invalid_certificate); NULL when valid. The row's failure stays NULL: "
        "the transport worked",
    )


class _CertMixin:
    """The server certificate and fragscope's own verification verdict (zgrab2-style).

    The handshake itself never verifies, so a bad certificate does not stop what follows;
    the verdict is computed afterwards against the system store plus ``--ca-file``.
    """

    cert_sha256: Mapped[str | None] = mapped_column(
        String(64), doc="SHA-256 of the leaf certificate (DER), hex"
    )
    chain_sha256: Mapped[list[Any] | None] = mapped_column(
        doc="JSON list of SHA-256 (hex) of every certificate the server sent, leaf first"
    )
    cert_subject: Mapped[str | None] = mapped_column(Text, doc="leaf subject (RFC 4514)")
    cert_issuer: Mapped[str | None] = mapped_column(Text, doc="leaf issuer (RFC 4514)")
    cert_not_before: Mapped[dt.datetime | None] = mapped_column(
        DateTime, doc="leaf notBefore (UTC)"
    )
    cert_not_after: Mapped[dt.datetime | None] = mapped_column(DateTime, doc="leaf notAfter (UTC)")
    cert_name_match: Mapped[bool | None] = mapped_column(
        Boolean, doc="the leaf's SAN covers the SNI name (RFC 6125)"
    )
    cert_valid: Mapped[bool | None] = mapped_column(
        Boolean, doc="the chain verifies for the SNI name against the trust anchors"
    )

    cert_error: Mapped[str | None] = mapped_column(Text, doc="the verifier's message")


class TlsObservation(_AddressMixin, _CertMixin, ObservationMixin, Base):
    """``transport.tls``: TCP connect, TLS handshake, one HTTP request."""

    __tablename__ = "tls_observations"
    __table_args__ = envelope_args(
        "transport.tls: TCP connect + TLS handshake to one address with SNI, then one "
        "HTTP/1.1 or h2 request; Alt-Svc parsed per RFC 7838 (a QUIC discovery channel)."
    )

    sni: Mapped[str | None] = mapped_column(String(255), doc="the TLS server_name sent")
    connect_ms: Mapped[float | None] = mapped_column(Float, doc="TCP connect time")
    handshake_ms: Mapped[float | None] = mapped_column(Float, doc="TLS handshake time")
    tls_alert: Mapped[int | None] = mapped_column(
        Integer, doc="code of the TLS alert that ended the handshake (RFC 8446 section 6)"
    )
    tls_version: Mapped[str | None] = mapped_column(String(16), doc="TLSv1.3, TLSv1.2, ...")
    cipher: Mapped[str | None] = mapped_column(String(64), doc="negotiated cipher suite")
    tls_group: Mapped[str | None] = mapped_column(
        String(32),
        doc="negotiated key-exchange group; NULL where the TLS library does not expose it "
        "(Python's ssl before 3.13)",
    )
    alpn_offered: Mapped[str | None] = mapped_column(
        String(64), doc="comma-separated ALPN ids offered (h2,http/1.1)"
    )
    alpn: Mapped[str | None] = mapped_column(String(32), doc="ALPN id the server chose")
    cert_failure: Mapped[str | None] = _cert_failure()
    http_version: Mapped[str | None] = mapped_column(String(16), doc="HTTP/1.1 or h2")
    http_status: Mapped[int | None] = mapped_column(Integer, doc="HTTP status code")
    http_ms: Mapped[float | None] = mapped_column(Float, doc="request to response headers")
    http_server: Mapped[str | None] = mapped_column(
        Text, doc="the Server header verbatim (attacker-controlled: escape when rendering)"
    )
    alt_svc_raw: Mapped[str | None] = mapped_column(
        Text, doc="every Alt-Svc header line verbatim, joined by ', '"
    )
    alt_svc: Mapped[list[Any] | None] = mapped_column(
        doc="JSON list of parsed alternatives {alpn, host, port, ma, persist}"
    )
    alt_svc_error: Mapped[str | None] = mapped_column(
        Text, doc="why alt_svc_raw did not parse, if it did not"
    )
    alt_svc_h3: Mapped[bool | None] = mapped_column(
        Boolean, doc="Alt-Svc advertises h3 (any h3 or h3-NN alternative)"
    )


class QuicObservation(_AddressMixin, _CertMixin, ObservationMixin, Base):
    """``transport.quic``: an aioquic handshake and one HTTP/3 request."""

    __tablename__ = "quic_observations"
    __table_args__ = envelope_args(
        "transport.quic: an aioquic handshake (v1 and v2 offered, ALPN h3) to one address "
        "with SNI, then one HTTP/3 request.",
        _in("stage", QUIC_STAGES),
    )

    sni: Mapped[str | None] = mapped_column(String(255), doc="the TLS server_name sent")
    stage: Mapped[str | None] = mapped_column(
        String(16),
        doc="how far it got: not_sent, initial_sent (nothing came back), server_replied "
        "(handshake incomplete), handshake_done, http_done",
    )
    offered_versions: Mapped[list[Any] | None] = mapped_column(
        doc="JSON list of QUIC versions offered, first = the Initial's version"
    )
    alpn_offered: Mapped[str | None] = mapped_column(String(64), doc="ALPN ids offered")
    quic_version: Mapped[int | None] = mapped_column(
        BigInteger, doc="negotiated QUIC version (1, 0x6b3343cf = v2, RFC 9369)"
    )
    quic_version_label: Mapped[str | None] = mapped_column(String(16), doc="v1, v2, ...")
    version_negotiation: Mapped[bool | None] = mapped_column(
        Boolean, doc="the server answered with Version Negotiation before the handshake"
    )
    server_versions: Mapped[list[Any] | None] = mapped_column(
        doc="JSON list: versions of a VN packet or the version_information TP (RFC 9368)"
    )
    retry: Mapped[bool | None] = mapped_column(Boolean, doc="the server sent a Retry")
    alpn: Mapped[str | None] = mapped_column(String(32), doc="ALPN id negotiated")
    cipher: Mapped[str | None] = mapped_column(String(64), doc="TLS 1.3 cipher suite")
    tls_group: Mapped[str | None] = mapped_column(
        String(32), doc="key-exchange group of the ServerHello's key share (X25519, ...)"
    )
    handshake_ms: Mapped[float | None] = mapped_column(
        Float, doc="first Initial sent to HandshakeCompleted"
    )
    close_error_code: Mapped[int | None] = mapped_column(
        BigInteger, doc="CONNECTION_CLOSE error code (RFC 9000 section 20), if closed"
    )
    close_frame_type: Mapped[int | None] = mapped_column(
        BigInteger, doc="CONNECTION_CLOSE frame type field"
    )
    close_reason: Mapped[str | None] = mapped_column(Text, doc="CONNECTION_CLOSE reason phrase")
    cert_failure: Mapped[str | None] = _cert_failure()
    http_status: Mapped[int | None] = mapped_column(Integer, doc="HTTP/3 :status")
    http_ms: Mapped[float | None] = mapped_column(Float, doc="request to response headers")
    http_server: Mapped[str | None] = mapped_column(
        Text, doc="the server header verbatim (attacker-controlled)"
    )


class QuicTransportParam(Base):
    __tablename__ = "quic_transport_params"
    __table_args__ = {
        "comment": "The server's QUIC transport parameters (RFC 9000 section 18) in wire "
        "order: one row per parameter of a quic_observations row."
    }

    id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False, doc="hash of parent id, position"
    )
    observation_id: Mapped[int] = child_of("quic_observations")
    position: Mapped[int] = mapped_column(Integer, doc="0-based position on the wire")
    param_id: Mapped[int] = mapped_column(BigInteger, doc="transport parameter id")
    name: Mapped[str | None] = mapped_column(
        String(64), doc="IANA name (initial_max_data, ...), NULL for unknown or GREASE ids"
    )
    value_int: Mapped[int | None] = mapped_column(
        BigInteger, doc="the value when it is one varint, else NULL"
    )
    value_hex: Mapped[str] = mapped_column(Text, doc="the raw value, hex")


class QuicVnObservation(_AddressMixin, ObservationMixin, Base):
    """``transport.quic_vn``: a reserved-version Initial and the server's VN reply."""

    __tablename__ = "quic_vn_observations"
    __table_args__ = envelope_args(
        "transport.quic_vn: a hand-built Initial with a reserved version (RFC 9000 section "
        "15) from a plain UDP socket, and the Version Negotiation reply.",
        _in("reply", VN_REPLIES),
    )

    sent_version: Mapped[int | None] = mapped_column(BigInteger, doc="the reserved version sent")
    datagram_size: Mapped[int | None] = mapped_column(Integer, doc="bytes sent (>= 1200)")
    dcid: Mapped[str | None] = mapped_column(String(40), doc="DCID sent, hex")
    scid: Mapped[str | None] = mapped_column(String(40), doc="SCID sent, hex")
    reply: Mapped[str | None] = mapped_column(
        String(16),
        doc="vn (a parsable VN packet), other (some other datagram), malformed, none, "
        "icmp (an ICMP error surfaced on the connected socket)",
    )
    rtt_ms: Mapped[float | None] = mapped_column(Float, doc="send to first reply")
    cid_echo_ok: Mapped[bool | None] = mapped_column(
        Boolean, doc="the VN echoes our CIDs swapped (RFC 9000 section 17.2.1)"
    )
    n_versions: Mapped[int | None] = mapped_column(Integer, doc="versions listed")
    has_v1: Mapped[bool | None] = mapped_column(Boolean, doc="lists QUIC v1")
    has_v2: Mapped[bool | None] = mapped_column(Boolean, doc="lists QUIC v2 (0x6b3343cf)")
    has_grease: Mapped[bool | None] = mapped_column(
        Boolean, doc="lists a reserved 0x?a?a?a?a version (RFC 9000 section 6.3)"
    )
    lists_sent_version: Mapped[bool | None] = mapped_column(
        Boolean, doc="lists the version we sent (a client must discard such a VN, section 6.2)"
    )
    raw_reply: Mapped[bytes | None] = mapped_column(
        LargeBinary, doc="the reply datagram as received (first one)"
    )


class QuicVnVersion(Base):
    __tablename__ = "quic_vn_versions"
    __table_args__ = (
        Index("ix_quic_vn_versions_version", "version"),
        {"comment": "One row per version offered in a Version Negotiation reply, in order."},
    )

    id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False, doc="hash of parent id, position"
    )
    observation_id: Mapped[int] = child_of("quic_vn_observations")
    position: Mapped[int] = mapped_column(Integer, doc="0-based position in the list")
    version: Mapped[int] = mapped_column(BigInteger, doc="the 32-bit version number")
    label: Mapped[str] = mapped_column(String(16), doc="v1, v2, draft-29, Q050 or hex")
    kind: Mapped[str] = mapped_column(
        String(16), doc="v1, v2, v2_draft, draft, grease, gquic, mvfst, other"
    )


class PathObservation(_AddressMixin, ObservationMixin, Base):
    """``path.udp443``: UDP/443 path class and PATHspider-style TCP SYN A/B tests."""

    __tablename__ = "path_observations"
    __table_args__ = envelope_args(
        "path.udp443: crafted packets (scapy) classifying the UDP path (dropped, rejected, "
        "answered) and TCP SYN A/B tests (ECN setup, RFC 3168; experimental option, "
        "RFC 6994) against a plain SYN, PATHspider-style.",
        _in("test", PATH_TESTS),
    )

    test: Mapped[str | None] = mapped_column(String(16), doc="udp443, tcp_ecn or tcp_exp_option")
    outcome: Mapped[str | None] = mapped_column(
        ForeignKey("vocab_path_outcome.name"),
        doc="dropped/rejected/answered (udp443); works/broken/transient/offline (tcp_*)",
    )
    source_port: Mapped[int | None] = mapped_column(
        Integer, doc="source port used (outside the ephemeral range)"
    )
    baseline: Mapped[str | None] = mapped_column(
        String(64), doc="what the baseline probe drew: SA, RA, timeout (tcp_* only)"
    )
    experiment: Mapped[str | None] = mapped_column(
        String(64), doc="what the experimental probe drew: SA, RA, timeout, vn, icmp 3/13"
    )
    icmp_type: Mapped[int | None] = mapped_column(Integer, doc="ICMP(v6) type if one came back")
    icmp_code: Mapped[int | None] = mapped_column(Integer, doc="ICMP(v6) code")
    ecn_negotiated: Mapped[bool | None] = mapped_column(
        Boolean, doc="tcp_ecn: the SYN-ACK has ECE set and CWR clear (RFC 3168 section 6.1.1)"
    )
    rtt_ms: Mapped[float | None] = mapped_column(Float, doc="experimental probe round trip")


SNI_TRANSPORTS = ("tcp", "quic")
SNI_VERDICTS = (
    "ok",
    "sni_filtered",
    "ip_or_port_blocked",
    "udp_blocked",
    "residual",
    "inconclusive",
)
SNI_STEPS = ("control_first", "real_first", "real_repeat", "control_later", "vn")


class SniObservation(_AddressMixin, ObservationMixin, Base):
    """``transport.sni``: the real SNI against a control SNI on one (address, transport)."""

    __tablename__ = "sni_observations"
    __table_args__ = envelope_args(
        "transport.sni: SNI A/B test on one address and transport (TCP+TLS or QUIC): a "
        "control SNI first, the real SNI twice, the control again, and for QUIC the "
        "Version Negotiation probe; classified per docs/indicators.md (T10).",
        _in("transport", SNI_TRANSPORTS),
        _in("verdict", SNI_VERDICTS),
    )

    transport: Mapped[str | None] = mapped_column(String(8), doc="tcp (TCP+TLS) or quic")
    real_sni: Mapped[str | None] = mapped_column(String(255), doc="the target's own name")
    control_sni: Mapped[str | None] = mapped_column(
        String(255), doc="the innocuous name sent to the same address (need not be served)"
    )
    tries: Mapped[int | None] = mapped_column(
        Integer, doc="k: handshakes per step; a step fails only when all k fail"
    )
    control_first_ok: Mapped[bool | None] = mapped_column(
        Boolean, doc="the control SNI, before any real SNI, reached the server"
    )
    real_first_ok: Mapped[bool | None] = mapped_column(
        Boolean, doc="the first real-SNI step reached the server"
    )
    real_repeat_ok: Mapped[bool | None] = mapped_column(
        Boolean, doc="the repeated real-SNI step reached the server"
    )
    control_later_ok: Mapped[bool | None] = mapped_column(
        Boolean, doc="the control SNI, after the real SNI, reached the server"
    )
    control_retries: Mapped[int | None] = mapped_column(
        Integer, doc="control handshakes that failed before one worked (loss on the path)"
    )
    vn_answered: Mapped[bool | None] = mapped_column(
        Boolean, doc="quic: the Version Negotiation probe got a reply datagram; NULL for tcp"
    )
    residual_wait_ms: Mapped[float | None] = mapped_column(
        Float, doc="time waited for an earlier residual block on this 3-tuple to expire"
    )
    round_position: Mapped[int | None] = mapped_column(
        Integer,
        doc="0-based place of this test in the run's seeded order of transport.sni tests "
        "(probes/engine/planner.py; the seed is runs.seed)",
    )
    verdict: Mapped[str | None] = mapped_column(
        String(24),
        doc="ok, sni_filtered, ip_or_port_blocked, udp_blocked, residual or inconclusive "
        "(docs/indicators.md, T10)",
    )


class SniAttempt(Base):
    __tablename__ = "sni_attempts"
    __table_args__ = (
        {"comment": "One row per handshake of a transport.sni test, in the order sent."},
    )

    id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False, doc="hash of parent id, position"
    )
    observation_id: Mapped[int] = child_of("sni_observations")
    position: Mapped[int] = mapped_column(Integer, doc="0-based order of the handshake")
    step: Mapped[str] = mapped_column(
        String(16), doc="control_first, real_first, real_repeat, control_later or vn"
    )
    sni: Mapped[str | None] = mapped_column(String(255), doc="the SNI sent (NULL for vn)")
    ok: Mapped[bool] = mapped_column(Boolean, doc="the server answered (handshake or VN reply)")
    failure: Mapped[str | None] = mapped_column(
        ForeignKey("vocab_failure.name"), doc="why this handshake failed"
    )
    failure_detail: Mapped[str | None] = mapped_column(Text, doc="the failure's detail")
    tls_alert: Mapped[int | None] = mapped_column(
        Integer, doc="code of the TLS alert that answered this handshake (RFC 8446 section 6)"
    )
    duration_ms: Mapped[float | None] = mapped_column(Float, doc="time of this handshake")
    client_hello_initials: Mapped[int | None] = mapped_column(
        Integer, doc="quic: Initial packets the ClientHello flight used (RFC 9001 section 4.3)"
    )
    source_port: Mapped[int | None] = mapped_column(
        Integer, doc="quic: the UDP source port of this flow (residual blocks key on it)"
    )


ECH_VERDICTS = ("ech_accepted", "ech_rejected", "ech_blocked", "no_ech", "inconclusive")
ECH_STEPS = ("control", "grease", "ech")


class EchObservation(_AddressMixin, ObservationMixin, Base):
    """``transport.ech``: the target's published ECH config, and ECH against no ECH."""

    __tablename__ = "ech_observations"
    __table_args__ = envelope_args(
        "transport.ech: the target's HTTPS record ech config (adoption, T11) and, on one "
        "address over TCP+TLS, the same ClientHello without ECH (control), with GREASE ECH "
        "and with real ECH sealed to the published config; classified per "
        "docs/indicators.md (T12).",
        _in("verdict", ECH_VERDICTS),
    )

    real_sni: Mapped[str | None] = mapped_column(String(255), doc="the target's own name")
    resolver: Mapped[str | None] = mapped_column(
        String(64), doc="the resolver asked for the target's HTTPS record"
    )
    https_rcode: Mapped[str | None] = mapped_column(
        String(16), doc="RCODE of the HTTPS query (NULL: no answer)"
    )
    ech_published: Mapped[bool | None] = mapped_column(
        Boolean, doc="a ServiceMode HTTPS record of the target carries the ech SvcParam"
    )
    ech_config_list: Mapped[str | None] = mapped_column(
        Text, doc="the published ECHConfigList, base64 (RFC 9849 section 4)"
    )
    ech_config_error: Mapped[str | None] = mapped_column(
        Text, doc="why the published ECHConfigList could not be parsed or used"
    )
    public_name: Mapped[str | None] = mapped_column(
        String(255), doc="the outer SNI of the real ECH handshake (the config's public_name)"
    )
    config_id: Mapped[int | None] = mapped_column(Integer, doc="the config_id sealed to")
    tries: Mapped[int | None] = mapped_column(
        Integer, doc="k: handshakes per step; a step fails only when all k fail"
    )
    control_ok: Mapped[bool | None] = mapped_column(
        Boolean, doc="the ClientHello without ECH, real SNI, reached the server"
    )
    control_retries: Mapped[int | None] = mapped_column(
        Integer, doc="control handshakes that failed before one worked (loss on the path)"
    )
    grease_ok: Mapped[bool | None] = mapped_column(
        Boolean, doc="the ClientHello with a GREASE ECH extension reached the server"
    )
    ech_ok: Mapped[bool | None] = mapped_column(
        Boolean, doc="the ClientHello with real ECH reached the server"
    )
    ech_accepted: Mapped[bool | None] = mapped_column(
        Boolean,
        doc="ServerHello.random's last 8 octets are the ECH acceptance confirmation "
        "(RFC 9849 section 7.2)",
    )
    inner_cert_name_match: Mapped[bool | None] = mapped_column(
        Boolean, doc="the certificate sent after ECH was accepted names the inner SNI"
    )
    inner_cert_valid: Mapped[bool | None] = mapped_column(
        Boolean, doc="that certificate verifies for the inner SNI against the trust anchors"
    )
    retry_configs: Mapped[str | None] = mapped_column(
        Text,
        doc="ECH rejected: the ECHConfigList the server sent as retry_configs in "
        "EncryptedExtensions, base64 (NULL: none sent)",
    )
    verdict: Mapped[str | None] = mapped_column(
        String(24),
        doc="ech_accepted, ech_rejected, ech_blocked, no_ech or inconclusive "
        "(docs/indicators.md, T12)",
    )


class EchAttempt(Base):
    __tablename__ = "ech_attempts"
    __table_args__ = (
        {"comment": "One row per handshake of a transport.ech test, in the order sent."},
    )

    id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False, doc="hash of parent id, position"
    )
    observation_id: Mapped[int] = child_of("ech_observations")
    position: Mapped[int] = mapped_column(Integer, doc="0-based order of the handshake")
    step: Mapped[str] = mapped_column(String(16), doc="control, grease or ech")
    outer_sni: Mapped[str | None] = mapped_column(String(255), doc="the SNI sent in the clear")
    ok: Mapped[bool] = mapped_column(Boolean, doc="the server answered (ServerHello or alert)")
    accepted: Mapped[bool | None] = mapped_column(
        Boolean, doc="ech: the acceptance confirmation matched"
    )
    failure: Mapped[str | None] = mapped_column(
        ForeignKey("vocab_failure.name"), doc="why this handshake failed"
    )
    failure_detail: Mapped[str | None] = mapped_column(Text, doc="the failure's detail")
    tls_alert: Mapped[int | None] = mapped_column(
        Integer, doc="code of the TLS alert that answered this handshake (RFC 8446 section 6)"
    )
    duration_ms: Mapped[float | None] = mapped_column(Float, doc="time of this handshake")


class EchConfigRow(Base):
    __tablename__ = "ech_configs"
    __table_args__ = (
        {
            "comment": "One row per ECHConfig in the ECHConfigList a transport.ech row "
            "found published (RFC 9849 section 4)."
        },
    )

    id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False, doc="hash of parent id, position"
    )
    observation_id: Mapped[int] = child_of("ech_observations")
    position: Mapped[int] = mapped_column(Integer, doc="0-based place in the list")
    version: Mapped[int] = mapped_column(Integer, doc="ECHConfig version (0xfe0d = 65037)")
    config_id: Mapped[int | None] = mapped_column(Integer, doc="HpkeKeyConfig.config_id")
    kem_id: Mapped[int | None] = mapped_column(Integer, doc="HPKE KEM id (RFC 9180 section 7.1)")
    kem: Mapped[str | None] = mapped_column(String(16), doc="the KEM's name (X25519, P-256...)")
    public_key_len: Mapped[int | None] = mapped_column(Integer, doc="octets of the public key")
    cipher_suites: Mapped[str | None] = mapped_column(
        Text, doc="KDF/AEAD pairs offered, comma-separated (HKDF-SHA256/AES-128-GCM...)"
    )
    maximum_name_length: Mapped[int | None] = mapped_column(
        Integer, doc="the longest inner name the inner ClientHello is padded for"
    )
    public_name: Mapped[str | None] = mapped_column(String(255), doc="the outer SNI to use")
    extension_types: Mapped[str | None] = mapped_column(
        Text, doc="ECHConfigExtension types, comma-separated (NULL: none)"
    )
