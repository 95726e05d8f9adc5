"""Golden files: every format of each fixed database (one run; several runs; several
vantages) equals tests/reports/golden/<world>.<ext>; `pytest --update-golden` rewrites them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from fragscope.analysis import summary
from fragscope.reports import FORMATS, render

GOLDEN = Path(__file__).parent / "golden"
EXT = {"text": "txt", "markdown": "md", "html": "html", "json": "json"}


def test_golden_files(report_world: tuple[str, Any], update_golden: bool) -> None:
    name, doc = report_world
    jsonschema.validate(doc, summary.schema())
    stale = []
    # Renderers read the canonical JSON only: the parsed JSON gives the same bytes.
    parsed = json.loads(render(doc, "json"))
    for fmt in FORMATS:
        got = render(doc, fmt)
        assert render(parsed, fmt) == got, fmt
        path = GOLDEN / f"{name}.{EXT[fmt]}"
        if update_golden:
            path.write_text(got, encoding="utf-8")
            continue
        if not path.exists():
            pytest.fail(f"{path} missing: run pytest tests/reports --update-golden")
        if path.read_text(encoding="utf-8") != got:
            stale.append(path.name)
    assert not stale, f"differ from golden (review, then --update-golden): {stale}"


def test_rendering_is_deterministic(vantages_doc: dict[str, Any]) -> None:
    # Same Summary, same bytes: the SVG ids come from the fixed hashsalt, no date inside.
    assert render(vantages_doc, "html") == render(vantages_doc, "html")
