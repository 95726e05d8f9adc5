"""When a task may run and for how long: concurrency slots, per-endpoint token buckets,
per-worker deadlines and retry back-off. No I/O (asyncio timers and futures only).

These are the shard runner's scheduling parts (probes.engine.shard_runner), kept apart
from what it stores (probes.engine.row_encoding, probes.engine.ledger). They are on the
hot path: a DNS run takes a slot per batch and checks a deadline per task, so each part
costs a comparison when nothing has to wait (docs/dns.md, "Speed").
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time

from fragscope.probes.base import Endpoint
from fragscope.probes.engine.campaign import Limits
from fragscope.probes.engine.ratelimit import TokenBucket


class ConcurrencySlots:
    """At most ``limit`` tasks in flight (a batch takes one slot per task), handed out
    first come first served.

    A unit larger than the limit still runs when nothing else is in flight, so a batch
    never waits forever.
    """

    __slots__ = ("inflight", "limit", "waiters")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.inflight = 0
        self.waiters: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()
        """Workers waiting for slots, in arrival order."""

    def try_take(self, n: int) -> bool:
        """Take ``n`` slots if they are free and nobody waits in line; else False."""
        if not self.waiters and (self.inflight + n <= self.limit or self.inflight == 0):
            self.inflight += n
            return True
        return False

    async def take(self, n: int) -> None:
        """Take ``n`` slots, waiting in line for them.

        A released slot wakes only the waiters that now fit, in order: an Event woke every
        parked worker at each release (with 1024 workers and batches of 64, about 16
        wake-ups per query, each going back to sleep).
        """
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append((n, fut))
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release(n)  # granted just before the cancellation: give them back
            else:
                fut.cancel()  # release skips it
            raise

    def release(self, n: int) -> None:
        self.inflight -= n
        waiters = self.waiters
        while waiters:
            need, fut = waiters[0]
            if fut.done():  # cancelled while waiting
                waiters.popleft()
                continue
            if self.inflight + need > self.limit and self.inflight > 0:
                return
            waiters.popleft()
            self.inflight += need
            fut.set_result(None)


class EndpointBuckets:
    """One token bucket per endpoint (by label, else URL): the endpoint's own rate or the
    campaign's, the campaign's burst."""

    __slots__ = ("_buckets", "_limits")

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._buckets: dict[str, TokenBucket] = {}

    def for_endpoint(self, endpoint: Endpoint) -> TokenBucket:
        key = endpoint.label or endpoint.url
        b = self._buckets.get(key)
        if b is None:
            limits = self._limits
            b = self._buckets[key] = TokenBucket(endpoint.rate or limits.rate, limits.burst)
        return b


class WorkerDeadline:
    """A worker's deadline for the attempt it is measuring.

    It works like asyncio.timeout (cancel the worker, then uncancel) but with one lazily
    re-armed timer per worker instead of one per task: a timer that fires early re-arms
    itself for the current task's deadline, so fast tasks cost a clock read instead of a
    heap push and a cancelled handle each.
    """

    __slots__ = ("deadline_at", "expired", "handle", "loop", "measuring", "owner")

    def __init__(self, owner: asyncio.Task[None], loop: asyncio.AbstractEventLoop) -> None:
        self.owner = owner
        self.loop = loop
        self.deadline_at = 0.0
        self.measuring = False
        self.expired = False
        self.handle: asyncio.TimerHandle | None = None

    def start(self, seconds: float) -> float:
        """Start an attempt of at most ``seconds``; returns its start (time.monotonic())."""
        t0 = time.monotonic()
        self.deadline_at = t0 + seconds
        self.measuring = True
        if self.handle is None:
            self.handle = self.loop.call_at(self.deadline_at, self._check)
        return t0

    def withdraw_expiry(self) -> bool:
        """True if the deadline cancelled the worker; the cancellation is then withdrawn
        (the caller records a timeout instead, or keeps what a probe that swallowed the
        cancellation returned)."""
        if self.expired:
            self.expired = False
            self.owner.uncancel()
            return True
        return False

    def _check(self) -> None:
        self.handle = None
        if not self.measuring:
            return
        if time.monotonic() >= self.deadline_at:
            self.expired = True
            self.owner.cancel()
        else:
            self.handle = self.loop.call_at(self.deadline_at, self._check)


async def take_slots_unless_stopped(
    slots: ConcurrencySlots, n: int, stopped: asyncio.Event
) -> bool:
    """Take ``n`` slots, or give up as soon as ``stopped`` is set; True if taken.

    A stop must not wait for a slot to free up (that can take a whole attempt's deadline
    per batch ahead in line): the task was not started, so it is left for --resume.
    """
    if slots.try_take(n):
        return True
    if stopped.is_set():
        return False
    taking = asyncio.ensure_future(slots.take(n))
    stopping = asyncio.ensure_future(stopped.wait())
    try:
        await asyncio.wait((taking, stopping), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not taking.done():
            taking.cancel()  # ConcurrencySlots.take gives back slots granted meanwhile
    if taking.cancelled():
        with contextlib.suppress(asyncio.CancelledError):
            await taking
        return False
    return True


async def take_tokens_unless_stopped(bucket: TokenBucket, n: int, stopped: asyncio.Event) -> bool:
    """Take ``n`` tokens from ``bucket``, or give up as soon as ``stopped`` is set; True if
    taken. (TokenBucket.take sleeps until the tokens are there, which at a low rate and
    a large batch outlasts any stop budget.)"""
    if n > bucket.burst:
        raise ValueError(f"cannot take {n} tokens at once from a bucket of {bucket.burst}")
    while True:
        if stopped.is_set():
            return False
        wait = bucket.try_take(n)
        if wait <= 0:
            return True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await stopped.wait()


def retry_delay(backoff: float, attempt: int) -> float:
    """Seconds to wait before retrying after ``attempt`` (0-based): exponential back-off."""
    return backoff * (1 << attempt)
