"""Fault injection, corruption (issue 18): a truncated database file gives one clear line
and exit 2 from each kind of command (measure, list, report, migrate), never a traceback,
and is left as it was.

A real database (a null campaign run by the real command) is cut at four places: inside
SQLite's 100-byte header, after the first page, in the middle, and one page short. The
commands run as subprocesses, as cron and a user would run them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.fixtures.engine import null_campaign, run_cli

pytestmark = pytest.mark.slow

# What each cut leaves of the file, given its size and page size.
CUTS = {
    "inside the header": lambda size, page: 50,
    "after the first page": lambda size, page: page,
    "in the middle": lambda size, page: size // 2,
    "one page short": lambda size, page: size - page,
}


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(database, campaign): a finished run of 300 targets."""
    folder = tmp_path_factory.mktemp("corruption")
    campaign = null_campaign(folder, targets=300)
    db = folder / "m.sqlite"
    result = run_cli("run", "--campaign", str(campaign), "--db", str(db), "--auto-migrate")
    assert result.returncode == 0, result.stderr
    return db, campaign


@pytest.mark.parametrize("cut", CUTS)
def test_a_truncated_database_gives_one_clear_line(
    cut: str, populated: tuple[Path, Path], tmp_path: Path
) -> None:
    source, campaign = populated
    data = source.read_bytes()
    page = int.from_bytes(data[16:18], "big")
    db = tmp_path / "cut.sqlite"
    db.write_bytes(data[: CUTS[cut](len(data), page)])
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    commands = [
        ["run", "--campaign", str(campaign)],
        ["runs", "list"],
        ["summarize"],
        ["db", "upgrade"],
    ]
    for argv in commands:
        result = run_cli(*argv, "--db", str(db), timeout=60)
        assert result.returncode == 2, (argv, result.returncode, result.stderr[-3000:])
        assert "Traceback" not in result.stderr, (argv, result.stderr[-3000:])
        errors = [line for line in result.stderr.splitlines() if "error" in line]
        assert len(errors) == 1 and str(db) in errors[0], (argv, result.stderr)
        assert "truncated" in errors[0] or "not a SQLite database" in errors[0], errors
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest
