"""Certificate facts and fragscope's own verification verdict. Reads trust-anchor files.

Handshakes run without verification (like zgrab2) so a bad certificate never stops the
measurement; the chain the server sent is then checked here with ``cryptography``'s
RFC 5280 verifier against the system store plus an optional ``--ca-file``, and the verdict
becomes columns, not a failure of the row.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import ipaddress
import ssl
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.x509 import DNSName, IPAddress
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from fragscope.db.vocab import Failure


@dataclass(slots=True)
class CertFacts:
    cert_sha256: str | None = None
    chain_sha256: list[str] = field(default_factory=list)
    cert_subject: str | None = None
    cert_issuer: str | None = None
    cert_not_before: dt.datetime | None = None
    cert_not_after: dt.datetime | None = None
    cert_name_match: bool | None = None
    cert_valid: bool | None = None
    cert_failure: Failure | None = None
    cert_error: str | None = None

    def columns(self) -> dict[str, object]:
        return {
            "cert_sha256": self.cert_sha256,
            "chain_sha256": self.chain_sha256 or None,
            "cert_subject": self.cert_subject,
            "cert_issuer": self.cert_issuer,
            "cert_not_before": self.cert_not_before,
            "cert_not_after": self.cert_not_after,
            "cert_name_match": self.cert_name_match,
            "cert_valid": self.cert_valid,
            "cert_failure": self.cert_failure,
            "cert_error": self.cert_error,
        }


def _system_bundle() -> Path | None:
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


@functools.lru_cache(maxsize=8)
def trust_store(ca_file: str | None) -> tuple[x509.Certificate, ...]:
    """The system's anchors plus those in ``ca_file`` (PEM); cached per file."""
    anchors: list[x509.Certificate] = []
    bundle = _system_bundle()
    if bundle is not None:
        with warnings.catch_warnings():
            # Some system roots carry non-positive serials (cryptography warns, still loads).
            warnings.simplefilter("ignore")
            anchors += x509.load_pem_x509_certificates(bundle.read_bytes())
    if ca_file:
        anchors += x509.load_pem_x509_certificates(Path(ca_file).read_bytes())
    return tuple(anchors)


@functools.lru_cache(maxsize=8)
def _store(ca_file: str | None) -> Store | None:
    # Building a Store of ~150 system roots costs far more than one verification: once.
    anchors = trust_store(ca_file)
    return Store(list(anchors)) if anchors else None


def _wildcard_match(pattern: str, name: str) -> bool:
    # RFC 6125 section 6.4.3: a wildcard only as the whole leftmost label, matching one label.
    p, n = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if p == n:
        return True
    if p.startswith("*.") and "." in n:
        return n.split(".", 1)[1] == p[2:] and n.split(".", 1)[0] != ""
    return False


def name_matches(cert: x509.Certificate, name: str) -> bool:
    """True when the SAN covers ``name`` (a DNS name or an IP literal)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return any(_wildcard_match(p, name) for p in san.get_values_for_type(x509.DNSName))
    return ip in san.get_values_for_type(x509.IPAddress)


def analyze_chain(
    chain_der: Sequence[bytes],
    name: str | None,
    *,
    ca_file: str | None = None,
    now: dt.datetime | None = None,
) -> CertFacts:
    """Facts about the leaf and the verdict on the chain for ``name``; never raises."""
    facts = CertFacts()
    if not chain_der:
        facts.cert_valid = False
        facts.cert_failure = Failure.SSL_INVALID_CERTIFICATE
        facts.cert_error = "the server sent no certificate"
        return facts
    facts.chain_sha256 = [hashlib.sha256(d).hexdigest() for d in chain_der]
    facts.cert_sha256 = facts.chain_sha256[0]
    try:
        chain = [x509.load_der_x509_certificate(d) for d in chain_der]
    except ValueError as exc:
        facts.cert_valid = False
        facts.cert_failure = Failure.SSL_INVALID_CERTIFICATE
        facts.cert_error = f"unparsable certificate: {exc}"
        return facts
    leaf = chain[0]
    when = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    facts.cert_subject = leaf.subject.rfc4514_string()
    facts.cert_issuer = leaf.issuer.rfc4514_string()
    facts.cert_not_before = leaf.not_valid_before_utc.replace(tzinfo=None)
    facts.cert_not_after = leaf.not_valid_after_utc.replace(tzinfo=None)
    facts.cert_name_match = name_matches(leaf, name) if name else None
    if not leaf.not_valid_before_utc <= when <= leaf.not_valid_after_utc:
        facts.cert_valid = False
        facts.cert_failure = Failure.SSL_INVALID_CERTIFICATE
        facts.cert_error = "the leaf certificate is expired or not yet valid"
        return facts
    if name and not facts.cert_name_match:
        facts.cert_valid = False
        facts.cert_failure = Failure.SSL_INVALID_HOSTNAME
        facts.cert_error = f"the certificate does not cover {name!r}"
        return facts
    try:
        store = _store(ca_file)
    except (OSError, ValueError) as exc:
        facts.cert_error = f"cannot read trust anchors: {exc}"
        return facts
    if store is None:
        facts.cert_error = "no trust anchors to verify against"
        return facts
    try:
        subject: DNSName | IPAddress
        try:
            subject = IPAddress(ipaddress.ip_address(name or ""))
        except ValueError:
            subject = DNSName(name or "")
        verifier = PolicyBuilder().store(store).time(when).build_server_verifier(subject)
        verifier.verify(leaf, chain[1:])
    except VerificationError as exc:
        facts.cert_valid = False
        facts.cert_failure = Failure.SSL_UNKNOWN_AUTHORITY
        facts.cert_error = str(exc)
        return facts
    except ValueError as exc:  # e.g. a name the verifier cannot represent
        facts.cert_valid = False
        facts.cert_failure = Failure.SSL_INVALID_CERTIFICATE
        facts.cert_error = str(exc)
        return facts
    facts.cert_valid = True
    return facts
