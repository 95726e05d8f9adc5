"""Compute every registered indicator for a set of runs and store them. Reads and writes
the database (indicator_values).

Walks the registry (analysis/registry.py): the fact sets the indicators declare are loaded
once for all runs in scope (plus control and previous runs needed for comparisons), so
each observation table is scanned once per computation; then each indicator's function
gets one :class:`~fragscope.analysis.registry.Context` per run. No indicator is named here.
The DNS facts, nearly all of a round's rows, are loaded a run at a time (:class:`PerRun`)
and dropped once no later run refers to them: memory holds about two runs' views, not the
round's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from sqlalchemy import Engine, Table, delete, insert

from fragscope.analysis import comparison, ech, facts, naming, pathcontrol, result, sni, stats
from fragscope.analysis.asn import AsnMap
from fragscope.analysis.comparison import PairTest
from fragscope.analysis.registry import REGISTRY, Context, Facts, Indicator, Later
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


# How the SQL backend supplies each loaded fact set: run ids -> that set per run. Another
# backend supplies the same objects for the same Facts.
Loader = Callable[[Engine, Iterable[str], set[str]], dict[str, Any]]
LOADERS: dict[Facts, Loader] = {
    Facts.TRANSPORT: facts.load,
    Facts.DNS: naming.load_dns,
    Facts.NAMING: naming.load_naming,
    Facts.PATH_CONTROL: pathcontrol.load,
    Facts.SNI: sni.load,
    Facts.ECH: ech.load,
}
# Fact sets derived from loaded ones: the control run's, and the per-key outcome tables.
DERIVED: dict[Facts, tuple[Facts, ...]] = {
    Facts.CONTROL_TRANSPORT: (Facts.TRANSPORT,),
    Facts.OUTCOMES: (Facts.TRANSPORT, Facts.DNS),
    Facts.CONTROL_OUTCOMES: (Facts.TRANSPORT, Facts.DNS),
    Facts.ESTIMATES: (),
}


# Fact sets whose runs load independently of each other, so each run's are loaded when
# first read and dropped after it (PerRun). The transport facts are not: their targets and
# addresses are numbered once over every run so two runs' pairs match on integers
# (analysis/facts.py), and they are a small share of the rows.
PER_RUN: frozenset[Facts] = frozenset({Facts.DNS})


class PerRun:
    """One fact set by run id, loaded a run at a time on first read (its loader called with
    that one id: the same facts as a load of every run at once) and dropped by
    :meth:`pop`."""

    def __init__(self, load: Callable[[list[str]], dict[str, Any]], run_ids: set[str]) -> None:
        self.load, self.run_ids = load, run_ids
        self.cache: dict[str, Any] = {}

    def __contains__(self, run_id: object) -> bool:
        return run_id in self.run_ids

    def __getitem__(self, run_id: str) -> Any:
        if run_id not in self.run_ids:
            raise KeyError(run_id)
        if run_id not in self.cache:
            with gc_paused():
                self.cache[run_id] = self.load([run_id])[run_id]
        return self.cache[run_id]

    def pop(self, run_id: str) -> None:
        self.cache.pop(run_id, None)


def _for_runs(
    loader: Loader, engine: Engine, present: set[str]
) -> Callable[[list[str]], dict[str, Any]]:
    return lambda run_ids: loader(engine, run_ids, present)


def loaded_facts(indicators: Iterable[Indicator]) -> list[Facts]:
    """The fact sets to load for ``indicators``, in :data:`LOADERS` order."""
    wanted: set[Facts] = set()
    for ind in indicators:
        for need in ind.needs:
            wanted |= set(DERIVED.get(need, (need,)))
    return [f for f in LOADERS if f in wanted]


def compute(
    engine: Engine,
    runs: list[RunInfo],
    *,
    mapping: AsnMap | None = None,
    control_label: str = DEFAULT_CONTROL,
) -> Computation:
    """Every indicator of the registry for every run in ``runs`` (nothing is stored).

    Indicators run in catalogue order; those that read other indicators' estimates
    (composites) run last, after the run's queued bootstrap intervals are settled."""
    present = present_tables(engine)
    everyone = all_runs(engine)
    controls = {r.id: control_for(r, everyone, control_label=control_label) for r in runs}
    previous = {r.id: previous_run(r, everyone) for r in runs}
    needed = {r.id for r in runs}
    needed |= {c.id for c in controls.values() if c is not None}
    needed |= {p.id for p in previous.values() if p is not None}
    indicators = list(REGISTRY.values())
    loaded: dict[Facts, Any] = {}
    with gc_paused():
        for which in loaded_facts(indicators):
            if which in PER_RUN:
                loaded[which] = PerRun(_for_runs(LOADERS[which], engine, present), needed)
            else:
                loaded[which] = LOADERS[which](engine, needed, present)
    tf = loaded.get(Facts.TRANSPORT, {})
    dns = loaded.get(Facts.DNS, {})
    outcome_cache: dict[str, comparison.OutcomeTable] = {}
    labels = comparison.Labels()

    control_ids = {c.id for c in controls.values() if c is not None}
    previous_ids = {p.id for p in previous.values() if p is not None}
    keep = control_ids | previous_ids

    def outcomes(run_id: str) -> comparison.OutcomeTable:
        # Only the control runs' outcome tables are kept: they are the shared reference.
        if run_id in outcome_cache:
            return outcome_cache[run_id]
        d = dns[run_id] if "dns_observations" in present else None
        found = comparison.outcomes(tf[run_id], d, labels, mapping)
        if run_id in control_ids:
            outcome_cache[run_id] = found
        return found

    plain = [i for i in indicators if Facts.ESTIMATES not in i.needs]
    composites = [i for i in indicators if Facts.ESTIMATES in i.needs]
    estimates: list[Estimate] = []
    baselines: dict[str, float] = {}
    for run in runs:
        c_run = controls[run.id]
        universe = {n for n, _ in dns[run.id].views} if run.id in dns else set()
        if run.id in tf:
            universe = tf[run.id].target_names() | universe
        result.use_resampler(run.id, stats.Resampler(sorted(universe), seed=stats.seed_for(run.id)))
        mine = outcomes(run.id) if Facts.TRANSPORT in loaded else None
        per_run: list[Estimate] = []
        found: dict[Facts, Any] = {which: loaded[which][run.id] for which in loaded}
        found[Facts.CONTROL_TRANSPORT] = tf[c_run.id] if c_run is not None and tf else None
        found[Facts.OUTCOMES] = mine
        found[Facts.CONTROL_OUTCOMES] = Later(partial(_control_outcomes, outcomes, c_run))
        found[Facts.ESTIMATES] = {}
        ctx = Context(run, present, mapping, c_run, found)
        _walk(plain, ctx, per_run)
        # The composites combine their members' replicates: their queued intervals first.
        result.settle(run.id)
        found[Facts.ESTIMATES] = {e.code: e for e in per_run}
        _walk(composites, ctx, per_run)
        result.use_resampler(run.id, None)
        estimates.extend(per_run)
        prev = previous[run.id]
        if prev is not None and mine is not None:
            # The same-vantage repeat: how far two runs of one vantage differ by noise alone.
            res = comparison.divergence(mine, outcomes(prev.id), run=run)
            if res is not None:
                baselines[run.id] = res[0].value
        del mine, found, ctx
        if run.id not in keep:
            # Facts of a run nobody refers to again are dropped: memory stays ~one run's.
            tf.pop(run.id, None)
        if run.id not in previous_ids and (run.id not in control_ids or run.id in outcome_cache):
            # A control's per-run facts are read again only to build its outcome table,
            # which is kept (outcomes): once it is, they go too.
            for facts in loaded.values():
                if isinstance(facts, PerRun):
                    facts.pop(run.id)
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


def _control_outcomes(
    outcomes: Callable[[str], comparison.OutcomeTable], control: RunInfo | None
) -> comparison.OutcomeTable | None:
    return outcomes(control.id) if control is not None else None


def _walk(group: list[Indicator], ctx: Context, out: list[Estimate]) -> None:
    """Each indicator of ``group`` over one run, seeing only the facts it declared."""
    for ind in group:
        assert ind.compute is not None  # the decorator always sets it
        out.append(ind.compute(replace(ctx, code=ind.code, needs=frozenset(ind.needs))))


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
                "params": jsonable(params),
                "reason": e.reason,
                "status": e.status,
                "computed_at": stamp,
            }
        )
    with engine.begin() as conn:
        for run in computation.runs:
            conn.execute(delete(table).where(table.c.run_id == run.id))
        if rows:
            conn.execute(insert(table), rows)
    return len(rows)


def jsonable(value: object) -> object:
    """``value`` with sets sorted into lists, keys as text and numpy scalars as Python's."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        items = sorted(value) if isinstance(value, set) else value
        return [jsonable(v) for v in items]
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value
