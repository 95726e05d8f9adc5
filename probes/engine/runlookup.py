"""Run lookup for the CLI: ``latest`` or a UUID prefix to a run id. Does I/O (reads runs).

The reports package renders summaries (``fragscope summarize``); this module only finds
runs.
"""

from __future__ import annotations

from sqlalchemy import Engine, select

from fragscope.db.models import Run


class NoSuchRun(LookupError):
    pass


def resolve_run(engine: Engine, run: str) -> str:
    """``latest`` or a UUID (or unique prefix) -> the run id."""
    with engine.connect() as conn:
        if run == "latest":
            rid = conn.execute(select(Run.id).order_by(Run.started_at.desc()).limit(1)).scalar()
            if rid is None:
                raise NoSuchRun("the database holds no run")
            return str(rid)
        # A prefix is literal text: autoescape keeps % and _ from acting as LIKE wildcards.
        query = select(Run.id).where(Run.id.startswith(run, autoescape=True))
        rows = conn.execute(query).scalars().all()
    if len(rows) == 1:
        return str(rows[0])
    raise NoSuchRun(f"no run {run!r}" if not rows else f"run prefix {run!r} is ambiguous")
