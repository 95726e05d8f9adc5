"""A UDP DNS query retransmitted within one timeout, as a stub resolver does (shared by the
dns and naming areas, so it lives outside both). Does I/O.

One lost datagram must not fail a lookup that asks several questions (naming.resolve's
dns method) or walks several servers (dns.iterative): each UDP query is sent again when no
reply came, as RFC 1123 section 6.1.3.3 asks of a resolver, within the same overall
timeout (each try waits timeout / UDP_TRIES). Streams retransmit in the kernel.
"""

from __future__ import annotations

import dns.asyncquery
import dns.exception
import dns.message

UDP_TRIES = 3


async def udp_retransmitting(
    q: dns.message.Message, host: str, port: int = 53, *, timeout: float
) -> dns.message.Message:
    """``q`` over UDP, sent up to :data:`UDP_TRIES` times until a reply comes; raises
    dnspython's Timeout when none does within ``timeout`` in all."""
    per_try = timeout / UDP_TRIES
    for _ in range(UDP_TRIES - 1):
        try:
            return await dns.asyncquery.udp(q, host, port=port, timeout=per_try)
        except dns.exception.Timeout:
            continue  # lost on the way there or back: send it again
    return await dns.asyncquery.udp(q, host, port=port, timeout=per_try)
