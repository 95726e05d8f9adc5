"""Row builders: observation envelopes, ledger, follow-up and target rows as tuples. No I/O.

The writer takes tuples in the table's column order (db.writer). Building them through
``TableSpec.row(**values)`` costs a dict per row; on the engine's hot path a builder
generated once per table from the model's column list puts the values straight in place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from functools import cache
from typing import Any

from db.writer import TableSpec, spec_for

ENVELOPE = (
    "id",
    "run_id",
    "vantage_id",
    "task_key",
    "attempt",
    "probe",
    "probe_version",
    "target",
    "endpoint",
    "started_at",
    "duration_ms",
    "failure",
    "failed_operation",
    "failure_detail",
)


def plain(value: Any) -> Any:
    # psycopg dumps an Enum by name; the database stores the value.
    return value.value if isinstance(value, Enum) else value


def tuple_builder(spec: TableSpec, names: Sequence[str]) -> Callable[..., tuple[Any, ...]]:
    """A function of ``names`` (positional) returning the row tuple in column order.

    Columns not in ``names`` are NULL. The function is generated once per table, which
    keeps per-row cost to one call and one tuple.
    """
    unknown = set(names) - set(spec.columns)
    if unknown:
        raise KeyError(f"{spec.name}: unknown columns {sorted(unknown)}")
    args = ", ".join(f"_{n}" for n in names)
    values = ", ".join(f"_{c}" if c in names else "None" for c in spec.columns)
    src = f"def build({args}):\n    return ({values},)\n"
    namespace: dict[str, Any] = {}
    exec(src, namespace)  # generated from the model's column names only
    fn: Callable[..., tuple[Any, ...]] = namespace["build"]
    return fn


@cache
def observation_builder(
    table: str,
) -> tuple[TableSpec, Callable[..., tuple[Any, ...]], frozenset[str]]:
    """(spec, build, field names) for an observation table.

    ``build(*envelope_values, fields)`` takes the 14 envelope values in :data:`ENVELOPE`
    order and the probe's own ``fields`` dict (its keys must be columns of the table).
    """
    spec = spec_for(table)
    missing = set(ENVELOPE) - set(spec.columns)
    if missing:
        raise KeyError(f"{table} is not an observation table (missing {sorted(missing)})")
    own = [c for c in spec.columns if c not in ENVELOPE]
    args = ", ".join(f"_{n}" for n in ENVELOPE)
    values = ", ".join(f"_{c}" if c in ENVELOPE else f"_plain(_f.get({c!r}))" for c in spec.columns)
    src = f"def build({args}, _f):\n    return ({values},)\n"
    namespace: dict[str, Any] = {"_plain": plain}
    exec(src, namespace)  # generated from the model's column names only
    return spec, namespace["build"], frozenset(own)
