"""TLS alerts a peer sent, by code and name (RFC 8446 section 6). No I/O.

A TLS alert in answer to a ClientHello is a refusal, not a lost handshake: censors inject
them (handshake_failure, unrecognized_name, access_denied) as they inject RSTs
(docs/indicators.md, T10 and T12). Two TLS stacks report them here: the project's own
(probes.transport.tls13 raises ``TlsAlert`` with the code) and Python's ssl module, whose
``SSLError.reason`` is OpenSSL's name for a received alert (``SSL_R_*`` codes 1000 plus
the alert code, openssl/sslerr.h); :func:`alert_of` reads the code back from either.
"""

from __future__ import annotations

import ssl

from fragscope.probes.transport.tls13 import TlsAlert

# RFC 8446 section 6 (with the TLS 1.2 codes OpenSSL still names, RFC 5246 section 7.2).
ALERT_NAMES: dict[int, str] = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    21: "decryption_failed",
    22: "record_overflow",
    30: "decompression_failure",
    40: "handshake_failure",
    41: "no_certificate",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    60: "export_restriction",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    100: "no_renegotiation",
    109: "missing_extension",
    110: "unsupported_extension",
    111: "certificate_unobtainable",
    112: "unrecognized_name",
    113: "bad_certificate_status_response",
    114: "bad_certificate_hash_value",
    115: "unknown_psk_identity",
    116: "certificate_required",
    120: "no_application_protocol",
}

# OpenSSL's reason names for a received alert (openssl/sslerr.h, SSL_R_* = 1000 + code).
_OPENSSL_REASONS: dict[str, int] = {
    "SSLV3_ALERT_UNEXPECTED_MESSAGE": 10,
    "SSLV3_ALERT_BAD_RECORD_MAC": 20,
    "TLSV1_ALERT_DECRYPTION_FAILED": 21,
    "TLSV1_ALERT_RECORD_OVERFLOW": 22,
    "SSLV3_ALERT_DECOMPRESSION_FAILURE": 30,
    "SSLV3_ALERT_HANDSHAKE_FAILURE": 40,
    "SSLV3_ALERT_NO_CERTIFICATE": 41,
    "SSLV3_ALERT_BAD_CERTIFICATE": 42,
    "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE": 43,
    "SSLV3_ALERT_CERTIFICATE_REVOKED": 44,
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": 45,
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": 46,
    "SSLV3_ALERT_ILLEGAL_PARAMETER": 47,
    "TLSV1_ALERT_UNKNOWN_CA": 48,
    "TLSV1_ALERT_ACCESS_DENIED": 49,
    "TLSV1_ALERT_DECODE_ERROR": 50,
    "TLSV1_ALERT_DECRYPT_ERROR": 51,
    "TLSV1_ALERT_EXPORT_RESTRICTION": 60,
    "TLSV1_ALERT_PROTOCOL_VERSION": 70,
    "TLSV1_ALERT_INSUFFICIENT_SECURITY": 71,
    "TLSV1_ALERT_INTERNAL_ERROR": 80,
    "TLSV1_ALERT_INAPPROPRIATE_FALLBACK": 86,
    "TLSV1_ALERT_USER_CANCELLED": 90,
    "TLSV1_ALERT_NO_RENEGOTIATION": 100,
    "TLSV13_ALERT_MISSING_EXTENSION": 109,
    "TLSV1_UNSUPPORTED_EXTENSION": 110,
    "TLSV1_CERTIFICATE_UNOBTAINABLE": 111,
    "TLSV1_UNRECOGNIZED_NAME": 112,
    "TLSV1_BAD_CERTIFICATE_STATUS_RESPONSE": 113,
    "TLSV1_BAD_CERTIFICATE_HASH_VALUE": 114,
    "TLSV1_ALERT_UNKNOWN_PSK_IDENTITY": 115,
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": 116,
    "TLSV1_ALERT_NO_APPLICATION_PROTOCOL": 120,
}


def alert_name(code: int) -> str:
    """The RFC's name of alert ``code`` (``alert_<n>`` for a code no RFC here names)."""
    return ALERT_NAMES.get(code, f"alert_{code}")


def describe(code: int) -> str:
    """The failure detail of a received alert: ``TLS alert 40 handshake_failure``."""
    return f"TLS alert {code} {alert_name(code)}"


def alert_of(exc: BaseException) -> int | None:
    """The code of the alert the peer sent, when ``exc`` reports one (None otherwise: a
    protocol error, garbage, a certificate verdict are not alerts)."""
    if isinstance(exc, TlsAlert):
        return exc.description
    if isinstance(exc, ssl.SSLError) and not isinstance(exc, ssl.SSLCertVerificationError):
        return _OPENSSL_REASONS.get(str(getattr(exc, "reason", "") or ""))
    return None
