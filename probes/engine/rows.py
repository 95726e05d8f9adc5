"""Row builders: observation envelopes, ledger, follow-up and target rows as tuples. No I/O.

The writer takes tuples in the table's column order (db.writer). Building them through
``TableSpec.row(**values)`` costs a dict per row; on the engine's hot path a builder
generated once per table from the model's column list puts the values straight in place.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Sequence
from enum import Enum
from functools import cache
from typing import Any

from fragscope.db.envelope import ENVELOPE
from fragscope.db.writer import TableSpec, spec_for


def plain(value: Any) -> Any:
    # psycopg dumps an Enum by name; the database stores the value.
    return value.value if isinstance(value, Enum) else value


_SIMPLE = frozenset(
    {type(None), str, int, float, bool, bytes, bytearray, memoryview, dt.datetime, list, dict}
)
"""Types that ``plain`` returns unchanged: a row of only these needs no per-value pass."""


def plain_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """``row`` with every value through :func:`plain`; one C-level type scan when (as on
    the hot path) no value is an Enum, instead of a Python call per column."""
    if _SIMPLE.issuperset(map(type, row)):
        return row
    return tuple(map(plain, row))


def tuple_builder(spec: TableSpec, names: Sequence[str]) -> Callable[..., tuple[Any, ...]]:
    """A function of ``names`` (positional) returning the row tuple in column order.

    Columns not in ``names`` get the model's default (``TableSpec.defaults``), else NULL.
    The function is generated once per table, which keeps per-row cost to one call and one
    tuple.
    """
    unknown = set(names) - set(spec.columns)
    if unknown:
        raise KeyError(f"{spec.name}: unknown columns {sorted(unknown)}")
    args = ", ".join(f"_{n}" for n in names)
    values = ", ".join(
        f"_{c}" if c in names else (f"_d[{c!r}]" if c in spec.defaults else "None")
        for c in spec.columns
    )
    src = f"def build({args}):\n    return ({values},)\n"
    namespace: dict[str, Any] = {"_d": spec.defaults}
    exec(src, namespace)  # generated from the model's column names only
    fn: Callable[..., tuple[Any, ...]] = namespace["build"]
    return fn


def _defaults(spec: TableSpec, columns: Sequence[str]) -> dict[str, Any]:
    """The value of each of ``columns`` when a row leaves it out: the model's default."""
    return {c: spec.defaults.get(c) for c in columns}


@cache
def observation_builder(
    table: str, enums: bool = True
) -> tuple[TableSpec, Callable[..., tuple[Any, ...]], frozenset[str]]:
    """(spec, build, field names) for an observation table.

    ``build(*envelope_values, fields)`` takes the 14 envelope values in :data:`ENVELOPE`
    order (plain values: the engine's strings, numbers and datetimes, no Enum) and the
    probe's own ``fields`` dict (its keys must be columns of the table: the caller checks).
    ``enums=False`` is for a probe whose fields never hold an Enum (``plain_fields``): its
    values then skip the :func:`plain_row` scan.
    """
    spec = spec_for(table)
    missing = set(ENVELOPE) - set(spec.columns)
    if missing:
        raise KeyError(f"{table} is not an observation table (missing {sorted(missing)})")
    own = [c for c in spec.columns if c not in ENVELOPE]
    args = ", ".join(f"_{n}" for n in ENVELOPE)
    # The probe's fields are read by one C call (itemgetter over the fields merged onto
    # the defaults), not a dict.get per column; absent fields get the model's default
    # (NULL where it has none: a NOT NULL column such as dns_observations.purpose must
    # not be NULL in a failure row the engine makes without the probe, issue 18). The caller
    # has checked that every key is a column, so a dict of as many keys as there are
    # columns has them all and needs no merge.
    position = {c: i for i, c in enumerate(own)}
    values = ", ".join(f"_{c}" if c in ENVELOPE else f"_o[{position[c]}]" for c in spec.columns)
    merged = f"(_f if len(_f) == {len(own)} else _defaults | _f)"
    scan = "_plain_row" if enums else ""
    if len(own) > 1:
        fetch = f"    _o = {scan}(_get{merged})\n"
    elif own:
        fetch = f"    _o = {scan}((_get{merged},))\n"
    else:
        fetch = ""
    # Only the probe's values go through plain(): the envelope's are the engine's own
    # (strings, numbers, datetimes), never an Enum.
    src = f"def build({args}, _f):\n{fetch}    return ({values},)\n"
    namespace: dict[str, Any] = {
        "_plain_row": plain_row,
        "_get": operator.itemgetter(*own) if own else None,
        "_defaults": _defaults(spec, own),
    }
    exec(src, namespace)  # generated from the model's column names only
    return spec, namespace["build"], frozenset(own)


@cache
def child_builder(
    table: str, enums: bool = True
) -> tuple[TableSpec, Callable[[int, int, dict[str, Any]], tuple[Any, ...]], frozenset[str]]:
    """(spec, build, own columns) for a child table (``id``, ``observation_id``, values).

    ``build(id, observation_id, values)`` returns the row tuple in column order, values
    through :func:`plain` (unless ``enums`` is False, as in :func:`observation_builder`);
    the caller checks ``values.keys() <= own``. The same tuple as
    ``spec.row(id=..., observation_id=..., **{k: plain(v)})`` without a dict per row.
    Child tables with vocabulary columns keep the checked path (TableSpec.row).
    """
    spec = spec_for(table)
    if not {"id", "observation_id"} <= spec.column_set:
        raise KeyError(f"{table} is not a child table (no id/observation_id)")
    own = frozenset(c for c in spec.columns if c not in ("id", "observation_id"))
    if own & {"failure", "failed_operation"}:

        def checked(rid: int, oid: int, values: dict[str, Any]) -> tuple[Any, ...]:
            return spec.row(id=rid, observation_id=oid, **{k: plain(v) for k, v in values.items()})

        return spec, checked, own
    rest = [c for c in spec.columns if c in own]
    position = {c: i for i, c in enumerate(rest)}
    fixed = {"id": "_id", "observation_id": "_oid"}
    values = ", ".join(fixed.get(c, f"_o[{position.get(c)}]") for c in spec.columns)
    # As for observations: a dict naming every column needs no merge onto the defaults.
    merged = f"(_v if len(_v) == {len(rest)} else _defaults | _v)"
    fetch = f"_get{merged}" if len(rest) > 1 else f"(_get{merged},)"
    scan = "_plain_row" if enums else ""
    src = f"def build(_id, _oid, _v):\n    _o = {fetch}\n    return {scan}(({values},))\n"
    namespace: dict[str, Any] = {
        "_plain_row": plain_row,
        "_get": operator.itemgetter(*rest),
        "_defaults": _defaults(spec, rest),
    }
    exec(src, namespace)  # generated from the model's column names only
    return spec, namespace["build"], own
