"""A batch the database refuses in part never takes the other rows with it (issue 18).

The refusal is real: ``test.refused_row`` (tests/engine_probes.py) writes a
``path_observations.test`` value that the table's CHECK constraint rejects, for one target
out of forty. The run must store the other 39 tasks (rows and ledger), leave the refused
task for ``--resume``, end ``failed`` with exit 1, and say so in one line that names the
table and the constraint, without the SQL statement.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from fragscope import cli
from tests.fixtures.engine import query, write_targets


@pytest.mark.usefixtures("engine_probes")
@pytest.mark.parametrize("workers", [1, 2])
def test_refused_rows_do_not_lose_the_batch(tmp_path: Path, workers: int) -> None:
    write_targets(tmp_path / "targets.csv", 39)
    with (tmp_path / "targets.csv").open("a") as fh:
        fh.write("40,refuse.lab.test\n")
    campaign = tmp_path / "c.toml"
    campaign.write_text(
        'name = "refused"\nvantage = "clean"\n[[targets]]\nfile = "targets.csv"\n'
        '[probes."test.refused_row"]\n'
    )
    db = tmp_path / "db.sqlite"
    argv = ["run", "--campaign", str(campaign), "--db", str(db), "--auto-migrate"]
    result = CliRunner().invoke(cli.main, [*argv, "--workers", str(workers)])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if "error" in line]
    assert len(errors) == 1, result.output
    [message] = errors
    assert "path_observations" in message and "CHECK constraint failed" in message, message
    assert "test" in message.split("CHECK constraint failed", 1)[1], message  # the column
    assert "INSERT INTO" not in result.output and "Traceback" not in result.output
    stored = query(db, "SELECT target FROM path_observations")
    assert len(stored) == 39 and ("refuse.lab.test",) not in stored
    done = query(db, "SELECT task_key FROM tasks_done")
    assert len(done) == 39 and not any("refuse.lab.test" in str(k) for (k,) in done)
    assert query(db, "SELECT status, exit_code FROM runs") == [("failed", 1)]
