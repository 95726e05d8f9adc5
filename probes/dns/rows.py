"""Observation -> row tuples for the writer, and a one-off run record. No I/O except
:func:`store_observations` (the database).

The engine builds rows itself when it runs the DNS probes; this module serves
``fragscope probe dns --store`` and bench/dns.py, which run the probe without the engine.
"""

from __future__ import annotations

import datetime as dt
import operator
import platform
import socket
import uuid
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Engine

from fragscope.db.envelope import ENVELOPE
from fragscope.db.ids import child_id, row_id, vantage_id
from fragscope.db.vocab import RunStatus
from fragscope.db.writer import Row, TableSpec, Writer, datetime_text, spec_for
from fragscope.probes.base import Observation, Task


@cache
def _observation_builder(
    table: str,
) -> tuple[TableSpec, Callable[[dict[str, Any]], tuple[Any, ...]], dict[str, Any], frozenset[str]]:
    """(spec, getter, defaults, own columns): ``getter({**defaults, **values})`` is the row
    tuple in column order, built by one C call (operator.itemgetter). A column the values
    leave out gets the model's default (db.writer.column_defaults), else NULL."""
    spec = spec_for(table)
    own = frozenset(c for c in spec.columns if c not in ENVELOPE)
    return spec, operator.itemgetter(*spec.columns), _defaults(spec), own


def _defaults(spec: TableSpec) -> dict[str, Any]:
    return {**dict.fromkeys(spec.columns), **spec.defaults}


@cache
def _child_builder(
    table: str,
) -> tuple[TableSpec, Callable[[dict[str, Any]], tuple[Any, ...]], dict[str, Any], frozenset[str]]:
    spec = spec_for(table)
    own = frozenset(c for c in spec.columns if c not in ("id", "observation_id"))
    return spec, operator.itemgetter(*spec.columns), _defaults(spec), own


def observation_rows(
    obs: Observation,
    *,
    run_id: str,
    vantage: str,
    task: Task,
    attempt: int = 0,
    probe: str,
    version: int,
) -> list[Row]:
    """The observation's row and its children's rows, ids assigned client-side."""
    spec, getter, defaults, own = _observation_builder(obs.table)
    fields = obs.fields
    if not fields.keys() <= own:
        raise KeyError(f"{obs.table}: unknown columns {sorted(fields.keys() - own)}")
    rid = row_id(run_id, task.key, attempt)
    failure = obs.failure
    operation = obs.failed_operation
    values = {
        **defaults,
        **fields,
        "id": rid,
        "run_id": run_id,
        "vantage_id": vantage,
        "task_key": task.key,
        "attempt": attempt,
        "probe": probe,
        "probe_version": version,
        "target": obs.target,
        "endpoint": obs.endpoint,
        "started_at": datetime_text(obs.started_at),
        "duration_ms": obs.duration_ms,
        "failure": str(failure) if failure is not None else None,
        "failed_operation": str(operation) if operation is not None else None,
        "failure_detail": obs.failure_detail,
    }
    rows: list[Row] = [(spec, getter(values))]
    for index, (table, child) in enumerate(obs.children):
        child_spec, child_getter, child_defaults, child_own = _child_builder(table)
        if not child.keys() <= child_own:
            raise KeyError(f"{table}: unknown columns {sorted(child.keys() - child_own)}")
        rows.append(
            (
                child_spec,
                child_getter(
                    {**child_defaults, **child, "id": child_id(rid, index), "observation_id": rid}
                ),
            )
        )
    return rows


def start_run(engine: Engine, *, campaign: str, label: str = "cli") -> tuple[str, str]:
    """Insert a vantage (if new) and a running run; return (run_id, vantage_id)."""
    host = socket.gethostname()
    vid = vantage_id(label, host)
    rid = str(uuid.uuid4())
    now = dt.datetime.now(dt.UTC)
    writer = Writer(engine)
    writer.write(
        [
            (
                spec_for("vantages"),
                spec_for("vantages").row(
                    id=vid, label=label, hostname=host, egress_addresses=[], created_at=now
                ),
            ),
            (
                spec_for("runs"),
                spec_for("runs").row(
                    id=rid,
                    campaign=campaign,
                    vantage_id=vid,
                    config={"source": campaign},
                    software={"python": platform.python_version()},
                    seed=uuid.UUID(rid).int & 0x7FFFFFFFFFFFFFFF,
                    started_at=now,
                    status=str(RunStatus.RUNNING),
                    counts={},
                ),
            ),
        ]
    )
    return rid, vid


def finish_run(engine: Engine, run_id: str, *, counts: dict[str, Any], exit_code: int) -> None:
    from sqlalchemy import update

    from fragscope.db.models import Run

    with engine.begin() as conn:
        conn.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(
                finished_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
                status=str(RunStatus.FINISHED),
                exit_code=exit_code,
                counts=counts,
            )
        )


def store_observations(
    engine: Engine,
    pairs: Iterable[tuple[Task, Observation]],
    *,
    run_id: str,
    vantage: str,
    probe: str,
    version: int,
) -> int:
    rows: list[Row] = []
    for task, obs in pairs:
        rows.extend(
            observation_rows(
                obs, run_id=run_id, vantage=vantage, task=task, probe=probe, version=version
            )
        )
    return Writer(engine).write(rows)


def as_json(task: Task, obs: Observation, *, keep_wire: bool = False) -> dict[str, Any]:
    """A JSON-ready dict of one observation (the CLI's JSON lines)."""
    fields = dict(obs.fields)
    wire = fields.pop("raw_wire", None)
    out: dict[str, Any] = {
        "task_key": task.key,
        "target": obs.target,
        "endpoint": obs.endpoint,
        "started_at": obs.started_at.isoformat(),
        "duration_ms": round(obs.duration_ms, 3) if obs.duration_ms is not None else None,
        "failure": obs.failure,
        "failed_operation": obs.failed_operation,
        "failure_detail": obs.failure_detail,
        **fields,
    }
    if keep_wire and isinstance(wire, bytes | bytearray):
        out["raw_wire"] = bytes(wire).hex()
    children: dict[str, list[dict[str, Any]]] = {}
    for table, values in obs.children:
        children.setdefault(table, []).append({k: v for k, v in values.items() if v is not None})
    out.update(children)
    return out


def sequence_counts(observations: Sequence[Observation]) -> dict[str, Any]:
    failures: dict[str, int] = {}
    for obs in observations:
        if obs.failure is not None:
            failures[str(obs.failure)] = failures.get(str(obs.failure), 0) + 1
    return {"observations": len(observations), "failures": failures}
