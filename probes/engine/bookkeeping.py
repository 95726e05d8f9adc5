"""Run bookkeeping in the database: vantages, runs, heartbeats, resume state. Does I/O.

Every function takes a SQLAlchemy Engine and runs one short transaction, so the engine
can call them from the writer's thread (SQLite) between batches.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import platform
import socket
import sys
import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from fragscope.db.ids import vantage_id
from fragscope.db.models import Run, TaskDone, TaskFollowUp, Vantage
from fragscope.db.vocab import RunStatus

SOFTWARE_PACKAGES = ("fragscope", "sqlalchemy", "alembic", "dnspython", "aioquic", "scapy")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def software_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "platform": sys.platform}
    for name in SOFTWARE_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def seed_for(run_id: str) -> int:
    """The run's seed, derived from its UUID so shards on separate machines agree."""
    return int(uuid.UUID(run_id)) & ((1 << 63) - 1)


def ensure_vantage(engine: Engine, label: str, *, hostname: str | None = None) -> str:
    hostname = hostname or socket.gethostname()
    vid = vantage_id(label, hostname)
    with engine.begin() as conn:
        exists = conn.execute(select(Vantage.id).where(Vantage.id == vid)).first()
        if exists is None:
            conn.execute(
                insert(Vantage).values(
                    id=vid, label=label, hostname=hostname, egress_addresses=[], created_at=utcnow()
                )
            )
    return vid


def get_run(engine: Engine, run_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(Run.__table__).where(Run.id == run_id)).mappings().first()
    return dict(row) if row else None


def latest_unfinished(engine: Engine, *, campaign: str, vantage: str) -> str | None:
    """The newest run of this campaign and vantage that did not finish."""
    with engine.connect() as conn:
        return conn.execute(
            select(Run.id)
            .where(
                Run.campaign == campaign,
                Run.vantage_id == vantage,
                Run.status != RunStatus.FINISHED.value,
            )
            .order_by(Run.started_at.desc())
            .limit(1)
        ).scalar()


def create_run(
    engine: Engine,
    *,
    run_id: str,
    campaign: str,
    round_: str | None,
    vantage: str,
    config: dict[str, Any],
) -> None:
    """Insert the run row. Shards of one round job start at once and each creates its run
    if absent (fragscope round submit names the run): the one that loses the race finds
    the row there, which is what it wanted."""
    now = utcnow()
    try:
        _insert_run(engine, run_id, campaign, round_, vantage, config, now)
    except IntegrityError:
        if get_run(engine, run_id) is None:
            raise


def _insert_run(
    engine: Engine,
    run_id: str,
    campaign: str,
    round_: str | None,
    vantage: str,
    config: dict[str, Any],
    now: dt.datetime,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(Run).values(
                id=run_id,
                campaign=campaign,
                round=round_,
                vantage_id=vantage,
                config=config,
                software=software_versions(),
                seed=seed_for(run_id),
                started_at=now,
                heartbeat_at=now,
                status=RunStatus.RUNNING.value,
                counts={},
            )
        )


def mark_running(engine: Engine, run_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(status=RunStatus.RUNNING.value, heartbeat_at=utcnow(), finished_at=None)
        )


def heartbeat(engine: Engine, run_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(Run).where(Run.id == run_id).values(heartbeat_at=utcnow()))


def done_keys(engine: Engine, run_id: str) -> set[str]:
    """Every task_key the run already finished (the resume ledger)."""
    with engine.connect() as conn:
        result = conn.execute(select(TaskDone.task_key).where(TaskDone.run_id == run_id))
        return {r[0] for r in result}


def pending_followups(engine: Engine, run_id: str) -> Iterator[dict[str, Any]]:
    """Follow-ups planned by finished tasks that have not finished themselves."""
    fu = TaskFollowUp.__table__
    td = TaskDone.__table__
    query = select(fu).where(
        fu.c.run_id == run_id,
        ~select(td.c.task_key)
        .where(td.c.run_id == fu.c.run_id, td.c.task_key == fu.c.task_key)
        .exists(),
    )
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    yield from rows


def counts_by_probe(engine: Engine, run_id: str) -> dict[str, Any]:
    """Per-probe tasks, successes and failures of the run, from the ledger (all shards)."""
    out: dict[str, Any] = {}
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT probe, failure, COUNT(*), SUM(attempts) FROM tasks_done "
                "WHERE run_id = :r GROUP BY probe, failure ORDER BY probe, failure"
            ),
            {"r": run_id},
        )
        for probe, failure, n, attempts in rows:
            entry = out.setdefault(probe, {"tasks": 0, "ok": 0, "attempts": 0, "failures": {}})
            entry["tasks"] += n
            entry["attempts"] += int(attempts or 0)
            if failure is None:
                entry["ok"] += n
            else:
                entry["failures"][failure] = n
    return out


def finish_run(engine: Engine, run_id: str, *, status: RunStatus, exit_code: int) -> None:
    counts = counts_by_probe(engine, run_id)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(
                status=status.value,
                exit_code=exit_code,
                finished_at=now,
                heartbeat_at=now,
                counts=counts,
            )
        )
