"""Mapping exceptions to the failure vocabulary (docs/architecture.md §3). No I/O.

Transports raise :class:`MeasurementError` when they know what failed; everything else
goes through :func:`classify`, the one place where exception types meet the vocabulary.
"""

from __future__ import annotations

import asyncio
import errno
import ssl
import traceback
from dataclasses import dataclass

from fragscope.db.vocab import Failure, Operation
from fragscope.probes.transport.tls_alerts import alert_of, describe


class MeasurementError(Exception):
    """A measurement failed in a way the transport could name."""

    def __init__(self, failure: Failure, operation: Operation, detail: str = "") -> None:
        super().__init__(
            f"{operation}: {failure}: {detail}" if detail else f"{operation}: {failure}"
        )
        self.failure = failure
        self.operation = operation
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Classified:
    failure: Failure
    operation: Operation | None
    detail: str
    alert: int | None = None
    """the code of the TLS alert the peer sent (``tls_alert`` failures only)"""


_ERRNO_FAILURES = {
    errno.ECONNREFUSED: Failure.CONNECTION_REFUSED,
    errno.ECONNRESET: Failure.CONNECTION_RESET,
    errno.EPIPE: Failure.CONNECTION_RESET,
    errno.ECONNABORTED: Failure.CONNECTION_RESET,
    errno.EHOSTUNREACH: Failure.HOST_UNREACHABLE,
    errno.EHOSTDOWN: Failure.HOST_UNREACHABLE,
    errno.ENETUNREACH: Failure.NETWORK_UNREACHABLE,
    errno.ETIMEDOUT: Failure.GENERIC_TIMEOUT_ERROR,
    # An ICMP "administratively prohibited" reaches a connected UDP socket as EACCES on
    # some paths and EHOSTUNREACH on others (RFC 1812 section 5.2.7.1).
    errno.EACCES: Failure.HOST_UNREACHABLE,
}

# OpenSSL X509_V_ERR_* codes (x509_vfy.h) that say who is wrong about a certificate.
_UNKNOWN_AUTHORITY_CODES = {2, 18, 19, 20, 21}
_HOSTNAME_MISMATCH = 62


def _ssl_failure(exc: ssl.SSLError) -> Failure:
    if isinstance(exc, ssl.SSLCertVerificationError):
        if exc.verify_code == _HOSTNAME_MISMATCH:
            return Failure.SSL_INVALID_HOSTNAME
        if exc.verify_code in _UNKNOWN_AUTHORITY_CODES:
            return Failure.SSL_UNKNOWN_AUTHORITY
        return Failure.SSL_INVALID_CERTIFICATE
    return Failure.SSL_FAILED_HANDSHAKE


def classify(exc: BaseException, operation: Operation | None = None) -> Classified:
    """Name the failure behind ``exc``; anything unrecognised is ``unknown_failure``.

    ``unknown_failure`` carries the traceback in the detail: it marks a bug in fragscope,
    and the run exits 1 so the operator notices.
    """
    if isinstance(exc, MeasurementError):
        return Classified(exc.failure, exc.operation, exc.detail)
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return Classified(Failure.GENERIC_TIMEOUT_ERROR, operation, detail)
    if isinstance(exc, ssl.SSLError):
        alert = alert_of(exc)
        if alert is not None:
            # An alert is an answer, not a broken handshake: censors inject them as they
            # inject RSTs (docs/indicators.md, T10), so it is a failure of its own.
            op = operation or Operation.TLS_HANDSHAKE
            return Classified(Failure.TLS_ALERT, op, f"{describe(alert)}: {detail}", alert)
        return Classified(_ssl_failure(exc), operation or Operation.TLS_HANDSHAKE, detail)
    if isinstance(exc, ConnectionRefusedError):
        return Classified(Failure.CONNECTION_REFUSED, operation, detail)
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return Classified(Failure.CONNECTION_RESET, operation, detail)
    if isinstance(exc, asyncio.IncompleteReadError):
        return Classified(Failure.CONNECTION_RESET, operation, detail)
    if isinstance(exc, OSError) and exc.errno in _ERRNO_FAILURES:
        return Classified(_ERRNO_FAILURES[exc.errno], operation, detail)
    dns_failure = _classify_dnspython(exc)
    if dns_failure is not None:
        return Classified(dns_failure, operation or Operation.DNS_ROUND_TRIP, detail)
    tb = "".join(traceback.format_exception(exc))
    return Classified(Failure.UNKNOWN_FAILURE, operation, tb)


def _classify_dnspython(exc: BaseException) -> Failure | None:
    # Imported lazily: classify() is also used by probes that never touch dnspython.
    import dns.exception
    import dns.message
    import dns.query

    if isinstance(exc, dns.exception.Timeout):
        return Failure.GENERIC_TIMEOUT_ERROR
    if isinstance(
        exc,
        dns.query.BadResponse
        | dns.query.UnexpectedSource
        | dns.message.ShortHeader
        | dns.message.TrailingJunk
        | dns.exception.FormError
        | dns.exception.SyntaxError,
    ):
        return Failure.DNS_SERVER_MISBEHAVING
    return None
