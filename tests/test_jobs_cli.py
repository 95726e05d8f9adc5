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
    db = tmp_path / "never.sqlite"
    argv = ["round", "submit", "--campaign", str(campaign), "--db", str(db)]
    if "--round" not in args:
        argv += ["--round", "R"]
    done = run_cli(*argv, *args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and done.stderr.count("\n") == 1
    assert not db.exists()


def test_round_submit_needs_postgresql(tmp_path: Path) -> None:
    campaign = null_campaign(tmp_path, targets=3)
    db = tmp_path / "f.sqlite"
    assert run_cli("db", "upgrade", "--db", str(db)).returncode == 0
    done = run_cli(
        "round",
        "submit",
        "--campaign",
        str(campaign),
        "--round",
        "R",
        "--vantage",
        "ams",
        "--db",
        str(db),
    )
    assert done.returncode == 2
    assert "jobs need PostgreSQL, not sqlite" in done.stderr


def test_round_roles_refuses_a_vantage_too_long_for_a_role_name() -> None:
    done = run_cli("round", "roles", "--print-sql", "--worker", "v" * 50)
    assert done.returncode == 2 and "longer than PostgreSQL's 63 bytes" in done.stderr
