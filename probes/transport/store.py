"""Observations -> rows for the single writer, and the run/vantage rows a CLI probe needs.

No I/O here (the writer does it). The engine (branch engine) owns the general version of
:func:`observation_rows`; this one lets ``fragscope probe transport --store`` work on its
own and fills exactly the same envelope (docs/architecture.md §4).
"""

from __future__ import annotations

import datetime as dt
import platform
import socket
import sys
import uuid
from importlib import metadata
from typing import Any

from fragscope.db.ids import child_id, row_id, vantage_id
from fragscope.db.writer import Row, spec_for
from fragscope.probes.base import Observation, Task


def observation_rows(
    obs: Observation,
    task: Task,
    *,
    run_id: str,
    vantage: str,
    probe: str,
    probe_version: int,
    attempt: int = 0,
) -> list[Row]:
    """The observation's row and its child rows, ids assigned client-side (db.ids)."""
    parent = row_id(run_id, task.key, attempt)
    envelope = {
        "id": parent,
        "run_id": run_id,
        "vantage_id": vantage,
        "task_key": task.key,
        "attempt": attempt,
        "probe": probe,
        "probe_version": probe_version,
        **obs.envelope(),
    }
    rows: list[Row] = [(spec_for(obs.table), spec_for(obs.table).row(**obs.fields, **envelope))]
    for i, (table, values) in enumerate(obs.children):
        spec = spec_for(table)
        rows.append((spec, spec.row(id=child_id(parent, i), observation_id=parent, **values)))
    return rows


def _software() -> dict[str, str | None]:
    versions: dict[str, str | None] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    for dist in ("fragscope", "aioquic", "cryptography", "scapy", "h2"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return versions


def cli_run_rows(
    *, label: str, config: dict[str, Any], started_at: dt.datetime, finished_at: dt.datetime
) -> tuple[str, str, list[Row]]:
    """(run_id, vantage_id, rows) for one ad-hoc ``fragscope probe`` invocation."""
    host = socket.gethostname()
    vid = vantage_id(label, host)
    rid = str(uuid.uuid4())
    rows: list[Row] = [
        (
            spec_for("vantages"),
            spec_for("vantages").row(
                id=vid, label=label, hostname=host, egress_addresses=[], created_at=started_at
            ),
        ),
        (
            spec_for("runs"),
            spec_for("runs").row(
                id=rid,
                campaign="probe transport",
                round=None,
                vantage_id=vid,
                config=config,
                software=_software(),
                seed=0,
                started_at=started_at,
                finished_at=finished_at,
                heartbeat_at=finished_at,
                status="finished",
                exit_code=0,
                counts={},
            ),
        ),
    ]
    return rid, vid, rows
