"""Encoding what probes return into rows: an attempt's observation row and its child
rows, a target's row, and the failure observations the engine writes itself. No I/O.

The rows are tuples in column order (probes.engine.rows builds them); their ids come from
db.ids. The engine encodes one observation per attempt, so this is on the hot path of a
DNS run (docs/dns.md, "Speed"): one builder looked up per row, vocabulary checked by set
membership, timestamps handed over in their storage text.
"""

from __future__ import annotations

import datetime as dt
import time
import traceback

from fragscope.db.ids import child_id, row_id, target_id
from fragscope.db.vocab import Failure, Operation
from fragscope.db.writer import Row, datetime_text, spec_for
from fragscope.probes.base import Clock, Observation, Task
from fragscope.probes.engine.campaign import TargetSource
from fragscope.probes.engine.rows import child_builder, observation_builder, tuple_builder
from fragscope.probes.engine.state import ProbeRuntime
from fragscope.probes.engine.targets import TargetEntry

_FAILURES = frozenset(Failure)
_OPERATIONS = frozenset(Operation)


def failure_observation(
    table: str,
    task: Task,
    failure: Failure,
    *,
    operation: Operation | None,
    detail: str,
    t0: float,
    clock: Clock,
) -> Observation:
    """The observation of an attempt that the engine ended (deadline, policy, a probe's
    exception) started at ``t0`` (time.monotonic()); timeouts are retryable."""
    elapsed = time.monotonic() - t0
    return Observation(
        table=table,
        target=task.target,
        endpoint=task.endpoint.url if task.endpoint else None,
        started_at=clock.now() - dt.timedelta(seconds=elapsed),
        duration_ms=elapsed * 1000,
        failure=failure,
        failed_operation=operation,
        failure_detail=detail,
        retryable=failure is Failure.GENERIC_TIMEOUT_ERROR,
    )


class ObservationEncoder:
    """Rows of one run at one vantage: observations (with children) and targets."""

    def __init__(self, *, run_id: str, vantage_id: str, clock: Clock) -> None:
        self.run_id = run_id
        self.vantage_id = vantage_id
        self.clock = clock
        self._started: dt.datetime | None = None
        self._started_text = ""
        self._target_spec = spec_for("targets")
        self._target_row = tuple_builder(
            self._target_spec,
            ("id", "run_id", "name", "list", "rank", "namespace", "role", "pinned_addresses"),
        )

    def target(self, source: TargetSource, entry: TargetEntry) -> Row:
        """The ``targets`` row of a target of the run."""
        return (
            self._target_spec,
            self._target_row(
                target_id(self.run_id, source.list_name, entry.name),
                self.run_id,
                entry.name,
                source.list_name,
                entry.rank,
                entry.namespace or source.namespace,
                str(source.role),
                [entry.address] if entry.address else None,
            ),
        )

    def observation(
        self, rt: ProbeRuntime, task: Task, *, attempt: int, obs: Observation, rows: list[Row]
    ) -> Observation:
        """Append the attempt's observation row (and children) to ``rows``; return the
        observation as stored (a probe bug in the rows becomes ``unknown_failure``)."""
        run_id = self.run_id
        rid = row_id(run_id, task.key, attempt)
        # Timestamps leave in their storage text (db.writer.datetime_text), so the
        # writer's thread does not run the datetime adapter per row; a batch's tasks share
        # one started_at object, so it is formatted once per batch.
        started = obs.started_at
        if started is not self._started:
            self._started = started
            self._started_text = datetime_text(started)
        try:
            enums = not rt.plain_fields
            spec, build, own = observation_builder(obs.table, enums)
            fields = obs.fields
            if fields and not fields.keys() <= own:
                raise KeyError(f"{obs.table}: unknown columns {sorted(fields.keys() - own)}")
            failure: str | None = None
            if obs.failure is not None:
                if obs.failure not in _FAILURES:
                    raise ValueError(f"failure {obs.failure!r} is not in the vocabulary")
                failure = str(obs.failure)
            operation: str | None = None
            if obs.failed_operation is not None:
                if obs.failed_operation not in _OPERATIONS:
                    raise ValueError(
                        f"failed_operation {obs.failed_operation!r} is not in the vocabulary"
                    )
                operation = str(obs.failed_operation)
            children: list[Row] = []
            for index, (table, values) in enumerate(obs.children):
                child_spec, child_build, child_own = child_builder(table, enums)
                if not values.keys() <= child_own:
                    raise KeyError(f"{table}: unknown columns {sorted(values.keys() - child_own)}")
                children.append((child_spec, child_build(child_id(rid, index), rid, values)))
            row = build(
                rid,
                run_id,
                self.vantage_id,
                task.key,
                attempt,
                rt.name,
                rt.version,
                obs.target or task.target,
                obs.endpoint
                if obs.endpoint is not None
                else (task.endpoint.url if task.endpoint is not None else None),
                self._started_text,
                obs.duration_ms,
                failure,
                operation,
                obs.failure_detail,
                fields,
            )
        except Exception as exc:
            bad_row, bad = self._probe_bug(rt, task, attempt=attempt, rid=rid, obs=obs, exc=exc)
            rows.append(bad_row)
            return bad
        rows.append((spec, row))
        if children:
            rows.extend(children)
        return obs

    def _probe_bug(
        self,
        rt: ProbeRuntime,
        task: Task,
        *,
        attempt: int,
        rid: int,
        obs: Observation,
        exc: Exception,
    ) -> tuple[Row, Observation]:
        """The probe produced rows the schema refuses: a bug in fragscope, stored as such
        (an ``unknown_failure`` row with the traceback, and its observation)."""
        tb = "".join(traceback.format_exception(exc))
        table = type(rt.instance).table
        bad = failure_observation(
            table,
            task,
            Failure.UNKNOWN_FAILURE,
            operation=None,
            detail=tb,
            t0=time.monotonic(),
            clock=self.clock,
        )
        bad.duration_ms = obs.duration_ms
        bad.started_at = obs.started_at
        spec, build, _own = observation_builder(table)
        row = build(
            rid,
            self.run_id,
            self.vantage_id,
            task.key,
            attempt,
            rt.name,
            rt.version,
            task.target,
            task.endpoint.url if task.endpoint is not None else None,
            datetime_text(bad.started_at),
            bad.duration_ms,
            str(Failure.UNKNOWN_FAILURE),
            None,
            tb,
            {},
        )
        return (spec, row), bad
