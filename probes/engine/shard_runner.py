"""The shard runner: runs a campaign's tasks (one shard, or one worker's slice of it) under
limits and hands rows to a sink. Network via probes.

One event loop; ``concurrency`` long-lived worker coroutines pull work units (a task, or
a batch of tasks for probes with ``measure_many``) from the planner's stream, so no
asyncio.Task is created per task. Per-endpoint token buckets pace the traffic, a
deadline bounds every attempt (a deadline hit is a ``generic_timeout_error`` row),
retryable failures are retried with exponential backoff and stored as attempts 0..N, and
an unexpected exception in a probe (a CancelledError that neither the deadline nor a stop
sent, too) becomes an ``unknown_failure`` row with the traceback.

A task is taken from the plan only when it can start: one worker at a time holds the
dispatch gate, takes the next unit, and waits there for its concurrency slots and its
endpoint's rate tokens (the other workers wait for the gate empty-handed). So nothing
queues in memory behind the rate limit, and a stop (--max-duration, SIGTERM, SIGINT)
costs at most the attempts in flight: the unit at the gate is dropped unstarted, retries
are not begun, and whatever did not start is left to --resume (docs/operations.md, "Stops").
A task's observation rows, its follow-ups and its ``tasks_done`` ledger row go to the
sink in one call, so they land in one writer transaction: a kill -9 never leaves one
without the other.

Its parts live in modules of their own: scheduling (slots, buckets, deadlines, back-off)
in probes.engine.scheduling, policy verdicts in probes.engine.destinations, rows in
probes.engine.row_encoding, the ledger of finished tasks in probes.engine.ledger, the
hand-over to the sink in probes.engine.handover.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import time
import traceback
from collections.abc import Collection, Iterable, Iterator
from typing import Any

from fragscope.db.vocab import Failure, Operation
from fragscope.db.writer import Row
from fragscope.probes import registry
from fragscope.probes.base import Clock, Endpoint, FollowUp, Observation, SystemClock, Task
from fragscope.probes.endpoints import contacted_urls
from fragscope.probes.engine.campaign import Campaign, ProbeSettings, TargetSource, build_config
from fragscope.probes.engine.destinations import DestinationGate, Verdict
from fragscope.probes.engine.handover import RowHandOver
from fragscope.probes.engine.ledger import TaskLedger
from fragscope.probes.engine.planner import (
    FOLLOW_UP_SEP,
    PLAN_ERROR,
    WHOLE,
    PlannedProbe,
    Shard,
    plan,
)
from fragscope.probes.engine.row_encoding import ObservationEncoder, failure_observation
from fragscope.probes.engine.scheduling import (
    ConcurrencySlots,
    EndpointBuckets,
    WorkerDeadline,
    retry_delay,
    take_slots_unless_stopped,
    take_tokens_unless_stopped,
)
from fragscope.probes.engine.state import EngineResult, ProbeRuntime, Sink, endpoint_from_json
from fragscope.probes.engine.targets import TargetEntry
from fragscope.probes.safety import NetworkPolicy

BATCH_GRACE_S = 1.0
"""Extra time a batch gets over its tasks' deadline (measure_many times out each itself)."""
YIELD_EVERY = 256
"""Units a worker runs before yielding, so a probe that never awaits cannot starve the loop."""


class ShardRunner:
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
        self._out = RowHandOver(sink, flush_rows=flush_rows)
        self._plan: Iterator[Task] | None = None
        self._gate = DestinationGate(policy)
        self._buckets = EndpointBuckets(limits)
        self._slots = ConcurrencySlots(self.concurrency)
        self._more = asyncio.Event()
        self._dispatch = asyncio.Lock()
        """The dispatch gate: its holder is the only worker holding a unit not started."""
        self._stop_event = asyncio.Event()
        self._busy = 0
        self._started = 0
        """Tasks that passed the gate (each ends in _finished unless a hard stop cancels it)."""
        self._dropped = 0
        """Tasks taken from the plan but not started because a stop came (left to --resume)."""
        self._plan_cut = False
        """Planning ended early because of a stop (the plan was not exhausted)."""
        self._stopping = False
        self._hard_stop = False
        self._stopped: str | None = None
        self._deadline_at: float | None = None
        self.done = 0
        self.planned = 0
        self.spawned = 0
        """Follow-up tasks queued so far (progress totals grow by them)."""
        self.targets = 0
        self._encoder = ObservationEncoder(run_id=run_id, vantage_id=vantage_id, clock=self.clock)
        self._ledger = TaskLedger(run_id=run_id, shard_index=shard.index, clock=self.clock)

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

    # -- control ----------------------------------------------------------------------

    def stop(self, *, hard: bool = False, reason: str = "signal") -> None:
        """Stop planning and drain in-flight tasks; ``hard`` also abandons retries."""
        if self._stopped is None:
            self._stopped = reason
        self._stopping = True
        if hard:
            self._hard_stop = True
        self._more.set()
        self._stop_event.set()

    def _should_stop(self) -> bool:
        if self._stopping:
            return True
        if self._deadline_at is not None and time.monotonic() >= self._deadline_at:
            self.stop(reason="max_duration")
            return True
        return False

    def _plan_should_stop(self) -> bool:
        if self._should_stop():
            self._plan_cut = True
            return True
        return False

    @property
    def complete(self) -> bool:
        """Every task of the plan and every follow-up finished (so far as this engine
        knows: a stop that came after the last task started leaves it complete)."""
        return (
            self._plan is None
            and not self._plan_cut
            and not self._batches
            and not self._followups
            and self._dropped == 0
            and self._started == self.done
        )

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
        return self._gate.blocked(task)

    def verdicts(self) -> dict[str, Verdict]:
        """Policy verdicts of every URL the panel's endpoints reach, UNS layers included
        (resolving them if needed)."""
        return {
            url: self._gate.endpoint(url)
            for e in self.campaign.endpoints
            for url in contacted_urls(e.url, e.options)
        }

    # -- planning ---------------------------------------------------------------------

    def _on_target(self, source: TargetSource, entry: TargetEntry) -> None:
        self.targets += 1
        if self.write_targets:
            self._out.rows.append(self._encoder.target(source, entry))

    @property
    def planned_probes(self) -> tuple[PlannedProbe, ...]:
        """The campaign's probes as planned: instance, endpoints, deadline."""
        return tuple(self._planned)

    def tasks(self) -> Iterator[Task]:
        """The root tasks this engine would run (used by ``run --dry-run`` too)."""
        return plan(
            self.campaign,
            self._planned,
            shard=self.shard,
            skip=self.skip,
            on_target=self._on_target,
            stop=self._plan_should_stop,
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
                    limit = min(limit, self._buckets.for_endpoint(ep).burst)
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
        # A timer, not only the checks between tasks: a worker waiting at the gate for a
        # slot or a token must hear of the deadline when it passes.
        expiry = (
            self._loop.call_later(
                self.max_duration, functools.partial(self.stop, reason="max_duration")
            )
            if self.max_duration is not None
            else None
        )
        workers = [asyncio.create_task(self._worker()) for _ in range(self.concurrency)]
        flusher = asyncio.create_task(self._out.flush_periodically())
        try:
            await asyncio.gather(*workers)
        finally:
            if expiry is not None:
                expiry.cancel()
            flusher.cancel()
            for w in workers:
                w.cancel()
            await asyncio.gather(flusher, *workers, return_exceptions=True)
            await self._close_probes()
            await self._out.flush()
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
                    self._encoder.observation(rt, task, attempt=0, obs=obs, rows=rows)
                self._out.rows.extend(rows)
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
        return EngineResult(stats=stats, stopped=self._stopped, complete=self.complete)

    async def _worker(self) -> None:
        current = asyncio.current_task()
        assert current is not None
        slot = WorkerDeadline(current, self._loop)
        slots = self._slots
        since_yield = 0
        while True:
            async with self._dispatch:
                unit = await self._take_unit()
            if unit is None:
                if self._busy == 0 and (self._stopping or not self._followups):
                    self._more.set()
                    return
                self._more.clear()
                await self._more.wait()
                continue
            self._busy += 1
            n = len(unit) if isinstance(unit, list) else 1
            try:
                if isinstance(unit, list):
                    await self._run_batch(unit)
                else:
                    await self._run_one(unit, slot=slot)
            finally:
                slots.release(n)
                self._busy -= 1
                if self._busy == 0 or self._followups:
                    self._more.set()
            since_yield += 1
            if since_yield >= YIELD_EVERY:
                since_yield = 0
                await asyncio.sleep(0)

    async def _take_unit(self) -> Task | list[Task] | None:
        """The next unit, with its slots and first attempt's tokens taken; None if there
        is none now or a stop came while it waited (it is then dropped, unstarted)."""
        unit = self._next_unit(self._plan)
        if unit is None:
            return None
        tasks = unit if isinstance(unit, list) else [unit]
        # Concurrency counts tasks in flight: a batch takes one slot per task.
        n = len(tasks)
        slots = self._slots
        try:
            if not slots.try_take(n) and not await take_slots_unless_stopped(
                slots, n, self._stop_event
            ):
                self._dropped += n
                return None
            ep = tasks[0].endpoint
            if ep is not None:
                # Tokens for the tasks that will send: a task refused by the policy, or a
                # planning error, is recorded without a packet and without waiting.
                sending = sum(1 for t in tasks if self._sends(t))
                if sending and not await take_tokens_unless_stopped(
                    self._buckets.for_endpoint(ep), sending, self._stop_event
                ):
                    slots.release(n)
                    self._dropped += n
                    return None
        except asyncio.CancelledError:
            self._dropped += n  # a hard stop: the run is not complete
            raise
        self._started += n
        return unit

    def _sends(self, task: Task) -> bool:
        if task.params and PLAN_ERROR in task.params:
            return False
        return self._gate.blocked(task) is None

    def _failure(
        self, task: Task, failure: Failure, *, operation: Operation | None, detail: str, t0: float
    ) -> Observation:
        return failure_observation(
            type(self._runtime(task.probe).instance).table,
            task,
            failure,
            operation=operation,
            detail=detail,
            t0=t0,
            clock=self.clock,
        )

    def _cancelled_inside(
        self, task: Task, exc: asyncio.CancelledError, *, t0: float
    ) -> Observation:
        """A CancelledError that neither the engine's deadline nor a stop sent: something
        inside the probe cancelled it. A bug, stored as ``unknown_failure`` with the
        traceback, instead of ending the worker and the run as if interrupted."""
        tb = "".join(traceback.format_exception(exc))
        detail = f"cancelled inside the probe, not by the engine:\n{tb}"
        return self._failure(task, Failure.UNKNOWN_FAILURE, operation=None, detail=detail, t0=t0)

    async def _measure(self, rt: ProbeRuntime, task: Task, *, slot: WorkerDeadline) -> Observation:
        """One attempt under the task's deadline (scheduling.WorkerDeadline)."""
        t0 = slot.start(task.deadline_s)
        try:
            obs: Observation = await rt.instance.measure(task)
        except asyncio.CancelledError as exc:
            if slot.withdraw_expiry():
                return self._failure(
                    task,
                    Failure.GENERIC_TIMEOUT_ERROR,
                    operation=None,
                    detail=f"engine deadline of {task.deadline_s:g} s exceeded",
                    t0=t0,
                )
            if slot.owner.cancelling():
                raise  # the run is being stopped hard: the task is left for --resume
            return self._cancelled_inside(task, exc, t0=t0)
        except Exception as exc:
            tb = "".join(traceback.format_exception(exc))
            return self._failure(task, Failure.UNKNOWN_FAILURE, operation=None, detail=tb, t0=t0)
        finally:
            slot.measuring = False
        # The probe may have swallowed the cancellation and returned anyway.
        slot.withdraw_expiry()
        return obs

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
        obs = self._encoder.observation(rt, task, attempt=0, obs=obs, rows=rows)
        await self._finish(rt, task, attempt=0, obs=obs, rows=rows)

    async def _run_one(self, task: Task, *, slot: WorkerDeadline) -> None:
        rt = self._runtime(task.probe)
        if task.params and PLAN_ERROR in task.params:
            await self._record_unsent(
                rt, task, Failure.UNKNOWN_FAILURE, operation=None, detail=task.params[PLAN_ERROR]
            )
            return
        blocked = self._gate.blocked(task)
        if blocked is not None:
            await self._record_unsent(
                rt, task, Failure.BLOCKED_BY_POLICY, operation=Operation.CONNECT, detail=blocked
            )
            return
        bucket = self._buckets.for_endpoint(task.endpoint) if task.endpoint is not None else None
        rows: list[Row] = []
        attempt = 0
        while True:
            # The first attempt's token was taken at the gate (_take_unit).
            if attempt and bucket is not None and bucket.try_take(1) > 0:
                await bucket.take(1)
            obs = await self._measure(rt, task, slot=slot)
            obs = self._encoder.observation(rt, task, attempt=attempt, obs=obs, rows=rows)
            if obs.retryable and attempt < rt.retries and not self._stopping:
                await asyncio.sleep(retry_delay(self.backoff, attempt))
                if self._stopping:
                    break  # a stop during the back-off: the attempts made are the task's
                attempt += 1
                continue
            break
        await self._finish(rt, task, attempt=attempt, obs=obs, rows=rows)

    async def _run_batch(self, tasks: list[Task]) -> None:
        rt = self._runtime(tasks[0].probe)
        ep = tasks[0].endpoint
        bucket = self._buckets.for_endpoint(ep) if ep is not None else None
        rows_by: dict[str, list[Row]] = {}
        pending: list[Task] = []
        for task in tasks:
            blocked = self._gate.blocked(task)
            if blocked is None:
                pending.append(task)
            else:
                await self._record_unsent(
                    rt, task, Failure.BLOCKED_BY_POLICY, operation=Operation.CONNECT, detail=blocked
                )
        attempt = 0
        last: dict[str, Observation] = {}
        while pending:
            # The first attempt's tokens were taken at the gate (_take_unit).
            if attempt and bucket is not None:
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
            except asyncio.CancelledError as exc:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # the run is being stopped hard: the tasks are left for --resume
                results = [self._cancelled_inside(t, exc, t0=t0) for t in pending]
            except Exception as exc:
                tb = "".join(traceback.format_exception(exc))
                results = [
                    self._failure(t, Failure.UNKNOWN_FAILURE, operation=None, detail=tb, t0=t0)
                    for t in pending
                ]
            retry: list[Task] = []
            # A stop begins no retry: the bound on a stop is the attempts in flight.
            may_retry = attempt < rt.retries and not self._stopping
            rows_for = self._encoder.observation
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
                    last[task.key] = obs
                    retry.append(task)
                else:
                    finished(rt, task, attempt=attempt, obs=obs, rows=rows)
            # One hand-over check per batch, not a coroutine per task.
            await self._out.flush_if_full()
            if retry:
                await asyncio.sleep(retry_delay(self.backoff, attempt))
                if self._stopping:
                    # A stop during the back-off: the attempts made are the tasks'.
                    for task in retry:
                        rows = rows_by.pop(task.key)
                        finished(rt, task, attempt=attempt, obs=last.pop(task.key), rows=rows)
                    retry = []
            pending = retry
            attempt += 1

    async def _finish(
        self, rt: ProbeRuntime, task: Task, *, attempt: int, obs: Observation, rows: list[Row]
    ) -> None:
        self._finished(rt, task, attempt=attempt, obs=obs, rows=rows)
        await self._out.flush_if_full()

    def _finished(
        self, rt: ProbeRuntime, task: Task, *, attempt: int, obs: Observation, rows: list[Row]
    ) -> None:
        """Queue a finished task's rows with its ledger row and follow-ups; count it."""
        failure = str(obs.failure) if obs.failure is not None else None
        rows.append(self._ledger.done(task.key, rt.name, attempts=attempt + 1, failure=failure))
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
        # No local name for the buffer (handover.RowHandOver.rows says why).
        self._out.rows.extend(rows)

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
        rows.append(self._ledger.follow_up(key, parent, fu))
        if key not in self.skip and not self._hard_stop:
            self.spawned += 1
            self._followups.append(child)
            self._more.set()
