"""The closed vocabularies every observation is written in (docs/architecture.md §3). No I/O.

Failures follow OONI's names where OONI has one, so fragscope rows can be compared with
OONI's. Each vocabulary is also a lookup table in the database (see db.models), filled by
the migrations (each migration freezes the values it adds), so a foreign key refuses any
value outside it. A probe issue that needs a new value adds it here *and* in a migration;
a test checks the database at head equals these enums.
"""

from __future__ import annotations

from enum import StrEnum


class Failure(StrEnum):
    """Why a measurement did not succeed; NULL in the database means it did."""

    GENERIC_TIMEOUT_ERROR = "generic_timeout_error"
    CONNECTION_REFUSED = "connection_refused"
    CONNECTION_RESET = "connection_reset"
    HOST_UNREACHABLE = "host_unreachable"
    NETWORK_UNREACHABLE = "network_unreachable"
    DNS_NXDOMAIN_ERROR = "dns_nxdomain_error"
    DNS_SERVFAIL_ERROR = "dns_servfail_error"
    DNS_REFUSED_ERROR = "dns_refused_error"
    DNS_NO_ANSWER = "dns_no_answer"
    DNS_BOGUS_ANSWER = "dns_bogus_answer"
    DNS_SERVER_MISBEHAVING = "dns_server_misbehaving"
    DNS_CNAME_LOOP = "dns_cname_loop"
    SSL_INVALID_HOSTNAME = "ssl_invalid_hostname"
    SSL_UNKNOWN_AUTHORITY = "ssl_unknown_authority"
    SSL_INVALID_CERTIFICATE = "ssl_invalid_certificate"
    SSL_FAILED_HANDSHAKE = "ssl_failed_handshake"
    TLS_ALERT = "tls_alert"
    QUIC_NO_REPLY = "quic_no_reply"
    QUIC_HANDSHAKE_TIMEOUT = "quic_handshake_timeout"
    QUIC_CONNECTION_CLOSED = "quic_connection_closed"
    QUIC_INCOMPATIBLE_VERSION = "quic_incompatible_version"
    QUIC_BAD_REPLY = "quic_bad_reply"
    HTTP_ERROR = "http_error"
    ETH_RPC_ERROR = "eth_rpc_error"
    ETH_OFFCHAIN_LOOKUP_ERROR = "eth_offchain_lookup_error"
    INVALID_INPUT = "invalid_input"
    BLOCKED_BY_POLICY = "blocked_by_policy"
    PERMISSION_DENIED = "permission_denied"
    INTERRUPTED = "interrupted"
    UNKNOWN_FAILURE = "unknown_failure"


FAILURE_DOCS: dict[Failure, str] = {
    Failure.GENERIC_TIMEOUT_ERROR: "no answer before the operation's deadline",
    Failure.CONNECTION_REFUSED: "the peer refused the connection "
    "(TCP RST to SYN, ICMP port unreachable)",
    Failure.CONNECTION_RESET: "the peer or a middlebox reset an established connection",
    Failure.HOST_UNREACHABLE: "ICMP host unreachable or administratively prohibited",
    Failure.NETWORK_UNREACHABLE: "no route to the destination network",
    Failure.DNS_NXDOMAIN_ERROR: "the name does not exist (RCODE 3, RFC 1035 section 4.1.1)",
    Failure.DNS_SERVFAIL_ERROR: "the server failed (RCODE 2), including DNSSEC validation failures",
    Failure.DNS_REFUSED_ERROR: "the server refused the query (RCODE 5)",
    Failure.DNS_NO_ANSWER: "NOERROR without records of the asked type (NODATA, RFC 2308)",
    Failure.DNS_BOGUS_ANSWER: "an answer that cannot be right (bogon addresses, failed validation)",
    Failure.DNS_SERVER_MISBEHAVING: "garbage, mismatched or malformed replies",
    Failure.DNS_CNAME_LOOP: "the answer's CNAME chain comes back to a name it has already "
    "passed (RFC 1034 section 3.6.2); the asked type is never answered",
    Failure.SSL_INVALID_HOSTNAME: "the certificate does not match the name asked for",
    Failure.SSL_UNKNOWN_AUTHORITY: "the certificate chain ends at an untrusted authority",
    Failure.SSL_INVALID_CERTIFICATE: "expired, not yet valid or otherwise invalid certificate",
    Failure.SSL_FAILED_HANDSHAKE: "the TLS handshake failed (alert, protocol error)",
    Failure.TLS_ALERT: "the peer, or a middlebox speaking for it, answered with a TLS alert "
    "(RFC 8446 section 6); the detail names it",
    Failure.QUIC_NO_REPLY: "nothing came back to the QUIC Initial",
    Failure.QUIC_HANDSHAKE_TIMEOUT: "the QUIC handshake started but did not complete in time",
    Failure.QUIC_CONNECTION_CLOSED: "the peer closed the QUIC connection (CONNECTION_CLOSE)",
    Failure.QUIC_INCOMPATIBLE_VERSION: "no QUIC version in common "
    "(Version Negotiation, RFC 9000 section 6)",
    Failure.QUIC_BAD_REPLY: "a reply that is not what QUIC allows there "
    "(malformed Version Negotiation, a datagram that is not a VN packet)",
    Failure.HTTP_ERROR: "the HTTP exchange failed after the transport was up",
    Failure.ETH_RPC_ERROR: "a JSON-RPC error, revert, wrong chain id "
    "or garbage from an Ethereum node",
    Failure.ETH_OFFCHAIN_LOOKUP_ERROR: "an EIP-3668 OffchainLookup could not be completed",
    Failure.INVALID_INPUT: "the input (a name, an address) is invalid; nothing was sent",
    Failure.BLOCKED_BY_POLICY: "the destination is outside the allowlist or on the blocklist; "
    "nothing was sent",
    Failure.PERMISSION_DENIED: "the probe needs privileges it lacks "
    "(raw packets need root or CAP_NET_RAW); nothing was sent",
    Failure.INTERRUPTED: "the run was interrupted while this task was in flight",
    Failure.UNKNOWN_FAILURE: "an unexpected exception inside fragscope (a bug): see failure_detail",
}


class Operation(StrEnum):
    """The step of a measurement that failed (OONI's failed_operation)."""

    RESOLVE = "resolve"
    DNS_ROUND_TRIP = "dns_round_trip"
    CONNECT = "connect"
    TLS_HANDSHAKE = "tls_handshake"
    QUIC_HANDSHAKE = "quic_handshake"
    HTTP_REQUEST = "http_request"
    ETH_CALL = "eth_call"
    PATH_PROBE = "path_probe"


OPERATION_DOCS: dict[Operation, str] = {
    Operation.RESOLVE: "turning a name into records (any naming system)",
    Operation.DNS_ROUND_TRIP: "one DNS query and its response on one transport",
    Operation.CONNECT: "opening a TCP connection or a connected UDP socket",
    Operation.TLS_HANDSHAKE: "the TLS handshake over TCP",
    Operation.QUIC_HANDSHAKE: "the QUIC handshake (RFC 9000, RFC 9001)",
    Operation.HTTP_REQUEST: "an HTTP request once the transport is up",
    Operation.ETH_CALL: "a JSON-RPC call to an Ethereum node",
    Operation.PATH_PROBE: "a crafted packet sent to classify the path (scapy)",
}


class Transport(StrEnum):
    """How bytes travelled."""

    UDP = "udp"
    TCP = "tcp"
    TLS = "tls"
    HTTPS = "https"
    QUIC = "quic"
    HTTP = "http"
    NONE = "none"


TRANSPORT_DOCS: dict[Transport, str] = {
    Transport.UDP: "plain UDP (Do53 over UDP, RFC 1035 section 4.2.1)",
    Transport.TCP: "plain TCP (Do53 over TCP, RFC 7766)",
    Transport.TLS: "TLS over TCP (DoT, RFC 7858; HTTPS probes)",
    Transport.HTTPS: "HTTP over TLS (DoH, RFC 8484; JSON-RPC over HTTPS)",
    Transport.QUIC: "QUIC (DoQ, RFC 9250; HTTP/3, RFC 9114)",
    Transport.HTTP: "cleartext HTTP (JSON-RPC on a local node)",
    Transport.NONE: "nothing was sent (invalid input, blocked by policy)",
}


class PathOutcome(StrEnum):
    """Outcome classes of path probes: PATHspider's and the UDP/443 classifier's."""

    WORKS = "works"
    BROKEN = "broken"
    TRANSIENT = "transient"
    OFFLINE = "offline"
    DROPPED = "dropped"
    REJECTED = "rejected"
    ANSWERED = "answered"


PATH_OUTCOME_DOCS: dict[PathOutcome, str] = {
    PathOutcome.WORKS: "both the baseline and the experimental connection succeed (PATHspider)",
    PathOutcome.BROKEN: "the baseline succeeds and the experimental one fails (PATHspider)",
    PathOutcome.TRANSIENT: "the baseline fails and the experimental one succeeds (PATHspider)",
    PathOutcome.OFFLINE: "both fail (PATHspider)",
    PathOutcome.DROPPED: "UDP probes vanish without any reply",
    PathOutcome.REJECTED: "UDP probes draw an ICMP unreachable",
    PathOutcome.ANSWERED: "UDP probes draw a reply from the destination",
}


class RunStatus(StrEnum):
    """The life cycle of a run (runs.status)."""

    RUNNING = "running"
    FINISHED = "finished"
    PARTIAL = "partial"
    INTERRUPTED = "interrupted"
    FAILED = "failed"


class Role(StrEnum):
    """The role of an endpoint (resolver) or a target in a campaign's design."""

    CONTROL = "control"
    TEST = "test"
    CANARY = "canary"


VOCABULARIES: dict[str, tuple[type[StrEnum], dict[str, str]]] = {
    "vocab_failure": (Failure, {str(k): v for k, v in FAILURE_DOCS.items()}),
    "vocab_operation": (Operation, {str(k): v for k, v in OPERATION_DOCS.items()}),
    "vocab_transport": (Transport, {str(k): v for k, v in TRANSPORT_DOCS.items()}),
    "vocab_path_outcome": (PathOutcome, {str(k): v for k, v in PATH_OUTCOME_DOCS.items()}),
}
"""Lookup table name -> (enum, docs); the migrations hold frozen copies of these rows."""
