"""fragscope's command line. Thin: parses arguments and calls into the packages. No I/O.

Each package keeps its click commands in its own ``commands`` module; this file only
assembles them, and imports a package's commands only when that command runs (a cron
``fragscope run`` does not load the analysis, report and database-tool code). ``python
cli.py ...`` and the ``fragscope`` console script are the same.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# command name -> "module:attribute" of its click command, in the order --help lists them.
COMMANDS: dict[str, str] = {
    "campaign": "fragscope.probes.commands:campaign_group",
    "db": "fragscope.db.commands:db_group",
    "demo": "fragscope.lab.commands:demo_command",
    "explore": "fragscope.db.commands:explore_command",
    "indicators": "fragscope.analysis.commands:indicators_group",
    "lab": "fragscope.lab.commands:lab_group",
    "naming": "fragscope.probes.naming.commands:naming_group",
    "probe": "fragscope.probes.commands:probes_group",
    "round": "fragscope.jobs.commands:round_group",
    "run": "fragscope.probes.commands:run_command",
    "runs": "fragscope.probes.commands:runs_group",
    "summarize": "fragscope.reports.commands:summarize_command",
    "worker": "fragscope.jobs.commands:worker_command",
}
# Single-probe commands of each probe area, added under ``fragscope probe``.
PROBE_COMMANDS: tuple[str, ...] = (
    "fragscope.probes.dns.commands:dns_command",
    "fragscope.probes.transport.commands:transport_command",
    "fragscope.probes.naming.commands:name_command",
)


def _load(spec: str) -> click.Command:
    module, _, attribute = spec.partition(":")
    command = getattr(importlib.import_module(module), attribute)
    assert isinstance(command, click.Command), spec
    return command


class LazyGroup(click.Group):
    """A click group whose subcommands are imported when first looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        command = _load(COMMANDS[cmd_name])
        if cmd_name == "probe" and isinstance(command, click.Group):
            for spec in PROBE_COMMANDS:
                sub = _load(spec)
                command.commands.setdefault(sub.name or spec, sub)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        # A database a command cannot use (missing, damaged, read-only, another schema)
        # ends in one line and exit 2, "could not run" (docs/operations.md), whichever
        # command met it and wherever: db.guard says what is wrong.
        try:
            return super().invoke(ctx)
        except click.ClickException:
            raise
        except Exception as exc:
            from fragscope.db.guard import explain_failure

            unusable = explain_failure(exc)
            if unusable is None:
                raise
            raise unusable from None


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="fragscope", prog_name="fragscope")
def main() -> None:
    """Measure whether the Internet's naming and transport architecture is fragmenting.

    Probes DNS (every transport), alternative roots and blockchain naming systems, and
    QUIC against TCP; stores every attempt in SQLite or PostgreSQL; computes
    fragmentation indicators and reports them.
    """


if __name__ == "__main__":
    main()
