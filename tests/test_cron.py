"""A cron-like schedule: `fragscope run` under `env -i`, with no TTY, twice in a row.

cron gives a near-empty environment, no terminal and no working directory of ours. Each run
must finish on its own (exit 0), log parseable JSON lines, print nothing else, and the
second run must start a new run that measures the whole plan again (a plain `run` never
resumes; only `--resume` does).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGN = ROOT / "campaigns" / "null-lab.toml"


def _fragscope() -> list[str]:
    script = Path(sys.executable).parent / "fragscope"
    return [str(script)] if script.exists() else [sys.executable, str(ROOT / "cli.py")]


def _cron_run(db: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [
        *_fragscope(), "run", "--campaign", str(CAMPAIGN), "--db", str(db),
        "--auto-migrate", "--log-json",
    ]  # fmt: skip
    return subprocess.run(
        ["/usr/bin/env", "-i", "PATH=/usr/bin:/bin", *command],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        start_new_session=True,  # no controlling terminal, as under cron
    )


def test_two_cron_runs_in_a_row(tmp_path: Path) -> None:
    db = tmp_path / "cron.sqlite"
    first = _cron_run(db, tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    second = _cron_run(db, tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    for done in (first, second):
        assert done.stdout == ""  # quiet without a TTY
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert lines, "--log-json wrote nothing"
        for line in lines:
            assert isinstance(json.loads(line), dict), line

    con = sqlite3.connect(db)
    try:
        runs = con.execute("SELECT id, status FROM runs ORDER BY started_at").fetchall()
        per_run = dict(
            con.execute("SELECT run_id, COUNT(DISTINCT task_key) FROM tasks_done GROUP BY run_id")
        )
        rows = dict(con.execute("SELECT run_id, COUNT(*) FROM null_observations GROUP BY run_id"))
    finally:
        con.close()
    assert len(runs) == 2 and runs[0][0] != runs[1][0]
    assert [status for _id, status in runs] == ["finished", "finished"]
    first_id, second_id = runs[0][0], runs[1][0]
    # The second run resumed nothing: it planned and measured every task itself.
    assert per_run[second_id] == per_run[first_id] > 0
    assert rows[second_id] == rows[first_id]
