"""Databases fail clearly (issue 18, findings 6 and 7): every command that opens a database
checks it the same way (db.guard) and explains in one line, exit 2.

For every such command: an older schema gets the upgrade advice, a schema stamped by a newer
fragscope gets "upgrade fragscope", and a file that is not a database, a truncated one, a
read-only file and a read-only directory get one line, never a traceback. ``run`` refuses
a file whose ``PRAGMA quick_check`` fails and leaves it untouched. The databases are real
(the v1 fixture, upgraded; a null campaign run by the real command). Loopback only: the
probe commands aim at 127.0.0.1 ports where nothing listens, and are refused first anyway.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import shutil
import socket
import sqlite3
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from fragscope.cli import main
from fragscope.db import migrate
from fragscope.db.connection import make_engine
from fragscope.lab.core.ports import free_port
from tests.fixtures.engine import null_campaign, run_cli
from tests.test_jobs_cli import JOB_COMMANDS

FIXTURE = Path(__file__).parent / "fixtures" / "data" / "v1.sqlite"
RUN_ID = "7d0c2a52-3f0e-4c58-9a1e-0d7b8f6b1a01"  # a run of the v1 fixture
FUTURE_REVISION = "9900_from_a_newer_fragscope"


@dataclass(frozen=True)
class Command:
    """One command that opens a database: its argv (``{db}``, ``{dir}``, ``{campaign}`` and
    ``{port}`` filled in per test), whether it writes, and whether it migrates an older
    schema itself."""

    argv: tuple[str, ...]
    writes: bool
    migrates: bool = False


COMMANDS: dict[str, Command] = {
    "run": Command(("run", "--campaign", "{campaign}", "--db", "{db}"), writes=True),
    "run --auto-migrate": Command(
        ("run", "--campaign", "{campaign}", "--db", "{db}", "--auto-migrate"),
        writes=True,
        migrates=True,
    ),
    "runs list": Command(("runs", "list", "--db", "{db}"), writes=False),
    "runs show": Command(("runs", "show", "--db", "{db}", RUN_ID), writes=False),
    "runs prune": Command(
        ("runs", "prune", "--db", "{db}", "--status", "failed", "--yes"), writes=True
    ),
    "probe dns": Command(
        (
            *("probe", "dns", "a.test", "--resolver", "udp://127.0.0.1:{port}"),
            *("--timeout", "0.2", "--store", "--db", "{db}"),
        ),
        writes=True,
    ),
    "probe transport": Command(
        (
            *("probe", "transport", "127.0.0.1", "--ip", "127.0.0.1", "--port", "{port}"),
            *("--no-quic", "--timeout", "0.2", "--store", "--db", "{db}"),
        ),
        writes=True,
    ),
    "probe name": Command(
        (
            *("probe", "name", "alice.eth", "--endpoint", "http://127.0.0.1:{port}/"),
            *("--timeout", "0.2", "--store", "--db", "{db}"),
        ),
        writes=True,
    ),
    "naming fidelity": Command(
        ("naming", "fidelity", "--db", "{db}", "--run-id", RUN_ID), writes=True
    ),
    "naming ambiguity": Command(
        ("naming", "ambiguity", "--db", "{db}", "--run-id", RUN_ID), writes=False
    ),
    "summarize": Command(("summarize", "--db", "{db}", "--run", RUN_ID), writes=True),
    "indicators compute": Command(
        ("indicators", "compute", "--db", "{db}", "--run", RUN_ID), writes=True
    ),
    "indicators explain": Command(
        ("indicators", "explain", "C1", "--db", "{db}", "--run", RUN_ID), writes=False
    ),
    "indicators summary": Command(
        ("indicators", "summary", "--db", "{db}", "--run", RUN_ID), writes=False
    ),
    "db upgrade": Command(("db", "upgrade", "--db", "{db}"), writes=True, migrates=True),
    "db index": Command(("db", "index", "--db", "{db}"), writes=True),
    "db export": Command(
        ("db", "export", "--db", "{db}", "--format", "csv", "--out", "{dir}/export"),
        writes=False,
    ),
    "db anonymize": Command(("db", "anonymize", "--db", "{db}", "{dir}/anon.sqlite"), writes=False),
    "campaign check": Command(("campaign", "check", "null-lab", "--db", "{db}"), writes=False),
    "db merge (source)": Command(
        ("db", "merge", "{db}", "--into", "{dir}/merged.sqlite"), writes=False
    ),
    "db merge (--into)": Command(
        ("db", "merge", "{good}", "--into", "{db}"), writes=True, migrates=True
    ),
    # {port} is held by the test: were the database accepted, datasette could not bind and
    # would exit 1 (never 2) at once instead of serving.
    "explore": Command(("explore", "--db", "{db}", "--port", "{port}"), writes=False),
}


def _walk(
    group: click.Group, ctx: click.Context, prefix: str
) -> Iterator[tuple[str, click.Command]]:
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        path = f"{prefix} {name}".strip()
        if isinstance(command, click.Group):
            yield from _walk(command, click.Context(command, parent=ctx, info_name=name), path)
        else:
            yield path, command


def test_every_command_that_opens_a_database_is_covered() -> None:
    with_db = {
        path
        for path, command in _walk(main, click.Context(main, info_name="fragscope"), "")
        if any("--db" in getattr(p, "opts", ()) for p in command.params)
    }
    covered = {name.split(" (")[0].split(" --")[0] for name in COMMANDS}
    # db merge names its databases as arguments and --into, not --db. The job commands
    # take only PostgreSQL and refuse any SQLite file untouched (tests/test_jobs_cli.py).
    assert with_db | {"db merge"} == covered | set(JOB_COMMANDS)


@pytest.fixture(scope="module")
def head_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The v1 fixture's real rows, at this fragscope's schema."""
    db = tmp_path_factory.mktemp("head") / "head.sqlite"
    shutil.copyfile(FIXTURE, db)
    engine = make_engine(str(db))
    migrate.upgrade(engine)
    engine.dispose()
    return db


@dataclass
class Invocation:
    tmp: Path
    head_db: Path
    port: int

    def args(self, name: str, db: Path) -> list[str]:
        good = self.tmp / "good.sqlite"
        if not good.exists():
            shutil.copyfile(self.head_db, good)
        campaign = null_campaign(self.tmp, targets=3)
        values = {
            "db": str(db),
            "dir": str(self.tmp),
            "campaign": str(campaign),
            "port": str(self.port),
            "good": str(good),
        }
        return [part.format(**values) for part in COMMANDS[name].argv]

    def invoke(self, name: str, db: Path) -> Result:
        return CliRunner().invoke(main, self.args(name, db))


@pytest.fixture
def invocation(tmp_path: Path, head_db: Path) -> Iterator[Invocation]:
    # A bound, listening TCP port: nothing answers the probes' packets on it, and datasette
    # cannot take it.
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield Invocation(tmp_path, head_db, held.getsockname()[1])


def _one_line_exit_2(result: Result, *needles: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("fragscope: error: ")]
    assert len(errors) == 1, result.output
    for needle in needles:
        assert needle in errors[0], result.output


def _stamp(db: Path, revision: str) -> None:
    con = sqlite3.connect(db)
    with con:
        con.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    con.close()


def _digest(db: Path) -> str:
    if db.is_dir():
        return repr(sorted((p.name, p.read_bytes()) for p in db.iterdir()))
    return hashlib.sha256(db.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", COMMANDS)
def test_a_newer_schema_is_refused_with_upgrade_fragscope(
    name: str, invocation: Invocation, head_db: Path
) -> None:
    db = invocation.tmp / "newer.sqlite"
    shutil.copyfile(head_db, db)
    _stamp(db, FUTURE_REVISION)
    before = _digest(db)
    result = invocation.invoke(name, db)
    _one_line_exit_2(
        result, f"written by a newer fragscope (revision {FUTURE_REVISION})", "upgrade fragscope"
    )
    assert _digest(db) == before


@pytest.mark.parametrize("name", COMMANDS)
def test_an_older_schema_gets_the_upgrade_advice(name: str, invocation: Invocation) -> None:
    db = invocation.tmp / "v1.sqlite"
    shutil.copyfile(FIXTURE, db)  # revision 0001
    before = _digest(db)
    result = invocation.invoke(name, db)
    if COMMANDS[name].migrates:
        assert result.exit_code == 0, result.output
        engine = make_engine(str(db))
        assert migrate.is_at_head(engine)
        engine.dispose()
        return
    _one_line_exit_2(result, "schema revision 0001", f"fragscope db upgrade --db {db}")
    assert _digest(db) == before  # nothing written into it (no indicator values, no run)


def _not_a_database(db: Path, head_db: Path) -> None:
    db.write_bytes(b"this is a text file, not a database\n" * 500)


def _truncated(db: Path, head_db: Path) -> None:
    data = head_db.read_bytes()
    db.write_bytes(data[: len(data) // 2])


def _a_directory(db: Path, head_db: Path) -> None:
    db.mkdir()
    (db / "inside").write_bytes(b"not for sqlite")


BROKEN: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "not a database": (_not_a_database, "is not a SQLite database"),
    "truncated": (_truncated, "is truncated"),
    "unopenable": (_a_directory, "is a directory"),
}


@pytest.mark.parametrize("name", COMMANDS)
@pytest.mark.parametrize("damage", BROKEN)
def test_a_broken_file_gets_one_line(
    name: str, damage: str, invocation: Invocation, head_db: Path
) -> None:
    db = invocation.tmp / "broken.sqlite"
    make, message = BROKEN[damage]
    make(db, head_db)
    before = _digest(db)
    _one_line_exit_2(invocation.invoke(name, db), str(db), message)
    assert _digest(db) == before


# linux/capability.h: the root user's bypass of file permissions.
CAP_DAC_OVERRIDE = 1
CAP_DAC_READ_SEARCH = 2
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


@contextlib.contextmanager
def permissions_enforced() -> Iterator[None]:
    """File permissions apply to this thread even as root: CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH leave its effective set until the block ends (capget(2),
    capabilities(7): capabilities are per thread). A no-op for other users."""
    if os.geteuid() != 0:
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    saved = (_CapData * 2)()
    assert libc.capget(ctypes.byref(header), saved) == 0, os.strerror(ctypes.get_errno())
    lowered = (_CapData * 2)(*saved)
    lowered[0].effective &= ~((1 << CAP_DAC_OVERRIDE) | (1 << CAP_DAC_READ_SEARCH))
    assert libc.capset(ctypes.byref(header), lowered) == 0, os.strerror(ctypes.get_errno())
    try:
        yield
    finally:
        assert libc.capset(ctypes.byref(header), saved) == 0


def _read_only_file(db: Path) -> None:
    for name in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        if name.exists():
            name.chmod(0o444)


# explore reads the file immutable (tests/test_explore.py) and would hand it to datasette.
@pytest.mark.parametrize("name", [name for name in COMMANDS if name != "explore"])
@pytest.mark.parametrize("where", ["file", "directory"])
def test_a_read_only_database_gets_one_line(
    name: str, where: str, invocation: Invocation, head_db: Path
) -> None:
    folder = invocation.tmp / "ro"
    folder.mkdir()
    db = folder / "m.sqlite"
    shutil.copyfile(head_db, db)
    if where == "file":
        _read_only_file(db)
    else:
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    before = _digest(db)
    try:
        with permissions_enforced():
            result = invocation.invoke(name, db)
    finally:
        folder.chmod(0o755)
        for path in folder.iterdir():
            path.chmod(0o644)
    assert _digest(db) == before
    if COMMANDS[name].writes or where == "directory":
        # Readers need SQLite's -shm file beside a WAL database: a read-only directory
        # stops them too.
        _one_line_exit_2(result, "read-only")
    else:
        assert result.exit_code == 0, result.output


def test_run_refuses_a_damaged_file_and_leaves_it_untouched(tmp_path: Path) -> None:
    """Issue 18 finding 6: 80 KB of random bytes at page 200 of a populated database."""
    campaign = null_campaign(tmp_path, targets=3000, concurrency=64)
    db = tmp_path / "m.sqlite"
    first = run_cli("run", "--campaign", str(campaign), "--db", str(db), "--auto-migrate")
    assert first.returncode == 0, first.stderr
    con = sqlite3.connect(db)
    (page_size,) = con.execute("PRAGMA page_size").fetchone()
    (pages,) = con.execute("PRAGMA page_count").fetchone()
    con.close()
    assert pages > 200 + 80 * 1024 // page_size, pages
    with db.open("r+b") as fh:
        fh.seek(199 * page_size)  # page 200, counting from 1
        fh.write(os.urandom(80 * 1024))
    before = _digest(db)
    result = run_cli("run", "--campaign", str(campaign), "--db", str(db))
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    assert f"{db} is damaged" in result.stderr
    assert _digest(db) == before
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0


def test_an_unreachable_postgresql_server_gets_one_line() -> None:
    # A loopback port nothing listens on: the connection is refused at once.
    url = f"postgresql://fragscope:secret@127.0.0.1:{free_port()}/fragscope"
    result = CliRunner().invoke(main, ["runs", "list", "--db", url])
    _one_line_exit_2(result, "cannot open the database")
    assert "secret" not in result.output


def test_explore_checks_the_file_immutable(
    head_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """explore's check reads through SQLite's immutable flag, as datasette -i does: it works
    in a read-only directory and creates nothing, beside the file or anywhere else."""
    from fragscope.db.guard import open_database

    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "m.sqlite"
    shutil.copyfile(head_db, db)
    monkeypatch.chdir(tmp_path)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with permissions_enforced():
            open_database(str(db), immutable=True).dispose()
    finally:
        folder.chmod(0o755)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["m.sqlite", "ro"]
