"""``transport.sni``: SNI A/B test on one address over TCP+TLS or QUIC. Does I/O.

Censored Planet's idea (docs/indicators.md, T10): send the target's own name and an
innocuous control name to the same address; a censor that reads the SNI blocks only the
first, a path that drops the address or the port blocks both. Per task, one address and
one transport, in this order:

1. ``control_first``: the control SNI, before any real SNI could trigger a block;
2. ``real_first`` then ``real_repeat``: the real SNI twice. A censor that decides beside
   the path (the GFW's QUIC filter) lets the first handshake through and blocks what
   follows, so a first success alone is not "no censorship";
3. ``control_later``: the control again on the same 3-tuple: failing now, after working
   in step 1, is residual blocking of the 3-tuple (the GFW keeps it 2-3 minutes);
4. QUIC only, ``vn``: the Version Negotiation probe (transport.quic_vn's code), a third
   signal that tells "UDP/443 lost" from "this QUIC handshake dropped".

The tasks themselves run in a seeded random order within a run (``shuffled_in_round``,
probes/engine/planner.py), each recording its place (``round_position``). A TLS alert
answers a control step but refuses a real-SNI one, as an injected RST would (``classify``).

Each step is up to ``tries`` handshakes (k) and fails only when all k fail: loss makes a
step retry, it does not make a block (the validity rule, docs/indicators.md "Loss is not
censorship"). A step that needed retries on the control marks the path lossy, and a
verdict that rests on lost real-SNI handshakes on such a path is ``inconclusive``.

Residual blocking is waited out: after a task saw it, the next task on the same 3-tuple
(address, port, transport) first sleeps until ``residual_s`` has passed, so it neither
poisons the next control nor goes unseen. The handshakes themselves are
transport.tls's and transport.quic's (without their HTTP request), so hostile servers and
the network policy are handled exactly as there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from fragscope.db.ids import stable_hash64
from fragscope.db.vocab import Failure, Operation
from fragscope.probes import config_rules as rules
from fragscope.probes.base import ROUND_POSITION, Endpoint, Observation, Task, TaskParams
from fragscope.probes.errors import MeasurementError
from fragscope.probes.registry import register
from fragscope.probes.transport.frame import TransportProbe
from fragscope.probes.transport.quic import QuicConfig, QuicProbe
from fragscope.probes.transport.tls import TlsConfig, TlsProbe
from fragscope.probes.transport.vn import VnConfig, VnProbe

TRANSPORTS = ("tcp", "quic")

# Failures that are an answer from the server, not a lost handshake: a TLS alert or a
# QUIC CONNECTION_CLOSE means the ClientHello reached a TLS stack (a control name the
# server does not serve often ends so, and that still proves the path carries it).
ANSWERED = frozenset(
    {
        Failure.SSL_FAILED_HANDSHAKE,
        Failure.QUIC_CONNECTION_CLOSED,
        Failure.QUIC_INCOMPATIBLE_VERSION,
    }
)
# A TLS alert answers the control as above, but for the real SNI it is a refusal: censors
# inject handshake_failure, unrecognized_name or access_denied for the names they block as
# they inject RSTs (docs/indicators.md, T10), so a real-SNI step answered only by alerts
# has failed. Other answers to the real SNI (garbage, a QUIC close: aioquic reports its
# own errors and the peer's alike there) still show the path carries the name.
CONTROL_STEPS = frozenset({"control_first", "control_later"})
# Failures that say nothing about the path: the probe itself refused to measure.
NOT_MEASURED = frozenset({Failure.BLOCKED_BY_POLICY, Failure.INVALID_INPUT})


@dataclass(frozen=True, slots=True)
class SniConfig:
    port: int = field(
        default=443, metadata={"help": "TCP and UDP port when the task names none", **rules.PORT}
    )
    control_sni: str = field(
        default="example.com",
        metadata={
            "help": "the innocuous control name sent to the same address (need not be "
            "served there: a TLS alert still proves the path carries it)"
        },
    )
    transports: tuple[str, ...] = field(
        default=TRANSPORTS, metadata={"help": "tcp (TCP+TLS) and/or quic"}
    )
    tries: int = field(
        default=2,
        metadata={
            "help": "k: handshakes per step; a step fails only when all k fail",
            rules.MINIMUM: 1,
            rules.MAXIMUM: 10,
        },
    )
    handshake_timeout_s: float = field(
        default=3.0, metadata={"help": "deadline of each handshake", **rules.SECONDS}
    )
    residual_s: float = field(
        default=180.0,
        metadata={
            "help": "seconds a residual block of a 3-tuple is assumed to last (the GFW's "
            "is 2-3 minutes): the next task on that 3-tuple waits it out",
            **rules.SECONDS,
        },
    )
    ca_file: str | None = field(
        default=None,
        metadata={
            "help": "extra trust anchors (PEM) for the certificate verdict",
            rules.FILE: True,
        },
    )

    def __post_init__(self) -> None:
        bad = [t for t in self.transports if t not in TRANSPORTS]
        if bad or not self.transports:
            raise ValueError(f"transports: {self.transports!r} must be some of tcp, quic")
        if not 1 <= self.tries <= 10:
            raise ValueError(f"tries: {self.tries} is not 1..10")


@dataclass(slots=True)
class StepResult:
    """One step: did any of its k handshakes reach the server, how many were lost, and the
    TLS alert that answered its last handshake (None: no alert)."""

    ok: bool
    lost: int
    measured: bool = True
    alert: int | None = None


def classify(
    transport: str,
    control_first: StepResult,
    real: list[StepResult],
    control_later: StepResult,
    vn_answered: bool | None,
) -> str:
    """The verdict of one (target, address, transport) (docs/indicators.md, T10).

    sni_filtered: the control works before and after, every real-SNI step is lost or
    refused with a TLS alert, and the control never needed a retry (a lossy path makes
    that inconclusive). A real SNI refused with the very alert the control got is
    inconclusive: the server (or a censor mimicking it) treats both names alike.
    residual: the control worked first, then a later step on the same 3-tuple was lost
    after a real SNI went through or was lost (the block outlived the flow).
    udp_blocked (QUIC): control and real lost, and the VN probe lost too: UDP/443 is gone.
    ip_or_port_blocked: control and real lost (over QUIC with the VN answered: QUIC to
    this address is dropped whatever the name).
    """
    all_steps = [control_first, *real, control_later]
    if not all(s.measured for s in all_steps):
        return "inconclusive"
    real_ok = [s.ok for s in real]
    if not control_first.ok:
        if any(real_ok) or control_later.ok:
            return "inconclusive"  # the control lost while others passed: loss, not a block
        if transport == "quic" and vn_answered is False:
            return "udp_blocked"
        return "ip_or_port_blocked"
    if all(real_ok):
        return "ok" if control_later.ok else "residual"
    refused = [s.alert for s in real if not s.ok]
    if control_first.alert is not None and all(a == control_first.alert for a in refused):
        return "inconclusive"
    if real_ok[0] or not control_later.ok:
        # A real SNI passed then was lost, or the block spread to the control: a block
        # of the 3-tuple that outlives the flow that triggered it.
        return "residual"
    if control_first.lost or control_later.lost:
        return "inconclusive"  # the control itself lost handshakes: the path is lossy
    return "sni_filtered"


@register
class SniProbe(TransportProbe[SniConfig]):
    name: ClassVar[str] = "transport.sni"
    version: ClassVar[int] = 1
    table: ClassVar[str] = "sni_observations"
    config_class: ClassVar[type[SniConfig]] = SniConfig
    # "The control goes first, and the order is randomised within a round" (issue 21):
    # the planner runs these tests in a seeded random order (probes/engine/planner.py),
    # so a censor never sees the targets in list order; each test still starts with its
    # control.
    shuffled_in_round: ClassVar[bool] = True

    def prepare(self) -> None:
        cfg = self.config
        timeout = cfg.handshake_timeout_s
        self._tls = TlsProbe(
            TlsConfig(
                port=cfg.port,
                ca_file=cfg.ca_file,
                http=False,
                connect_timeout_s=timeout,
                handshake_timeout_s=timeout,
            ),
            clock=self.clock,
            policy=self.policy,
        )
        self._quic = QuicProbe(
            QuicConfig(port=cfg.port, ca_file=cfg.ca_file, http=False, handshake_timeout_s=timeout),
            clock=self.clock,
            policy=self.policy,
        )
        self._vn = VnProbe(
            VnConfig(port=cfg.port, timeout_s=timeout), clock=self.clock, policy=self.policy
        )
        # (address, port, transport) -> monotonic time until which a residual block seen
        # there may last.
        self._quiet_until: dict[tuple[str, int, str], float] = {}

    def tasks_for(self, target: str, endpoint: Endpoint | None) -> Iterable[TaskParams]:
        # Which transport a target is tested on first is drawn from its name (stable
        # across runs, so reruns and shards agree), not always TCP: a censor that keys on
        # the first flow it sees then does not favour one transport throughout.
        transports = list(self.config.transports)
        if stable_hash64("sni-order", target) & 1:
            transports.reverse()
        return (TaskParams(t, {"transport": t}) for t in transports)

    async def measure(self, task: Task) -> Observation:
        obs, t0 = self.start(task)
        cfg = self.config
        transport = str(task.params.get("transport", "tcp"))
        fields: dict[str, Any] = {
            "transport": transport,
            "control_sni": cfg.control_sni,
            "tries": cfg.tries,
            "round_position": task.params.get(ROUND_POSITION),
        }
        obs.fields = fields
        operation = Operation.QUIC_HANDSHAKE if transport == "quic" else Operation.TLS_HANDSHAKE
        try:
            if transport not in cfg.transports:
                raise MeasurementError(
                    Failure.INVALID_INPUT,
                    operation,
                    f"transport: {transport!r} is not one of {', '.join(cfg.transports)}",
                )
            dest = self.aim(task, obs, operation, sni=False)
            fields["real_sni"] = dest.sni
            if dest.sni is None:
                raise MeasurementError(
                    Failure.INVALID_INPUT, operation, "sni: an IP-literal target has no name"
                )
            key = (dest.address, dest.port, transport)
            fields["residual_wait_ms"] = await self._wait_out_residual(key)
            await self._run_steps(task, transport, dest.sni, fields, obs)
            if fields["verdict"] == "residual":
                self._quiet_until[key] = self.clock.monotonic() + cfg.residual_s
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every failure becomes data (docs/architecture.md §3)
            self.fail(obs, exc, operation)
        return self.finish(task, obs, t0)

    async def _wait_out_residual(self, key: tuple[str, int, str]) -> float:
        wait = self._quiet_until.pop(key, 0.0) - self.clock.monotonic()
        if wait <= 0:
            return 0.0
        await asyncio.sleep(wait)
        return wait * 1000

    async def _run_steps(
        self,
        task: Task,
        transport: str,
        real_sni: str,
        fields: dict[str, Any],
        obs: Observation,
    ) -> None:
        control = self.config.control_sni
        attempts: list[dict[str, Any]] = []
        control_first = await self._step(task, transport, "control_first", control, attempts)
        real = [
            await self._step(task, transport, step, real_sni, attempts)
            for step in ("real_first", "real_repeat")
        ]
        control_later = await self._step(task, transport, "control_later", control, attempts)
        vn_answered: bool | None = None
        if transport == "quic":
            vn_answered = await self._vn_step(task, attempts)
        fields.update(
            control_first_ok=control_first.ok,
            real_first_ok=real[0].ok,
            real_repeat_ok=real[1].ok,
            control_later_ok=control_later.ok,
            control_retries=control_first.lost + control_later.lost,
            vn_answered=vn_answered,
            verdict=classify(transport, control_first, real, control_later, vn_answered),
        )
        for i, row in enumerate(attempts):
            obs.children.append(("sni_attempts", {"position": i, **row}))

    async def _step(
        self,
        task: Task,
        transport: str,
        step: str,
        sni: str,
        attempts: list[dict[str, Any]],
    ) -> StepResult:
        """Up to k handshakes with ``sni``; stops at the first that reaches the server."""
        lost = 0
        for i in range(self.config.tries):
            sub = Task(
                key=f"{task.key}/{step}/{i}",
                probe=self.name,
                target=task.target,
                params={**task.params, "sni": sni},
                deadline_s=self.config.handshake_timeout_s + 1.0,
            )
            initials: int | None = None
            source_port: int | None = None
            if transport == "quic":
                obs, flow = await self._quic.measure_flow(sub)
                initials, source_port = flow.client_hello_initials, flow.source_port
            else:
                obs = await self._tls.measure(sub)
            alert = obs.fields.get("tls_alert")
            answered = obs.failure is None or obs.failure in ANSWERED
            if alert is not None:
                answered = step in CONTROL_STEPS
            attempts.append(
                {
                    "step": step,
                    "sni": sni,
                    "ok": answered,
                    "failure": obs.failure,
                    "failure_detail": obs.failure_detail,
                    "tls_alert": alert,
                    "duration_ms": obs.duration_ms,
                    "client_hello_initials": initials,
                    "source_port": source_port,
                }
            )
            if obs.failure in NOT_MEASURED:
                return StepResult(False, lost, measured=False)
            if answered:
                return StepResult(True, lost, alert=alert)
            if alert is None:
                lost += 1  # a refusal is an answer, not loss: it says nothing of the path
        return StepResult(False, lost, alert=alert)

    async def _vn_step(self, task: Task, attempts: list[dict[str, Any]]) -> bool:
        """The VN probe, up to k times: True when any reply datagram came back."""
        for i in range(self.config.tries):
            sub = Task(
                key=f"{task.key}/vn/{i}",
                probe=self._vn.name,
                target=task.target,
                params=task.params,
                deadline_s=self.config.handshake_timeout_s + 1.0,
            )
            obs = await self._vn.measure(sub)
            # Any datagram back (a VN, or something malformed) shows UDP/443 carries
            # traffic both ways; only silence or an ICMP error counts as lost.
            answered = obs.fields.get("reply") in ("vn", "other", "malformed")
            attempts.append(
                {
                    "step": "vn",
                    "sni": None,
                    "ok": answered,
                    "failure": obs.failure,
                    "failure_detail": obs.failure_detail,
                    "tls_alert": None,
                    "duration_ms": obs.duration_ms,
                    "client_hello_initials": None,
                    "source_port": None,
                }
            )
            if answered:
                return True
        return False
