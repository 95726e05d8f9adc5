"""The one Summary object the reports render, built from the database. Reads the database.

JSON is canonical (analysis/summary.schema.json, versioned by SCHEMA_VERSION); renderers
compute nothing it does not hold. Sections: indicators per run, comparisons (to the
control, pairs of vantages, same-vantage repeat, trend against the previous run), coverage
and data quality (failures by class and operation, endpoints that never answered, withheld
indicators and why, and apart from them the not applicable ones), and method notes.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import Any

from sqlalchemy import Engine, case, func, null, select

from fragscope.analysis import stats
from fragscope.analysis.compute import Computation, jsonable
from fragscope.analysis.registry import PILLAR_MIN_COVERAGE, PILLARS, REGISTRY, code_pattern
from fragscope.analysis.result import NOT_APPLICABLE
from fragscope.analysis.scope import RunInfo, control_for, previous_run
from fragscope.analysis.tables import light
from fragscope.db.models import IndicatorValue
from fragscope.db.scope import observation_tables

SCHEMA_VERSION = "1.2.1"
OBSERVED_LIMIT = 20
VERSION_CHANGED = "formula version changed"
"""How a trend row between two versions of an indicator's formula begins its note."""
"""At most this many distinct observed strings per (run, kind), most frequent first."""
OBSERVATION_TABLES = tuple(
    sorted(observation_tables(), key=lambda name: name == "null_observations")
)
"""Every observation table, from the metadata; the engine's own test probe (engine.null)
last, after the measurement probes' tables, in the coverage section."""


@dataclass
class RunRef:
    run_id: str
    vantage: str
    vantage_id: str
    round: str | None
    campaign: str
    started_at: str
    status: str
    control_run_id: str | None


@dataclass
class IndicatorRow:
    code: str
    title: str
    pillar: str
    unit: str
    version: int
    run_id: str
    vantage: str
    value: float | None
    n: int | None
    ci_low: float | None
    ci_high: float | None
    params: dict[str, Any]
    reason: str | None
    status: str  # result.VALUE, WITHHELD or NOT_APPLICABLE
    explain: str


@dataclass
class ComparisonRow:
    kind: str  # control, pair, repeat, trend
    code: str
    run_a: str
    run_b: str
    vantage_a: str
    vantage_b: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    p_holm: float | None
    flagged: bool
    note: str


@dataclass
class FailureCount:
    table: str
    run_id: str
    failure: str
    operation: str | None
    count: int


@dataclass
class SilentEndpoint:
    table: str
    run_id: str
    endpoint: str
    attempts: int


@dataclass
class TableCoverage:
    table: str
    run_id: str
    rows: int
    ok: int
    targets: int


@dataclass
class Withheld:
    """An indicator without a value and why: in Summary.withheld (lack of data) or
    Summary.not_applicable (the formula is undefined on complete data)."""

    code: str
    run_id: str
    vantage: str
    reason: str


@dataclass
class MethodNote:
    code: str
    version: int
    title: str
    formula: str
    reasoning: str
    inputs: list[str]
    min_n: int


@dataclass
class NamespaceCount:
    """Naming lookups per namespace, method and outcome (the alternative-namespaces section)."""

    run_id: str
    namespace: str | None  # None: a task the engine cancelled before the probe chose one
    method: str | None
    outcome: str | None
    count: int


@dataclass
class ObservedValue:
    """A distinct attacker-controlled string seen in a run, verbatim, with how often.

    kind: dns_txt (a TXT record's RDATA; key = owner name), http_server (a Server header;
    key = None), naming_text (a naming value: ENS/UNS text record, header; key = its key).
    """

    run_id: str
    kind: str
    key: str | None
    value: str
    count: int


@dataclass
class Summary:
    schema_version: str
    generated_at: str
    runs: list[RunRef]
    indicators: list[IndicatorRow]
    comparisons: list[ComparisonRow]
    coverage: list[TableCoverage]
    failures: list[FailureCount]
    silent_endpoints: list[SilentEndpoint]
    withheld: list[Withheld]
    not_applicable: list[Withheld]
    method: dict[str, Any] = field(default_factory=dict)
    notes: list[MethodNote] = field(default_factory=list)
    namespaces: list[NamespaceCount] = field(default_factory=list)
    observed: list[ObservedValue] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))  # type: ignore[return-value]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False)


def schema() -> dict[str, Any]:
    """The JSON schema of the Summary: the committed file, with the indicator code pattern
    taken from the registry (so a new indicator needs no schema edit)."""
    text = resources.files("fragscope.analysis").joinpath("summary.schema.json").read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    code = doc["properties"]["indicators"]["items"]["properties"]["code"]
    code["pattern"] = code_pattern()
    return doc


def _f(x: float | None) -> float | None:
    return None if x is None else float(x)


def _data_quality(
    engine: Engine, run_ids: list[str], present: set[str]
) -> tuple[list[TableCoverage], list[FailureCount], list[SilentEndpoint]]:
    coverage, failures, silent = [], [], []
    with engine.connect() as conn:
        for name in OBSERVATION_TABLES:
            if name not in present:
                continue
            t = light(name, "run_id", "target", "endpoint", "failure", "failed_operation")
            ok = func.sum(case((t.c.failure.is_(None), 1), else_=0))
            for run_id, rows, n_ok, targets in conn.execute(
                select(t.c.run_id, func.count(), ok, func.count(t.c.target.distinct()))
                .where(t.c.run_id.in_(run_ids))
                .group_by(t.c.run_id)
            ):
                coverage.append(TableCoverage(name, run_id, rows, int(n_ok or 0), targets))
            for run_id, failure, op, count in conn.execute(
                select(t.c.run_id, t.c.failure, t.c.failed_operation, func.count())
                .where(t.c.run_id.in_(run_ids), t.c.failure.is_not(None))
                .group_by(t.c.run_id, t.c.failure, t.c.failed_operation)
                .order_by(t.c.run_id, func.count().desc(), t.c.failure)
            ):
                failures.append(FailureCount(name, run_id, failure, op, count))
            for run_id, endpoint, attempts in conn.execute(
                select(t.c.run_id, t.c.endpoint, func.count())
                .where(t.c.run_id.in_(run_ids), t.c.endpoint.is_not(None))
                .group_by(t.c.run_id, t.c.endpoint)
                .having(ok == 0)
                .order_by(t.c.run_id, t.c.endpoint)
            ):
                silent.append(SilentEndpoint(name, run_id, endpoint, attempts))
    return coverage, failures, silent


def _namespaces(engine: Engine, run_ids: list[str], present: set[str]) -> list[NamespaceCount]:
    if "naming_observations" not in present:
        return []
    t = light("naming_observations", "run_id", "namespace", "method", "outcome")
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.run_id, t.c.namespace, t.c.method, t.c.outcome, func.count())
            .where(t.c.run_id.in_(run_ids))
            .group_by(t.c.run_id, t.c.namespace, t.c.method, t.c.outcome)
            .order_by(t.c.run_id, t.c.namespace, t.c.method, t.c.outcome)
        ).all()
    return [NamespaceCount(r, ns, m, o, c) for r, ns, m, o, c in rows]


def _observed(engine: Engine, run_ids: list[str], present: set[str]) -> list[ObservedValue]:
    """The distinct attacker-controlled strings (TXT RDATA, Server headers, naming text
    values), most frequent first, bounded per run and kind; stored verbatim."""
    queries = []
    if {"dns_observations", "dns_answers"} <= present:
        o = light("dns_observations", "id", "run_id")
        a = light("dns_answers", "observation_id", "rtype", "name", "value")
        queries.append(
            (
                "dns_txt",
                select(o.c.run_id, a.c.name, a.c.value, func.count())
                .select_from(a.join(o, o.c.id == a.c.observation_id))
                .where(o.c.run_id.in_(run_ids), a.c.rtype == "TXT")
                .group_by(o.c.run_id, a.c.name, a.c.value),
            )
        )
    if "tls_observations" in present:
        t = light("tls_observations", "run_id", "http_server")
        queries.append(
            (
                "http_server",
                select(t.c.run_id, null(), t.c.http_server, func.count())
                .where(t.c.run_id.in_(run_ids), t.c.http_server.is_not(None))
                .group_by(t.c.run_id, t.c.http_server),
            )
        )
    if {"naming_observations", "naming_values"} <= present:
        o = light("naming_observations", "id", "run_id")
        v = light("naming_values", "observation_id", "kind", "key", "value")
        queries.append(
            (
                "naming_text",
                select(o.c.run_id, v.c.key, v.c.value, func.count())
                .select_from(v.join(o, o.c.id == v.c.observation_id))
                .where(o.c.run_id.in_(run_ids), v.c.kind.in_(("text", "txt", "http_header")))
                .group_by(o.c.run_id, v.c.key, v.c.value),
            )
        )
    out: list[ObservedValue] = []
    with engine.connect() as conn:
        for kind, stmt in queries:
            rows = sorted(conn.execute(stmt).all(), key=lambda r: (r[0], -r[3], r[1] or "", r[2]))
            per_run: dict[str, int] = {}
            for run_id, key, value, count in rows:
                per_run[run_id] = per_run.get(run_id, 0) + 1
                if per_run[run_id] <= OBSERVED_LIMIT:
                    out.append(ObservedValue(run_id, kind, key, value, count))
    return out


def _stored_previous(
    engine: Engine, run_id: str
) -> dict[str, tuple[float | None, float | None, float | None, int]]:
    iv = IndicatorValue.__table__
    with engine.connect() as conn:
        rows = conn.execute(
            select(iv.c.code, iv.c.value, iv.c.ci_low, iv.c.ci_high, iv.c.version).where(
                iv.c.run_id == run_id
            )
        ).all()
    return {code: (v, lo, hi, ver) for code, v, lo, hi, ver in rows}


def _versions_changed(
    code: str, stored: dict[str, tuple[float | None, float | None, float | None, int]]
) -> list[str]:
    """The formulas behind ``code`` (itself and, for the composite, its pillar members)
    whose version differs from the previous run's stored one, as "N1 v1 -> v2"."""
    behind = {code}
    if code == "C2":
        behind |= {m.partition(".")[0] for members in PILLARS.values() for m in members}
    return [
        f"{c} v{stored[c][3]} -> v{REGISTRY[c].version}"
        for c in sorted(behind)
        if c in stored and c in REGISTRY and stored[c][3] != REGISTRY[c].version
    ]


def build(engine: Engine, computation: Computation, *, everyone: list[RunInfo]) -> Summary:
    """The Summary of a computation; trends read the previous runs' stored values."""
    runs = computation.runs
    label = {r.id: r.vantage_label for r in everyone}

    refs = []
    for r in runs:
        c = control_for(r, everyone, control_label=computation.control_label)
        refs.append(
            RunRef(
                r.id,
                r.vantage_label,
                r.vantage_id,
                r.round,
                r.campaign,
                r.started_at.isoformat(),
                r.status,
                c.id if c else None,
            )
        )
    indicators: list[IndicatorRow] = []
    withheld: list[Withheld] = []
    not_applicable: list[Withheld] = []
    for e in computation.estimates:
        ind = REGISTRY[e.code]
        indicators.append(
            IndicatorRow(
                e.code,
                ind.title,
                ind.pillar,
                ind.unit,
                e.version,
                e.run_id,
                label.get(e.run_id, "?"),
                _f(e.value),
                e.n,
                _f(e.ci_low),
                _f(e.ci_high),
                e.params,
                e.reason,
                e.status,
                f"fragscope indicators explain {e.code} --run {e.run_id}",
            )
        )
        if e.value is None:
            row = Withheld(e.code, e.run_id, label.get(e.run_id, "?"), e.reason or "")
            (not_applicable if e.status == NOT_APPLICABLE else withheld).append(row)
    comparisons: list[ComparisonRow] = []
    for e in computation.estimates:
        if e.code == "C1" and e.value is not None:
            ctrl = e.params.get("control_run", "")
            comparisons.append(
                ComparisonRow(
                    "control",
                    "C1",
                    e.run_id,
                    ctrl,
                    label.get(e.run_id, "?"),
                    label.get(ctrl, "?"),
                    _f(e.value),
                    _f(e.ci_low),
                    _f(e.ci_high),
                    None,
                    None,
                    bool(e.ci_low is not None and e.ci_low > 0),
                    "JSD of outcome distributions to the control; flagged if the CI excludes 0",
                )
            )
    for p in computation.pair_tests:
        comparisons.append(
            ComparisonRow(
                "pair",
                p.code,
                p.run_u,
                p.run_v,
                label[p.run_u],
                label[p.run_v],
                p.delta,
                p.ci_low,
                p.ci_high,
                p.p_value,
                p.p_holm,
                p.significant,
                # The pair is compared on the targets every run of the round measured, so
                # a - b differs from the difference of the headline values (all targets).
                f"on the {p.n_common} targets common to the round: a = {p.value_u:.3f}, "
                f"b = {p.value_v:.3f}; paired score interval, Holm over pairs",
            )
        )
    for run_id, jsd_value in computation.repeat_baselines.items():
        prev = previous_run(next(r for r in runs if r.id == run_id), everyone)
        comparisons.append(
            ComparisonRow(
                "repeat",
                "C1",
                run_id,
                prev.id if prev else "",
                label[run_id],
                label[run_id],
                jsd_value,
                None,
                None,
                None,
                None,
                False,
                "same-vantage repeat: JSD to the previous run, the noise baseline for C1",
            )
        )
    for r in runs:
        prev = previous_run(r, everyone)
        if prev is None:
            continue
        stored = _stored_previous(engine, prev.id)
        for e in computation.estimates:
            if e.run_id != r.id or e.value is None or e.code not in stored:
                continue
            v, lo, hi, _ = stored[e.code]
            if v is None:
                continue
            changed = _versions_changed(e.code, stored)
            if changed:
                # Different formulas measure different things: the trend says so and
                # computes no change across them (docs/indicators.md, Method step 7).
                comparisons.append(
                    ComparisonRow(
                        "trend",
                        e.code,
                        r.id,
                        prev.id,
                        r.vantage_label,
                        prev.vantage_label,
                        None,
                        None,
                        None,
                        None,
                        None,
                        False,
                        f"{VERSION_CHANGED} since the previous run ({'; '.join(changed)}); "
                        "not compared",
                    )
                )
                continue
            if lo is None or hi is None:
                continue
            assert e.ci_low is not None and e.ci_high is not None
            comparisons.append(
                ComparisonRow(
                    "trend",
                    e.code,
                    r.id,
                    prev.id,
                    r.vantage_label,
                    prev.vantage_label,
                    e.value - v,
                    None,
                    None,
                    None,
                    None,
                    stats.intervals_disjoint((e.ci_low, e.ci_high), (lo, hi)),
                    "change against the previous run; flagged where the 95% intervals "
                    "do not overlap",
                )
            )
    coverage, failures, silent = _data_quality(engine, [r.id for r in runs], computation.present)
    method = {
        "bootstrap": "95% intervals (docs/indicators.md, Method step 8): Wilson score "
        "interval for binary shares with n < 30; cluster-adjusted Wilson (design-effect n, "
        "t with k - 1 df) for other ratios; cluster bootstrap over targets, "
        f"B = {stats.B_DEFAULT}, expanded percentile, seeded from the run id, for other "
        "statistics",
        "control_label": computation.control_label,
        "asn_mapping_date": computation.mapping_date,
        "asn_mapping_source": computation.mapping_source,
        "composite": {
            "pillars": {k: list(v) for k, v in PILLARS.items()},
            "min_coverage": PILLAR_MIN_COVERAGE,
            "weights": "equal",
        },
        "tables_present": sorted(t for t in computation.present if t in OBSERVATION_TABLES),
    }
    notes = [
        MethodNote(i.code, i.version, i.title, i.formula, i.reasoning, list(i.inputs), i.min_n)
        for i in REGISTRY.values()
    ]
    return Summary(
        SCHEMA_VERSION,
        dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        refs,
        indicators,
        comparisons,
        coverage,
        failures,
        silent,
        withheld,
        not_applicable,
        method,
        notes,
        _namespaces(engine, [r.id for r in runs], computation.present),
        _observed(engine, [r.id for r in runs], computation.present),
    )
