"""The declarative vantage model: what a vantage does to its path, as plain data. No I/O.

A vantage is ``clean`` (the host itself) or a client namespace behind a middlebox whose
behaviour is described here: censorship rules (drop or ICMP-reject one protocol/port to one
address), deterministic loss, a fixed one-way delay, or a DPI censor reading the TLS
ClientHello (lab.dpi.policy). The presets build the lab vantages;
:func:`vantage_from_mapping` reads the same data from a TOML table with errors that name
the offending field.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fragscope.lab.core.schema import TruthError
from fragscope.lab.dpi.policy import DpiPolicy, Mode, TcpAction, blocked_names

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Interface names are built from the vantage name (see layout.py) and Linux caps them at
# 15 bytes (IFNAMSIZ - 1), so names stay short and shell-free.
_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,10}[a-z0-9]$|^[a-z]$")


class VantageError(TruthError):
    """A vantage description is invalid or a vantage unknown; the message names the vantage
    and the field. A TruthError: the vantages are the truth's vantages section."""


class Kind(StrEnum):
    """The lab's vantage kinds (docs/architecture.md §6)."""

    CLEAN = "clean"
    CENSORED = "censored"
    LOSSY = "lossy"
    DISTANT = "distant"
    DPI = "dpi"  # a userspace censor reading the ClientHello (lab.dpi)


class Action(StrEnum):
    """What the middlebox does to matching packets.

    ``reject-*`` answer with ICMP (RFC 792 type 3; ICMPv6 RFC 4443 type 1): code 13
    "communication administratively prohibited" (a connected UDP socket on Linux sees
    EHOSTUNREACH), or code 3 "port unreachable" (ECONNREFUSED). ``drop`` says nothing, so
    the client times out. TCP only: ``reset`` answers a SYN with a RST (the client sees
    ECONNREFUSED), as TCP/443 censors do; ``drop-ecn-setup`` drops only ECN-setup SYNs
    (SYN with ECE and CWR, RFC 3168 section 6.1.1), the ossified middlebox PATHspider
    measures: plain connections work, ECN negotiation never starts.
    """

    DROP = "drop"
    REJECT_ADMIN = "reject-admin-prohibited"
    REJECT_PORT = "reject-port-unreachable"
    RESET = "reset"
    DROP_ECN_SETUP = "drop-ecn-setup"

    @property
    def blocks_connections(self) -> bool:
        """Every connection attempt matching the rule fails (not only ECN-setup SYNs)."""
        return self is not Action.DROP_ECN_SETUP


class Protocol(StrEnum):
    UDP = "udp"
    TCP = "tcp"


@dataclass(frozen=True)
class Block:
    """One censorship rule: ``action`` for ``protocol``/``port`` towards ``address``."""

    address: Address
    action: Action
    protocol: Protocol = Protocol.UDP
    port: int = 443


TCP_ONLY = frozenset({Action.RESET, Action.DROP_ECN_SETUP})


@dataclass(frozen=True)
class Loss:
    """Deterministic loss: of every ``every`` client-to-upstream packets, the first
    ``drop`` are dropped (nft ``numgen inc mod every < drop``), so any ``k * every``
    consecutive packets lose exactly ``k * drop``. Not random: tests count exactly."""

    drop: int = 3
    every: int = 10


@dataclass(frozen=True)
class Vantage:
    """A vantage as data. ``resolver`` is the recursive resolver its campaign section
    uses (for ``censored``, the lab's manipulating resolver); ``delay_ms`` is added to
    every packet in each direction by the middlebox relay; ``dpi`` is the censor process
    the middlebox runs (lab.dpi); ``also_resolvers`` are further resolvers the vantage's
    network offers, which its campaign tests beside ``resolver``."""

    name: str
    kind: Kind
    resolver: Address | None = None
    also_resolvers: tuple[Address, ...] = ()
    blocks: tuple[Block, ...] = ()
    loss: Loss | None = None
    delay_ms: int = 0
    dpi: DpiPolicy | None = None

    def __post_init__(self) -> None:
        where = f"vantage {self.name!r}"
        if not _NAME_RE.match(self.name):
            raise VantageError(
                f"{where}: field 'name' must match {_NAME_RE.pattern} (it becomes part of "
                "interface and namespace names)"
            )
        if self.delay_ms < 0 or self.delay_ms > 10_000:
            raise VantageError(f"{where}: field 'delay_ms' must be in 0..10000")
        if self.loss is not None and not 0 < self.loss.drop < self.loss.every <= 1_000_000:
            raise VantageError(f"{where}: field 'loss' needs 0 < drop < every")
        for block in self.blocks:
            if not 0 < block.port < 65536:
                raise VantageError(f"{where}: field 'blocks' has port {block.port} out of range")
            if block.action in TCP_ONLY and block.protocol is not Protocol.TCP:
                raise VantageError(f"{where}: action {block.action.value!r} is TCP only")
        if self.kind is Kind.CLEAN and self.needs_middlebox:
            raise VantageError(f"{where}: a clean vantage cannot block, lose or delay")

    @property
    def needs_middlebox(self) -> bool:
        """False for the host itself: nothing to build."""
        return bool(self.blocks or self.loss or self.delay_ms or self.dpi)


def _address(value: object, *, where: str) -> Address:
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        raise VantageError(f"{where}: {value!r} is not an IP address") from None


def clean(*, resolver: str | None = None, name: str = "clean") -> Vantage:
    """The host itself."""
    res = _address(resolver, where=f"vantage {name!r}: field 'resolver'") if resolver else None
    return Vantage(name=name, kind=Kind.CLEAN, resolver=res)


def censored(
    *,
    drop: Iterable[str],
    reject: Iterable[str],
    reject_with: Action = Action.REJECT_ADMIN,
    resolver: str | None = None,
    name: str = "censored",
    port: int = 443,
    tcp_reset: Iterable[str] = (),
    drop_ecn_setup: Iterable[str] = (),
    also_resolvers: Iterable[str] = (),
) -> Vantage:
    """UDP/``port`` dropped to the ``drop`` hosts and ICMP-rejected to the ``reject`` hosts
    (TCP left open: "QUIC blocked, TCP fine"); TCP/``port`` reset to the ``tcp_reset`` hosts
    (TCP blocked, QUIC fine: T9's asymmetry); ECN-setup SYNs to the ``drop_ecn_setup``
    hosts dropped (O1's ossification); ``also_resolvers`` tested beside ``resolver``."""
    where = f"vantage {name!r}"
    if not reject_with.value.startswith("reject-"):
        raise VantageError(f"{where}: field 'reject_with' must be a reject action")
    if not 0 < port < 65536:
        raise VantageError(f"{where}: field 'port' must be in 1..65535, not {port}")
    blocks = [
        Block(_address(a, where=f"{where}: field 'drop'"), Action.DROP, port=port) for a in drop
    ]
    blocks += [
        Block(_address(a, where=f"{where}: field 'reject'"), reject_with, port=port) for a in reject
    ]
    for field_name, hosts, action in (
        ("tcp_reset", tcp_reset, Action.RESET),
        ("drop_ecn_setup", drop_ecn_setup, Action.DROP_ECN_SETUP),
    ):
        blocks += [
            Block(_address(a, where=f"{where}: field {field_name!r}"), action, Protocol.TCP, port)
            for a in hosts
        ]
    res = _address(resolver, where=f"{where}: field 'resolver'") if resolver else None
    also = tuple(_address(a, where=f"{where}: field 'also_resolvers'") for a in also_resolvers)
    return Vantage(
        name=name, kind=Kind.CENSORED, resolver=res, blocks=tuple(blocks), also_resolvers=also
    )


def lossy(
    *, drop: int = 3, every: int = 10, resolver: str | None = None, name: str = "lossy"
) -> Vantage:
    """``drop`` of every ``every`` packets lost, deterministically."""
    res = _address(resolver, where=f"vantage {name!r}: field 'resolver'") if resolver else None
    return Vantage(name=name, kind=Kind.LOSSY, resolver=res, loss=Loss(drop=drop, every=every))


def distant(*, delay_ms: int = 150, resolver: str | None = None, name: str = "distant") -> Vantage:
    """Every packet held ``delay_ms`` in each direction (an RTT of twice that added)."""
    res = _address(resolver, where=f"vantage {name!r}: field 'resolver'") if resolver else None
    return Vantage(name=name, kind=Kind.DISTANT, resolver=res, delay_ms=delay_ms)


def dpi(
    *,
    mode: Mode,
    blocked_sni: Iterable[str],
    resolver: str | None = None,
    name: str = "dpi",
    block_ech: bool = False,
    tcp_action: TcpAction = TcpAction.DROP,
    residual_s: float = 10.0,
    trigger_probability: float = 1.0,
    seed: int = 0,
) -> Vantage:
    """A path through a DPI censor (lab.dpi.policy says what each field does)."""
    where = f"vantage {name!r}"
    res = _address(resolver, where=f"{where}: field 'resolver'") if resolver else None
    try:
        policy = DpiPolicy(
            mode=mode,
            blocked_sni=blocked_names(blocked_sni),
            block_ech=block_ech,
            tcp_action=tcp_action,
            residual_s=residual_s,
            trigger_probability=trigger_probability,
            seed=seed,
        )
    except TruthError as exc:
        raise VantageError(f"{where}: {exc}") from None
    return Vantage(name=name, kind=Kind.DPI, resolver=res, dpi=policy)


def _dpi_from_mapping(name: str, data: Mapping[str, Any], resolver: str | None) -> Vantage:
    where = f"vantage {name!r}"

    def choice(key: str, enum: type[Mode] | type[TcpAction], default: str) -> Any:
        raw = data.get(key, default)
        try:
            return enum(raw)
        except ValueError:
            known = ", ".join(repr(e.value) for e in enum)
            raise VantageError(f"{where}: field {key!r} is {raw!r}, expected {known}") from None

    def number(key: str, default: float) -> float:
        value = data.get(key, default)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise VantageError(f"{where}: field {key!r} must be a number")
        return float(value)

    names = data.get("blocked_sni", [])
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise VantageError(f"{where}: field 'blocked_sni' must be a list of host names")
    block_ech = data.get("block_ech", False)
    if not isinstance(block_ech, bool):
        raise VantageError(f"{where}: field 'block_ech' must be true or false")
    seed = data.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise VantageError(f"{where}: field 'seed' must be an integer")
    return dpi(
        mode=choice("mode", Mode, ""),
        blocked_sni=names,
        resolver=resolver,
        name=name,
        block_ech=block_ech,
        tcp_action=choice("tcp_action", TcpAction, TcpAction.DROP.value),
        residual_s=number("residual_s", 10.0),
        trigger_probability=number("trigger_probability", 1.0),
        seed=seed,
    )


def vantage_from_mapping(name: str, data: Mapping[str, Any]) -> Vantage:
    """A vantage from a TOML table such as::

        [vantages.censored]
        kind = "censored"
        resolver = "10.99.53.66"
        drop = ["10.99.80.1"]
        reject = ["10.99.80.2"]
        reject_with = "reject-admin-prohibited"   # or reject-port-unreachable

    Unknown keys are an error (a typo must not silently build a clean path).
    """
    where = f"vantage {name!r}"
    allowed = {
        Kind.CLEAN: {"kind", "resolver"},
        Kind.CENSORED: {
            "kind",
            "resolver",
            "drop",
            "reject",
            "reject_with",
            "port",
            "tcp_reset",
            "also_resolvers",
            "drop_ecn_setup",
        },
        Kind.LOSSY: {"kind", "resolver", "drop", "every"},
        Kind.DISTANT: {"kind", "resolver", "delay_ms"},
        Kind.DPI: {
            "kind",
            "resolver",
            "mode",
            "blocked_sni",
            "block_ech",
            "tcp_action",
            "residual_s",
            "trigger_probability",
            "seed",
        },
    }
    raw_kind = data.get("kind", name)
    try:
        kind = Kind(raw_kind)
    except ValueError:
        choices = ", ".join(k.value for k in Kind)
        raise VantageError(
            f"{where}: field 'kind' is {raw_kind!r}, expected one of {choices}"
        ) from None
    unknown = sorted(set(data) - allowed[kind])
    if unknown:
        raise VantageError(f"{where}: unknown field {unknown[0]!r} for kind {kind.value!r}")
    resolver = data.get("resolver")
    if resolver is not None and not isinstance(resolver, str):
        raise VantageError(f"{where}: field 'resolver' must be a string")

    def integer(key: str, default: int) -> int:
        value = data.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise VantageError(f"{where}: field {key!r} must be an integer")
        return value

    def addresses(key: str) -> list[str]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise VantageError(f"{where}: field {key!r} must be a list of addresses")
        return value

    if kind is Kind.CLEAN:
        return clean(resolver=resolver, name=name)
    if kind is Kind.LOSSY:
        return lossy(
            drop=integer("drop", 3), every=integer("every", 10), resolver=resolver, name=name
        )
    if kind is Kind.DISTANT:
        return distant(delay_ms=integer("delay_ms", 150), resolver=resolver, name=name)
    if kind is Kind.DPI:
        return _dpi_from_mapping(name, data, resolver)
    raw_action = data.get("reject_with", Action.REJECT_ADMIN.value)
    try:
        action = Action(raw_action)
    except ValueError:
        raise VantageError(
            f"{where}: field 'reject_with' is {raw_action!r}, expected "
            f"{Action.REJECT_ADMIN.value!r} or {Action.REJECT_PORT.value!r}"
        ) from None
    return censored(
        drop=addresses("drop"),
        reject=addresses("reject"),
        reject_with=action,
        resolver=resolver,
        name=name,
        port=integer("port", 443),
        tcp_reset=addresses("tcp_reset"),
        drop_ecn_setup=addresses("drop_ecn_setup"),
        also_resolvers=addresses("also_resolvers"),
    )
