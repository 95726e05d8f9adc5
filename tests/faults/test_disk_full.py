"""A database on a full disk: a clear error, and the rows committed before stay readable.

A small tmpfs (mounted here, so root only) holds the database. A first run fits; then a
file fills the rest of the disk but a little room, and a second, larger run writes until
the database is refused (SQLITE_FULL). That run must end with one clear line and exit 1,
not a traceback; once the space is back, ``pragma integrity_check`` is ok and the first
run's rows are all there.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.engine import null_campaign, query, run_cli

TMPFS_SIZE = "16m"
ROOM_LEFT = 384 * 1024
"""Bytes left free after the filler: enough to create the second run, not to store it."""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path, *, leave: int) -> None:
    """Write ``path`` until the disk is full, then give back ``leave`` bytes."""
    chunk = b"\0" * 65536
    # Unbuffered: a buffered file keeps the part of a chunk the full disk refused and
    # fails again when it is closed (which free space the database leaves decides that).
    with path.open("wb", buffering=0) as fh:
        with contextlib.suppress(OSError):
            while True:
                fh.write(chunk)
        os.fsync(fh.fileno())
    free = os.statvfs(path.parent).f_bavail * os.statvfs(path.parent).f_frsize
    assert free < 65536, free
    os.truncate(path, max(0, path.stat().st_size - leave))


@pytest.mark.slow
def test_full_disk_is_a_clear_error_and_committed_rows_survive(
    small_disk: Path, tmp_path: Path
) -> None:
    db = small_disk / "db.sqlite"
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir()
    second_dir.mkdir()
    first = null_campaign(first_dir, targets=300, fail_every=0, follow_ups=0, name="fits")
    done = run_cli("run", "--campaign", str(first), "--db", str(db), "--auto-migrate")
    assert done.returncode == 0, done.stderr
    committed = query(db, "SELECT count(*) FROM null_observations")[0][0]
    assert committed == 300

    _fill(small_disk / "filler", leave=ROOM_LEFT)
    second = null_campaign(second_dir, targets=30_000, fail_every=0, follow_ups=0, name="full")
    done = run_cli("run", "--campaign", str(second), "--db", str(db), timeout=300)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "INSERT INTO" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "full" in lines[0], lines[0]  # SQLite's "database or disk is full"

    (small_disk / "filler").unlink()
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
    runs = dict(query(db, "SELECT campaign, id FROM runs"))  # type: ignore[arg-type]
    kept = query(db, "SELECT count(*) FROM null_observations WHERE run_id = ?", runs["fits"])
    assert kept[0][0] == committed
