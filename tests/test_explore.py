"""``fragscope explore``: datasette on loopback serves the database with the generated metadata.

Uses the upgraded v1 fixture as the database (real rows), starts the real command as a
subprocess on a free loopback port, fetches a table page and a canned query, then stops it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from fragscope.db.connection import make_engine
from fragscope.db.explore import CANNED_QUERIES, explore_metadata
from fragscope.db.migrate import upgrade
from fragscope.lab.core.ports import free_port

pytest.importorskip("datasette", reason="needs the explore extra (pip install -e '.[dev]')")

FIXTURE = Path(__file__).parent / "fixtures" / "data" / "v1.sqlite"


@pytest.fixture
def lab_db(tmp_path: Path) -> Path:
    db = tmp_path / "measurements.sqlite"
    shutil.copyfile(FIXTURE, db)
    engine = make_engine(str(db))
    upgrade(engine)
    engine.dispose()
    return db


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.status, resp.read().decode("utf-8")


def test_metadata_is_named_after_the_file_and_filters_queries(lab_db: Path) -> None:
    meta = explore_metadata(lab_db)
    (name,) = meta["databases"]
    assert name == "measurements"
    db = meta["databases"]["measurements"]
    assert "null_observations" in db["tables"]
    assert db["tables"]["null_observations"]["columns"]["attempt"]
    assert set(db["queries"]) <= set(CANNED_QUERIES)
    assert "runs_overview" in db["queries"] and "failures_by_probe" in db["queries"]


def test_explore_serves_a_table_page_on_loopback(lab_db: Path, tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "explore", "--db", str(lab_db), "--port", str(port)],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = _get(f"{base}/-/versions.json")
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                assert time.monotonic() < deadline, "datasette did not start"
                time.sleep(0.2)
        # Served immutable (issue 18): no statement can change the file.
        status, body = _get(f"{base}/-/databases.json")
        assert [(d["name"], d["is_mutable"]) for d in json.loads(body)] == [("measurements", False)]
        status, html = _get(f"{base}/measurements/null_observations")
        assert status == 200
        assert "broken.test" in html and "generic_timeout_error" in html
        # The generated column docs are shown.
        assert "0 for the first try" in html
        status, body = _get(f"{base}/measurements/runs_overview.json?_shape=array")
        runs = json.loads(body)
        assert {r["status"] for r in runs} == {"finished", "interrupted"}
        status, body = _get(f"{base}/measurements/failures_by_probe.json?_shape=array")
        rows = {(r["vantage"], r["outcome"]): r["tasks"] for r in json.loads(body)}
        assert rows[("clean", "generic_timeout_error")] == 1
        assert rows[("clean", "ok")] == 3
        # Bound to loopback only.
        listening = subprocess.run(
            ["ss", "-Htlnp", f"sport = :{port}"], capture_output=True, text=True, check=False
        ).stdout
        local = [line.split()[3] for line in listening.splitlines() if line.strip()]
        assert local == [f"127.0.0.1:{port}"]
    finally:
        proc.terminate()  # explore stops its datasette child on SIGTERM
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        # Nothing of the session (datasette included) may outlive the test.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        leftover = subprocess.run(
            ["pgrep", "-s", str(proc.pid)], capture_output=True, text=True, check=False
        ).stdout
        assert leftover == "", f"processes left behind: {leftover}"
