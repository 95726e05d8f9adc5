"""`fragscope summarize` through click's CliRunner: every format, the schema, hostile
strings (escaped in html and markdown, verbatim in json, control characters neutralised in
text), bad input and unusable databases (exit 2), width and colour of the text report."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from fragscope.analysis import summary
from fragscope.cli import main
from fragscope.db.connection import make_engine
from fragscope.db.ids import vantage_id
from fragscope.reports import render
from fragscope.reports.commands import select_runs
from fragscope.reports.text import clean
from tests.fixtures.analysis import STANDARD_PLANTS, build_world, envelope, foreign_insert
from tests.fixtures.reports import HOSTILE, add_hostile


@pytest.fixture
def hostile_db(tmp_path: Path) -> str:
    w = build_world(f"sqlite:///{tmp_path / 'h.sqlite'}", STANDARD_PLANTS)
    add_hostile(w.engine, w.runs, "censored")
    w.engine.dispose()
    return w.url


def _run(*args: str) -> Any:
    return CliRunner().invoke(main, ["summarize", *args])


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "json"])
def test_every_format_to_file(hostile_db: str, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"report.{fmt}"
    res = _run("--db", hostile_db, "--round", "r1", "--format", fmt, "-o", str(out))
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    assert "censored" in text
    if fmt == "json":
        jsonschema.validate(json.loads(text), summary.schema())


def test_hostile_strings_escaped_in_html_verbatim_in_json(hostile_db: str) -> None:
    res = _run("--db", hostile_db, "--round", "r1", "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    observed = {(o["kind"], o["value"]) for o in doc["observed"]}
    assert observed >= {
        ("dns_txt", HOSTILE[0]),
        ("http_server", HOSTILE[1]),
        ("naming_text", HOSTILE[2]),
    }
    html = render(doc, "html")
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "&lt;script&gt;alert(&#34;txt&#34;)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(&#39;server&#39;)&lt;/script&gt; nginx" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    md = render(doc, "markdown")
    assert "<script" not in md.lower() and "<img" not in md.lower()
    assert '&lt;script&gt;alert("txt")&lt;/script&gt;' in md


def test_text_neutralises_control_characters() -> None:
    assert clean("ok\x1b[31mred\x07") == "ok\\x1b[31mred\\x07"


def test_text_fits_100_columns_and_colours_only_when_asked(vantages_doc: dict[str, Any]) -> None:
    plain = render(vantages_doc, "text")
    assert max(len(line) for line in plain.splitlines()) <= 100
    assert "\x1b[" not in plain
    coloured = render(vantages_doc, "text", color=True)
    assert "\x1b[" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain


def test_sections_present(vantages_doc: dict[str, Any]) -> None:
    md = render(vantages_doc, "markdown")
    for title in (
        "Headline indicators",
        "Naming layer",
        "Transport layer",
        "Encrypted handshake",
        "Alternative namespaces and collisions",
        "Cross-vantage comparison",
        "Trend over runs",
        "Data quality",
        "Method notes",
        "Council brief",
    ):
        assert f"## {title}" in md
    for topic in ("Fragmentation risk", "Security", "Stability", "Opportunities", "Challenges"):
        assert f"### {topic}" in md
    # Every brief statement with values names the explain command of its run.
    censored = next(r["run_id"] for r in vantages_doc["runs"] if r["vantage"] == "censored")
    assert f"`fragscope indicators explain C2 --run {censored}`" in md
    assert "2026-11-28" in md  # the IP-to-ASN mapping date in the method notes


def test_empty_and_unmigrated_databases_exit_2(tmp_path: Path, migrated_engine: object) -> None:
    res = _run("--db", str(tmp_path / "blank.sqlite"))
    assert res.exit_code == 2 and "does not exist" in res.output and "db upgrade" in res.output
    res = _run("--db", str(tmp_path / "fragscope.sqlite"))
    assert res.exit_code == 2 and "no runs" in res.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--run", "no-such-run"], "--run 'no-such-run'"),
        (["--round", "nope"], "--round 'nope'"),
        (["--since", "yesterday"], "--since 'yesterday'"),
        (["--since", "2099-01-01"], "--since 2099-01-01"),
        (["--asn-map", "/nonexistent.dat"], "--asn-map"),
        (["--format", "pdf"], "--format"),
        (["--output", "/nonexistent-dir/report.html"], "--output: cannot write"),
    ],
)
def test_bad_input_exits_2(hostile_db: str, args: list[str], message: str) -> None:
    res = _run("--db", hostile_db, *args)
    assert res.exit_code == 2
    assert message in res.output


def test_computes_and_stores_when_missing(hostile_db: str) -> None:
    from sqlalchemy import func, select

    from fragscope.db.connection import make_engine
    from fragscope.db.models import IndicatorValue

    assert _run("--db", hostile_db, "--round", "r1", "--format", "json").exit_code == 0
    engine = make_engine(hostile_db)
    with engine.connect() as conn:
        stored = conn.execute(select(func.count(IndicatorValue.run_id.distinct()))).scalar()
    engine.dispose()
    assert stored == 3


def test_summarize_has_help() -> None:
    res = CliRunner().invoke(main, ["summarize", "--help"])
    assert res.exit_code == 0 and "--since" in res.output and "--format" in res.output


def test_markdown_renders_as_gfm(vantages_doc: dict[str, Any]) -> None:
    """A CommonMark parser with GFM tables (markdown-it-py, rich's own dependency) finds
    every table of the report, and the hostile strings stay text."""
    from markdown_it import MarkdownIt

    from fragscope.reports import document
    from fragscope.reports.view import build

    expected = sum(
        isinstance(b, document.Table)
        for s in document.sections(build(vantages_doc))
        for b in s.blocks
    )
    html = MarkdownIt("commonmark").enable("table").render(render(vantages_doc, "markdown"))
    assert html.count("<table>") == expected >= 10
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&quot;txt&quot;)&lt;/script&gt;" in html


def test_since_selects_every_run_and_reports_trends(tmp_path: Path) -> None:
    import datetime as dt

    from tests.fixtures.analysis import Plant

    url = f"sqlite:///{tmp_path / 'since.sqlite'}"
    build_world(url, STANDARD_PLANTS).engine.dispose()
    plants = dict(STANDARD_PLANTS)
    plants["lossy"] = Plant("lossy", quic_blocked=set(range(8)))
    build_world(
        url,
        plants,
        round_name="r2",
        run_prefix="00000000-0000-4000-9000-",
        start_offset=dt.timedelta(hours=1),
    ).engine.dispose()
    res = _run("--db", url, "--since", "2026-11-28", "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert len(doc["runs"]) == 6
    flagged = {(c["vantage_a"], c["code"]) for c in doc["comparisons"] if c["flagged"]}
    assert ("lossy", "T2") in flagged
    # Only the later round: its previous runs are outside the scope but still compared.
    res = _run("--db", url, "--since", "2026-11-28T12:30", "--format", "markdown")
    assert res.exit_code == 0, res.output
    assert "lossy (run " in res.output and "## Trend over runs" in res.output
    res = _run("--db", url, "--run", "00000000-0000-4000-9000-000000000001", "--format", "text")
    assert res.exit_code == 0 and "censored" in res.output and "\x1b[" not in res.output
    ambiguous = _run("--db", url, "--run", "00000000-0000-4000-9000")
    assert ambiguous.exit_code == 2 and "ambiguous" in ambiguous.output


def test_run_by_unique_prefix(hostile_db: str) -> None:
    from fragscope.db.connection import make_engine
    from fragscope.db.ids import vantage_id
    from fragscope.db.writer import Writer
    from fragscope.reports.commands import _resolve_prefix
    from tests.fixtures.analysis import T0, run_row

    engine = make_engine(hostile_db)
    try:
        run_id = "abcdef12-0000-4000-8000-000000000009"
        Writer(engine).write(
            [run_row(run_id, vantage_id("clean", "synthetic"), round_name=None, started=T0)]
        )
        assert _resolve_prefix(engine, "abcdef") == run_id
        assert _resolve_prefix(engine, "zzz") == "zzz"  # left for select_runs to reject
    finally:
        engine.dispose()


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "json"])
def test_a_naming_row_the_engine_cut_short_is_reported(hostile_db: str, fmt: str) -> None:
    """A naming task the engine cancelled at its deadline stores a bare failure row with
    namespace and method NULL (probes/naming/probe.py): seen in the demo's lossy runs, it
    crashed the html report (a None table cell) and broke the JSON schema."""
    engine = make_engine(hostile_db)
    try:
        run_id = next(iter(select_runs(engine, run="latest", round_name="r1", since=None))).id
        label = "censored"
        env = envelope(run_id, vantage_id(label, "synthetic"), "naming.resolve", "x.eth", "ep")
        foreign_insert(
            engine,
            "naming_observations",
            [{**env, "failure": "generic_timeout_error", "namespace": None, "method": None}],
        )
    finally:
        engine.dispose()
    res = _run("--db", hostile_db, "--round", "r1", "--format", fmt)
    assert res.exit_code == 0, res.output
    if fmt == "json":
        doc = json.loads(res.output)
        jsonschema.validate(doc, summary.schema())
        assert any(n["namespace"] is None for n in doc["namespaces"]), doc["namespaces"]
    else:
        assert "not recorded" in res.output
