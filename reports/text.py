"""The text report: fits a 100-column terminal; colour only when asked (on a TTY). Pure.

Every string is shown with its control characters escaped (view.visible), so a hostile TXT
record or Server header cannot move the cursor, recolour the terminal or reorder the text.
"""

from __future__ import annotations

import textwrap

import click

from fragscope.reports import document
from fragscope.reports.document import Bullets, Para, Table
from fragscope.reports.view import Doc, build, visible

WIDTH = 100
clean = visible  # the name the tests and earlier callers use


def _fit(cells: list[list[str]], headers: list[str]) -> list[int]:
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    # Shrink the widest column until the row fits (long cells are cut with an ellipsis).
    while sum(widths) + 2 * (len(widths) - 1) > WIDTH and max(widths) > 8:
        widths[widths.index(max(widths))] -= 1
    return widths


def _cut(s: str, w: int) -> str:
    return s if len(s) <= w else s[: w - 1] + "…"


def _wrap(s: str, w: int) -> list[str]:
    # Long cells wrap inside their column (hard breaks for unbroken strings).
    return textwrap.wrap(s, w, break_long_words=True, break_on_hyphens=False) or [""]


def _table(t: Table, style: bool) -> list[str]:
    cells = t.rows
    widths = _fit(cells, t.headers)
    out = []
    if t.caption:
        out.append(click.style(t.caption, bold=True) if style else t.caption)
    head = "  ".join(_cut(h, w).ljust(w) for h, w in zip(t.headers, widths, strict=True))
    head = head.rstrip()
    out.append(click.style(head, underline=True) if style else head)
    for r in cells:
        parts = [_wrap(c, w) for c, w in zip(r, widths, strict=True)]
        for n in range(max(len(p) for p in parts)):
            line = "  ".join(
                (p[n] if n < len(p) else "").ljust(w) for p, w in zip(parts, widths, strict=True)
            )
            out.append(line.rstrip())
    return out


def render(doc: Doc, *, color: bool = False) -> str:
    view = build(doc)
    heading = visible(document.title(view))
    lines = [click.style(heading, bold=True) if color else heading, ""]
    for sec in document.shown(document.sections(view), visible):
        head = sec.title.upper()
        lines += [click.style(head, fg="cyan", bold=True) if color else head, "=" * len(head)]
        for block in sec.blocks:
            if isinstance(block, Para):
                text = block.text
                if block.heading:
                    lines.append(click.style(text, bold=True) if color else text)
                else:
                    lines += textwrap.wrap(text, WIDTH)
            elif isinstance(block, Table):
                lines += _table(block, color)
            elif isinstance(block, Bullets):
                for n, item in enumerate(block.items):
                    lines += textwrap.wrap(item, WIDTH, initial_indent="- ", subsequent_indent="  ")
                    cmds = block.commands[n] if n < len(block.commands) else []
                    lines += [_cut("    $ " + c, WIDTH) for c in cmds]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
