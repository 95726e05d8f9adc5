"""The same-path control: test failures that the path, not a censor, explains. Reads the
database.

Each vantage also probes an innocuous control target (a target of role ``control``: a
host every vantage may reach, lab/plan.py's ``path-control``) on every transport.
When a test pair failed on every attempt and the control failed on the same channel
within :data:`WINDOW_S` seconds of that pair's last attempt, the failure says the path was
down (loss, an outage), not that the pair was singled out: the indicators that count
failures (T2, T9) leave such a pair out and count it in ``params`` (docs/indicators.md,
Method, "Loss is not censorship").

Naming lookups (N4) get the same rule. Their same-path control is the run's control
resolver (dns.query endpoints of role ``control``) for the ``dns`` method, which asks a
root's resolver over DNS, and the control host's TLS for the methods that go over HTTP
(JSON-RPC, gateways): a lookup none of whose attempts got an answer is explained when
that control failed within :data:`WINDOW_S` of its last attempt.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, and_, case, func, select

from fragscope.analysis.facts import BoolArray, RunFacts, norm_name
from fragscope.analysis.tables import light

WINDOW_S = 10.0  # a control failure this close to a test pair's last attempt explains it
CONTROL_ROLE = "control"
# Channel -> the table of its attempts (one row per attempt, ``failure`` NULL when it worked).
CHANNELS = {"tls": "tls_observations", "quic": "quic_observations"}
# naming.resolve's methods -> the channel whose control shares their path: a DNS query to
# a resolver, or an HTTP request over TCP (probes/naming/methods/).
LOOKUP_CHANNEL = {"dns": "dns"}
HTTP_CHANNEL = "tls"
# naming.resolve outcomes that are an answer (analysis.naming.ANSWERED, kept apart here to
# avoid importing the indicator module).
_ANSWERED = ("resolved", "no_records", "not_found")
# A naming lookup: (endpoint namespace, method, endpoint, normalised name).
Lookup = tuple[str | None, str, str | None, str]


@dataclass(frozen=True)
class PathControl:
    """One run's same-path control, per channel: how many control attempts there were and
    which (target, address) test pairs it explains."""

    control_attempts: dict[str, int] = field(default_factory=dict)
    explained: dict[str, frozenset[tuple[str, str]]] = field(default_factory=dict)
    explained_lookups: frozenset[Lookup] = frozenset()

    def discarded(self, f: RunFacts, channel: str) -> BoolArray:
        """Per pair of ``f`` (its order): True where this channel's failure is explained."""
        return pair_mask(f, self.explained.get(channel, frozenset()))


def pair_mask(f: RunFacts, pairs: Iterable[tuple[str, str]]) -> BoolArray:
    """Per pair of ``f`` (its order): True where its (target, address) is in ``pairs``."""
    out = np.zeros(len(f.t), dtype=np.bool_)
    targets, addresses = f.names.targets, f.names.addresses  # both sorted
    for target, address in pairs:
        t, a = bisect.bisect_left(targets, target), bisect.bisect_left(addresses, address)
        found = t < len(targets) and a < len(addresses)
        if found and targets[t] == target and addresses[a] == address:
            out |= (f.t == t) & (f.a == a)  # few pairs: a pass each is cheap
    return out


def load(engine: Engine, run_ids: Iterable[str], present: set[str]) -> dict[str, PathControl]:
    """The same-path control of every run (empty where it probed no control target)."""
    out = {}
    with engine.connect() as conn:
        for run_id in sorted(set(run_ids)):
            out[run_id] = _load_run(conn, run_id, present)
    return out


def _seconds(value: dt.datetime | str) -> float:
    when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    return when.replace(tzinfo=when.tzinfo or dt.UTC).timestamp()


def _load_run(conn: Connection, run_id: str, present: set[str]) -> PathControl:
    if "targets" not in present:
        return PathControl()
    targets = light("targets", "run_id", "name", "role")
    controls = {
        name
        for (name,) in conn.execute(
            select(targets.c.name).where(
                and_(targets.c.run_id == run_id, targets.c.role == CONTROL_ROLE)
            )
        )
    }
    attempts: dict[str, int] = {}
    explained: dict[str, frozenset[tuple[str, str]]] = {}
    down_at: dict[str, list[float]] = {}
    if "dns_observations" in present:
        attempts["dns"], down_at["dns"] = _control_resolver_failures(conn, run_id)
    if not controls:
        lookups = _explained_lookups(conn, run_id, present, down_at)
        return PathControl(attempts, explained, lookups)
    for channel, table in CHANNELS.items():
        if table not in present:
            continue
        o = light(table, "run_id", "task_key", "target", "address", "started_at", "failure")
        mine = o.c.run_id == run_id
        attempts[channel], down = _failed_tasks(conn, o, and_(mine, o.c.target.in_(controls)))
        down_at[channel] = down
        if not down:
            continue
        # Test pairs none of whose attempts worked, with the time of their last attempt.
        failed = conn.execute(
            select(o.c.target, o.c.address, func.max(o.c.started_at))
            .where(and_(mine, o.c.target.not_in(controls)))
            .group_by(o.c.target, o.c.address)
            .having(func.sum(case((o.c.failure.is_(None), 1), else_=0)) == 0)
        ).all()
        explained[channel] = frozenset(
            (target, address)
            for target, address, last in failed
            if _near(down, _seconds(last), WINDOW_S)
        )
    return PathControl(attempts, explained, _explained_lookups(conn, run_id, present, down_at))


def _control_resolver_failures(conn: Connection, run_id: str) -> tuple[int, list[float]]:
    """The run's dns.query attempts at control resolvers, and when its control queries
    that failed on every attempt made their last one (sorted)."""
    o = light(
        "dns_observations", "run_id", "task_key", "probe", "resolver_role", "started_at", "failure"
    )
    mine = and_(o.c.run_id == run_id, o.c.probe == "dns.query")
    return _failed_tasks(conn, o, and_(mine, o.c.resolver_role == CONTROL_ROLE))


def _failed_tasks(conn: Connection, o: Any, where: Any) -> tuple[int, list[float]]:
    """Over the attempts of table ``o`` matching ``where``: how many there are, and the
    start of the last attempt of each task none of whose attempts worked (sorted). A
    control that lost an attempt and then answered says the path loses packets, not that
    it was down: only a control task that failed on all its attempts explains a failure
    (the loss rule, docs/indicators.md Method)."""
    rows = conn.execute(
        select(
            func.count(),
            func.max(o.c.started_at),
            func.sum(case((o.c.failure.is_(None), 1), else_=0)),
        )
        .where(where)
        .group_by(o.c.task_key)
    ).all()
    attempts = sum(int(n) for n, _last, _ok in rows)
    return attempts, sorted(_seconds(last) for _n, last, ok in rows if not ok)


def _explained_lookups(
    conn: Connection, run_id: str, present: set[str], down_at: dict[str, list[float]]
) -> frozenset[Lookup]:
    """The naming lookups none of whose attempts got an answer, whose same-path control
    (LOOKUP_CHANNEL, else HTTP_CHANNEL) failed within WINDOW_S of their last attempt."""
    if "naming_observations" not in present or not any(down_at.values()):
        return frozenset()
    n = light(
        "naming_observations",
        "run_id",
        "endpoint_namespace",
        "method",
        "endpoint",
        "name_normalized",
        "outcome",
        "started_at",
    )
    group = (n.c.endpoint_namespace, n.c.method, n.c.endpoint, n.c.name_normalized)
    failed = conn.execute(
        select(*group, func.max(n.c.started_at))
        .where(and_(n.c.run_id == run_id, n.c.name_normalized.is_not(None)))
        .group_by(*group)
        .having(func.sum(case((n.c.outcome.in_(_ANSWERED), 1), else_=0)) == 0)
    ).all()
    out = set()
    for namespace, method, endpoint, name, last in failed:
        down = down_at.get(LOOKUP_CHANNEL.get(method, HTTP_CHANNEL), [])
        if down and _near(down, _seconds(last), WINDOW_S):
            out.add((namespace, method, endpoint, norm_name(name)))
    return frozenset(out)


def _near(sorted_times: list[float], when: float, window: float) -> bool:
    i = bisect.bisect_left(sorted_times, when - window)
    return i < len(sorted_times) and sorted_times[i] <= when + window
