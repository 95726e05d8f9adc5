"""naming.resolve run by the engine (`fragscope run --campaign`): ENS names over
`eth+http://` JSON-RPC on the test ganache and a DNSLink bridge (an NSD view) in one run,
then bridge fidelity and `fragscope summarize` (its coverage of naming_observations)."""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from fragscope import cli
from fragscope.analysis import scope
from fragscope.analysis.compute import compute
from fragscope.db.connection import make_engine
from tests.fixtures.naming import DnsViews, EnsWorld

NAMES = ["alice.eth", "bob.eth", "ghost.eth", "al_ice.eth"]


def test_campaign_with_chain_and_bridge(
    ens_world: EnsWorld, dns_views: DnsViews, tmp_path: Path
) -> None:
    (tmp_path / "names.txt").write_text("\n".join(NAMES) + "\n")
    chain_url = ens_world.chain.url.replace("http://", "eth+http://")
    (tmp_path / "naming.toml").write_text(f"""
name = "naming-test"
vantage = "clean"

[[targets]]
list = "ens-names"
file = "names.txt"
format = "lines"
namespace = "ens"

[[endpoints]]
url = "{chain_url}"
label = "chain"
operator = "lab"
namespace = "ens"
options = {{ method = "eth-rpc", registry = "{ens_world.registry}", chain_id = 1337, \
universal_resolver = "{ens_world.universal}" }}

[[endpoints]]
url = "{dns_views.alt}"
label = "dnslink-bridge"
operator = "lab-bridge"
namespace = "ens"
options = {{ method = "dns", qtypes = ["TXT"] }}

[probes."naming.resolve"]
text_keys = ["url"]
coin_types = [0]

[limits]
concurrency = 4
deadline = 20.0

[safety]
allowed = ["127.0.0.0/8"]
""")
    db = tmp_path / "db.sqlite"
    runner = CliRunner()
    result = runner.invoke(
        cli.main,
        ["run", "--campaign", str(tmp_path / "naming.toml"), "--db", str(db), "--auto-migrate"],
    )
    assert result.exit_code == 0, result.output
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT name, endpoint_operator, method, outcome, failure FROM naming_observations"
    ).fetchall()
    (run_id,) = con.execute("SELECT id FROM runs").fetchone()
    con.close()
    assert len(rows) == len(NAMES) * 2
    by = {(name, op): (method, outcome, failure) for name, op, method, outcome, failure in rows}
    assert by[("alice.eth", "lab")] == ("eth-rpc", "resolved", None)
    assert by[("ghost.eth", "lab")] == ("eth-rpc", "not_found", None)
    assert by[("al_ice.eth", "lab")][2] == "invalid_input"
    assert by[("alice.eth", "lab-bridge")] == ("dns", "resolved", None)
    fid = runner.invoke(cli.main, ["naming", "fidelity", "--db", str(db), "--run-id", run_id])
    assert fid.exit_code == 0, fid.output
    # alice: bridge == chain; bob: the bridge invents a contenthash; ghost: both say nothing.
    assert json.loads(fid.output) == {"match": 2, "mismatch": 1}
    # N4 from the same rows: AGF is the bridge's judged share, ANR per namespace x method
    # (the invalid name was never sent: no lookup), APD over IP-literal paths is 0.
    engine = make_engine(str(db))
    try:
        n4 = next(
            e
            for e in compute(engine, scope.select_runs(engine, run=run_id)).estimates
            if e.code == "N4"
        )
    finally:
        engine.dispose()
    assert n4.params["agf"] == pytest.approx(2 / 3)
    assert n4.params["agf_by_method"] == {"ens/dns": pytest.approx(2 / 3), "ens/eth-rpc": None}
    ok = len(NAMES) - 1
    anr = {"attempts": ok, "successes": ok, "anr": 1.0}
    assert n4.params["anr"] == {"ens/dns": anr, "ens/eth-rpc": anr}
    assert n4.params["apd"] == 0.0 and n4.params["working_paths"] == 2
    assert n4.value == 0.0
    summary = runner.invoke(cli.main, ["summarize", "--db", str(db), "--format", "json"])
    assert summary.exit_code == 0, summary.output
    coverage = json.loads(summary.output)["coverage"]
    naming = next(c for c in coverage if c["table"] == "naming_observations")
    assert naming["rows"] == len(NAMES) * 2 and naming["ok"] == len(NAMES) * 2 - 2


def test_a_lookup_past_the_engine_deadline_is_a_naming_row(tmp_path: Path) -> None:
    """A resolver that never answers, a request timeout longer than the task's deadline:
    the probe's own timeout row (with namespace, name, method) comes before the engine's
    bare one, so the run stores it instead of failing on NOT NULL columns."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))  # receives, never answers
    try:
        port = silent.getsockname()[1]
        (tmp_path / "names.txt").write_text("www.geek\n")
        (tmp_path / "c.toml").write_text(f"""
name = "silent"
vantage = "clean"

[[targets]]
list = "names"
file = "names.txt"
format = "lines"

[[endpoints]]
url = "udp://127.0.0.1:{port}"
label = "silent"
namespace = "opennic"
options = {{ method = "dns", qtypes = ["A"] }}

[probes."naming.resolve"]
timeout_s = 30.0

[limits]
deadline = 1.0
retries = 0

[safety]
allowed = ["127.0.0.0/8"]
""")
        db = tmp_path / "db.sqlite"
        argv = ["run", "--campaign", str(tmp_path / "c.toml"), "--db", str(db), "--auto-migrate"]
        result = CliRunner().invoke(cli.main, argv)
    finally:
        silent.close()
    assert result.exit_code == 0, result.output
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT namespace, endpoint_namespace, method, failure, failure_detail "
        "FROM naming_observations"
    ).fetchall()
    con.close()
    assert len(rows) == 1, rows
    ns, endpoint_ns, method, failure, detail = rows[0]
    assert (ns, endpoint_ns, method, failure) == (
        "opennic",
        "opennic",
        "dns",
        "generic_timeout_error",
    )
    assert "engine deadline" not in (detail or ""), detail
