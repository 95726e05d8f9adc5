"""DNS health checks: one real DNS query with an expected answer. Does network I/O (lab only).

A check is satisfied only by the planted answer (rcode, rdata, and the AD flag where the
zone is signed). Queries go over the listener's own transport: UDP, TCP, DoT, DoH or DoQ.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from fragscope.lab.core.guard import require_lab_address
from fragscope.lab.core.health import Result, Target

PROTOCOLS = ("udp", "tcp", "tls", "https", "quic")


@dataclass(frozen=True)
class DnsCheck:
    """Ask ``qname``/``rdtype``; expect ``rcode`` and, if given, exactly ``answers``."""

    qname: str
    rdtype: str = "A"
    answers: frozenset[str] | None = None
    rcode: str = "NOERROR"
    want_ad: bool = False
    dnssec_ok: bool = False
    min_answers: int = 0  # at least this many records of ``rdtype`` (e.g. a DNSKEY exists)

    def describe(self) -> str:
        want = ",".join(sorted(self.answers)) if self.answers is not None else self.rcode
        return f"{self.qname} {self.rdtype} -> {want}{' +AD' if self.want_ad else ''}"

    def run(self, target: Target) -> Result:
        return run_check(self, target)


def query(
    qname: str,
    rdtype: str,
    target: Target,
    *,
    dnssec_ok: bool = False,
    https_path: str = "/dns-query",
) -> dns.message.Message:
    """One query over ``target.protocol``; raises dnspython's exceptions on failure."""
    address, port, protocol = target.address, target.port, target.protocol
    ca_file, tls_hostname, timeout = target.ca_file, target.tls_hostname, target.timeout
    require_lab_address(address, "query")
    q = dns.message.make_query(qname, rdtype, want_dnssec=dnssec_ok)
    if protocol == "udp":
        return dns.query.udp(q, address, port=port, timeout=timeout)
    if protocol == "tcp":
        return dns.query.tcp(q, address, port=port, timeout=timeout)
    if protocol == "tls":
        ctx = ssl.create_default_context(cafile=ca_file)
        return dns.query.tls(
            q, address, port=port, timeout=timeout, ssl_context=ctx, server_hostname=tls_hostname
        )
    if protocol == "https":
        host = f"[{address}]" if ":" in address else address
        url = f"https://{host}:{port}{https_path}"
        verify = ssl.create_default_context(cafile=ca_file) if ca_file else True
        return dns.query.https(q, url, timeout=timeout, verify=verify)
    if protocol == "quic":
        return dns.query.quic(
            q,
            address,
            port=port,
            timeout=timeout,
            verify=ca_file or True,
            server_hostname=tls_hostname,
        )
    raise ValueError(f"unknown protocol {protocol!r} (known: {', '.join(PROTOCOLS)})")


def answers_of(msg: dns.message.Message, rdtype: str) -> set[str]:
    want = dns.rdatatype.from_text(rdtype)
    return {rd.to_text() for rrset in msg.answer if rrset.rdtype == want for rd in rrset}


def run_check(check: DnsCheck, target: Target) -> Result:
    """Run ``check`` once; never raises for network problems (they become the detail)."""
    try:
        msg = query(check.qname, check.rdtype, target, dnssec_ok=check.dnssec_ok or check.want_ad)
    except Exception as exc:  # any transport failure means "not healthy yet"
        return Result(False, f"{type(exc).__name__}: {exc}".strip())
    rcode = dns.rcode.to_text(msg.rcode())
    if rcode != check.rcode:
        return Result(False, f"rcode {rcode}, want {check.rcode}")
    if check.answers is not None:
        got = answers_of(msg, check.rdtype)
        if got != set(check.answers):
            return Result(False, f"answers {sorted(got)}, want {sorted(check.answers)}")
    if len(answers_of(msg, check.rdtype)) < check.min_answers:
        return Result(False, f"fewer than {check.min_answers} {check.rdtype} records")
    if check.want_ad and not msg.flags & dns.flags.AD:
        return Result(False, "AD flag not set")
    return Result(True, "ok")
