"""Migration 0600_naming_namespace: naming rows stored before it get the namespace of the
endpoint that answered wherever their run says it once (an ad-hoc `probe name --store` run;
a campaign run's stored [[endpoints]]), NULL elsewhere; the downgrade drops the column."""

from __future__ import annotations

import json

from sqlalchemy import Engine, text

from db import migrate
from db.engine import make_engine

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


def _seed(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO vantages (id, label, hostname, egress_addresses, created_at) "
                "VALUES (:id, 'v', 'h', '[]', '2026-11-29 00:00:00')"
            ),
            {"id": VANTAGE},
        )
        for run_id, campaign, config in RUNS.values():
            conn.execute(
                text(
                    "INSERT INTO runs (id, campaign, vantage_id, config, software, seed, "
                    "started_at, status, counts) VALUES (:id, :c, :v, :cfg, '{}', 0, "
                    "'2026-11-29 00:00:00', 'finished', '{}')"
                ),
                {"id": run_id, "c": campaign, "v": VANTAGE, "cfg": json.dumps(config)},
            )
        for i, (run, ns, name, method, url, _want) in enumerate(ROWS):
            conn.execute(
                text(
                    "INSERT INTO naming_observations (id, run_id, vantage_id, task_key, "
                    "attempt, probe, probe_version, target, endpoint, started_at, namespace, "
                    "name, name_normalized, method, outcome, n_values) VALUES (:id, :run, :v, "
                    ":key, 0, 'naming.resolve', 1, :name, :url, '2026-11-29 00:00:00', :ns, "
                    ":name, :name, :method, 'resolved', 0)"
                ),
                {
                    "id": i + 1,
                    "run": RUNS[run][0],
                    "v": VANTAGE,
                    "key": f"k{i}",
                    "name": name,
                    "url": url,
                    "ns": ns,
                    "method": method,
                },
            )


def test_backfill_where_the_run_says_it(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
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
        with engine.connect() as conn:
            cols = [r[1] for r in conn.execute(text("PRAGMA table_info(naming_observations)"))]
            rows = conn.execute(text("SELECT count(*) FROM naming_observations")).scalar()
        assert "endpoint_namespace" not in cols and rows == len(ROWS)
    finally:
        engine.dispose()
