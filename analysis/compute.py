"""Compute every registered indicator for a set of runs and store them. Reads and writes
the database (indicator_values).

The families load their facts once for all runs in scope (plus control and previous runs
needed for comparisons), so each observation table is scanned once per computation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Engine, Table, delete, insert

from fragscope.analysis import comparison, facts, naming, result, stats, transport
from fragscope.analysis.asn import AsnMap
from fragscope.analysis.comparison import PairTest
from fragscope.analysis.registry import REGISTRY
from fragscope.analysis.result import Estimate
from fragscope.analysis.scope import DEFAULT_CONTROL, RunInfo, all_runs, control_for, previous_run
from fragscope.analysis.tables import gc_paused, present_tables
from fragscope.db.models import IndicatorValue


@dataclass
class Computation:
    """What one computation produced: values per run, the pair tests and noise baselines."""

    runs: list[RunInfo]
    estimates: list[Estimate]
    pair_tests: list[PairTest] = field(default_factory=list)
    repeat_baselines: dict[str, float] = field(default_factory=dict)
    control_label: str = DEFAULT_CONTROL
    mapping_date: str | None = None
    mapping_source: str | None = None
    present: set[str] = field(default_factory=set)

    def for_run(self, run_id: str) -> dict[str, Estimate]:
        return {e.code: e for e in self.estimates if e.run_id == run_id}


def compute(
    engine: Engine,
    runs: list[RunInfo],
    *,
    mapping: AsnMap | None = None,
    control_label: str = DEFAULT_CONTROL,
) -> Computation:
    """Every indicator of the registry for every run in ``runs`` (nothing is stored)."""
    present = present_tables(engine)
    everyone = all_runs(engine)
    controls = {r.id: control_for(r, everyone, control_label=control_label) for r in runs}
    previous = {r.id: previous_run(r, everyone) for r in runs}
    needed = {r.id for r in runs}
    needed |= {c.id for c in controls.values() if c is not None}
    needed |= {p.id for p in previous.values() if p is not None}
    with gc_paused():
        tf = facts.load(engine, needed, present)
        dns = naming.load_dns(engine, needed, present)
        nf = naming.load_naming(engine, needed, present)
    outcome_cache: dict[str, comparison.OutcomeTable] = {}
    labels = comparison.Labels()

    control_ids = {c.id for c in controls.values() if c is not None}
    keep = control_ids | {p.id for p in previous.values() if p is not None}

    def outcomes(run_id: str) -> comparison.OutcomeTable:
        # Only the control runs' outcome tables are kept: they are the shared reference.
        if run_id in outcome_cache:
            return outcome_cache[run_id]
        d = dns[run_id] if "dns_observations" in present else None
        found = comparison.outcomes(tf[run_id], d, labels)
        if run_id in control_ids:
            outcome_cache[run_id] = found
        return found

    estimates: list[Estimate] = []
    baselines: dict[str, float] = {}
    for run in runs:
        f = tf[run.id]
        c_run = controls[run.id]
        c = tf[c_run.id] if c_run is not None else None
        d = dns[run.id]
        universe = f.target_names() | {n for n, _ in d.views}
        result.use_resampler(run.id, stats.Resampler(sorted(universe), seed=stats.seed_for(run.id)))
        per_run = [
            naming.n1(run, d, mapping, present),
            naming.n2(run, d, present),
            naming.n3(run, nf[run.id], present),
            naming.n4(run, nf[run.id], present),
            naming.n5(run, d, mapping, present),
            naming.n6(run, d, present),
            naming.n7(run, d, mapping, present),
            naming.n8(run, d, present),
            transport.t1(run, f, c, present),
            transport.t2(run, f, c, present),
            transport.t3(run, f, present),
            transport.t4(run, f, c, present),
            transport.t5(run, f, present),
            transport.t6(run, f, present),
            transport.t7(run, f, mapping, present),
            transport.t8(run, f, present),
            transport.t9(run, f, c, present),
            transport.o1(run, f, present),
        ]
        mine = outcomes(run.id)
        per_run.append(
            comparison.c1(run, mine, c_run, outcomes(c_run.id) if c_run is not None else None)
        )
        # The composite combines its members' replicates: their queued intervals first.
        result.settle(run.id)
        by_code = {e.code: e for e in per_run}
        per_run.append(comparison.c2(run, by_code))
        result.use_resampler(run.id, None)
        estimates.extend(per_run)
        prev = previous[run.id]
        if prev is not None:
            # The same-vantage repeat: how far two runs of one vantage differ by noise alone.
            res = comparison.divergence(mine, outcomes(prev.id), run=run)
            if res is not None:
                baselines[run.id] = res[0].value
        del mine
        if run.id not in keep:
            # Facts of a run nobody refers to again are dropped: memory stays ~one run's.
            del tf[run.id]
    return Computation(
        runs=runs,
        estimates=estimates,
        pair_tests=comparison.pair_tests(estimates, runs),
        repeat_baselines=baselines,
        control_label=control_label,
        mapping_date=mapping.date if mapping else None,
        mapping_source=mapping.source if mapping else None,
        present=present,
    )


def store(engine: Engine, computation: Computation, *, now: dt.datetime | None = None) -> int:
    """Replace the runs' stored values of the same code and version; returns rows written."""
    stamp = (now or dt.datetime.now(dt.UTC)).replace(tzinfo=None)
    table = IndicatorValue.__table__
    assert isinstance(table, Table)
    rows = []
    for e in computation.estimates:
        params = dict(e.params)
        if computation.mapping_date and REGISTRY[e.code].needs_asn:
            params.setdefault("mapping_date", computation.mapping_date)
        rows.append(
            {
                "run_id": e.run_id,
                "vantage_id": e.vantage_id,
                "code": e.code,
                "version": e.version,
                "value": e.value,
                "n": e.n,
                "ci_low": e.ci_low,
                "ci_high": e.ci_high,
                "params": _jsonable(params),
                "reason": e.reason,
                "computed_at": stamp,
            }
        )
    with engine.begin() as conn:
        for run in computation.runs:
            conn.execute(delete(table).where(table.c.run_id == run.id))
        if rows:
            conn.execute(insert(table), rows)
    return len(rows)


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        items = sorted(value) if isinstance(value, set) else value
        return [_jsonable(v) for v in items]
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value
