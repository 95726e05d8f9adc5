"""An HTTP client pinned to one DoH server's address, sending the campaign's identity. No I/O.

Shared by dns.query's DoH transport (probes/dns/transports.py) and naming.resolve's dns
method over DoH (probes/naming/methods/dns.py), which live in probe areas that do not
import each other (tests/test_probe_layering.py).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx2


def doh_client(
    address: str, *, verify: ssl.SSLContext | bool, headers: Mapping[str, str]
) -> httpx2.AsyncClient:
    """An HTTP/1.1+2 client for one DoH server, pinned to ``address`` whatever the URL's
    name (so no system resolver is consulted), sending ``headers`` (the campaign's
    User-Agent and From, probes/politeness.py) on every request."""
    import dns.asyncbackend
    import httpx2

    backend = dns.asyncbackend.get_default_backend()
    transport = backend.get_transport_class()(  # type: ignore[no-untyped-call]
        local_address=None,
        http1=True,
        http2=True,
        verify=verify,
        local_port=0,
        bootstrap_address=address,
        resolver=None,
        family=0,
    )
    return httpx2.AsyncClient(
        http1=True, http2=True, verify=verify, transport=transport, headers=dict(headers)
    )
