"""The indicators benchmark's synthetic database: its row mix is the default campaign's
plan, and every DNS and naming indicator gets a value over it. Plans and writes a small
SQLite database in tmp_path; sends nothing (the planner only lists tasks)."""

from __future__ import annotations

import collections
from pathlib import Path

from bench import _synthetic as synthetic
from bench import indicators
from fragscope.probes.engine.campaign import load_campaign
from fragscope.probes.engine.shard_runner import ShardRunner
from fragscope.probes.safety import NetworkPolicy


def _planned() -> tuple[collections.Counter[str], collections.Counter[tuple[str, str]]]:
    campaign = load_campaign(synthetic.DEFAULT_CAMPAIGN)
    engine = ShardRunner(
        campaign,
        run_id="00000000-0000-4000-8000-000000000000",
        vantage_id="plan-only",
        sink=None,  # type: ignore[arg-type]  # tasks() plans; nothing is run or written
        policy=NetworkPolicy(allowed=()),
        write_targets=False,
    )
    per_probe: collections.Counter[str] = collections.Counter()
    naming: collections.Counter[tuple[str, str]] = collections.Counter()
    for task in engine.tasks():
        per_probe[task.probe] += 1
        if task.probe == "naming.resolve":
            assert task.endpoint is not None
            naming[(task.target, str(task.endpoint.label))] += 1
    return per_probe, naming


def test_row_mix_is_the_default_campaigns_plan() -> None:
    per_probe, naming = _planned()
    resolvers, endpoints = synthetic.panel()
    # 28 listed resolvers, and the 3 that the OpenNIC discovery endpoint (one label to the
    # planner) stands for in a run (probes/engine/discovered.py).
    assert len(resolvers) == 31
    assert sum(r.label.startswith("opennic-geoip@") for r in resolvers) == 3
    assert sum(r.role == "control" for r in resolvers) == 1
    labels = len(resolvers) - 3 + 1
    single = sum("." not in n for n, _ns in synthetic.canary_names(1))  # asked for SOA
    per_label = (
        (synthetic.TOP_SITES + synthetic.CANARIES - single) * 3
        + single
        + len(synthetic.TLDS)
        + len(synthetic.WHOAMI)
    )
    assert len(synthetic.TLDS) == 46
    assert per_probe["dns.query"] == per_label * labels
    assert per_probe["naming.resolve"] == synthetic.NAMING_TASKS
    for probe in ("transport.tls", "transport.quic", "transport.quic_vn"):
        assert per_probe[probe] == synthetic.TRANSPORT_TARGETS
    # The synthetic naming rows pair canaries and endpoints as the planner does.
    ids = synthetic.Ids()
    rows = [o for o, _ in synthetic.naming_rows(("r", "v", 0), endpoints, 1, ids)]
    mine = collections.Counter(o["task_key"].split("|")[2] for o in rows if o["attempt"] == 0)
    assert mine == collections.Counter(label for _name, label in naming)


def test_small_bench_database_gives_every_dns_and_naming_indicator(tmp_path: Path) -> None:
    from fragscope.analysis import asn, scope
    from fragscope.analysis.compute import compute
    from fragscope.db.connection import make_engine

    path = tmp_path / "bench.sqlite"
    built = indicators.build(path, 60_000)
    counts = built["table_rows"]
    assert counts["dns_observations"] > 40 * counts["tls_observations"]
    assert counts["dns_answers"] > counts["dns_observations"] // 2
    assert counts["naming_values"] > 0
    assert abs(built["rows"] - 60_000) < 15_000  # whole canary sets at this scale
    engine = make_engine(f"sqlite:///{path}")
    try:
        runs = scope.select_runs(engine, round_name="bench")
        c = compute(engine, runs, mapping=asn.load_lab())
    finally:
        engine.dispose()
    censored = c.for_run(runs[1].id)  # vantage 1: rewrites planted, DoQ blocked
    clean = c.for_run(runs[0].id)  # the control vantage: no rewrites
    values = {}
    for code in ("N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8"):
        value = censored[code].value
        assert value is not None, (code, censored[code])
        values[code] = value
    # One operator rewrites NXDOMAIN everywhere; the censored vantage adds name rewrites.
    assert values["N1"] > (clean["N1"].value or 0.0) > 0
    # OpenNIC's Tier-2 resolvers, found at the run's start by the discovery endpoint, see
    # OpenNIC's own TLDs besides ICANN's: N2 > 0 (0 before dns.query expanded discovery).
    assert values["N2"] > 0.0
    assert values["N6"] > 0  # two operators do not validate
