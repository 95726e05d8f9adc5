"""The markdown report: CommonMark + GFM tables, so it renders on any forge. Pure.

Only untrusted strings (view.Untrusted: TXT records, Server headers, naming values, labels)
are escaped: HTML-significant characters become entities and the markdown punctuation that
can start inline markup is backslash-escaped, so a hostile value renders as text, never as
markup. The project's own prose is written as it is, except a "<" that could open a tag
and, in tables, the "|" that would end a cell; formulas (view.Literal) are code spans.
Control characters are shown as escapes (view.visible) everywhere.
"""

from __future__ import annotations

import re

from fragscope.reports import document
from fragscope.reports.document import Bullets, Para, Table
from fragscope.reports.view import Doc, Literal, Untrusted, build, visible

# Inline markup needs one of these; a link needs "](" (or "![" for an image), and "<" is an
# entity, so neither autolinks nor raw HTML can form. Line-start markup (#, -, >) cannot
# occur: every line starts with the renderer's own text.
_PUNCT = re.compile(r"([\\`*_|~]|\](?=\()|!(?=\[))")
# CommonMark raw HTML and autolinks start with "<" and a letter, "/", "!" or "?" (spec
# sections 6.5 and 6.6); a backslash keeps it a literal "<" (section 2.4).
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_BACKTICKS = re.compile(r"`+")


def esc(s: str) -> str:
    """``s`` as markdown that renders as ``s`` (untrusted, literal) or as the prose it is."""
    shown = visible(s)
    if isinstance(s, Untrusted):
        shown = shown.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return _PUNCT.sub(r"\\\1", shown)
    if isinstance(s, Literal):
        # A code span shows its content verbatim; its fence is longer than any run of
        # backticks inside (CommonMark section 6.1).
        fence = "`" * (max((len(m) for m in _BACKTICKS.findall(shown)), default=0) + 1)
        return f"{fence} {shown} {fence}"
    return _TAG_START.sub(r"\\<", shown)


def _cell(s: str) -> str:
    text = esc(s)
    # GFM ends a cell at an unescaped "|" (the untrusted form has it escaped already).
    return text if isinstance(s, Untrusted) else text.replace("|", "\\|")


def _table(t: Table) -> list[str]:
    out = [f"**{esc(t.caption)}**", ""] if t.caption else []
    out.append("| " + " | ".join(_cell(h) for h in t.headers) + " |")
    out.append("|" + "|".join("---" for _ in t.headers) + "|")
    out += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in t.rows]
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
                    lines += [f"  - `{visible(c).replace('`', '')}`" for c in cmds]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
