"""The ledger of a run's tasks: ``tasks_done`` rows (a task finished, with its attempts and
outcome) and ``task_followups`` rows (a follow-up task was queued). No I/O.

``--resume`` reads both back (probes.engine.bookkeeping): done keys are skipped, stored
follow-ups that are not done are queued again. The shard runner hands a task's ledger rows
to the sink in the same call as its observation rows, so they share a transaction.
"""

from __future__ import annotations

import time

from fragscope.db.writer import Row, datetime_text, spec_for
from fragscope.probes.base import Clock, FollowUp, Task
from fragscope.probes.engine.planner import root_of
from fragscope.probes.engine.rows import plain, tuple_builder
from fragscope.probes.engine.state import endpoint_json


class TaskLedger:
    """Ledger rows of one run's shard."""

    def __init__(self, *, run_id: str, shard_index: int, clock: Clock) -> None:
        self.run_id = run_id
        self.shard_index = shard_index
        self.clock = clock
        self._stamp_at = -1.0
        self._stamp_value = ""
        self._done_spec = spec_for("tasks_done")
        self._done_row = tuple_builder(
            self._done_spec,
            ("run_id", "task_key", "probe", "attempts", "failure", "shard", "finished_at"),
        )
        self._fu_spec = spec_for("task_followups")
        self._fu_row = tuple_builder(
            self._fu_spec,
            (
                "run_id",
                "task_key",
                "root_key",
                "parent_key",
                "probe",
                "target",
                "endpoint",
                "params",
                "repetition",
            ),
        )

    def done(self, task_key: str, probe: str, *, attempts: int, failure: str | None) -> Row:
        """The ``tasks_done`` row of a task that has just finished."""
        return (
            self._done_spec,
            self._done_row(
                self.run_id, task_key, probe, attempts, failure, self.shard_index, self._stamp()
            ),
        )

    def follow_up(self, key: str, parent: Task, fu: FollowUp) -> Row:
        """The ``task_followups`` row of follow-up ``fu`` of ``parent``, queued as ``key``."""
        return (
            self._fu_spec,
            self._fu_row(
                self.run_id,
                key,
                root_of(key),
                parent.key,
                fu.probe,
                fu.target,
                endpoint_json(fu.endpoint),
                {k: plain(v) for k, v in fu.params.items()},
                parent.repetition,
            ),
        )

    def _stamp(self) -> str:
        """The clock's time in storage text (naive UTC, the schema's convention), re-read
        at most every 10 ms."""
        m = time.monotonic()
        if m - self._stamp_at > 0.01:
            self._stamp_at = m
            self._stamp_value = datetime_text(self.clock.now())
        return self._stamp_value
