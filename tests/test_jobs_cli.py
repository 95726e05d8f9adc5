"""Bad input to the job commands: one line naming the option, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.engine import null_campaign, run_cli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--vantage", "ams", "--vantage", "ams"], "--vantage: a vantage is named twice"),
        (["--vantage", "x" * 65], "--vantage 'xxx"),
        (["--vantage", "ams", "--round", ""], "--round"),
    ],
)
def test_round_submit_refuses_bad_labels(tmp_path: Path, args: list[str], message: str) -> None:
    campaign = null_campaign(tmp_path, targets=3)
    # Labels are checked before the database is opened: nothing listens on port 1.
    argv = ["round", "submit", "--campaign", str(campaign), "--db", "postgresql://x@127.0.0.1:1/x"]
    if "--round" not in args:
        argv += ["--round", "R"]
    done = run_cli(*argv, *args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and done.stderr.count("\n") == 1


JOB_COMMANDS = {
    "round submit": [
        "round",
        "submit",
        "--campaign",
        "{campaign}",
        "--round",
        "R",
        "--vantage",
        "ams",
    ],
    "round status": ["round", "status", "R"],
    "round schedule": [
        "round",
        "schedule",
        "--campaign",
        "{campaign}",
        "--cron",
        "0 3 * * 1",
        "--vantage",
        "ams",
    ],
    "round roles": ["round", "roles", "--worker", "ams"],
    "worker": ["worker", "--vantage", "ams"],
}
"""The commands that take --db but only PostgreSQL (tests/test_db_guard.py leaves them here)."""


@pytest.fixture(scope="module")
def head_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database at head, migrated once for the module."""
    from fragscope.db import migrate
    from fragscope.db.connection import make_engine

    db = tmp_path_factory.mktemp("head") / "head.sqlite"
    engine = make_engine(f"sqlite:///{db}")
    migrate.upgrade(engine)
    engine.dispose()
    return db


@pytest.mark.parametrize("name", JOB_COMMANDS)
def test_job_commands_refuse_sqlite_and_leave_it_untouched(
    tmp_path: Path, head_sqlite: Path, name: str
) -> None:
    campaign = null_campaign(tmp_path, targets=3)
    db = tmp_path / "f.sqlite"
    db.write_bytes(head_sqlite.read_bytes())
    argv = [a.format(campaign=campaign) for a in JOB_COMMANDS[name]]
    done = run_cli(*argv, "--db", str(db))
    assert done.returncode == 2
    assert done.stderr == "fragscope: error: --db: jobs need PostgreSQL, not sqlite\n"
    assert db.read_bytes() == head_sqlite.read_bytes()


def test_round_roles_refuses_a_vantage_too_long_for_a_role_name() -> None:
    done = run_cli("round", "roles", "--print-sql", "--worker", "v" * 50)
    assert done.returncode == 2 and "longer than PostgreSQL's 63 bytes" in done.stderr
