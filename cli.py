"""fragscope's command line. Thin: parses arguments and calls into the packages.

Each package keeps its click commands in its own ``commands`` module; this file only
assembles them. ``python cli.py ...`` and the ``fragscope`` console script are the same.
"""

from __future__ import annotations

import click

from analysis.commands import indicators_group
from db.commands import db_group, explore_command
from lab.commands import demo_command, lab_group
from probes.commands import probes_group, run_command, runs_group
from probes.dns.commands import dns_command
from probes.naming.commands import name_command, naming_group
from probes.transport.commands import transport_command
from reports.commands import summarize_command

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="fragscope", prog_name="fragscope")
def main() -> None:
    """Measure whether the Internet's naming and transport architecture is fragmenting.

    Probes DNS (every transport), alternative roots and blockchain naming systems, and
    QUIC against TCP; stores every attempt in SQLite or PostgreSQL; computes
    fragmentation indicators and reports them.
    """


main.add_command(db_group)
main.add_command(explore_command)
main.add_command(indicators_group)
main.add_command(lab_group)
main.add_command(demo_command)
main.add_command(naming_group)
main.add_command(run_command)
main.add_command(summarize_command)
main.add_command(probes_group)
main.add_command(runs_group)

probes_group.add_command(dns_command)
probes_group.add_command(transport_command)
probes_group.add_command(name_command)


if __name__ == "__main__":
    main()
