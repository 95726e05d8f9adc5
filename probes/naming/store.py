"""Store naming observations from `fragscope probe name --store`. Does database I/O.

The engine owns runs in campaigns; an ad-hoc probe invocation gets its own run
(campaign ``adhoc:probe-name``) at a vantage labelled ``adhoc`` on this host, so its rows
have the same envelope as any other and can be analysed the same way.
"""

from __future__ import annotations

import datetime as dt
import platform
import socket
import uuid
from collections.abc import Sequence

from sqlalchemy import Engine

from fragscope.db.ids import child_id, row_id, vantage_id
from fragscope.db.models import Run, Vantage
from fragscope.db.writer import Row, Writer, spec_for
from fragscope.probes.base import Observation


def _naive(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def store(
    engine: Engine, observations: Sequence[tuple[str, Observation]], *, probe: str, version: int
) -> str:
    """Write ``(task_key, observation)`` pairs under a new ad-hoc run; returns its id."""
    from sqlalchemy.orm import Session

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    host = socket.gethostname()
    vid = vantage_id("adhoc", host)
    run_id = str(uuid.uuid4())
    with Session(engine) as session, session.begin():
        if session.get(Vantage, vid) is None:
            session.add(
                Vantage(id=vid, label="adhoc", hostname=host, egress_addresses=[], created_at=now)
            )
            session.flush()  # no ORM relationship orders vantage before run: flush it first
        session.add(
            Run(
                id=run_id,
                campaign="adhoc:probe-name",
                vantage_id=vid,
                config={},
                software={"python": platform.python_version()},
                seed=0,
                started_at=now,
                finished_at=now,
                status="finished",
                exit_code=0,
                counts={},
            )
        )
    rows: list[Row] = []
    parent_spec = spec_for("naming_observations")
    for key, obs in observations:
        oid = row_id(run_id, key, 0)
        rows.append(
            (
                parent_spec,
                parent_spec.row(
                    id=oid,
                    run_id=run_id,
                    vantage_id=vid,
                    task_key=key,
                    attempt=0,
                    probe=probe,
                    probe_version=version,
                    target=obs.target,
                    endpoint=obs.endpoint,
                    started_at=_naive(obs.started_at),
                    duration_ms=obs.duration_ms,
                    failure=obs.failure,
                    failed_operation=obs.failed_operation,
                    failure_detail=obs.failure_detail,
                    **obs.fields,
                ),
            )
        )
        for i, (table, values) in enumerate(obs.children):
            spec = spec_for(table)
            rows.append((spec, spec.row(id=child_id(oid, i), observation_id=oid, **values)))
    Writer(engine).write(rows)
    return run_id
