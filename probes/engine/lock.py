"""The run lock: one process per (database, campaign, vantage, shard). Does I/O.

Overlapping cron runs of the same work must not measure twice: the second waits up to
``--lock-wait`` seconds, then gives up (exit 2). Other vantages and shards hold other
locks and proceed. SQLite: an fcntl lock on a file next to the database (released by the
kernel when the process dies, even by kill -9). PostgreSQL: a lease in the ``run_leases`` table that
the holder renews (:func:`_pg_lease`), so a dead or partitioned machine's lock lapses by
itself; no session is held for the run.

A flock belongs to the open file, not to the process, so every process that inherits the
descriptor holds the lock as well: forked children close it at once (``os.register_at_fork``),
else a worker that outlived its parent would keep the lock for ever (docs/operations.md,
"After a crash"). A lock still held after the process named in the file died is stale: the
processes that hold it are that run's orphans, and the next run ends them and
takes the lock over (:func:`stale_holders`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, text

from fragscope.db.connection import sqlite_path

POLL_S = 0.1
LEASE_S = 60.0
"""How long a PostgreSQL run lease lasts without renewal (``fragscope run --lease``)."""
ORPHAN_EXIT_S = 5.0
"""How long a taken-over lock waits for the killed orphans to go."""

_HELD_FDS: set[int] = set()
"""Descriptors of the lock files this process holds (closed in forked children)."""


def _close_held_in_child() -> None:
    # Closing a duplicate does not release the parent's flock (flock(2)); it only stops the
    # child from holding it after the parent is gone.
    for fd in _HELD_FDS:
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD_FDS.clear()


os.register_at_fork(after_in_child=_close_held_in_child)


class LockHeld(Exception):
    """Another process runs the same work; the message names the lock."""


@dataclass(frozen=True)
class LockFile:
    """A run lock file next to a SQLite database, as ``runs list`` reports it."""

    path: str
    name: str
    """campaign, vantage and shard joined by \\x1f (:func:`lock_name`)."""
    holder: int | None
    """The pid of the run that took the lock (written in the file)."""
    holders: tuple[int, ...]
    """Processes that hold the lock now (:func:`processes_holding`)."""

    @property
    def stale(self) -> bool:
        """Held, but the run that took it is gone: its orphans hold it."""
        return bool(self.holders) and self.holder is not None and not pid_alive(self.holder)


def wait_for_writer(db_file: str, *, wait: float) -> None:
    """Wait up to ``wait`` seconds for another connection's write transaction on the SQLite
    database ``db_file`` to end; raise :class:`LockHeld` if it does not (exit 2, nothing
    written). Without it the run's first write waits for the busy timeout and then dies
    half set up."""
    if not os.path.exists(db_file):
        return  # nobody can hold a transaction on a database that is not there yet
    conn = sqlite3.connect(db_file, timeout=0, isolation_level=None)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")  # takes the write lock, as a writer would
                conn.execute("ROLLBACK")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise LockHeld(
                        f"database {db_file} is locked by another writer (an open write "
                        f"transaction); waited {wait:g} s (--lock-wait)"
                    ) from None
                time.sleep(POLL_S)
    finally:
        conn.close()


def lock_name(campaign: str, *, vantage: str, shard: str) -> str:
    return f"{campaign}\x1f{vantage}\x1f{shard}"


def lock_file_for(db_file: str, name: str) -> str:
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{db_file}.run-{digest}.lock"


@contextmanager
def run_lock(
    engine: Engine,
    *,
    campaign: str,
    vantage: str,
    shard: str,
    wait: float,
    on_takeover: Callable[[str], None] | None = None,
    lease: float = LEASE_S,
    on_lost: Callable[[str], None] | None = None,
) -> Iterator[str]:
    """Hold the lock for the body; raise :class:`LockHeld` after ``wait`` seconds.

    ``on_takeover`` hears about a stale lock that was taken over (its orphans killed).
    On PostgreSQL the lock is a lease of ``lease`` seconds, renewed while the body runs;
    ``on_lost`` hears that it lapsed and another holder took it (:func:`_pg_lease`).
    """
    name = lock_name(campaign, vantage=vantage, shard=shard)
    described = f"campaign {campaign!r}, vantage {vantage!r}, shard {shard}"
    db_file = sqlite_path(engine.url.render_as_string(hide_password=False))
    if engine.dialect.name == "postgresql":
        with _pg_lease(engine, name, described=described, wait=wait, lease=lease, on_lost=on_lost):
            yield described
    elif db_file is not None:
        path = lock_file_for(db_file, name)
        with _file_lock(path, name, described=described, wait=wait, on_takeover=on_takeover):
            yield described
    else:
        yield described  # an in-memory database is private to this process


@contextmanager
def _file_lock(
    path: str,
    name: str,
    *,
    described: str,
    wait: float,
    on_takeover: Callable[[str], None] | None,
) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if _take_over(path, on_takeover):
                    continue
                if time.monotonic() >= deadline:
                    raise LockHeld(
                        f"another fragscope run holds the lock for {described} ({path}); "
                        f"waited {wait:g} s (--lock-wait)"
                    ) from None
                time.sleep(POLL_S)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n{name}\n".encode(), 0)
        _HELD_FDS.add(fd)
        yield
    finally:
        _HELD_FDS.discard(fd)
        os.close(fd)  # closing releases the flock


def _take_over(path: str, on_takeover: Callable[[str], None] | None) -> bool:
    """End the orphans that hold a stale lock; True if there were any (try again)."""
    holder, _name = _read_lock_file(path)
    if holder is None or pid_alive(holder):
        return False
    orphans = [pid for pid in processes_holding(path) if pid != os.getpid()]
    if not orphans:
        return False
    # They measure for a run whose writer is gone: nothing they do reaches the database,
    # and a graceful SIGTERM is exactly what a wedged orphan ignores.
    for pid in orphans:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + ORPHAN_EXIT_S
    while time.monotonic() < deadline and any(pid_alive(p) for p in orphans):
        time.sleep(POLL_S)
    if on_takeover is not None:
        on_takeover(
            f"took over the stale lock {path}: its run (pid {holder}) is gone; killed its "
            f"orphaned processes {', '.join(map(str, orphans))}"
        )
    return True


def pid_alive(pid: int) -> bool:
    """True if a process ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return False
    # Field 3, after the parenthesised command name (which may contain spaces): Z = zombie.
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] != b"Z"


def _read_lock_file(path: str) -> tuple[int | None, str | None]:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None, None
    pid = int(lines[0]) if lines and lines[0].isdigit() else None
    return pid, (lines[1] if len(lines) > 1 else None)


def processes_holding(path: str) -> list[int]:
    """Pids of the processes that hold the flock on ``path`` (Linux /proc).

    A process holds it when one of its descriptors of the file carries the lock
    (``lock:`` in /proc/PID/fdinfo/FD); a run waiting for the lock has the file open on a
    descriptor of its own, without the lock, and is not counted.
    """
    target = os.path.realpath(path)
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fds = os.scandir(f"/proc/{entry.name}/fd")
        except OSError:
            continue
        with fds:
            for fd in fds:
                try:
                    if os.readlink(fd.path) != target:
                        continue
                    with open(f"/proc/{entry.name}/fdinfo/{fd.name}", encoding="ascii") as fh:
                        if "\nlock:" in fh.read():
                            found.append(int(entry.name))
                            break
                except OSError:
                    continue
    return found


def lock_files(db_file: str) -> list[LockFile]:
    """The run lock files of a SQLite database: whose, and held by whom (``runs list``)."""
    directory, base = os.path.split(os.path.abspath(db_file))
    out = []
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.startswith(f"{base}.run-") and entry.name.endswith(".lock"):
                holder, name = _read_lock_file(entry.path)
                holders = tuple(processes_holding(entry.path))
                out.append(LockFile(entry.path, name or "", holder, holders))
    return out


@contextmanager
def _pg_lease(
    engine: Engine,
    name: str,
    *,
    described: str,
    wait: float,
    lease: float,
    on_lost: Callable[[str], None] | None,
) -> Iterator[None]:
    """A lease in ``run_leases``, renewed by a thread every ``lease / 3`` seconds.

    Not a session advisory lock: that lives as long as the session that took it, and a
    partitioned machine's session stays open (nothing gets through, not even the FIN)
    until TCP keepalive gives up, hours later. A lease lapses ``lease`` seconds after its
    last renewal whatever became of the holder, by the database server's clock (no clock
    skew between machines). Releasing sets it expired (an UPDATE: a worker holds no DELETE
    right, docs/operations.md "Roles").
    """
    holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    params = {"n": name, "h": holder, "s": lease}
    deadline = time.monotonic() + wait
    while True:
        with engine.begin() as conn:
            taken = conn.execute(_TAKE_LEASE, params).first()
        if taken is not None:
            break
        if time.monotonic() >= deadline:
            raise LockHeld(
                f"another fragscope run holds the lease for {described} (run_leases); "
                f"waited {wait:g} s (--lock-wait)"
            )
        time.sleep(POLL_S)
    stop = threading.Event()
    renewer = threading.Thread(
        target=_renew_lease,
        args=(engine, params, stop, on_lost, described),
        name="run-lease",
        daemon=True,
    )
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        # A renewal stuck on an unreachable database must not hold the run's exit: the
        # lease lapses by itself.
        renewer.join(timeout=lease)
        with contextlib.suppress(Exception), engine.begin() as conn:
            conn.execute(_RELEASE_LEASE, params)


_TAKE_LEASE = text(
    "INSERT INTO run_leases (name, holder, expires_at) "
    "VALUES (:n, :h, (now() AT TIME ZONE 'UTC') + make_interval(secs => :s)) "
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
    "WHERE run_leases.expires_at < (now() AT TIME ZONE 'UTC') RETURNING holder"
)
_RENEW_LEASE = text(
    "UPDATE run_leases SET expires_at = (now() AT TIME ZONE 'UTC') + make_interval(secs => :s) "
    "WHERE name = :n AND holder = :h"
)
_RELEASE_LEASE = text(
    "UPDATE run_leases SET expires_at = '1970-01-01' WHERE name = :n AND holder = :h"
)


def _renew_lease(
    engine: Engine,
    params: dict[str, object],
    stop: threading.Event,
    on_lost: Callable[[str], None] | None,
    described: str,
) -> None:
    interval = float(params["s"]) / 3  # type: ignore[arg-type]
    while not stop.wait(interval):
        try:
            with engine.begin() as conn:
                renewed = conn.execute(_RENEW_LEASE, params).rowcount
        except Exception:  # the database is away: the lease lapses unless it comes back
            continue
        if renewed == 0:
            # Lapsed and taken by another holder: that one now runs this shard.
            if on_lost is not None:
                on_lost(f"lost the lease for {described}: another worker took it over")
            return
