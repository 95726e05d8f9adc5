"""Renderers of the analysis Summary (its JSON form): text, markdown, html, json. No I/O.

JSON is canonical; the other formats render the same Summary and compute nothing it does
not contain (RIPE Atlas tools' renderer registry is the precedent).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

FORMATS = ("text", "markdown", "html", "json")


def _json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"


def renderer(fmt: str) -> Callable[..., str]:
    """The render function of a format (imports matplotlib only for html)."""
    if fmt == "json":
        return _json
    if fmt == "text":
        from fragscope.reports.text import render as text

        return text
    if fmt == "markdown":
        from fragscope.reports.markdown import render as markdown

        return markdown
    if fmt == "html":
        from fragscope.reports.html import render as html

        return html
    raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")


def render(doc: dict[str, Any], fmt: str, *, color: bool = False) -> str:
    if fmt == "text":
        return renderer(fmt)(doc, color=color)
    return renderer(fmt)(doc)
