"""The single writer: batched, idempotent inserts of observation rows. Does I/O.

The hot path hands tuples (in the model's column order) to the DBAPI's executemany, as
``INSERT ... ON CONFLICT DO NOTHING`` (SQLite >= 3.24 and PostgreSQL), inside one
transaction per batch, each table's rows in primary-key order. SQLAlchemy Core with dicts
costs ~4x more per row here (docs/architecture.md §8); the
models stay the single source of truth because the column lists and SQL are derived from
them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import queue
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.schema import CallableColumnDefault, ScalarElementColumnDefault

from fragscope.db.models import Base
from fragscope.db.vocab import Failure, Operation

_FAILURES = frozenset(Failure)
_OPERATIONS = frozenset(Operation)


def datetime_text(value: dt.datetime) -> str:
    """The stored form of a timestamp: naive UTC text, as SQLAlchemy's DateTime reads it."""
    # The text form SQLAlchemy's SQLite DateTime reads back; always UTC, stored naive.
    # Positional arguments: this runs once per row on the writer's hot path.
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


# The driver applies adapters while binding, so rows stay plain tuples (no per-row rebuild).
sqlite3.register_adapter(dt.datetime, datetime_text)
sqlite3.register_adapter(dict, lambda v: json.dumps(v, sort_keys=True))
sqlite3.register_adapter(list, json.dumps)
# sqlite3 binds only exact int, float, str and bytearray directly; any other value (None,
# a bool, bytes) first goes through its adaptation protocol, and with no adapter
# registered that ends in a failed ``__adapt__`` lookup on the protocol type, which
# raises and clears an AttributeError every time. A DNS row has some 25 such values
# (flags, raw wire, empty columns): that was a third of the writer's binding cost. A
# registered adapter is one dict hit and one C call, and binds the same value: None stays
# NULL, a bool the integer 0/1 that SQLite stores for it anyway, bytes the same BLOB
# (docs/dns.md, "Speed"; tests/test_writer_binding.py compares the rows).
# {}.get(None) is None: a C call, where a lambda would be a Python frame per value.
sqlite3.register_adapter(type(None), cast(Callable[[None], None], {}.get))
sqlite3.register_adapter(bool, int)
sqlite3.register_adapter(bytes, bytes)


class VocabularyError(ValueError):
    """A row names a failure or operation outside the closed vocabulary."""


class StorageError(RuntimeError):
    """The database refused rows of a batch. Every row it would take is committed; the
    message is one line naming the table (and column, when the database says it); the
    database's own report, with the statement, goes to the debug log."""


_log = logging.getLogger(__name__)
LEDGER_TABLES = ("tasks_done", "task_followups")
"""A task's ledger rows: committed only if every observation row of the task is."""


@dataclass(frozen=True, slots=True, eq=False)
class TableSpec:
    """How to write one table: its column order and a tuple builder checked against it."""

    table: Table
    columns: tuple[str, ...]
    column_set: frozenset[str] = frozenset()
    primary_key: Callable[[tuple[Any, ...]], Any] | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    """Column -> the value a row that leaves the column out gets (the model's default)."""

    @classmethod
    def of(cls, table: Table) -> TableSpec:
        """The spec of any table (spec_for caches the ones of fragscope's metadata).

        A database-assigned id (``indicator_values.id``) is left out: PostgreSQL fills it
        from its sequence only when the column is absent from the INSERT.
        """
        auto = table.autoincrement_column
        columns = tuple(c.name for c in table.columns if c is not auto)
        key_names = [c.name for c in table.primary_key.columns]
        primary_key = None
        if key_names and set(key_names) <= set(columns):
            primary_key = itemgetter(*(columns.index(name) for name in key_names))
        return cls(
            table=table,
            columns=columns,
            column_set=frozenset(columns),
            primary_key=primary_key,
            defaults=column_defaults(table),
        )

    @property
    def name(self) -> str:
        return self.table.name

    def row(self, **values: Any) -> tuple[Any, ...]:
        """Build a row tuple from keyword values; unknown names fail loudly, missing are NULL.

        Envelope vocabularies are checked here, before anything reaches the database, so
        one bad row cannot abort a whole batch at the foreign key.
        """
        if not values.keys() <= self.column_set:
            unknown = sorted(values.keys() - self.column_set)
            raise KeyError(f"{self.name}: unknown columns {unknown}")
        failure = values.get("failure")
        if failure is not None and failure not in _FAILURES:
            raise VocabularyError(f"{self.name}.failure: {failure!r} is not in the vocabulary")
        operation = values.get("failed_operation")
        if operation is not None and operation not in _OPERATIONS:
            raise VocabularyError(
                f"{self.name}.failed_operation: {operation!r} is not in the vocabulary"
            )
        get = values.get
        defaults = self.defaults
        return tuple([_plain(get(c, defaults.get(c))) for c in self.columns])


def column_defaults(table: Table) -> dict[str, Any]:
    """The model's defaults of ``table``'s columns, as values a row tuple can hold.

    The writer's INSERT names every column, so a column the row leaves out is bound as
    NULL and neither SQLAlchemy's default nor the server's applies: a NOT NULL column
    with a default (``dns_observations.purpose``) must get its value from the row builder,
    or every row that omits it (the engine's failure rows, issue 18) is refused.
    """
    found: dict[str, Any] = {}
    for column in table.columns:
        default = column.default
        if isinstance(default, ScalarElementColumnDefault):
            found[column.name] = default.arg
        elif isinstance(default, CallableColumnDefault):
            # list / dict for JSON columns; SQLAlchemy wraps them to take a context.
            found[column.name] = default.arg(None)  # type: ignore[arg-type]
    return found


def _plain(value: Any) -> Any:
    # StrEnum members are str subclasses; the drivers bind them as text already, but
    # psycopg looks at the exact type, so store the plain string.
    if isinstance(value, StrEnum):
        return str(value)
    # Timestamps leave in their storage text (both SQLite's DateTime and a PostgreSQL
    # timestamp read it), so the writer's thread does not call the datetime adapter once
    # per row: that call was 15-30 % of the writer's CPU per row (bench/writer.py).
    if isinstance(value, dt.datetime):
        return datetime_text(value)
    return value


@cache
def spec_for(table_name: str) -> TableSpec:
    """The TableSpec of a table in fragscope's metadata."""
    return TableSpec.of(Base.metadata.tables[table_name])


Row = tuple[TableSpec, tuple[Any, ...]]
"""A row ready for the writer: its table's spec and its values in column order."""


@cache
def _insert_sql(spec: TableSpec, placeholder: str) -> str:
    cols = ", ".join(f'"{c}"' for c in spec.columns)
    marks = ", ".join([placeholder] * len(spec.columns))
    return f'INSERT INTO "{spec.name}" ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING'


@cache
def _table_order() -> dict[str, int]:
    # Parents before children, so foreign keys hold inside one transaction.
    return {t.name: i for i, t in enumerate(Base.metadata.sorted_tables)}


class Writer:
    """Synchronous batch writer over one Engine; one transaction per :meth:`write`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._placeholder = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._is_pg = engine.dialect.name == "postgresql"
        self.rows_written = 0

    def write(self, rows: Iterable[Row]) -> int:
        """Insert the rows in one transaction; duplicates are ignored. Returns rows offered."""
        by_table: dict[TableSpec, list[tuple[Any, ...]]] = defaultdict(list)
        for spec, values in rows:
            by_table[spec].append(values)
        return self.write_tables(by_table)

    def write_tables(self, by_table: dict[TableSpec, list[tuple[Any, ...]]]) -> int:
        """:meth:`write` for rows already grouped by table (the engine's worker pipes)."""
        if not by_table:
            return 0
        order = _table_order()
        last = len(order)  # tables outside fragscope's metadata (benchmarks, tests) go last
        specs = sorted(by_table, key=lambda s: order.get(s.name, last))
        count = 0
        try:
            with self.engine.begin() as conn:
                if self._is_pg:
                    _pg_json_dumpers(conn.connection.driver_connection)
                for spec in specs:
                    batch = by_table[spec]
                    if spec.primary_key is not None:
                        # Client-assigned keys are hashes, so rows arrive in random key
                        # order and each insert would descend to a cold leaf of the key's
                        # B-tree. In key order, consecutive inserts land on the same few
                        # pages: the classic sorted bulk load (bench/writer.py); nothing
                        # stored changes.
                        batch = sorted(batch, key=spec.primary_key)
                    conn.exec_driver_sql(_insert_sql(spec, self._placeholder), batch)
                    count += len(batch)
        except DBAPIError as exc:
            _log.debug("the database refused a batch; storing it row by row", exc_info=True)
            return self._salvage(specs, by_table, first=exc)
        self.rows_written += count
        return count

    def _salvage(
        self,
        specs: list[TableSpec],
        by_table: dict[TableSpec, list[tuple[Any, ...]]],
        *,
        first: DBAPIError,
    ) -> int:
        """A refused batch, again row by row: store every row the database takes, then
        raise :class:`StorageError` for the rest (issue 18: one bad row used to take its
        whole batch, and with it every row measured since the last commit).

        A task whose observation (or child) row is refused loses its ledger rows too, so
        ``--resume`` measures it again; children of a refused row are not offered.
        """
        refused_keys: set[str] = set()
        refused_ids: set[Any] = set()
        refused = stored = 0
        where = _table_of(first, specs)
        reason: DBAPIError = first
        ordered = [s for s in specs if s.name not in LEDGER_TABLES]
        ordered += [s for s in specs if s.name in LEDGER_TABLES]
        try:
            with self.engine.begin() as conn:
                if self._is_pg:
                    _pg_json_dumpers(conn.connection.driver_connection)
                for spec in ordered:
                    sql = _insert_sql(spec, self._placeholder)
                    skip = _dependent_on(spec, refused_keys, refused_ids)
                    own_key = _column_getter(spec, "task_key")
                    own_id = _column_getter(spec, "id")
                    for values in by_table[spec]:
                        if skip(values):
                            refused += 1
                            continue
                        try:
                            self._insert_one(conn, sql, values)
                            stored += 1
                        except DBAPIError as exc:
                            _log.debug("row refused by %s", spec.name, exc_info=True)
                            refused += 1
                            if reason is first:
                                reason, where = exc, spec.name
                            if own_key is not None and spec.name not in LEDGER_TABLES:
                                refused_keys.add(own_key(values))
                            if own_id is not None:
                                refused_ids.add(own_id(values))
        except DBAPIError as exc:
            # The commit itself failed (a full disk): nothing of this batch is stored.
            _log.debug("the database refused the salvaged batch", exc_info=True)
            refused, stored = refused + stored, 0
            reason = exc
        self.rows_written += stored
        if not refused:
            return stored
        raise StorageError(
            f"the database refused {refused} rows of {where}: {_first_line(reason)} "
            f"({stored} rows of the batch stored; refused tasks are left for --resume)"
        ) from reason

    def _insert_one(self, conn: Connection, sql: str, values: tuple[Any, ...]) -> None:
        if self._is_pg:
            # PostgreSQL aborts the whole transaction on an error; a savepoint keeps it.
            with conn.begin_nested():
                conn.exec_driver_sql(sql, values)
        else:
            # SQLite undoes the failed statement only (statement-level atomicity).
            conn.exec_driver_sql(sql, values)


def _first_line(exc: DBAPIError) -> str:
    """The database's own message, without SQLAlchemy's statement and parameters."""
    text = str(exc.orig) if exc.orig is not None else str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def _table_of(exc: DBAPIError, specs: list[TableSpec]) -> str:
    """The table an error's statement inserted into, if one of ``specs``."""
    statement = exc.statement or ""
    for spec in specs:
        if statement.startswith(f'INSERT INTO "{spec.name}"'):
            return spec.name
    return ", ".join(s.name for s in specs)


def _column_getter(spec: TableSpec, column: str) -> Callable[[tuple[Any, ...]], Any] | None:
    return itemgetter(spec.columns.index(column)) if column in spec.column_set else None


def _dependent_on(
    spec: TableSpec, refused_keys: set[str], refused_ids: set[Any]
) -> Callable[[tuple[Any, ...]], bool]:
    """Whether a row of ``spec`` belongs to a refused row: a child of a refused
    observation, or the ledger row of a task with a refused row."""
    if spec.name == "tasks_done":
        key = itemgetter(spec.columns.index("task_key"))
        return lambda values: key(values) in refused_keys
    if spec.name == "task_followups":
        parent = itemgetter(spec.columns.index("parent_key"))
        return lambda values: parent(values) in refused_keys
    if "observation_id" in spec.column_set:
        oid = itemgetter(spec.columns.index("observation_id"))
        return lambda values: oid(values) in refused_ids
    return lambda _values: False


def _pg_json_dumpers(raw: Any) -> None:
    from psycopg.types.json import JsonDumper

    raw.adapters.register_dumper(dict, JsonDumper)
    raw.adapters.register_dumper(list, JsonDumper)


MAX_BUFFERED_ROWS = 20_000
"""Rows the AsyncWriter buffers while a transaction is written, before producers wait.

It holds at most this many rows twice (the buffer and the transaction in flight), so it
bounds the engine's memory whatever the number of targets: at 100,000 (the first group
commit) a run held up to 200,000 rows behind a busy database, some 50 MB of the
1,000,000-target bench's peak (issue 22; SQLite's page cache was the rest).
Transactions of up to 20,000 rows still spread a commit's fixed cost over thousands of
rows: about 1 us of the writer's ~20 us per DNS query (bench/dns.py).
"""


class AsyncWriter:
    """The writer task of the engine: buffers rows and writes them off the loop.

    All database work happens on one dedicated thread (SQLite connections belong to one
    thread), so the event loop never blocks on a commit; sqlite3 releases the GIL while a
    statement steps, so the inserts run beside the event loop on a second core.

    Group commit: a batch is handed over once ``batch_rows`` are buffered; while it is
    being written, rows keep accumulating and the next transaction takes all of them, up
    to ``max_rows`` (only then do producers wait). Under load transactions grow, and
    with them the rows per dirtied B-tree page: the fixed cost of a commit (the WAL
    frames of every touched page) is what limits small transactions (bench/writer.py).
    ``flush`` returns once the rows handed in so far are committed: the engine calls it
    before reporting a run finished.
    """

    def __init__(
        self, writer: Writer, *, batch_rows: int = 5000, max_rows: int = MAX_BUFFERED_ROWS
    ) -> None:
        self.writer = writer
        self.batch_rows = batch_rows
        self.max_rows = max(max_rows, batch_rows)
        self.transactions = 0
        self._buffer: list[Row] = []
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fragscope-writer")
        self._pending: asyncio.Future[int] | None = None
        self.error: StorageError | None = None
        """The first batch the database refused in part; later batches are still written."""
        self.on_error: Callable[[StorageError], None] | None = None
        """Called once, with that error (the engine stops taking new tasks)."""

    async def put(self, rows: Sequence[Row]) -> None:
        self._buffer.extend(rows)
        if len(self._buffer) < self.batch_rows:
            return
        writing = self._pending is not None and not self._pending.done()
        if writing and len(self._buffer) < self.max_rows:
            return  # the next transaction takes these too
        await self._submit()

    async def _settle(self) -> None:
        """Wait for the transaction in flight; a refused batch is remembered, not raised,
        so the rows measured after it still reach the database."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        try:
            await pending
        except StorageError as exc:
            if self.error is None:
                self.error = exc
                if self.on_error is not None:
                    self.on_error(exc)

    async def _submit(self) -> None:
        # One transaction in flight at a time: back-pressure on the producers.
        await self._settle()
        if self._buffer:
            batch, self._buffer = self._buffer, []
            loop = asyncio.get_running_loop()
            self.transactions += 1
            self._pending = loop.run_in_executor(self._pool, self.writer.write, batch)

    async def flush(self) -> None:
        await self._submit()
        await self._settle()

    async def close(self) -> None:
        await self.flush()
        self._pool.shutdown(wait=True)

    def run_sync(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` on the writer thread (run bookkeeping shares its connection)."""
        return self._pool.submit(fn, *args).result()


class ThreadedWriter:
    """:class:`AsyncWriter`'s counterpart for a caller without an event loop (the parent
    of ``run --workers``): writes, and other calls on the same connection, on a thread.

    The caller then only unpickles (GIL held) while SQLite inserts (GIL released inside
    sqlite3_step) on this thread, so the two overlap. Batches that queued up while a
    transaction ran are written together in the next one (group commit): fewer commits
    the more the database lags. Other calls (heartbeats) run here too, so one connection
    writes.
    """

    def __init__(self, writer: Writer, *, max_queued: int = 16) -> None:
        self.writer = writer
        self.error: BaseException | None = None
        # Bounded: a full queue blocks the parent's loop, which stops reading the pipes,
        # which blocks the children's senders (back-pressure end to end).
        self._queue: queue.Queue[tuple[str, Any] | None] = queue.Queue(maxsize=max_queued)
        self._thread = threading.Thread(target=self._run, name="fragscope-writer", daemon=True)
        self._thread.start()

    def rows(self, by_table: dict[str, list[tuple[Any, ...]]]) -> None:
        self._check()
        self._queue.put(("rows", by_table))

    def call(self, fn: Any, *args: Any) -> None:
        self._check()
        self._queue.put(("call", (fn, args)))

    def _check(self) -> None:
        # A refused batch (StorageError) does not stop the writer: later rows are still
        # written, and close() raises it. Anything else ends the run at once.
        if self.error is not None and not isinstance(self.error, StorageError):
            raise self.error

    def close(self) -> None:
        """Write what is queued, stop the thread; raise what a write raised."""
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        stop = False
        while not stop:
            items = [self._queue.get()]
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            merged: dict[str, list[tuple[Any, ...]]] = {}
            calls: list[tuple[Any, tuple[Any, ...]]] = []
            for item in items:
                if item is None:
                    stop = True
                elif item[0] == "rows":
                    for table, values in item[1].items():
                        group = merged.get(table)
                        if group is None:
                            merged[table] = values
                        else:
                            group.extend(values)
                else:
                    calls.append(item[1])
            if self.error is not None and not isinstance(self.error, StorageError):
                continue  # keep draining so the parent never blocks on a full queue
            try:
                if merged:
                    try:
                        self.writer.write_tables({spec_for(t): v for t, v in merged.items()})
                    except StorageError as exc:
                        self.error = self.error or exc  # the rows it could take are stored
                for fn, args in calls:
                    fn(*args)
            except BaseException as exc:
                self.error = exc
