"""The engine on PostgreSQL: the same run, resume ledger and lock (a lease, run_leases)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.fixtures.engine import null_campaign, run_cli

pytestmark = pytest.mark.postgres


def _keys(url: str, run_id: str | None = None) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        sql = "SELECT task_key FROM tasks_done" + (" WHERE run_id = :r" if run_id else "")
        keys = [r[0] for r in conn.execute(text(sql), {"r": run_id})]
    engine.dispose()
    return keys


def test_run_resume_and_advisory_lock_on_postgres(engine_pg_url: str, tmp_path: Path) -> None:
    campaign = null_campaign(tmp_path, targets=200, follow_ups=1, fail_every=5, name="pg-test")
    url = engine_pg_url
    r = run_cli("run", "--campaign", str(campaign), "--db", url, "--auto-migrate", "--log-json")
    assert r.returncode == 0, r.stderr
    engine = create_engine(url)
    with engine.connect() as conn:
        run_id, status, vantage = conn.execute(
            text("SELECT id, status, vantage_id FROM runs")
        ).one()
        n_targets = conn.execute(text("SELECT COUNT(*) FROM targets")).scalar()
    assert status == "finished" and n_targets == 200
    keys = _keys(url, run_id)
    assert len(keys) == len(set(keys)) and sum(">" not in k for k in keys) == 200
    # Replaying the same run adds nothing (ON CONFLICT DO NOTHING + resume ledger).
    r = run_cli(
        "run", "--campaign", str(campaign), "--db", url, "--run-id", run_id, "--workers", "2"
    )
    assert r.returncode == 0, r.stderr
    assert sorted(_keys(url, run_id)) == sorted(keys)
    # The same work is locked by a lease (run_leases); another shard is not.
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO run_leases (name, holder, expires_at) VALUES "
                "(:n, 'elsewhere:1:x', (now() AT TIME ZONE 'UTC') + interval '1 hour') "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                "expires_at = excluded.expires_at"
            ),
            {"n": "pg-test\x1fclean\x1f0/1"},
        )
    try:
        held = run_cli("run", "--campaign", str(campaign), "--db", url, "--lock-wait", "0.3")
        assert held.returncode == 2 and "holds the lease" in held.stderr
        other = run_cli("run", "--campaign", str(campaign), "--db", url, "--shard", "1/2")
        assert other.returncode == 0, other.stderr
    finally:
        engine.dispose()
    assert vantage
