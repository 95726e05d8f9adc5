"""One ``--db`` option (issue 17): declared once (db.cli_option), the same on every command.
No I/O beyond reading sources."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import click

import fragscope
from fragscope.cli import main

DECLARATION = re.compile(r"""option\(\s*["']--db["']""")


def _commands(group: click.Group, ctx: click.Context) -> Iterator[click.Command]:
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        yield command
        if isinstance(command, click.Group):
            yield from _commands(command, click.Context(command, parent=ctx, info_name=name))


def test_every_db_option_is_the_same() -> None:
    options = [
        p
        for c in _commands(main, click.Context(main, info_name="fragscope"))
        for p in c.params
        if "--db" in getattr(p, "opts", ())
    ]
    assert len(options) >= 15  # db, runs, run, summarize, indicators, the probe commands
    assert {(p.name, p.envvar, p.default, getattr(p, "help", None)) for p in options} == {
        (
            "db_url",
            "FRAGSCOPE_DB",
            None,
            "SQLAlchemy URL or SQLite path (default: FRAGSCOPE_DB, else ./fragscope.sqlite).",
        )
    }


def test_db_option_is_declared_once() -> None:
    root = Path(fragscope.__file__).parent
    # The package's folders are symlinks to the repository's (fragscope/__init__.py).
    sources = [
        Path(d, f)
        for d, _, files in os.walk(root, followlinks=True)
        for f in files
        if f.endswith(".py")
    ]
    assert len(sources) > 100
    declared = sorted(
        str(path.relative_to(root)) for path in sources if DECLARATION.search(path.read_text())
    )
    assert declared == ["db/cli_option.py"]
