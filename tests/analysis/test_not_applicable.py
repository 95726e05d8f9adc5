"""Not applicable apart from withheld (issue 19): a value the formula leaves undefined on
complete data is stored with status not_applicable and its reason, and every report lists
it apart from the values withheld for lack of data.

The planted world (tests/fixtures/analysis.py): at clean neither TCP nor QUIC fails, so T9
= f_tcp / (f_tcp + f_quic) is 0/0 there; at censored QUIC fails and T9 has a value.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from fragscope.analysis import asn, compute, scope, summary
from fragscope.cli import main
from fragscope.db import migrate
from tests.fixtures.analysis import World

NO_INTERFERENCE = "no interference observed (f_tcp = f_quic = 0)"


def test_t9_without_interference_is_stored_not_applicable(world: World) -> None:
    runs = scope.select_runs(world.engine, round_name="r1")
    comp = compute.compute(world.engine, runs, mapping=asn.load_lab())
    compute.store(world.engine, comp)
    with world.engine.connect() as conn:
        rows = {
            run_id: tuple(row)
            for run_id, *row in conn.execute(
                text("SELECT run_id, value, status, reason FROM indicator_values WHERE code = 'T9'")
            )
        }
        n_withheld = conn.execute(
            text("SELECT count(*) FROM indicator_values WHERE status = 'withheld'")
        ).scalar()
    assert rows[world.runs["clean"]] == (None, "not_applicable", NO_INTERFERENCE)
    assert rows[world.runs["censored"]] == (0.0, "value", None)
    # Lack of data stays withheld (N-indicators: this world has no DNS tables rows).
    assert n_withheld and n_withheld > 0


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "json"])
def test_reports_list_not_applicable_apart_from_withheld(
    world: World, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"report.{fmt}"
    res = CliRunner().invoke(
        main, ["summarize", "--db", world.url, "--round", "r1", "--format", fmt, "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    body = out.read_text(encoding="utf-8")
    if fmt == "json":
        doc = json.loads(body)
        jsonschema.validate(doc, summary.schema())
        undefined = [(w["code"], w["vantage"], w["reason"]) for w in doc["not_applicable"]]
        assert undefined == [("T9", "clean", NO_INTERFERENCE)]
        assert ("T9", "clean") not in {(w["code"], w["vantage"]) for w in doc["withheld"]}
        status = {(r["code"], r["vantage"]): r["status"] for r in doc["indicators"]}
        assert status[("T9", "clean")] == "not_applicable"
        assert status[("T9", "censored")] == "value"
        return
    assert "Indicators not applicable" in body and "Indicators withheld" in body
    # The not-applicable table comes after the withheld one and holds T9's reason, which
    # the withheld table (before it) does not.
    withheld_at = body.index("Indicators withheld")
    undefined_at = body.index("Indicators not applicable")
    assert withheld_at < undefined_at
    assert "no interference observed" not in body[withheld_at:undefined_at]
    assert "no interference observed" in body[undefined_at:]
    # The indicator tables say which kind each missing value is (text wraps the cell).
    assert "not applicable: no" in body and "withheld: " in body


def test_stored_nulls_before_the_status_column_become_withheld(world: World) -> None:
    """The migration backfills NULL rows stored without a status as withheld (the only
    kind there was) and the others as values."""
    runs = scope.select_runs(world.engine, round_name="r1")
    compute.store(world.engine, compute.compute(world.engine, runs, mapping=asn.load_lab()))
    migrate.downgrade(world.engine, "0700_server_defaults")
    migrate.upgrade(world.engine)
    with world.engine.connect() as conn:
        found = set(
            conn.execute(
                text(
                    "SELECT status, value IS NULL FROM indicator_values "
                    "GROUP BY status, value IS NULL"
                )
            ).all()
        )
    assert found == {("value", 0), ("withheld", 1)}
