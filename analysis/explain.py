"""``indicators explain``: the observations behind one indicator value. Reads the database.

Shows the value with its interval, every cluster (target or name) with its numerator and
denominator, largest contributions first, and the stored rows of the input tables for the
contributing targets (id, target, endpoint, failure), so an analyst can open them in sqlite3.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from fragscope.analysis.compute import Computation
from fragscope.analysis.registry import REGISTRY
from fragscope.analysis.tables import light

_ROW_COLUMNS = ("id", "target", "endpoint", "failure", "failed_operation")


@dataclass
class Explanation:
    code: str
    run_id: str
    value: float | None
    n: int | None
    ci: tuple[float | None, float | None]
    reason: str | None
    params: dict[str, Any]
    clusters: list[tuple[str, float, float]] = field(default_factory=list)
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)


def explain(
    engine: Engine, computation: Computation, code: str, run_id: str, *, limit: int = 50
) -> Explanation:
    est = computation.for_run(run_id)[code]
    clusters = sorted(
        ((k, a, b) for k, (a, b) in (est.clusters or {}).items()),
        key=lambda t: (-t[1], t[0]),
    )
    out = Explanation(
        code,
        run_id,
        est.value,
        est.n,
        (est.ci_low, est.ci_high),
        est.reason,
        est.params,
        clusters,
    )
    contributing = [k for k, a, _ in clusters if a > 0][:limit] or [k for k, _, _ in clusters][
        :limit
    ]
    with engine.connect() as conn:
        for table in REGISTRY[code].inputs:
            if table not in computation.present or not table.endswith("_observations"):
                continue
            t = light(table, "run_id", *_ROW_COLUMNS)
            stmt = select(*(t.c[c] for c in _ROW_COLUMNS)).where(t.c.run_id == run_id)
            if contributing:
                # Names may be stored with the root dot (DNS qnames): match both forms.
                names = contributing + [c + "." for c in contributing]
                stmt = stmt.where(t.c.target.in_(names))
            out.rows[table] = [
                tuple(r) for r in conn.execute(stmt.order_by(t.c.target, t.c.id).limit(limit))
            ]
    return out


def render(e: Explanation) -> str:
    ind = REGISTRY[e.code]
    lines = [
        f"{e.code} v{ind.version} {ind.title}  (run {e.run_id})",
        f"  formula: {ind.formula}",
    ]
    if e.value is None:
        lines.append(f"  value: withheld - {e.reason}")
    else:
        lines.append(f"  value: {e.value:.4f}  95% CI [{e.ci[0]:.4f}, {e.ci[1]:.4f}]  n = {e.n}")
    for k, v in sorted(e.params.items()):
        lines.append(f"  {k}: {v}")
    if e.clusters:
        lines.append(f"  clusters ({len(e.clusters)}), largest numerator first: target  num / den")
        lines.extend(f"    {k}  {a:g} / {b:g}" for k, a, b in e.clusters)
    for table, rows in e.rows.items():
        lines.append(f"  rows in {table} ({len(rows)} shown): " + ", ".join(_ROW_COLUMNS))
        lines.extend("    " + " | ".join("" if x is None else str(x) for x in r) for r in rows)
    return "\n".join(lines)
