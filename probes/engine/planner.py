"""The planner: campaign -> a stream of tasks with deterministic keys. Reads target files.

Tasks are yielded one at a time (repetition x target x probe x endpoint x TaskParams), so
memory does not grow with the target list. A task key is
``probe|target|endpoint|suffix|repetition``; a follow-up's key is its parent's key plus
``>suffix``, so the key of every task is a function of the campaign and the targets
alone, which makes resume, sharding and idempotent inserts work (docs/architecture.md §7).
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import traceback
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any

from fragscope.probes.base import ROUND_POSITION, Endpoint, Task, TaskParams
from fragscope.probes.engine.campaign import Campaign, ProbeSettings, TargetSource
from fragscope.probes.engine.targets import TargetEntry, read_targets

FOLLOW_UP_SEP = ">"
PLAN_ERROR = "_fragscope_plan_error"
"""Task param carrying the traceback of a probe's failed ``tasks_for``."""


@dataclass(frozen=True, slots=True)
class Shard:
    """Which slice of the task space this process runs: shard ``index`` of ``count``.

    Within a shard, local worker processes split the work again (``worker`` of
    ``workers``). Shard selection hashes the root task key with BLAKE2b keyed by the run's
    seed (ZMap's --shards/--seed idea): no coordination, and every key lands in exactly one
    shard, whichever machine plans it. The split between workers only has to agree among
    processes forked from one parent, which share the interpreter's string hash seed, so
    :meth:`owns` uses ``hash()`` for it (follow-ups queued again on resume), and the
    planner deals root tasks out in turn (:func:`plan`): every worker walks the whole
    plan, and a turn costs less than building the key of a task another worker runs.
    """

    index: int = 0
    count: int = 1
    seed: int = 0
    worker: int = 0
    workers: int = 1

    def _hash(self, root_key: str) -> int:
        digest = hashlib.blake2b(
            root_key.encode(), digest_size=8, key=self.seed.to_bytes(8, "big", signed=True)
        ).digest()
        return int.from_bytes(digest, "big")

    def in_shard(self, root_key: str) -> bool:
        """Whether the key is in this shard (whichever worker of it runs the task)."""
        return self.count == 1 or self._hash(root_key) % self.count == self.index

    def owns(self, root_key: str) -> bool:
        if not self.in_shard(root_key):
            return False
        return self.workers == 1 or hash(root_key) % self.workers == self.worker


WHOLE = Shard()
"""The whole task space (no sharding)."""


def task_key(
    probe: str,
    target: str,
    *,
    endpoint: str,
    suffix: str,
    repetition: int,
    address: str | None = None,
) -> str:
    """The key of a planned task (the planner builds the same string inline).

    A target pinned to an address is keyed with it (``name@address``): a list may pin one
    name to several addresses (its IPv4 and IPv6 ones), and each is a task of its own.
    """
    where = target if address is None else f"{target}@{address}"
    return f"{probe}|{where}|{endpoint}|{suffix}|{repetition}"


def root_of(key: str) -> str:
    return key.split(FOLLOW_UP_SEP, 1)[0]


@dataclass(frozen=True, slots=True)
class PlannedProbe:
    """A campaign probe ready for planning: its instance, endpoints and deadline."""

    settings: ProbeSettings
    instance: Any
    endpoints: tuple[Endpoint | None, ...]
    deadline: float

    @property
    def takes_namespace(self) -> bool:
        """Whether the probe routes by a target's namespace (``tasks_for(..., namespace=)``):
        a list line's explicit namespace (probes/engine/targets.py) is handed to it."""
        return bool(getattr(self.instance, "routes_by_namespace", False))

    @property
    def shuffled(self) -> bool:
        """Whether the probe's tasks run in a seeded random order (``shuffled_in_round``)."""
        return bool(getattr(self.instance, "shuffled_in_round", False))


KEEP_ENTRIES = 100_000
"""A target list up to this long is read once per run, not once per repetition."""

SHUFFLE_WINDOW = 10_000
"""A shuffled probe's tasks are held this many at a time, so memory stays bounded: a list
with up to this many of its tasks is shuffled whole per repetition, a longer one window by
window (each window in a random order, the windows in list order)."""


def shuffled_order(seed: int, repetition: int, list_number: int, window: int, n: int) -> list[int]:
    """The order (a permutation of ``range(n)``) of one window of held tasks: drawn from
    the run's seed, so every shard and worker, and a resumed run, draws the same one."""
    order = list(range(n))
    # A str seed is hashed with SHA-512 (random.seed, version 2): the same in every process.
    random.Random(f"{seed}|{repetition}|{list_number}|{window}").shuffle(order)
    return order


def _entries(
    source: TargetSource, number: int, kept: dict[int, list[TargetEntry]], *, keep: bool
) -> Iterator[TargetEntry]:
    """The list's entries; a short list of a repeated campaign is kept for the next
    repetition (a long one is read again: memory must not grow with the list)."""
    entries = kept.get(number)
    if entries is not None:
        yield from entries
        return
    out: list[TargetEntry] | None = [] if keep else None
    for entry in read_targets(source):
        if out is not None:
            out.append(entry)
            if len(out) > KEEP_ENTRIES:
                out = None
        yield entry
    if out is not None:
        kept[number] = out


def _root_task(
    key: str,
    p: PlannedProbe,
    entry: TargetEntry,
    endpoint: Endpoint | None,
    tp: TaskParams,
    repetition: int,
) -> Task:
    params = tp.params
    if entry.address is not None:
        params = {**params, "address": entry.address}
    return Task(key, p.settings.name, entry.name, endpoint, params, repetition, None, p.deadline)


def plan(
    campaign: Campaign,
    probes: list[PlannedProbe],
    *,
    shard: Shard = WHOLE,
    skip: Collection[str] = (),
    on_target: Callable[[TargetSource, TargetEntry], None] | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> Iterator[Task]:
    """Yield the campaign's root tasks of ``shard`` (its worker's turns) not in ``skip``.

    ``on_target`` sees each target once (in the first repetition), before its tasks.
    ``stop`` is polled per target: planning ends early when it returns True.

    The tasks of a probe with ``shuffled_in_round`` are held back and come after the
    list's other tasks, per repetition, in :func:`shuffled_order` (SHUFFLE_WINDOW at a
    time), each with its place in that order as param ROUND_POSITION: transport.sni's A/B
    tests then do not always meet a censor in list order (docs/transport.md).
    """
    in_shard = shard.in_shard
    sharded = shard.count > 1
    # Root tasks are dealt to the workers in turn, in plan order (the same in every
    # worker, so each task is run by exactly one), before their key is built: a worker
    # builds only the keys of its own turns. The shard test then keeps those of the shard.
    workers, worker, turn = shard.workers, shard.worker, 0
    kept: dict[int, list[TargetEntry]] = {}

    def release(
        held: list[Task], repetition: int, number: int, window: int, first: int
    ) -> Iterator[Task]:
        # Held tasks are dealt in their shuffled order, which every worker draws alike;
        # ``first`` is the place of the window's first task in the list's order.
        nonlocal turn
        for place, i in enumerate(
            shuffled_order(shard.seed, repetition, number, window, len(held))
        ):
            if workers > 1:
                mine = turn == worker
                turn = turn + 1 if turn + 1 < workers else 0
                if not mine:
                    continue
            t = held[i]
            if (sharded and not in_shard(t.key)) or t.key in skip:
                continue
            yield dataclasses.replace(t, params={**t.params, ROUND_POSITION: first + place})

    for repetition in range(campaign.repeat):
        for number, source in enumerate(campaign.targets):
            chosen = [
                p
                for p in probes
                if p.settings.lists is None or source.list_name in p.settings.lists
            ]
            if not chosen:
                continue
            held: list[Task] = []
            window = first = 0
            for entry in _entries(source, number, kept, keep=campaign.repeat > 1):
                if stop():
                    return
                if repetition == 0 and on_target is not None:
                    on_target(source, entry)
                name = entry.name
                where = name if entry.address is None else f"{name}@{entry.address}"
                for p in chosen:
                    probe_name = p.settings.name
                    for endpoint in p.endpoints:
                        ep = (endpoint.label or endpoint.url) if endpoint is not None else "-"
                        try:
                            if entry.namespace is not None and p.takes_namespace:
                                cells = list(
                                    p.instance.tasks_for(name, endpoint, namespace=entry.namespace)
                                )
                            else:
                                cells = list(p.instance.tasks_for(name, endpoint))
                        except Exception as exc:
                            # A bug in the probe's planning: one task that the engine
                            # records as unknown_failure (with the traceback), never a crash.
                            tb = "".join(traceback.format_exception(exc))
                            cells = [TaskParams("!plan", {PLAN_ERROR: tb})]
                        if p.shuffled:
                            for tp in cells:
                                key = f"{probe_name}|{where}|{ep}|{tp.key_suffix}|{repetition}"
                                held.append(_root_task(key, p, entry, endpoint, tp, repetition))
                            if len(held) >= SHUFFLE_WINDOW:
                                yield from release(held, repetition, number, window, first)
                                window, first, held = window + 1, first + len(held), []
                            continue
                        for tp in cells:
                            if workers > 1:
                                mine = turn == worker
                                turn = turn + 1 if turn + 1 < workers else 0
                                if not mine:
                                    continue
                            key = f"{probe_name}|{where}|{ep}|{tp.key_suffix}|{repetition}"
                            if sharded and not in_shard(key):
                                continue
                            if key in skip:
                                continue
                            yield _root_task(key, p, entry, endpoint, tp, repetition)
            if held:
                yield from release(held, repetition, number, window, first)
