"""Opening a database for a command: the one place that checks the file, the schema
revision and write access, and turns every way a database can be unusable into
:class:`DatabaseUnusable` (one line; the command line exits 2, "could not run"). Does I/O.

Every command that takes ``--db`` opens its database through :func:`open_database`:

- a missing SQLite file is refused unless the command creates databases;
- a file that is not a SQLite database, or is shorter than its header says, is refused
  before SQLite reads it (the header layout: https://www.sqlite.org/fileformat2.html §1.3);
- a writing command is refused a read-only file or directory before it measures anything;
- the schema revision: none or an older one gets the ``fragscope db upgrade`` advice (unless
  the command migrates), one this code's migrations do not know was written by a newer
  fragscope (docs/operations.md, "Upgrades");
- ``run`` asks for ``PRAGMA quick_check`` first, so it never appends to a damaged file.

:func:`explain_failure` gives the same one line for a SQLite error raised later, when a
command reads a damaged page (cli.py raises it in the original's place).
"""

from __future__ import annotations

import os
import sqlite3
import struct
import urllib.parse
from typing import IO, TYPE_CHECKING, Any

import click

from fragscope.db import migrate
from fragscope.db.connection import make_engine, resolve_url, sqlite_path

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_BYTES = 100
# SQLite result codes that mean "this file cannot be used as it is" rather than a passing
# condition such as SQLITE_BUSY (https://www.sqlite.org/rescode.html).
UNUSABLE_CODES = ("SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_READONLY", "SQLITE_CANTOPEN")
QUICK_CHECK_SHOWN = 3


class DatabaseUnusable(click.ClickException):
    """The database cannot be used by this command; the message says why and what to do.

    A ClickException, so any command that meets it, however invoked, prints the one line
    and exits 2, "could not run" (docs/operations.md).
    """

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"fragscope: error: {self.format_message()}", err=True, file=file)


def open_database(
    db: str | None,
    *,
    writes: bool = False,
    creates: bool = False,
    accepts_older: bool = False,
    check_integrity: bool = False,
    immutable: bool = False,
    advice: str = "",
) -> Engine:
    """An Engine for ``db`` (``--db``, FRAGSCOPE_DB or the default), or DatabaseUnusable.

    ``writes``: the command writes (read-only files are refused up front). ``creates``: a
    missing file or an empty database is fine, the caller creates the schema.
    ``accepts_older``: the caller migrates, so an older schema is fine. ``check_integrity``:
    run ``PRAGMA quick_check`` (reads every page; ``run`` before it appends). ``immutable``:
    check the file through a connection that never writes, not even beside it
    (``explore``). ``advice`` is appended to the upgrade advice (``run``: --auto-migrate).
    """
    url = resolve_url(db)
    path = sqlite_path(url)
    if path is not None:
        _check_file(path, writes=writes, creates=creates, advice=advice)
    engine = _immutable_engine(path) if immutable and path else make_engine(url)
    label = path or engine_label(engine)
    try:
        with engine.connect() as conn:
            revision = migrate.revision_of(conn)
            empty = revision is None and not _has_tables(conn)
            damage = _quick_check(conn) if check_integrity and path is not None else []
    except Exception as exc:
        engine.dispose()
        unusable = explain_failure(exc, path=path, opening=True)
        if unusable is None:
            raise
        raise unusable from None
    try:
        if damage:
            raise DatabaseUnusable(
                f"{label} is damaged (PRAGMA quick_check: {'; '.join(damage)}): nothing was "
                "written; restore it from a backup, or copy out what is readable with "
                "sqlite3's .recover into a new file"
            )
        if not (empty and creates):
            require_schema(revision, label, accepts_older=accepts_older, advice=advice)
    except DatabaseUnusable:
        engine.dispose()
        raise
    return engine


def open_to_store(db: str | None) -> Engine:
    """The database a single-probe command's ``--store`` writes into: created, or given
    the schema, when new; opened before anything is measured."""
    engine = open_database(db, writes=True, creates=True)
    migrate.upgrade(engine)  # a no-op at head
    return engine


def engine_label(engine: Engine) -> str:
    """How messages name a database: its file, else its URL without the password."""
    return sqlite_path(str(engine.url)) or engine.url.render_as_string(hide_password=True)


def require_schema(
    revision: str | None, label: str, *, accepts_older: bool = False, advice: str = ""
) -> None:
    """Refuse a database without a schema, at an older revision (unless ``accepts_older``)
    or at a revision this code does not know, i.e. written by a newer fragscope."""
    heads = migrate.heads()
    if revision in heads:
        return
    if revision is not None and revision not in migrate.known_revisions():
        raise DatabaseUnusable(
            f"{label} was written by a newer fragscope (revision {revision}); upgrade "
            "fragscope (this one knows the schema up to "
            f"{', '.join(heads)})"
        )
    if accepts_older:
        return
    state = (
        "is not a fragscope database (no schema revision)"
        if revision is None
        else f"is at schema revision {revision}, older than this fragscope's {', '.join(heads)}"
    )
    raise DatabaseUnusable(
        f"{label} {state}: run `fragscope db upgrade --db {label}`{advice} first"
    )


def explain_failure(
    exc: BaseException, *, path: str | None = None, opening: bool = False
) -> DatabaseUnusable | None:
    """One line for an error that means the database cannot be used (damaged, not a
    database, read-only, unopenable), else None. Accepts SQLAlchemy's wrapped errors;
    ``opening``: raised while connecting, where any OperationalError means unopenable."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    if isinstance(exc, DatabaseUnusable):
        return exc
    if isinstance(exc, DBAPIError):
        if not isinstance(exc.orig, sqlite3.Error):
            # PostgreSQL: a failed connect is "unopenable"; later errors stay errors.
            if opening and isinstance(exc, OperationalError):
                return DatabaseUnusable(f"cannot open the database: {_first_line(exc.orig or exc)}")
            return None
        exc = exc.orig
    if not isinstance(exc, sqlite3.Error):
        return None
    name = getattr(exc, "sqlite_errorname", "") or ""
    if not name.startswith(UNUSABLE_CODES):
        return None
    where = path or "the database"
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return DatabaseUnusable(f"{where} is damaged ({exc}); restore it from a backup")
    return DatabaseUnusable(f"{where}: {_access_problem(path) or exc}")


def _check_file(path: str, *, writes: bool, creates: bool, advice: str) -> None:
    if not os.path.lexists(path):
        if not creates:
            raise DatabaseUnusable(
                f"database {path} does not exist: create it with "
                f"`fragscope db upgrade --db {path}`{advice}"
            )
        parent = _existing_ancestor(os.path.dirname(path))
        if not os.access(parent, os.W_OK, effective_ids=True):
            raise DatabaseUnusable(f"cannot create {path}: {parent} is read-only")
        return
    if os.path.isdir(path):
        raise DatabaseUnusable(f"{path} is a directory, not a database file")
    try:
        with open(path, "rb") as fh:
            header = fh.read(HEADER_BYTES)
        size = os.path.getsize(path)
    except OSError as exc:
        raise DatabaseUnusable(f"cannot read {path}: {exc.strerror}") from None
    if header:  # an empty file is an empty SQLite database
        if len(header) < HEADER_BYTES or not header.startswith(SQLITE_MAGIC):
            raise DatabaseUnusable(
                f"{path} is not a SQLite database (it does not start with SQLite's "
                f"{HEADER_BYTES}-byte header)"
            )
        expected = _size_from_header(header)
        if expected is not None and size < expected:
            raise DatabaseUnusable(
                f"{path} is truncated: {size} bytes where its header says {expected}; "
                "restore it from a backup"
            )
    if writes:
        problem = _access_problem(path)
        if problem:
            raise DatabaseUnusable(f"{path}: {problem}; nothing was written")


def _size_from_header(header: bytes) -> int | None:
    """The database size the header records, when it is valid (fileformat2.html §1.3.3:
    the page count at offset 28 counts only if the change counter at 24 equals the
    version-valid-for number at 92)."""
    (page_size,) = struct.unpack(">H", header[16:18])
    (pages,) = struct.unpack(">I", header[28:32])
    if pages == 0 or header[24:28] != header[92:96]:
        return None
    return int((65536 if page_size == 1 else page_size) * pages)


def _access_problem(path: str | None) -> str | None:
    """Why SQLite cannot write ``path``, if the permissions say so."""
    if path is None:
        return None
    directory = os.path.dirname(path) or "."
    for name in (path, f"{path}-wal", f"{path}-shm"):
        if os.path.exists(name) and not os.access(name, os.W_OK, effective_ids=True):
            return f"{name} is read-only"
    if not os.access(directory, os.W_OK, effective_ids=True):
        # WAL mode (db.connection) keeps NAME-wal and NAME-shm beside the database file.
        return (
            f"its directory {directory} is read-only (SQLite needs to create "
            f"{os.path.basename(path)}-wal and -shm there); copy the file somewhere writable"
        )
    return None


def _existing_ancestor(directory: str) -> str:
    while directory and not os.path.exists(directory):
        directory = os.path.dirname(directory)
    return directory or "."


def _immutable_engine(path: str) -> Engine:
    """An Engine that reads ``path`` and never writes, not even beside it
    (https://www.sqlite.org/uri.html#uriimmutable: no locks, no -wal or -shm files)."""
    from sqlalchemy import create_engine

    uri = f"file:{urllib.parse.quote(path)}?immutable=1"
    return create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True))


def _has_tables(conn: Connection) -> bool:
    from sqlalchemy import inspect

    return bool(inspect(conn).get_table_names())


def _quick_check(conn: Connection) -> list[str]:
    """PRAGMA quick_check's complaints (empty when the file is sound); a damaged page that
    stops the check itself raises, and explain_failure reports it."""
    rows = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA quick_check").all()]
    return [] if rows == ["ok"] else rows[:QUICK_CHECK_SHOWN]


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
