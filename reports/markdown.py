"""The markdown report: CommonMark + GFM tables, so it renders on any forge. Pure.

Untrusted strings are escaped: HTML-significant characters become entities and the markdown
punctuation that can start inline markup is backslash-escaped, so a hostile value renders
as text, never as markup, and the file stays readable as plain text.
"""

from __future__ import annotations

import re

from fragscope.reports import document
from fragscope.reports.document import Bullets, Para, Table
from fragscope.reports.view import Doc, build

# Inline markup needs one of these; a link needs "](" (or "![" for an image), and "<" is an
# entity, so neither autolinks nor raw HTML can form. Line-start markup (#, -, >) cannot
# occur: every line starts with the renderer's own text.
_PUNCT = re.compile(r"([\\`*_|~]|\](?=\()|!(?=\[))")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def esc(s: str) -> str:
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _CONTROL.sub(" ", s)
    return _PUNCT.sub(r"\\\1", s)


def _table(t: Table) -> list[str]:
    out = [f"**{esc(t.caption)}**", ""] if t.caption else []
    out.append("| " + " | ".join(esc(h) for h in t.headers) + " |")
    out.append("|" + "|".join("---" for _ in t.headers) + "|")
    out += ["| " + " | ".join(esc(c) for c in r) + " |" for r in t.rows]
    return out


def render(doc: Doc) -> str:
    view = build(doc)
    lines = [f"# {esc(document.title(view))}", ""]
    for sec in document.sections(view):
        lines += [f"## {esc(sec.title)}", ""]
        for block in sec.blocks:
            if isinstance(block, Para):
                lines.append(f"### {esc(block.text)}" if block.heading else esc(block.text))
            elif isinstance(block, Table):
                lines += _table(block)
            elif isinstance(block, Bullets):
                for n, item in enumerate(block.items):
                    lines.append(f"- {esc(item)}")
                    cmds = block.commands[n] if n < len(block.commands) else []
                    lines += [f"  - `{c.replace('`', '')}`" for c in cmds]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
