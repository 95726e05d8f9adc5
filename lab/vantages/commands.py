"""``fragscope lab exec VANTAGE -- COMMAND``: run a command at a lab vantage. Does I/O
(runs the command; checks the vantage's namespace exists).

The lab's click group adds it with ``lab_group.add_command(exec_command)``. Exit codes:
COMMAND's own; 2 for an unknown vantage, a vantage that is not up, or no command.
"""

from __future__ import annotations

import subprocess

import click

from fragscope.lab.vantages import HOST_VANTAGES, VantageError, lab_exec_argv, lab_layout
from fragscope.lab.vantages.runner import existing_namespaces


@click.command(
    name="exec",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.argument("vantage")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def exec_command(vantage: str, command: tuple[str, ...]) -> None:
    """Run COMMAND at VANTAGE: `clean` and `altroot` are the host itself; `censored`,
    `lossy` and `distant` run it inside the vantage's client namespace (fs-v-NAME), behind
    its middlebox. Example (a campaign `fragscope demo` rendered from lab/plan.py):
    fragscope lab exec censored -- fragscope run --campaign demo/plan/censored.toml"""
    # With interspersed arguments off, click hands a "--" after VANTAGE through as is.
    if command[:1] == ("--",):
        command = command[1:]
    if not command:
        raise click.UsageError("no COMMAND given (write it after '--')")
    try:
        argv = lab_exec_argv(vantage, command)
    except VantageError as exc:
        raise click.BadParameter(str(exc), param_hint="VANTAGE") from None
    if vantage not in HOST_VANTAGES:
        namespace = lab_layout(vantage).client_ns
        if namespace not in existing_namespaces():
            raise click.UsageError(
                f"vantage {vantage!r} is not up (no namespace {namespace}): run `fragscope lab up`"
            )
    try:
        done = subprocess.run(argv, check=False)
    except FileNotFoundError:
        raise click.UsageError(f"command not found: {argv[0]}") from None
    raise SystemExit(done.returncode)
