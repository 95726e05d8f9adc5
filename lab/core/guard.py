"""The lab's one address guard: which addresses lab code may contact or assign. No I/O.

The rule: an address is the lab's when it is inside 10.99.0.0/16 or fd99::/16, the lab's
own ranges (every service, egress, transit and vantage address of lab.core.topology's
plan). Nothing else passes, loopback included: the lab's services never listen on the
host's loopback, so a lab health check or DoQ upstream aimed at 127.0.0.1 would reach
whatever else listens there, not the lab. Outside the lab namespaces these ranges are
unreachable routes on the host (topology.install_safety_routes), so a packet to a lab
address never leaves the machine.
"""

from __future__ import annotations

import ipaddress

LAB_NETS = (ipaddress.ip_network("10.99.0.0/16"), ipaddress.ip_network("fd99::/16"))


class NotALabAddress(ValueError):
    """Lab code was asked to contact or assign an address outside the lab's ranges."""


def in_lab(address: str) -> bool:
    """True when ``address`` is inside the lab's own networks (safe to contact)."""
    ip = ipaddress.ip_address(address)
    return any(ip in net for net in LAB_NETS)


def require_lab_address(address: str, what: str = "contact") -> str:
    """``address`` itself; raises :class:`NotALabAddress` (a ValueError) when not the lab's."""
    if not in_lab(address):
        nets = ", ".join(str(n) for n in LAB_NETS)
        raise NotALabAddress(f"refusing to {what} {address}: not a lab address ({nets})")
    return address
