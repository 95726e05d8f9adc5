"""Golden files: every format of each fixed database (one run; several runs; several
vantages) equals tests/reports/golden/<world>.<ext>; `pytest --update-golden` rewrites them.

docs/examples/report.{md,html,txt} are the several-vantages world's reports, held to the
same bytes: `make examples` regenerates them (and the goldens), and this test fails in CI
when the current code renders them differently."""

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
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
EXAMPLE_WORLD = "several_vantages"
EXAMPLE_FORMATS = ("text", "markdown", "html")


def test_golden_files(report_world: tuple[str, Any], update_golden: bool) -> None:
    name, doc = report_world
    jsonschema.validate(doc, summary.schema())
    stale = []
    # Renderers read the canonical JSON only: the parsed JSON gives the same bytes.
    parsed = json.loads(render(doc, "json"))
    for fmt in FORMATS:
        got = render(doc, fmt)
        assert render(parsed, fmt) == got, fmt
        paths = [GOLDEN / f"{name}.{EXT[fmt]}"]
        if name == EXAMPLE_WORLD and fmt in EXAMPLE_FORMATS:
            paths.append(EXAMPLES / f"report.{EXT[fmt]}")
        for path in paths:
            if update_golden:
                path.write_text(got, encoding="utf-8")
                continue
            if not path.exists():
                pytest.fail(f"{path} missing: run make examples")
            if path.read_text(encoding="utf-8") != got:
                stale.append(str(path.relative_to(EXAMPLES.parents[1])))
    assert not stale, f"differ from the current code (review, then `make examples`): {stale}"


def test_rendering_is_deterministic(vantages_doc: dict[str, Any]) -> None:
    # Same Summary, same bytes: the SVG ids come from the fixed hashsalt, no date inside.
    assert render(vantages_doc, "html") == render(vantages_doc, "html")
