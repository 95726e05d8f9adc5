"""``fragscope lab up|status|down``: run the lab of real servers. Does I/O (processes, network).

Needs root (network namespaces). Exit codes: 0 done, 1 a service failed to start or is
unhealthy, 2 bad usage or missing prerequisites.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from fragscope.lab.truth import TruthError
from fragscope.lab.vantages.commands import exec_command

if TYPE_CHECKING:
    from fragscope.lab.world import Lab

DIR_OPTION = click.option(
    "--dir",
    "run_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("lab-run"),
    show_default=True,
    help="Run directory for generated configs, zones, keys, logs and PIDs.",
)
TRUTH_OPTION = click.option(
    "--truth",
    "truth_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Planted-facts file (default: the packaged lab/truth.toml).",
)
REQUIRED_BINARIES = ("ip", "nsd", "knotd", "unbound", "dnssec-keygen", "dnssec-signzone")


def missing_prerequisites() -> list[str]:
    """What keeps the lab from running here (empty when it can run)."""
    problems = []
    if os.geteuid() != 0:
        problems.append("must run as root (network namespaces)")
    missing = [b for b in REQUIRED_BINARIES if shutil.which(b) is None]
    if missing:
        problems.append(f"missing programs: {', '.join(missing)} (see deps/apt.txt)")
    if importlib.util.find_spec("netfilterqueue") is None:  # the DPI censors (lab/dpi)
        problems.append("missing Python package netfilterqueue (pip install 'fragscope[lab]')")
    return problems


def _lab(run_dir: Path, truth_path: Path | None) -> Lab:
    # Imported here so `fragscope --help` does not pay for dnspython and cryptography.
    from fragscope.lab import truth as truth_mod
    from fragscope.lab.world import Lab

    try:
        return Lab(run_dir, truth_mod.load(truth_path))
    except TruthError as exc:
        raise click.UsageError(str(exc)) from exc


def _require() -> None:
    problems = missing_prerequisites()
    if problems:
        click.echo("fragscope lab: " + "; ".join(problems), err=True)
        sys.exit(2)


@click.group(name="lab")
def lab_group() -> None:
    """Run the lab: a mini-Internet of real DNS servers with planted facts (lab/truth.toml)."""


@lab_group.command()
@DIR_OPTION
@TRUTH_OPTION
@click.option(
    "--only",
    "groups",
    multiple=True,
    metavar="GROUP",
    help="Start only this group (repeatable) and the groups it needs: icann, alt, hns, manip, "
    "web, chain, vantages.",
)
def up(run_dir: Path, truth_path: Path | None, groups: tuple[str, ...]) -> None:
    """Start the lab (first clearing what an earlier run left behind)."""
    from fragscope.lab.world import LabError

    _require()
    lab = _lab(run_dir, truth_path)
    unknown = [g for g in groups if g not in lab.truth.groups]
    if unknown:
        raise click.BadParameter(
            f"unknown group(s) {', '.join(unknown)}; known: {', '.join(sorted(lab.truth.groups))}",
            param_hint="--only",
        )
    wanted = lab.truth.group_closure(list(groups)) if groups else set(lab.truth.groups)
    problems = lab.missing(wanted)
    if problems:  # missing software or `make npm` not run: a setup problem, exit 2
        click.echo(f"fragscope lab up: {'; '.join(problems)}", err=True)
        sys.exit(2)
    try:
        seconds = lab.up(list(groups) or None)
    except LabError as exc:
        click.echo(f"fragscope lab up: {exc}", err=True)
        sys.exit(1)
    click.echo(f"lab up in {seconds:.2f} s; run directory {lab.run_dir}; CA {lab.ca_file}")


@lab_group.command()
@DIR_OPTION
@TRUTH_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def status(run_dir: Path, truth_path: Path | None, as_json: bool) -> None:
    """Show every service: group, software, address, port, protocol and health (a real query)."""
    _require()
    lab = _lab(run_dir, truth_path)
    rows = lab.status()
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], indent=1))
    else:
        header = ("group", "service", "software", "address", "port", "protocol", "health")
        table = [header] + [
            (r.group, r.service, r.software, r.address, str(r.port), r.protocol, r.health)
            for r in rows
        ]
        widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
        for row in table:
            cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)]
            click.echo("  ".join([*cells, row[-1]]))
    if any(r.health != "ok" for r in rows if r.running) or not any(r.running for r in rows):
        sys.exit(1)


@lab_group.command()
@DIR_OPTION
@TRUTH_OPTION
def down(run_dir: Path, truth_path: Path | None) -> None:
    """Stop every lab daemon by PID and remove the lab's namespaces, links and routes."""
    _require()
    lab = _lab(run_dir, truth_path)
    for note in lab.down():
        click.echo(note)
    click.echo("lab down")


# `fragscope lab exec VANTAGE -- COMMAND`: run a command at a vantage (lab.vantages).
lab_group.add_command(exec_command)


@click.command(name="demo")
@click.option(
    "--dir",
    "workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo"),
    show_default=True,
    help="Working directory: lab-run/, plan/ (campaigns), demo.sqlite go here.",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("demo-report.html"),
    show_default=True,
    help="The HTML report to write.",
)
@click.option(
    "--markdown",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the report as markdown to this file.",
)
@click.option(
    "--round",
    "round_label",
    default=None,
    help="The round label of the demo's runs (default: demo-<UTC time>).",
)
@click.option(
    "--lock-wait",
    type=click.FloatRange(min=0),
    default=600.0,
    show_default=True,
    help="Seconds to wait for another lab (a test session) to finish.",
)
def demo_command(
    workdir: Path, report: Path, markdown: Path | None, round_label: str | None, lock_wait: float
) -> None:
    """Start the lab, measure it from every vantage as one round, report, stop the lab.

    Vantages: clean (this host), censored (manipulating resolver, UDP/443 dropped),
    lossy, distant and altroot, each running the lab's plan (lab/plan.py). Prints progress
    and the text summary, writes the HTML report and stops the lab also on failure or
    Ctrl-C. Installs nothing: `make demo` does.
    """
    from fragscope.lab.demo import Demo, DemoError, prerequisites

    problems = prerequisites()
    if problems:
        click.echo("fragscope demo: " + "; ".join(problems), err=True)
        sys.exit(2)
    demo = Demo(
        workdir=workdir.resolve(),
        report=report.resolve(),
        markdown=markdown.resolve() if markdown else None,
        lock_wait_s=lock_wait,
    )
    if round_label:
        demo.round_label = round_label
    try:
        sys.exit(demo.run())
    except DemoError as exc:
        click.echo(f"fragscope demo: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("fragscope demo: interrupted; the lab was stopped", err=True)
        sys.exit(130)
