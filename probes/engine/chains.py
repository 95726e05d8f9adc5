"""Follow-up chains: which probe's result spawns which other probe's tasks. No I/O.

One table (``CHAINS``), keyed by probe names as data, so no probe names another one and
the probe areas never import each other: a probe records what it saw, and the engine
asks the table, after the task's last attempt, which follow-up tasks that observation
spawns (docs/campaigns.md, "Follow-ups"). Whether a chain is on is still the parent
probe's setting (``transport.tls``'s ``quic_follow_up``, ``transport.quic``'s
``path_follow_up``), so campaign files keep working. A probe that follows up with
itself (dns.query's TCP retry after a truncated answer) still does so on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fragscope.db.models.transport import PATH_TESTS
from fragscope.db.vocab import Failure, Operation
from fragscope.probes.base import FollowUp, Observation, Task

# Failures where the UDP path itself is in doubt (PATHspider: is it the path or the host?).
PATH_SUSPECT = frozenset(
    {
        Failure.QUIC_NO_REPLY,
        Failure.QUIC_HANDSHAKE_TIMEOUT,
        Failure.CONNECTION_REFUSED,
        Failure.HOST_UNREACHABLE,
        Failure.NETWORK_UNREACHABLE,
    }
)

Spawn = Callable[[str, Any, Task, Observation], list[FollowUp]]
"""(child probe, parent probe's config, parent task, its final observation) -> tasks."""


@dataclass(frozen=True, slots=True)
class Chain:
    """``parent``'s observations may spawn ``child`` tasks, as ``spawn`` decides."""

    parent: str
    child: str
    spawn: Spawn

    def follow_ups(self, config: Any, task: Task, obs: Observation) -> list[FollowUp]:
        return self.spawn(self.child, config, task, obs)


def quic_after_tls(child: str, config: Any, task: Task, obs: Observation) -> list[FollowUp]:
    """QUIC on the address TLS was measured on, so TCP and QUIC are compared on one IP.

    ``quic_follow_up = "advertised"`` follows each h3 alternative on the same host (empty
    or equal host in Alt-Svc, RFC 7838 section 2) to its port; ``"always"`` probes the
    TCP port as well; ``"never"`` (the default) spawns nothing.
    """
    mode = getattr(config, "quic_follow_up", "never")
    fields = obs.fields
    if mode == "never" or "address" not in fields:
        return []
    base = {"address": fields["address"], "sni": fields.get("sni")}
    ports: list[int] = []
    if mode == "always":
        ports.append(int(fields["port"]))
    for alt in fields.get("alt_svc") or []:
        same_host = alt["host"] in ("", fields.get("sni"))
        if same_host and (alt["alpn"] == "h3" or alt["alpn"].startswith("h3-")):
            ports.append(int(alt["port"]))
    return [
        FollowUp(
            probe=child,
            target=task.target,
            key_suffix=f"quic/{fields['address']}/{port}",
            params={**base, "port": port},
        )
        for port in dict.fromkeys(ports)
    ]


def path_after_quic(child: str, config: Any, task: Task, obs: Observation) -> list[FollowUp]:
    """The path tests on the address of a QUIC handshake that drew silence or ICMP
    (issue 8), when ``path_follow_up`` is on."""
    if not getattr(config, "path_follow_up", False):
        return []
    if obs.failure not in PATH_SUSPECT or obs.failed_operation != Operation.QUIC_HANDSHAKE:
        return []
    f = obs.fields
    return [
        FollowUp(
            probe=child,
            target=task.target,
            key_suffix=f"path/{f['address']}/{f['port']}/{test}",
            params={"address": f["address"], "port": f["port"], "test": test},
        )
        for test in PATH_TESTS
    ]


CHAINS: tuple[Chain, ...] = (
    Chain("transport.tls", "transport.quic", quic_after_tls),
    Chain("transport.quic", "path.udp443", path_after_quic),
)


def _by_parent(chains: tuple[Chain, ...]) -> Mapping[str, tuple[Chain, ...]]:
    out: dict[str, tuple[Chain, ...]] = {}
    for chain in chains:
        out[chain.parent] = (*out.get(chain.parent, ()), chain)
    return out


BY_PARENT = _by_parent(CHAINS)


def chains_from(parent: str) -> tuple[Chain, ...]:
    """The chains whose parent is the probe named ``parent`` (often none)."""
    return BY_PARENT.get(parent, ())


def follow_ups(parent: str, config: Any, task: Task, obs: Observation) -> list[FollowUp]:
    """Every follow-up task ``obs``, the final observation of ``task`` by the probe
    named ``parent`` (configured with ``config``), spawns through the table."""
    return [fu for chain in chains_from(parent) for fu in chain.follow_ups(config, task, obs)]
