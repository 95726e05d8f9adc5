"""Transport observations stored through the writer; the quic_adoption view over them."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import Engine, text

from fragscope.db.writer import Writer
from fragscope.probes.base import Task
from fragscope.probes.transport.quic import QuicConfig, QuicProbe
from fragscope.probes.transport.store import cli_run_rows, observation_rows
from fragscope.probes.transport.tls import TlsConfig, TlsProbe
from fragscope.probes.transport.vn import VnConfig, VnProbe
from tests.fixtures.web_hosts import WebLab
from tests.transport.helpers import policy, task

NAME = "www.example.test"


async def _measure_all(lab: WebLab) -> list[tuple[object, Task, str, int]]:
    ca = str(lab.pki.ca)
    probes = [
        TlsProbe(TlsConfig(ca_file=ca), policy=policy()),
        QuicProbe(QuicConfig(ca_file=ca, handshake_timeout_s=2), policy=policy()),
        VnProbe(VnConfig(timeout_s=1), policy=policy()),
    ]
    jobs = []
    for host in ("h3", "caddy", "advertised", "tcponly"):
        address, port = lab.addr(host)
        for p in probes:
            t = task(p.name, f"{host}.example.test", address=address, port=port)
            jobs.append((p, t))
    results = await asyncio.gather(*(p.measure(t) for p, t in jobs))
    return [(obs, t, p.name, p.version) for (p, t), obs in zip(jobs, results, strict=True)]


def test_rows_store_and_view_classifies(web_lab: WebLab, migrated_engine: Engine) -> None:
    now = dt.datetime.now(dt.UTC)
    run_id, vid, rows = cli_run_rows(label="test", config={}, started_at=now, finished_at=now)
    for obs, t, name, version in asyncio.run(_measure_all(web_lab)):
        rows += observation_rows(
            obs, t, run_id=run_id, vantage=vid, probe=name, probe_version=version
        )  # type: ignore[arg-type]
    writer = Writer(migrated_engine)
    writer.write(rows)
    assert writer.write(rows) == len(rows)  # replay: offered again, ignored by the database
    with migrated_engine.connect() as conn:
        status = dict(
            conn.execute(
                text("select target, status from quic_adoption where run_id = :r"), {"r": run_id}
            ).all()
        )
        n_tls = conn.execute(text("select count(*) from tls_observations")).scalar()
        vn_versions = conn.execute(
            text(
                "select count(*) from quic_vn_versions v join quic_vn_observations o"
                " on o.id = v.observation_id where o.target = 'caddy.example.test'"
            )
        ).scalar()
        tps = conn.execute(text("select count(*) from quic_transport_params")).scalar()
        server = conn.execute(
            text("select http_server from tls_observations where target = 'caddy.example.test'")
        ).scalar()
    assert status == {
        "h3.example.test": "advertised_and_served",
        "caddy.example.test": "advertised_and_served",
        "advertised.example.test": "advertised_not_served",
        "tcponly.example.test": "not_served",
    }
    assert n_tls == 4
    assert vn_versions >= 4
    assert tps >= 10
    assert server == "Caddy"
