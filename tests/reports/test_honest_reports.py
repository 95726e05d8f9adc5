"""Honest reports (issue 19, findings 9 and "Versioned definitions"): markdown escapes only
untrusted text; C2 shows its pillars and members and the brief ranks pillars only when
several count; the pair tests say which targets they compare; degenerate intervals are
flagged; trends never join values of different formula versions without naming it."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from fragscope.db.models import IndicatorValue
from fragscope.reports import render
from tests.fixtures.reports import WORLDS, summary_doc

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def vantages_doc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Doc]:
    """The several-vantages Summary, built once for this module's read-only tests."""
    url = f"sqlite:///{tmp_path_factory.mktemp('honest') / 'vantages.sqlite'}"
    w, where = WORLDS["several_vantages"](url)
    try:
        yield summary_doc(w.engine, **where)
    finally:
        w.engine.dispose()


@pytest.fixture(scope="module")
def two_rounds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Doc, Doc]]:
    """The several-runs world: (both rounds' Summary, round r2's Summary after the stored
    T1 values of round r1 were written by an older formula version)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('honest') / 'runs.sqlite'}"
    w, where = WORLDS["several_runs"](url)
    try:
        both = summary_doc(w.engine, **where)  # computes and stores both rounds
        with w.engine.begin() as conn:
            conn.execute(
                update(IndicatorValue)
                .where(
                    IndicatorValue.run_id.in_(list(w.runs.values())), IndicatorValue.code == "T1"
                )
                .values(version=IndicatorValue.version - 1)
            )
        yield both, summary_doc(w.engine, round_name="r2")
    finally:
        w.engine.dispose()


def _c2_censored(doc: Doc) -> Doc:
    return next(i for i in doc["indicators"] if i["code"] == "C2" and i["vantage"] == "censored")


def test_markdown_writes_the_projects_prose_as_it_is(vantages_doc: Doc) -> None:
    md = render(vantages_doc, "markdown")
    assert "NXDOMAIN & Special-Use Integrity" in md and "&amp;" not in md
    assert "< minimum 3 clusters" in md  # a withheld reason, as written
    # Table names and params in prose are not backslash-escaped; formulas are code spans.
    assert "| dns_observations |" in md and "dns\\_observations" not in md
    assert re.search(
        r"^- ` N1 v\d+ Resolver Answer Divergence \(RAD\): RAD = 1 - \(1/\|P\|\) \* ", md, re.M
    )
    # The untrusted strings stay escaped.
    assert "&lt;script&gt;" in md and "<script" not in md


def test_composite_shows_its_pillars_and_members(vantages_doc: Doc) -> None:
    row = _c2_censored(vantages_doc)
    pillars = row["params"]["pillars"]
    md = render(vantages_doc, "markdown")
    # The n column names the pillars, not a sample size of 1.
    assert re.search(
        rf"\| censored \| C2 \| [^|]+ \| [^|]+ \| [^|]+ \| {len(pillars)} pillars \|", md
    )
    assert "**Composite C2: its pillars and members" in md
    for pillar, members in row["params"]["members_present"].items():
        value = f"{pillars[pillar]:.3f}" if pillar in pillars else "not counted"
        shown = ", ".join(members) if not members else members[0]
        assert f"| censored | {pillar} | {value} | " in md
        assert shown in md


def test_brief_ranks_pillars_only_when_several_count(vantages_doc: Doc) -> None:
    md = render(vantages_doc, "markdown")
    clean = next(
        i for i in vantages_doc["indicators"] if i["code"] == "C2" and i["vantage"] == "clean"
    )
    assert list(clean["params"]["pillars"]) == ["transport"]  # the fixture's one-pillar run
    assert "clean: the Architectural Fragmentation Index" in md
    line = next(x for x in md.splitlines() if x.startswith("- clean: the Architectural"))
    assert "highest pillar" not in line and "rests on one pillar only, transport = " in line
    assert "since concentration and naming had too few members to count" in line
    censored = next(x for x in md.splitlines() if x.startswith("- censored: the Architectural"))
    n = len(_c2_censored(vantages_doc)["params"]["pillars"])
    assert f"its highest of {n} pillars is " in censored


def test_pair_tests_name_their_common_targets(vantages_doc: Doc) -> None:
    pairs = [c for c in vantages_doc["comparisons"] if c["kind"] == "pair"]
    assert pairs
    md = render(vantages_doc, "markdown")
    assert "compared on the targets that every vantage of the round measured" in md
    for c in pairs:
        m = re.match(
            r"on the (\d+) targets common to the round: a = ([\d.]+), b = ([\d.]+);", c["note"]
        )
        assert m, c["note"]
        # a - b is exactly the difference of the two sides printed beside it.
        assert abs(float(m[2]) - float(m[3]) - c["value"]) < 1e-3
        assert c["note"] in md


def test_degenerate_intervals_are_flagged(vantages_doc: Doc) -> None:
    doc = copy.deepcopy(vantages_doc)
    row = next(i for i in doc["indicators"] if i["code"] == "T6" and i["value"] is not None)
    row["ci_low"] = row["ci_high"] = row["value"]
    row["params"]["ci_degenerate"] = True
    for fmt in ("markdown", "html"):
        assert f"[{row['value']:.3f}, {row['value']:.3f}] degenerate" in render(doc, fmt), fmt
    assert "degenerate" in render(doc, "text").split("NAMING LAYER")[0]
    # Every zero-width interval the analysis stored is marked, and there are none left
    # here: T7's HHI over one AS and C1's JSD of identical outcomes (a bootstrap with
    # nothing to vary) get a score bound on their open side, ratios a score interval.
    flat = [
        i
        for i in vantages_doc["indicators"]
        if i["ci_low"] is not None and i["ci_high"] - i["ci_low"] <= 0
    ]
    assert all(i["params"].get("ci_degenerate") is True for i in flat)
    assert not [i for i in flat if str(i["params"].get("interval", "")).endswith("Wilson")]
    bounded = {i["code"] for i in vantages_doc["indicators"] if i["params"].get("ci_bound")}
    assert {"C1", "T7"} <= bounded


def test_trends_never_join_different_formula_versions(two_rounds: tuple[Doc, Doc]) -> None:
    _, doc = two_rounds
    trend = {(c["vantage_a"], c["code"]): c for c in doc["comparisons"] if c["kind"] == "trend"}
    for c in (trend[("censored", "T1")], trend[("censored", "C2")]):
        assert c["value"] is None and not c["flagged"]
        assert "formula version changed since the previous run (T1 v0 -> v1)" in c["note"]
    md = render(doc, "markdown")
    assert re.search(r"\| censored \| C2 \| [^|]+ \| [^|]+ \| formula version changed", md)
    assert trend[("censored", "T4")]["value"] is not None  # unchanged formulas still compare


def test_trend_chart_breaks_at_a_version_change(two_rounds: tuple[Doc, Doc]) -> None:
    doc = copy.deepcopy(two_rounds[0])
    assert "versions: T1 v" not in render(doc, "html")
    older = {r["run_id"] for r in doc["runs"] if r["round"] == "r1"}
    for i in doc["indicators"]:
        if i["run_id"] in older and i["code"] == "T1":
            i["version"] -= 1
    assert "versions: T1 v0 -&gt; v1" in render(doc, "html")
