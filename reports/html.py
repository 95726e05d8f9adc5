"""The html report: ONE self-contained file (inline CSS and SVG, no script, no external
request), Jinja2 with autoescape on, since TXT records, Server headers and ENS text records
are attacker-controlled; control characters in any string are shown as escapes
(view.visible). Pure: returns the page as a string.
"""

from __future__ import annotations

import jinja2
from markupsafe import Markup

from fragscope.reports import charts, document
from fragscope.reports.view import Doc, build, visible

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("reports", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def render(doc: Doc) -> str:
    view = build(doc)
    svgs = charts.render(view)
    plan = view.charts()
    by_kind: dict[str, list[tuple[str, Markup]]] = {}
    for chart, (title, svg) in zip(plan, svgs, strict=True):
        # matplotlib escapes its own text (labels are XML-escaped); the SVG is trusted markup.
        by_kind.setdefault(chart.kind, []).append((title, Markup(svg)))
    return _ENV.get_template("report.html.j2").render(
        title=visible(document.title(view)),
        sections=document.shown(document.sections(view), visible),
        charts=by_kind,
        generated_at=doc["generated_at"],
        schema_version=doc["schema_version"],
    )
