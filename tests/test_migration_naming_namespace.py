"""Migration 0600_naming_namespace: naming rows stored before it get the namespace of the
endpoint that answered wherever their run says it once (an ad-hoc `probe name --store` run;
a campaign run's stored [[endpoints]]), NULL elsewhere; the downgrade drops the column."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, text

from fragscope.db import migrate
from fragscope.db.connection import make_engine

BEFORE = "0500_storage_speed"
VANTAGE = "00000000-0000-4000-8000-00000000000a"
# One campaign as `runs.config` stores it (probes/engine/campaign.py snapshot): a catch-all
# alternative root, one JSON-RPC URL listed for ENS and for UNS (told apart by method),
# an ICANN resolver without `namespace` (the default), and one URL listed with two
# namespaces and no method (ambiguous).
CAMPAIGN = {
    "name": "c",
    "endpoints": [
        {"url": "udp://10.99.53.10", "namespace": "opennic", "options": {"namespaces": ["*"]}},
        {"url": "eth+http://10.99.90.1:8545", "namespace": "ens", "options": {"method": "eth-rpc"}},
        {
            "url": "eth+http://10.99.90.1:8545",
            "namespace": "unstoppable",
            "options": {"method": "uns"},
        },
        {"url": "udp://10.99.53.1"},
        {"url": "udp://10.99.53.20", "namespace": "handshake"},
        {"url": "udp://10.99.53.20", "namespace": "emercoin", "label": "twice"},
    ],
}
# (run, name's namespace, name, method, endpoint) -> the backfilled endpoint namespace
ROWS = [
    ("adhoc", "ens", "alice.eth", "eth-rpc", "eth+http://10.99.90.1:8545", "ens"),
    ("campaign", "special-use", "www.example.test", "dns", "udp://10.99.53.10", "opennic"),
    ("campaign", "ens", "alice.eth", "eth-rpc", "eth+http://10.99.90.1:8545", "ens"),
    ("campaign", "unstoppable", "x.crypto", "uns", "eth+http://10.99.90.1:8545", "unstoppable"),
    ("campaign", "icann", "host.lab", "dns", "udp://10.99.53.1", "icann"),
    ("campaign", "icann", "www.nb", "dns", "udp://10.99.53.20", None),
    ("campaign", "icann", "www.nb", "dns", "udp://10.99.53.99", None),
]
RUNS = {
    "adhoc": ("00000000-0000-4000-8000-000000000001", "adhoc:probe-name", {}),
    "campaign": ("00000000-0000-4000-8000-000000000002", "c", CAMPAIGN),
}


T0 = dt.datetime(2026, 11, 29)


def _seed(engine: Engine) -> None:
    # Core inserts with typed columns: the JSON and timestamp columns bind on both dialects.
    vantages = sa.table(
        "vantages",
        *(sa.column(c) for c in ("id", "label", "hostname")),
        sa.column("egress_addresses", sa.JSON),
        sa.column("created_at", sa.DateTime),
    )
    runs = sa.table(
        "runs",
        *(sa.column(c) for c in ("id", "campaign", "vantage_id", "seed", "status")),
        *(sa.column(c, sa.JSON) for c in ("config", "software", "counts")),
        sa.column("started_at", sa.DateTime),
    )
    obs = sa.table(
        "naming_observations",
        *(sa.column(c) for c in ("id", "run_id", "vantage_id", "task_key", "attempt", "probe")),
        *(sa.column(c) for c in ("probe_version", "target", "endpoint", "namespace", "name")),
        *(sa.column(c) for c in ("name_normalized", "method", "outcome", "n_values")),
        sa.column("started_at", sa.DateTime),
    )
    with engine.begin() as conn:
        conn.execute(
            vantages.insert(),
            [
                {
                    "id": VANTAGE,
                    "label": "v",
                    "hostname": "h",
                    "egress_addresses": [],
                    "created_at": T0,
                }
            ],
        )
        conn.execute(
            runs.insert(),
            [
                {
                    "id": run_id,
                    "campaign": campaign,
                    "vantage_id": VANTAGE,
                    "seed": 0,
                    "status": "finished",
                    "config": config,
                    "software": {},
                    "counts": {},
                    "started_at": T0,
                }
                for run_id, campaign, config in RUNS.values()
            ],
        )
        conn.execute(
            obs.insert(),
            [
                {
                    "id": i + 1,
                    "run_id": RUNS[run][0],
                    "vantage_id": VANTAGE,
                    "task_key": f"k{i}",
                    "attempt": 0,
                    "probe": "naming.resolve",
                    "probe_version": 1,
                    "target": name,
                    "endpoint": url,
                    "namespace": ns,
                    "name": name,
                    "name_normalized": name,
                    "method": method,
                    "outcome": "resolved",
                    "n_values": 0,
                    "started_at": T0,
                }
                for i, (run, ns, name, method, url, _want) in enumerate(ROWS)
            ],
        )


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_backfill_where_the_run_says_it(db: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("sqlite_url" if db == "sqlite" else "pg_url")
    engine = make_engine(url)
    try:
        migrate.upgrade(engine, BEFORE)
        _seed(engine)
        migrate.upgrade(engine)
        assert migrate.is_at_head(engine)
        with engine.connect() as conn:
            got = dict(
                conn.execute(text("SELECT id, endpoint_namespace FROM naming_observations")).all()
            )
            view = conn.execute(
                text("SELECT count(*) FROM naming_values_flat WHERE endpoint_namespace IS NULL")
            ).scalar()
        assert got == {i + 1: row[-1] for i, row in enumerate(ROWS)}
        assert view == 0  # the view has the column (and no values rows here)
        migrate.downgrade(engine, BEFORE)
        cols = {c["name"] for c in sa.inspect(engine).get_columns("naming_observations")}
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT count(*) FROM naming_observations")).scalar()
        assert "endpoint_namespace" not in cols and rows == len(ROWS)
    finally:
        engine.dispose()
