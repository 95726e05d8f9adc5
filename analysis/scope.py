"""Which runs an indicator computation covers, and each run's control run. Reads the database.

A run is one campaign at one vantage (docs/architecture.md §4); a round groups the runs of several
vantages measured together. The control run of a run is the run of the same round at the
control vantage (default label ``clean``), or the run itself at that vantage.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, select

from fragscope.db.models import Run, Vantage

DEFAULT_CONTROL = "clean"


class ScopeError(ValueError):
    """No such run or round, or an empty database: the CLI exits 2 with this message."""


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: str
    vantage_id: str
    vantage_label: str
    round: str | None
    campaign: str
    started_at: dt.datetime
    status: str


def _all_runs(engine: Engine) -> list[RunInfo]:
    stmt = (
        select(
            Run.id,
            Run.vantage_id,
            Vantage.label,
            Run.round,
            Run.campaign,
            Run.started_at,
            Run.status,
        )
        .join(Vantage, Vantage.id == Run.vantage_id)
        .order_by(Run.started_at, Run.id)
    )
    with engine.connect() as conn:
        return [RunInfo(*row) for row in conn.execute(stmt)]


def select_runs(
    engine: Engine, *, run: str | None = None, round_name: str | None = None
) -> list[RunInfo]:
    """The runs to compute for: one run id, ``latest`` (the default) or a whole round."""
    runs = _all_runs(engine)
    if not runs:
        raise ScopeError("the database holds no runs: run `fragscope run` first")
    if round_name is not None:
        chosen = [r for r in runs if r.round == round_name]
        if not chosen:
            known = sorted({r.round for r in runs if r.round})
            raise ScopeError(f"--round {round_name!r}: no such round (known: {known})")
        return chosen
    if run is None or run == "latest":
        return [runs[-1]]
    chosen = [r for r in runs if r.id == run]
    if not chosen:
        raise ScopeError(f"--run {run!r}: no such run id")
    return chosen


def all_runs(engine: Engine) -> list[RunInfo]:
    """Every run in the database, oldest first."""
    return _all_runs(engine)


def control_for(
    run: RunInfo, candidates: list[RunInfo], *, control_label: str = DEFAULT_CONTROL
) -> RunInfo | None:
    """The control run of ``run``: itself at the control vantage, else its round's control."""
    if run.vantage_label == control_label:
        return run
    if run.round is None:
        return None
    peers = [r for r in candidates if r.round == run.round and r.vantage_label == control_label]
    return peers[-1] if peers else None


def previous_run(run: RunInfo, candidates: list[RunInfo]) -> RunInfo | None:
    """The run of the same vantage and campaign just before this one (for trends)."""
    earlier = [
        r
        for r in candidates
        if r.vantage_id == run.vantage_id
        and r.campaign == run.campaign
        and (r.started_at, r.id) < (run.started_at, run.id)
    ]
    return earlier[-1] if earlier else None
