"""When each endpoint last answered, per vantage, from stored successful rows. Reads the database.

``last_seen_ok`` is never written by hand or guessed: it is the start of the latest
attempt without a failure, in any observation table, of each (endpoint URL, vantage
label). ``fragscope campaign check --db`` reads it to warn about endpoints no vantage has
seen working for 12 months (docs/campaigns.md, "Campaign check").
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import Engine, func, select, union_all

from fragscope.db.models import Base

LastSeen = dict[str, dict[str, dt.datetime]]
"""Endpoint URL -> vantage label -> start of its latest successful attempt (UTC)."""

_ENVELOPE = {"endpoint", "failure", "started_at", "vantage_id"}


def last_seen_ok(engine: Engine) -> LastSeen:
    """Per endpoint and vantage, the latest attempt that did not fail."""
    vantages = Base.metadata.tables["vantages"]
    parts = [
        select(t.c.endpoint, t.c.vantage_id, func.max(t.c.started_at).label("at"))
        .where(t.c.failure.is_(None), t.c.endpoint.is_not(None))
        .group_by(t.c.endpoint, t.c.vantage_id)
        for t in Base.metadata.sorted_tables
        if set(t.c.keys()) >= _ENVELOPE
    ]
    seen = union_all(*parts).subquery()
    query = (
        select(seen.c.endpoint, vantages.c.label, func.max(seen.c.at))
        .join(vantages, vantages.c.id == seen.c.vantage_id)
        .group_by(seen.c.endpoint, vantages.c.label)
    )
    out: LastSeen = defaultdict(dict)
    with engine.connect() as conn:
        for endpoint, label, at in conn.execute(query):
            if isinstance(at, str):  # SQLite returns max() of a DateTime column as text
                at = dt.datetime.fromisoformat(at)
            out[str(endpoint)][str(label)] = at
    return dict(out)
