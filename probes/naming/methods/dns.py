"""``dns``: a name through any DNS resolver URL (alternative roots, bridges). Does I/O.

Resolver URLs: ``udp://IP[:port]``, ``tcp://IP[:port]``, ``tls://IP[:port]`` (DoT),
``https://HOST/dns-query`` (DoH), ``quic://IP[:port]`` (DoQ). dnspython does the wire
work behind :func:`query`, the one function to swap for the DNS probe's transports once
they are merged. NXDOMAIN is the outcome ``not_found`` (the resolver answered).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype

from fragscope.db.vocab import Failure, Operation
from fragscope.probes.doh import doh_client
from fragscope.probes.errors import MeasurementError, classify
from fragscope.probes.naming.methods.base import (
    NO_RECORDS,
    NOT_FOUND,
    RESOLVED,
    MethodResult,
    Request,
    Value,
)
from fragscope.probes.retransmit import udp_retransmitting

DEFAULT_QTYPES = ("A", "AAAA", "TXT")
# A lookup asks several questions, so one lost datagram must not fail it: each UDP query
# is retransmitted within the same overall timeout (probes/retransmit.py).
_PORTS = {"udp": 53, "tcp": 53, "tls": 853, "quic": 853, "https": 443}


async def _address_of(host: str, port: int) -> str:
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        detail = f"{host}: {exc}"
        raise MeasurementError(Failure.DNS_NXDOMAIN_ERROR, Operation.RESOLVE, detail) from exc
    return str(infos[0][4][0])


def _tls_context(ca_file: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file)


async def query(url: str, qname: str, qtype: str, *, req: Request) -> dns.message.Message:
    """One query over the transport the URL names; failures raise MeasurementError."""
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme not in _PORTS or not parts.hostname:
        raise MeasurementError(
            Failure.INVALID_INPUT, Operation.DNS_ROUND_TRIP, f"unsupported resolver URL {url!r}"
        )
    host = parts.hostname
    port = parts.port or _PORTS[scheme]
    if scheme != "https":
        req.policy.require(host, Operation.DNS_ROUND_TRIP)  # the other schemes take IPs
    q = dns.message.make_query(qname, qtype, use_edns=True)
    # The engine's endpoint URLs carry the TLS name to authenticate as ``#authname``.
    auth_name = req.options.get("server_hostname") or parts.fragment or None
    verify: bool | str = bool(req.options.get("verify_tls", True))
    if isinstance(req.options.get("ca_file"), str):
        verify = str(req.options["ca_file"])
    try:
        if scheme == "udp":
            return await udp_retransmitting(q, host, port, timeout=req.timeout)
        if scheme == "tcp":
            return await dns.asyncquery.tcp(q, host, port=port, timeout=req.timeout)
        if scheme == "tls":
            ctx = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
            if verify is False:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            return await dns.asyncquery.tls(
                q,
                host,
                port=port,
                timeout=req.timeout,
                ssl_context=ctx,
                server_hostname=auth_name,
            )
        if scheme == "quic":
            return await dns.asyncquery.quic(
                q,
                host,
                port=port,
                timeout=req.timeout,
                verify=verify,
                server_hostname=auth_name,
            )
        # DoH: check the address the host name resolves to, and pin dnspython to it.
        address = await _address_of(host, port)
        req.policy.require(address, Operation.DNS_ROUND_TRIP)
        tls = _tls_context(verify) if isinstance(verify, str) else verify
        async with doh_client(address, verify=tls, headers=req.headers) as client:
            try:
                return await dns.asyncquery.https(
                    q, url, timeout=req.timeout, client=client, bootstrap_address=address
                )
            except ValueError as exc:
                # dnspython reports a non-2xx DoH status (RFC 8484 section 4.2.1) as a
                # ValueError: the server answered, with an HTTP error.
                raise MeasurementError(
                    Failure.HTTP_ERROR, Operation.HTTP_REQUEST, str(exc)[:500]
                ) from exc
    except MeasurementError:
        raise
    except Exception as exc:
        c = classify(exc, Operation.DNS_ROUND_TRIP)
        raise MeasurementError(
            c.failure, c.operation or Operation.DNS_ROUND_TRIP, c.detail
        ) from exc


async def resolve_dns(req: Request) -> MethodResult:
    qtypes = tuple(req.options.get("qtypes", DEFAULT_QTYPES))
    values: list[Value] = []
    rcodes: dict[str, str] = {}
    nxdomain = False
    for qtype in qtypes:
        msg = await query(req.endpoint, req.name, qtype, req=req)
        rcode = msg.rcode()
        rcodes[qtype] = dns.rcode.to_text(rcode)
        if rcode == dns.rcode.NXDOMAIN:
            nxdomain = True
            continue
        if rcode == dns.rcode.SERVFAIL:
            raise MeasurementError(Failure.DNS_SERVFAIL_ERROR, Operation.DNS_ROUND_TRIP, qtype)
        if rcode == dns.rcode.REFUSED:
            raise MeasurementError(Failure.DNS_REFUSED_ERROR, Operation.DNS_ROUND_TRIP, qtype)
        if rcode != dns.rcode.NOERROR:
            raise MeasurementError(
                Failure.DNS_SERVER_MISBEHAVING, Operation.DNS_ROUND_TRIP, rcodes[qtype]
            )
        for rrset in msg.answer:
            kind = dns.rdatatype.to_text(rrset.rdtype).lower()
            for rdata in rrset:
                values.append(Value(kind, rrset.name.to_text(), rdata.to_text()))
    outcome = RESOLVED if values else (NOT_FOUND if nxdomain else NO_RECORDS)
    return MethodResult(outcome=outcome, values=values, detail={"rcodes": rcodes})
