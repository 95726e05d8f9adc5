"""naming.resolve run by the engine (`fragscope run --campaign`): ENS names over
`eth+http://` JSON-RPC on the test ganache and a DNSLink bridge (an NSD view) in one run,
then bridge fidelity and `fragscope summarize` (its coverage of naming_observations)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner

import cli
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
options = {{ method = "eth-rpc", registry = "{ens_world.registry}", chain_id = 1337 }}

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
    summary = runner.invoke(cli.main, ["summarize", "--db", str(db), "--format", "json"])
    assert summary.exit_code == 0, summary.output
    coverage = json.loads(summary.output)["coverage"]
    naming = next(c for c in coverage if c["table"] == "naming_observations")
    assert naming["rows"] == len(NAMES) * 2 and naming["ok"] == len(NAMES) * 2 - 2
