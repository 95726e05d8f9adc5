"""CLI (click's CliRunner), the Summary against its committed schema, docs in sync."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from fragscope.analysis import asn, compute, docs, scope, summary
from fragscope.cli import main
from tests.fixtures.analysis import World, add_dns_world

ROOT = Path(__file__).resolve().parents[2]


def test_docs_in_sync() -> None:
    committed = (ROOT / "docs" / "indicators.md").read_text(encoding="utf-8")
    assert committed == docs.markdown() + "\n", (
        "docs/indicators.md is out of date: run `make indicators-doc`"
    )


def test_every_indicator_documented() -> None:
    md = docs.markdown()
    for code in ("N1", "N8", "T1", "T9", "O1", "C1", "C2"):
        assert f"## {code}:" in md


def test_list_formats() -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["indicators", "list"])
    assert out.exit_code == 0 and "T2" in out.output
    out = runner.invoke(main, ["indicators", "list", "--format", "json"])
    assert {i["code"] for i in json.loads(out.output)} >= {"N1", "C2"}


def test_compute_and_explain(world: World) -> None:
    runner = CliRunner()
    res = runner.invoke(
        main, ["indicators", "compute", "--db", world.url, "--round", "r1", "--asn-map", "lab"]
    )
    assert res.exit_code == 0, res.output
    assert "censored     T2   0.500" in res.output
    res = runner.invoke(
        main,
        ["indicators", "explain", "T2", "--db", world.url, "--run", world.runs["censored"]],
    )
    assert res.exit_code == 0, res.output
    # The blocked targets lead the cluster list, and their rows are shown.
    assert "t0.example.test  1 / 1" in res.output
    assert "quic_no_reply" in res.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--run", "no-such-run"], "--run 'no-such-run'"),
        (["--round", "nope"], "--round 'nope'"),
        (["--asn-map", "/nonexistent.dat"], "--asn-map"),
    ],
)
def test_bad_input_exits_2(world: World, args: list[str], message: str) -> None:
    res = CliRunner().invoke(main, ["indicators", "compute", "--db", world.url, *args])
    assert res.exit_code == 2
    assert message in res.output


def test_unmigrated_and_empty_databases_exit_2(tmp_path: Path, migrated_engine: object) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["indicators", "compute", "--db", str(tmp_path / "blank.sqlite")])
    assert res.exit_code == 2 and "db upgrade" in res.output
    res = runner.invoke(main, ["indicators", "compute", "--db", str(tmp_path / "fragscope.sqlite")])
    assert res.exit_code == 2 and "no runs" in res.output
    res = runner.invoke(main, ["indicators", "explain", "X9"])
    assert res.exit_code == 2 and "unknown indicator" in res.output


def test_summary_validates_against_schema(world: World) -> None:
    add_dns_world(world.engine, world.runs, "censored")
    runs = scope.select_runs(world.engine, round_name="r1")
    comp = compute.compute(world.engine, runs, mapping=asn.load_lab())
    compute.store(world.engine, comp)
    s = summary.build(world.engine, comp, everyone=scope.all_runs(world.engine))
    doc = json.loads(s.to_json())
    jsonschema.validate(doc, summary.schema())
    assert doc["schema_version"] == summary.SCHEMA_VERSION
    assert doc["method"]["asn_mapping_date"] == "2026-11-28"
    # Data quality: the blocked QUIC attempts appear by class and operation.
    fails = {(f["table"], f["failure"], f["operation"]) for f in doc["failures"]}
    assert ("quic_observations", "quic_no_reply", "quic_handshake") in fails
    # T9 at clean (nothing interferes) is undefined, not short of data: listed apart.
    withheld = {(w["code"], w["vantage"]) for w in doc["withheld"]}
    undefined = {(w["code"], w["vantage"]) for w in doc["not_applicable"]}
    assert ("T9", "clean") in undefined and ("T9", "clean") not in withheld
    kinds = {c["kind"] for c in doc["comparisons"]}
    assert {"control", "pair"} <= kinds


def test_summary_cli_and_trend(world: World, tmp_path: Path) -> None:
    """A second round of the same vantages: the trend rows compare with the stored values."""
    from tests.fixtures.analysis import STANDARD_PLANTS, Plant, build_world

    runner = CliRunner()
    assert (
        runner.invoke(main, ["indicators", "compute", "--db", world.url, "--round", "r1"]).exit_code
        == 0
    )
    # Round r2 in the same database: lossy now loses QUIC to all 8 hosts (was 1).
    plants = dict(STANDARD_PLANTS)
    plants["lossy"] = Plant("lossy", quic_blocked=set(range(8)))
    w2 = build_world(
        world.url,
        plants,
        round_name="r2",
        run_prefix="00000000-0000-4000-9000-",
        start_offset=dt.timedelta(hours=1),
    )
    out = tmp_path / "summary.json"
    res = runner.invoke(
        main, ["indicators", "summary", "--db", world.url, "--round", "r2", "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, summary.schema())
    trend = {(c["vantage_a"], c["code"]): c for c in doc["comparisons"] if c["kind"] == "trend"}
    # 1/8 -> 8/8: Wilson intervals [0.02, 0.47] and [0.68, 1] do not overlap.
    assert trend[("lossy", "T2")]["value"] == pytest.approx(1.0 - 1 / 8)
    assert trend[("lossy", "T2")]["flagged"] is True
    assert trend[("censored", "T2")]["value"] == 0.0
    assert trend[("censored", "T2")]["flagged"] is False
    repeat = [c for c in doc["comparisons"] if c["kind"] == "repeat"]
    assert {c["vantage_a"] for c in repeat} == {"clean", "censored", "lossy"}
    w2.engine.dispose()


def test_every_indicators_command_has_help() -> None:
    runner = CliRunner()
    for cmd in ("list", "compute", "explain", "summary"):
        res = runner.invoke(main, ["indicators", cmd, "--help"])
        assert res.exit_code == 0 and "Usage" in res.output, cmd
