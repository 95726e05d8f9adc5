"""Observation -> row tuples for the writer, and a one-off run record. No I/O except
:func:`store_observations` (the database).

The engine builds rows itself when it runs the DNS probes; this module serves
``fragscope probe dns --store`` and bench/dns.py, which run the probe without the engine.
"""

from __future__ import annotations

import datetime as dt
import platform
import socket
import uuid
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Engine

from db.ids import child_id, row_id, vantage_id
from db.vocab import RunStatus
from db.writer import Row, TableSpec, Writer, spec_for
from probes.base import Observation, Task

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


@cache
def _observation_builder(
    table: str,
) -> tuple[TableSpec, Callable[..., tuple[Any, ...]], frozenset[str]]:
    """A function (envelope values..., fields) -> row tuple, generated from the model's
    column list once per table (a dict-free hot path; only column names enter the code)."""
    spec = spec_for(table)
    own = frozenset(c for c in spec.columns if c not in ENVELOPE)
    args = ", ".join(f"_{c}" for c in ENVELOPE)
    values = ", ".join(f"_{c}" if c in ENVELOPE else f"_f.get({c!r})" for c in spec.columns)
    namespace: dict[str, Any] = {}
    exec(f"def build({args}, _f):\n    return ({values},)\n", namespace)
    return spec, namespace["build"], own


@cache
def _child_builder(table: str) -> tuple[TableSpec, Callable[..., tuple[Any, ...]], frozenset[str]]:
    spec = spec_for(table)
    own = frozenset(c for c in spec.columns if c not in ("id", "observation_id"))
    values = ", ".join(
        c if c in ("id", "observation_id") else f"_v.get({c!r})" for c in spec.columns
    )
    namespace: dict[str, Any] = {}
    exec(f"def build(id, observation_id, _v):\n    return ({values},)\n", namespace)
    return spec, namespace["build"], own


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
    spec, build, own = _observation_builder(obs.table)
    fields = obs.fields
    if not fields.keys() <= own:
        raise KeyError(f"{obs.table}: unknown columns {sorted(fields.keys() - own)}")
    rid = row_id(run_id, task.key, attempt)
    failure = obs.failure
    operation = obs.failed_operation
    rows: list[Row] = [
        (
            spec,
            build(
                rid,
                run_id,
                vantage,
                task.key,
                attempt,
                probe,
                version,
                obs.target,
                obs.endpoint,
                obs.started_at,
                obs.duration_ms,
                str(failure) if failure is not None else None,
                str(operation) if operation is not None else None,
                obs.failure_detail,
                fields,
            ),
        )
    ]
    for index, (table, values) in enumerate(obs.children):
        child_spec, child_build, child_own = _child_builder(table)
        if not values.keys() <= child_own:
            raise KeyError(f"{table}: unknown columns {sorted(values.keys() - child_own)}")
        rows.append((child_spec, child_build(child_id(rid, index), rid, values)))
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

    from db.models import Run

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
