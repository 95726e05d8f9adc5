"""Network safety: which destinations fragscope may contact. No I/O (pure checks).

Every probe asks the policy before sending to an address it learned at run time (a
resolved target, a referral's glue, a gateway URL), and the engine asks before it starts a
task. A refused destination becomes a ``blocked_by_policy`` row and no packet is sent.
The allowlist comes from the campaign's ``[safety]`` section and FRAGSCOPE_ALLOWED_NETS
(the test suite sets it to loopback and the lab's networks); the blocklist is a ZMap-style
file of networks that are never contacted.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from fragscope.db.vocab import Failure, Operation
from fragscope.probes.errors import MeasurementError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ENV_ALLOWED = "FRAGSCOPE_ALLOWED_NETS"


def parse_networks(spec: Iterable[str]) -> tuple[Network, ...]:
    """Networks from strings such as ``127.0.0.0/8`` or ``::1`` (a host is a /32 or /128)."""
    return tuple(ipaddress.ip_network(s.strip(), strict=False) for s in spec if s.strip())


@dataclass(frozen=True)
class NetworkPolicy:
    """An allowlist (None = everything not blocked) and a blocklist of networks."""

    allowed: tuple[Network, ...] | None = None
    blocked: tuple[Network, ...] = field(default_factory=tuple)

    @classmethod
    def from_env(
        cls, *, extra_allowed: Iterable[str] = (), blocked: Iterable[str] = ()
    ) -> NetworkPolicy:
        """The policy in force: FRAGSCOPE_ALLOWED_NETS, else the campaign's allowlist.

        When the variable is set it is the whole allowlist: a campaign cannot widen it
        (that is what keeps a test from reaching the Internet). Otherwise the campaign's
        allowlist applies, and no allowlist means every address not on the blocklist.
        """
        env = os.environ.get(ENV_ALLOWED)
        extra = tuple(extra_allowed)
        if env:
            allowed: tuple[Network, ...] | None = parse_networks(env.split(","))
        elif extra:
            allowed = parse_networks(extra)
        else:
            allowed = None
        return cls(allowed=allowed, blocked=parse_networks(blocked))

    def allows(self, address: str) -> bool:
        """True when ``address`` (an IP literal) may be contacted."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if any(ip in net for net in self.blocked):
            return False
        return self.allowed is None or any(ip in net for net in self.allowed)

    def require(self, address: str, operation: Operation) -> None:
        """Raise ``blocked_by_policy`` unless ``address`` may be contacted."""
        if not self.allows(address):
            raise MeasurementError(
                Failure.BLOCKED_BY_POLICY, operation, f"{address} is outside the allowed networks"
            )


ALLOW_ALL = NetworkPolicy()
