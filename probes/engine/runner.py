"""The engine: runs a campaign's tasks under limits and hands rows to a sink. Network via probes.

One event loop; ``concurrency`` long-lived worker coroutines pull work units (a task, or
a batch of tasks for probes with ``measure_many``) from the planner's stream, so no
asyncio.Task is created per task. Per-endpoint token buckets pace the traffic, a
deadline bounds every attempt (a deadline hit is a ``generic_timeout_error`` row),
retryable failures are retried with exponential backoff and stored as attempts 0..N, and
an unexpected exception in a probe becomes an ``unknown_failure`` row with the traceback.
A task's observation rows, its follow-ups and its ``tasks_done`` ledger row go to the
sink in one call, so they land in one writer transaction: a kill -9 never leaves one
without the other.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
import time
import traceback
from collections.abc import Collection, Iterable, Iterator
from hashlib import blake2b as _blake2b
from typing import Any

from fragscope.db.vocab import Failure, Operation
from fragscope.db.writer import Row, datetime_text, spec_for
from fragscope.probes import registry
from fragscope.probes.base import Clock, Endpoint, FollowUp, Observation, SystemClock, Task
from fragscope.probes.engine.campaign import Campaign, ProbeSettings, TargetSource, build_config
from fragscope.probes.engine.destinations import Verdict, check_endpoint
from fragscope.probes.engine.planner import (
    FOLLOW_UP_SEP,
    PLAN_ERROR,
    WHOLE,
    PlannedProbe,
    Shard,
    plan,
    root_of,
)
from fragscope.probes.engine.ratelimit import TokenBucket
from fragscope.probes.engine.rows import child_builder, observation_builder, plain, tuple_builder
from fragscope.probes.engine.state import (
    EngineResult,
    ProbeRuntime,
    Sink,
    WorkerSlot,
    endpoint_from_json,
    endpoint_json,
)
from fragscope.probes.engine.targets import TargetEntry
from fragscope.probes.safety import NetworkPolicy

BATCH_GRACE_S = 1.0
"""Extra time a batch gets over its tasks' deadline (measure_many times out each itself)."""
FLUSH_INTERVAL_S = 1.0
"""Finished tasks reach the database at most this long after they finish (plus a commit)."""
YIELD_EVERY = 256
"""Units a worker runs before yielding, so a probe that never awaits cannot starve the loop."""

_from_bytes = int.from_bytes
_FAILURES = frozenset(Failure)
_OPERATIONS = frozenset(Operation)


class Engine:
    """Runs one shard (or one worker's slice of it) of a campaign."""

    def __init__(
        self,
        campaign: Campaign,
        *,
        run_id: str,
        vantage_id: str,
        sink: Sink,
        policy: NetworkPolicy,
        shard: Shard = WHOLE,
        clock: Clock | None = None,
        skip: Collection[str] = frozenset(),
        pending: Iterable[Task] = (),
        write_targets: bool = True,
        max_duration: float | None = None,
        flush_rows: int = 2000,
    ) -> None:
        self.campaign = campaign
        self.run_id = run_id
        self.vantage_id = vantage_id
        self.sink = sink
        self.policy = policy
        self.shard = shard
        self.clock = clock or SystemClock()
        self.skip = skip
        self.write_targets = write_targets
        self.max_duration = max_duration
        self.flush_rows = flush_rows
        self._high_water = 4 * flush_rows
        limits = campaign.limits
        self.concurrency = limits.concurrency
        self.backoff = limits.backoff
        self._runtimes: dict[str, ProbeRuntime] = {}
        self._planned: list[PlannedProbe] = []
        for settings in campaign.probes:
            rt = self._make_runtime(settings.name, settings)
            cls = type(rt.instance)
            if cls.uses_endpoints:
                eps: tuple[Endpoint | None, ...] = tuple(
                    e
                    for e in campaign.endpoints
                    if settings.endpoints is None or (e.label or e.url) in settings.endpoints
                )
            else:
                eps = (None,)
            self._planned.append(PlannedProbe(settings, rt.instance, eps, rt.deadline))
        self._followups: collections.deque[Task] = collections.deque(pending)
        self._batches: dict[tuple[str, str | None], list[Task]] = {}
        self._buffer: list[Row] = []
        self._plan: Iterator[Task] | None = None
        self._flushing: asyncio.Future[None] | None = None
        """The hand-over to the sink in progress, if any."""
        self._verdicts: dict[str, Verdict] = {}
        self._address_ok: dict[str, bool] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._inflight = 0
        self._slot_waiters: collections.deque[tuple[int, asyncio.Future[None]]] = (
            collections.deque()
        )
        """Workers waiting for concurrency slots, first come first served."""
        self._more = asyncio.Event()
        self._busy = 0
        self._stopping = False
        self._hard_stop = False
        self._stopped: str | None = None
        self._deadline_at: float | None = None
        self._stamp_at = -1.0
        self._stamp_value = ""
        self._started: dt.datetime | None = None
        self._started_text = ""
        self.done = 0
        self.planned = 0
        self.spawned = 0
        """Follow-up tasks queued so far (progress totals grow by them)."""
        self.targets = 0
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
        self._target_spec = spec_for("targets")
        self._target_row = tuple_builder(
            self._target_spec,
            ("id", "run_id", "name", "list", "rank", "namespace", "role", "pinned_addresses"),
        )

    # -- set-up -----------------------------------------------------------------------

    def _make_runtime(self, name: str, settings: ProbeSettings | None) -> ProbeRuntime:
        cls = registry.get(name)
        if settings is None:
            # A follow-up's probe the campaign does not configure: its defaults, plus the
            # campaign's politeness where the config has room for it.
            values = {
                k: getattr(self.campaign.politeness, k)
                for k in ("user_agent", "contact")
                if getattr(self.campaign.politeness, k)
                and k in getattr(cls.config_class, "__dataclass_fields__", {})
            }

            def fail(_key: Any, msg: str) -> Any:
                raise ValueError(msg)

            config = build_config(cls.config_class, values, fail=fail)
        else:
            config = settings.config
        instance = cls(config, clock=self.clock, policy=self.policy)
        limits = self.campaign.limits
        rt = ProbeRuntime(
            instance,
            deadline=(settings.deadline if settings and settings.deadline else limits.deadline),
            retries=(
                settings.retries if settings and settings.retries is not None else limits.retries
            ),
        )
        self._runtimes[name] = rt
        return rt

    def _runtime(self, name: str) -> ProbeRuntime:
        rt = self._runtimes.get(name)
        return rt if rt is not None else self._make_runtime(name, None)

    def _verdict(self, url: str) -> Verdict:
        v = self._verdicts.get(url)
        if v is None:
            v = self._verdicts[url] = check_endpoint(url, self.policy)
        return v

    def _bucket(self, endpoint: Endpoint) -> TokenBucket:
        key = endpoint.label or endpoint.url
        b = self._buckets.get(key)
        if b is None:
            limits = self.campaign.limits
            b = self._buckets[key] = TokenBucket(endpoint.rate or limits.rate, limits.burst)
        return b

    def _blocked(self, task: Task) -> str | None:
        """Why the policy refuses ``task`` (endpoint or pinned address), or None."""
        ep = task.endpoint
        if ep is not None:
            reason = self._verdict(ep.url).blocked
            if reason is not None:
                return reason
        params = task.params
        if params:
            if PLAN_ERROR in params:
                return None
            address = params.get("address")
            if address is not None:
                ok = self._address_ok.get(address)
                if ok is None:
                    ok = self.policy.allows(address)
                    if len(self._address_ok) < 100_000:
                        self._address_ok[address] = ok
                if not ok:
                    return f"{address} is outside the allowed networks or on the blocklist"
        return None

    # -- control ----------------------------------------------------------------------

    def stop(self, *, hard: bool = False, reason: str = "signal") -> None:
        """Stop planning and drain in-flight tasks; ``hard`` also abandons retries."""
        if self._stopped is None:
            self._stopped = reason
        self._stopping = True
        if hard:
            self._hard_stop = True
        self._more.set()

    def _should_stop(self) -> bool:
        if self._stopping:
            return True
        if self._deadline_at is not None and time.monotonic() >= self._deadline_at:
            self.stop(reason="max_duration")
            return True
        return False

    def add_pending(self, rows: Iterable[dict[str, Any]]) -> int:
        """Queue stored follow-ups (task_followups rows) that have not finished (resume).

        Only those of this engine's shard and worker slice are taken; returns how many.
        """
        n = 0
        for r in rows:
            if not self.shard.owns(r["root_key"]):
                continue
            self._followups.append(
                Task(
                    r["task_key"],
                    r["probe"],
                    r["target"],
                    endpoint_from_json(r["endpoint"]),
                    r["params"] or {},
                    r["repetition"],
                    r["parent_key"],
                    self._runtime(r["probe"]).deadline,
                )
            )
            n += 1
        return n

    def blocked_reason(self, task: Task) -> str | None:
        """Why the policy refuses ``task``, or None (``run --dry-run`` shows it)."""
        return self._blocked(task)

    def verdicts(self) -> dict[str, Verdict]:
        """Policy verdicts of the panel endpoints (resolving them if needed)."""
        return {e.url: self._verdict(e.url) for e in self.campaign.endpoints}

    # -- planning ---------------------------------------------------------------------

    def _on_target(self, source: TargetSource, entry: TargetEntry) -> None:
        self.targets += 1
        if self.write_targets:
            self._buffer.append(
                (
                    self._target_spec,
                    self._target_row(
                        _from_bytes(
                            _blake2b(
                                f"target\x1f{self.run_id}\x1f{source.list_name}\x1f{entry.name}".encode(),
                                digest_size=8,
                            ).digest(),
                            "big",
                            signed=True,
                        ),  # == db.ids.target_id(run_id, list, name)
                        self.run_id,
                        entry.name,
                        source.list_name,
                        entry.rank,
                        source.namespace,
                        str(source.role),
                        [entry.address] if entry.address else None,
                    ),
                )
            )

    def tasks(self) -> Iterator[Task]:
        """The root tasks this engine would run (used by ``run --dry-run`` too)."""
        return plan(
            self.campaign,
            self._planned,
            shard=self.shard,
            skip=self.skip,
            on_target=self._on_target,
            stop=self._should_stop,
        )

    def _next_unit(self, plan_iter: Iterator[Task] | None) -> Task | list[Task] | None:
        if self._stopping or (self._deadline_at is not None and self._should_stop()):
            # Drain: nothing new starts; unstarted tasks and follow-ups are left to --resume
            # (follow-ups are already stored in task_followups).
            return None
        if self._followups:
            return self._followups.popleft()
        if plan_iter is not None:
            for task in plan_iter:
                self.planned += 1
                rt = self._runtime(task.probe)
                if not rt.batch_size or (task.params and PLAN_ERROR in task.params):
                    return task
                ep = task.endpoint
                limit = rt.batch_size
                if ep is not None:
                    limit = min(limit, self._bucket(ep).burst)
                limit = min(limit, self.concurrency)
                key = (task.probe, ep.url if ep is not None else None)
                batch = self._batches.get(key)
                if batch is None:
                    batch = self._batches[key] = []
                batch.append(task)
                if len(batch) >= limit:
                    del self._batches[key]
                    return batch
            self._plan = None
        if self._batches:
            return self._batches.pop(next(iter(self._batches)))
        return None

    # -- running ----------------------------------------------------------------------

    async def run(self) -> EngineResult:
        self._loop = asyncio.get_running_loop()
        if self.max_duration is not None:
            self._deadline_at = time.monotonic() + self.max_duration
        self._plan = self.tasks()
        workers = [asyncio.create_task(self._worker()) for _ in range(self.concurrency)]
        flusher = asyncio.create_task(self._flush_periodically())
        try:
            await asyncio.gather(*workers)
        finally:
            flusher.cancel()
            for w in workers:
                w.cancel()
            await asyncio.gather(flusher, *workers, return_exceptions=True)
            await self._close_probes()
            await self._flush()
        return self.result()

    async def _close_probes(self) -> None:
        """Store what probes saw after their tasks ended, then let them release sockets.

        A probe may keep observations that belong to no task it was running, such as DNS
        answers that arrived after their query timed out (``drain_late``: each comes with
        a task key of its own, so it never collides with the attempt it answers), and may
        hold sockets open across tasks (``close``).
        """
        for rt in self._runtimes.values():
            drain = getattr(rt.instance, "drain_late", None)
            if drain is not None:
                rows: list[Row] = []
                for task, obs in drain():
                    self._rows_for(rt, task, attempt=0, obs=obs, rows=rows)
                self._buffer.extend(rows)
            close = getattr(rt.instance, "close", None)
            if close is not None:
                try:
                    await close()
                except Exception:  # closing must not lose the rows of the run
                    logging.getLogger(__name__).warning(
                        "probe %s failed to close", rt.name, exc_info=True
                    )

    def result(self) -> EngineResult:
        """Counts so far, per probe, and why the engine stopped early (if it did)."""
        stats = {name: rt.stats for name, rt in self._runtimes.items()}
        return EngineResult(stats=stats, stopped=self._stopped)

    async def _acquire(self, n: int) -> None:
        """Take ``n`` slots, waiting in line for them.

        A released slot wakes only the waiters that now fit, in order: an Event woke every
        parked worker at each release (with 1024 workers and batches of 64, about 16
        wake-ups per query, each going back to sleep).
        """
        fut: asyncio.Future[None] = self._loop.create_future()
        self._slot_waiters.append((n, fut))
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._release(n)  # granted just before the cancellation: give them back
            else:
                fut.cancel()  # _release skips it
            raise

    def _release(self, n: int) -> None:
        self._inflight -= n
        waiters = self._slot_waiters
        while waiters:
            need, fut = waiters[0]
            if fut.done():  # cancelled while waiting
                waiters.popleft()
                continue
            if self._inflight + need > self.concurrency and self._inflight > 0:
                return
            waiters.popleft()
            self._inflight += need
            fut.set_result(None)

    async def _worker(self) -> None:
        current = asyncio.current_task()
        assert current is not None
        slot = WorkerSlot(current)
        since_yield = 0
        while True:
            unit = self._next_unit(self._plan)
            if unit is None:
                if self._busy == 0 and (self._stopping or not self._followups):
                    self._more.set()
                    return
                self._more.clear()
                await self._more.wait()
                continue
            self._busy += 1
            # Concurrency counts tasks in flight: a batch takes one slot per task.
            n = len(unit) if isinstance(unit, list) else 1
            if not self._slot_waiters and (
                self._inflight + n <= self.concurrency or self._inflight == 0
            ):
                self._inflight += n
            else:
                await self._acquire(n)
            try:
                if isinstance(unit, list):
                    await self._run_batch(unit)
                else:
                    await self._run_one(unit, slot=slot)
            finally:
                self._release(n)
                self._busy -= 1
                if self._busy == 0 or self._followups:
                    self._more.set()
            since_yield += 1
            if since_yield >= YIELD_EVERY:
                since_yield = 0
                await asyncio.sleep(0)

    def _failure(
        self, task: Task, failure: Failure, *, operation: Operation | None, detail: str, t0: float
    ) -> Observation:
        elapsed = time.monotonic() - t0
        return Observation(
            table=type(self._runtime(task.probe).instance).table,
            target=task.target,
            endpoint=task.endpoint.url if task.endpoint else None,
            started_at=self.clock.now() - dt.timedelta(seconds=elapsed),
            duration_ms=elapsed * 1000,
            failure=failure,
            failed_operation=operation,
            failure_detail=detail,
            retryable=failure is Failure.GENERIC_TIMEOUT_ERROR,
        )

    async def _measure(self, rt: ProbeRuntime, task: Task, *, slot: WorkerSlot) -> Observation:
        """One attempt under the task's deadline.

        The deadline works like asyncio.timeout (cancel the worker, then uncancel) but
        with one lazily re-armed timer per worker instead of one per task: a timer that
        fires early re-arms itself for the current task's deadline, so fast tasks cost a
        clock read instead of a heap push and a cancelled handle each.
        """
        t0 = time.monotonic()
        slot.deadline_at = t0 + task.deadline_s
        slot.measuring = True
        if slot.handle is None:
            slot.handle = self._loop.call_at(slot.deadline_at, self._check_deadline, slot)
        try:
            obs: Observation = await rt.instance.measure(task)
        except asyncio.CancelledError:
            if not slot.expired:
                raise
            slot.expired = False
            slot.owner.uncancel()
            return self._failure(
                task,
                Failure.GENERIC_TIMEOUT_ERROR,
                operation=None,
                detail=f"engine deadline of {task.deadline_s:g} s exceeded",
                t0=t0,
            )
        except Exception as exc:
            tb = "".join(traceback.format_exception(exc))
            return self._failure(task, Failure.UNKNOWN_FAILURE, operation=None, detail=tb, t0=t0)
        finally:
            slot.measuring = False
        if slot.expired:  # the probe swallowed the cancellation and returned anyway
            slot.expired = False
            slot.owner.uncancel()
        return obs

    def _check_deadline(self, slot: WorkerSlot) -> None:
        slot.handle = None
        if not slot.measuring:
            return
        if time.monotonic() >= slot.deadline_at:
            slot.expired = True
            slot.owner.cancel()
        else:
            slot.handle = self._loop.call_at(slot.deadline_at, self._check_deadline, slot)

    async def _record_unsent(
        self,
        rt: ProbeRuntime,
        task: Task,
        failure: Failure,
        *,
        operation: Operation | None,
        detail: str,
    ) -> None:
        """Finish a task that sends nothing (blocked by policy, a planning bug): one row."""
        rows: list[Row] = []
        obs = self._failure(task, failure, operation=operation, detail=detail, t0=time.monotonic())
        obs.retryable = False
        obs = self._rows_for(rt, task, attempt=0, obs=obs, rows=rows)
        await self._finish(rt, task, attempt=0, obs=obs, rows=rows)

    async def _run_one(self, task: Task, *, slot: WorkerSlot) -> None:
        rt = self._runtime(task.probe)
        if task.params and PLAN_ERROR in task.params:
            await self._record_unsent(
                rt, task, Failure.UNKNOWN_FAILURE, operation=None, detail=task.params[PLAN_ERROR]
            )
            return
        blocked = self._blocked(task)
        if blocked is not None:
            await self._record_unsent(
                rt, task, Failure.BLOCKED_BY_POLICY, operation=Operation.CONNECT, detail=blocked
            )
            return
        bucket = self._bucket(task.endpoint) if task.endpoint is not None else None
        rows: list[Row] = []
        attempt = 0
        while True:
            if bucket is not None and bucket.try_take(1) > 0:
                await bucket.take(1)
            obs = await self._measure(rt, task, slot=slot)
            obs = self._rows_for(rt, task, attempt=attempt, obs=obs, rows=rows)
            if obs.retryable and attempt < rt.retries and not self._hard_stop:
                await asyncio.sleep(self.backoff * (2**attempt))
                attempt += 1
                continue
            break
        await self._finish(rt, task, attempt=attempt, obs=obs, rows=rows)

    async def _run_batch(self, tasks: list[Task]) -> None:
        rt = self._runtime(tasks[0].probe)
        ep = tasks[0].endpoint
        bucket = self._bucket(ep) if ep is not None else None
        rows_by: dict[str, list[Row]] = {}
        pending: list[Task] = []
        for task in tasks:
            blocked = self._blocked(task)
            if blocked is None:
                pending.append(task)
            else:
                await self._record_unsent(
                    rt, task, Failure.BLOCKED_BY_POLICY, operation=Operation.CONNECT, detail=blocked
                )
        attempt = 0
        while pending:
            if bucket is not None:
                await bucket.take(len(pending))
            t0 = time.monotonic()
            budget = max(t.deadline_s for t in pending) + BATCH_GRACE_S
            try:
                async with asyncio.timeout(budget):
                    results = await rt.instance.measure_many(pending)
                if len(results) != len(pending):
                    raise RuntimeError(
                        f"{rt.name}.measure_many returned {len(results)} observations "
                        f"for {len(pending)} tasks"
                    )
            except TimeoutError:
                detail = f"engine deadline of {budget:g} s exceeded by the batch"
                results = [
                    self._failure(
                        t, Failure.GENERIC_TIMEOUT_ERROR, operation=None, detail=detail, t0=t0
                    )
                    for t in pending
                ]
            except Exception as exc:
                tb = "".join(traceback.format_exception(exc))
                results = [
                    self._failure(t, Failure.UNKNOWN_FAILURE, operation=None, detail=tb, t0=t0)
                    for t in pending
                ]
            retry: list[Task] = []
            may_retry = attempt < rt.retries and not self._hard_stop
            rows_for = self._rows_for
            finished = self._finished
            for task, obs in zip(pending, results, strict=True):
                # A task's rows stay together until it is finished (its retries' rows
                # too); on the first attempt most tasks finish at once.
                rows = rows_by.pop(task.key, None) if attempt else None
                if rows is None:
                    rows = []
                obs = rows_for(rt, task, attempt=attempt, obs=obs, rows=rows)
                if may_retry and obs.retryable:
                    rows_by[task.key] = rows
                    retry.append(task)
                else:
                    finished(rt, task, attempt=attempt, obs=obs, rows=rows)
            # One hand-over check per batch, not a coroutine per task.
            await self._flush_if_full()
            if retry:
                await asyncio.sleep(self.backoff * (2**attempt))
            pending = retry
            attempt += 1

    def _rows_for(
        self, rt: ProbeRuntime, task: Task, *, attempt: int, obs: Observation, rows: list[Row]
    ) -> Observation:
        """Append the attempt's observation row (and children) to ``rows``; return the
        observation as stored (a probe bug in the rows becomes ``unknown_failure``)."""
        rid = _from_bytes(
            _blake2b(f"{self.run_id}\x1f{task.key}\x1f{attempt}".encode(), digest_size=8).digest(),
            "big",
            signed=True,
        )  # == db.ids.row_id(run_id, key, attempt), inlined for the hot path
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
                cid = _from_bytes(
                    _blake2b(f"{rid}\x1f{index}".encode(), digest_size=8).digest(),
                    "big",
                    signed=True,
                )  # == db.ids.child_id(rid, index), inlined for the hot path
                children.append((child_spec, child_build(cid, rid, values)))
            row = build(
                rid,
                self.run_id,
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
            # The probe produced rows the schema refuses: a bug in fragscope, stored as such.
            tb = "".join(traceback.format_exception(exc))
            bad = self._failure(
                task, Failure.UNKNOWN_FAILURE, operation=None, detail=tb, t0=time.monotonic()
            )
            bad.duration_ms = obs.duration_ms
            bad.started_at = obs.started_at
            spec, build, _own = observation_builder(type(rt.instance).table)
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
            rows.append((spec, row))
            return bad
        rows.append((spec, row))
        if children:
            rows.extend(children)
        return obs

    async def _finish(
        self, rt: ProbeRuntime, task: Task, *, attempt: int, obs: Observation, rows: list[Row]
    ) -> None:
        self._finished(rt, task, attempt=attempt, obs=obs, rows=rows)
        await self._flush_if_full()

    def _finished(
        self, rt: ProbeRuntime, task: Task, *, attempt: int, obs: Observation, rows: list[Row]
    ) -> None:
        """Queue a finished task's rows with its ledger row and follow-ups; count it."""
        failure = str(obs.failure) if obs.failure is not None else None
        rows.append(
            (
                self._done_spec,
                self._done_row(
                    self.run_id,
                    task.key,
                    rt.name,
                    attempt + 1,
                    failure,
                    self.shard.index,
                    self._stamp(),
                ),
            )
        )
        if rt.chains:
            config = getattr(rt.instance, "config", None)
            for chain in rt.chains:
                obs.follow_ups.extend(chain.follow_ups(config, task, obs))
        for fu in obs.follow_ups:
            self._follow_up(task, fu, rows=rows)
        stats = rt.stats
        stats.tasks += 1
        stats.attempts += attempt + 1
        if failure is None:
            stats.ok += 1
        else:
            stats.failures[failure] += 1
        self.done += 1
        # No local name for the buffer: a worker parked in _flush must not pin a list
        # that has already been handed over (64 parked workers = 64 stale batches).
        self._buffer.extend(rows)

    async def _flush_if_full(self) -> None:
        # Start a hand-over at flush_rows; while one is in progress keep filling up to
        # the high-water mark before waiting, so a hand-over does not park every worker.
        n = len(self._buffer)
        if n >= self.flush_rows and (self._flushing is None or n >= self._high_water):
            await self._flush()

    def _follow_up(self, parent: Task, fu: FollowUp, *, rows: list[Row]) -> None:
        key = f"{parent.key}{FOLLOW_UP_SEP}{fu.key_suffix}"
        rt = self._runtime(fu.probe)
        child = Task(
            key,
            fu.probe,
            fu.target,
            fu.endpoint,
            dict(fu.params),
            parent.repetition,
            parent.key,
            rt.deadline,
        )
        rows.append(
            (
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
        )
        if key not in self.skip and not self._hard_stop:
            self.spawned += 1
            self._followups.append(child)
            self._more.set()

    def _stamp(self) -> str:
        """The clock's time in storage text (naive UTC, the schema's convention), re-read
        at most every 10 ms (ledger timestamps)."""
        m = time.monotonic()
        if m - self._stamp_at > 0.01:
            self._stamp_at = m
            self._stamp_value = datetime_text(self.clock.now())
        return self._stamp_value

    async def _flush_periodically(self) -> None:
        # A slow, polite campaign fills batches slowly: commit at least every
        # FLUSH_INTERVAL_S, so finished work is durable (and visible) soon after.
        while True:
            await asyncio.sleep(FLUSH_INTERVAL_S)
            await self._flush(sync=True)

    async def _flush(self, *, sync: bool = False) -> None:
        """Hand the buffer to the sink, one hand-over at a time (``sync``: and commit).

        Workers that fill the buffer while a hand-over is in progress wait for it
        instead of growing the buffer: that is the back-pressure that keeps memory flat
        when the database is slower than the probes. The hand-over runs shielded, so a
        cancelled worker (hard stop) cannot cancel the writer's batch under the others.
        """
        while self._flushing is not None:
            await asyncio.shield(self._flushing)
        if not self._buffer and not sync:
            return
        rows, self._buffer = self._buffer, []
        self._flushing = asyncio.ensure_future(self._hand_over(rows, sync=sync))
        del rows  # the hand-over owns them now
        await asyncio.shield(self._flushing)

    async def _hand_over(self, rows: list[Row], *, sync: bool) -> None:
        try:
            if rows:
                await self.sink.put(rows)
            flush = getattr(self.sink, "flush", None)
            if sync and flush is not None:
                await flush()
        finally:
            self._flushing = None
