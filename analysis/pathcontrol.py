"""The same-path control: test failures that the path, not a censor, explains. Reads the
database.

Each vantage also probes an innocuous control target (a target of role ``control``: a
host every vantage may reach, lab/plan.py's ``path-control``) on every transport.
When a test pair failed on every attempt and the control failed on the same channel
within :data:`WINDOW_S` seconds of that pair's last attempt, the failure says the path was
down (loss, an outage), not that the pair was singled out: the indicators that count
failures (T2, T9) leave such a pair out and count it in ``params`` (docs/indicators.md,
Method, "Loss is not censorship").
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import Connection, Engine, and_, case, func, select

from fragscope.analysis.facts import BoolArray, RunFacts
from fragscope.analysis.tables import light

WINDOW_S = 10.0  # a control failure this close to a test pair's last attempt explains it
CONTROL_ROLE = "control"
# Channel -> the table of its attempts (one row per attempt, ``failure`` NULL when it worked).
CHANNELS = {"tls": "tls_observations", "quic": "quic_observations"}


@dataclass(frozen=True)
class PathControl:
    """One run's same-path control, per channel: how many control attempts there were and
    which (target, address) test pairs it explains."""

    control_attempts: dict[str, int] = field(default_factory=dict)
    explained: dict[str, frozenset[tuple[str, str]]] = field(default_factory=dict)

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
    if not controls:
        return PathControl(attempts, explained)
    for channel, table in CHANNELS.items():
        if table not in present:
            continue
        o = light(table, "run_id", "target", "address", "started_at", "failure")
        mine = o.c.run_id == run_id
        rows = conn.execute(
            select(o.c.started_at, o.c.failure).where(and_(mine, o.c.target.in_(controls)))
        ).all()
        attempts[channel] = len(rows)
        down = sorted(_seconds(when) for when, failure in rows if failure is not None)
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
    return PathControl(attempts, explained)


def _near(sorted_times: list[float], when: float, window: float) -> bool:
    i = bisect.bisect_left(sorted_times, when - window)
    return i < len(sorted_times) and sorted_times[i] <= when + window
