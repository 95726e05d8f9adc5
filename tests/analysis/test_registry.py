"""The indicator registry is the one place an indicator is described: the Summary schema's
code pattern, the report groups, the C2 pillars and compute.py agree with it, and an
indicator reads only the fact sets it declares."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import jsonschema
import pytest

from fragscope.analysis import registry, summary
from fragscope.analysis.naming import DnsFacts
from fragscope.analysis.registry import REGISTRY, Context, Facts, UndeclaredFacts
from fragscope.analysis.scope import RunInfo
from fragscope.reports import brief, view

ROOT = Path(__file__).resolve().parents[2]
RUN = RunInfo("r", "v", "clean", "r1", "c", dt.datetime(2026, 12, 1), "completed")


def _code_schema() -> dict[str, object]:
    doc = summary.schema()
    return doc["properties"]["indicators"]["items"]["properties"]["code"]  # type: ignore[no-any-return]


def test_schema_code_pattern_accepts_exactly_the_registered_codes() -> None:
    code = _code_schema()
    for c in REGISTRY:
        jsonschema.validate(c, code)
    near = {f"{p}{n}" for p in "NTOCX" for n in range(0, 12)} | {"n1", "N1 ", "N", "N10", ""}
    for c in sorted(near - set(REGISTRY)):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(c, code)


def test_report_groups_come_from_the_registry() -> None:
    modules = {i.module for i in REGISTRY.values()}
    assert modules == {"naming", "transport", "comparison"}
    per_module = {m: tuple(c for c, i in REGISTRY.items() if i.module == m) for m in modules}
    assert per_module["naming"] == view.NAMING_CODES
    assert per_module["transport"] == view.TRANSPORT_CODES
    assert view.HEADLINE_CODES == ("C2", "C1", "N1", "N2", "N8", "T1", "T2", "T4", "T5")
    topics = {i.brief for i in REGISTRY.values() if i.brief is not None}
    assert topics <= set(brief.TOPICS)
    assert registry.brief_codes("Opportunities") == ("T4", "T1", "N4")


def test_c2_pillars_agree_with_each_indicators_pillar() -> None:
    for pillar, members in registry.PILLARS.items():
        own = {m for m in members if "." not in m}
        assert own == {c for c, i in REGISTRY.items() if i.pillar == pillar}, pillar
        assert all(m.partition(".")[0] in REGISTRY for m in members)


def test_every_indicator_declares_facts_and_a_formula() -> None:
    for code, ind in REGISTRY.items():
        assert ind.needs and ind.compute is not None, code
        assert ind.compute.__name__ == code.lower(), code


def test_compute_names_no_indicator() -> None:
    source = (ROOT / "analysis" / "compute.py").read_text(encoding="utf-8")
    named = set(re.findall(r"\b[A-Z]\d\b", source)) & set(REGISTRY)
    assert not named, f"analysis/compute.py names {sorted(named)}"


def test_an_indicator_reading_an_undeclared_fact_set_fails() -> None:
    facts = {Facts.DNS: DnsFacts(), Facts.TRANSPORT: object()}
    ctx = Context(RUN, set(), None, None, facts, code="N1", needs=frozenset({Facts.DNS}))
    assert isinstance(ctx.dns, DnsFacts)
    with pytest.raises(UndeclaredFacts, match="N1 reads transport"):
        _ = ctx.transport


def test_a_withheld_value_computes_through_the_uniform_signature() -> None:
    n8 = REGISTRY["N8"]
    assert n8.compute is not None
    ctx = Context(RUN, set(), None, None, {Facts.DNS: DnsFacts()}, "N8", frozenset(n8.needs))
    e = n8.compute(ctx)
    assert e.value is None and e.reason == "input table dns_observations, targets not present"
