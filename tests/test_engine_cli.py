"""The CLI around runs: help on every command, probe list, runs list/show/prune."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from fragscope import cli
from tests.fixtures.engine import null_campaign, query


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    ctx = click.Context(group)
    for name in sorted(group.list_commands(ctx)):
        cmd = group.get_command(ctx, name)
        assert cmd is not None, name
        if isinstance(cmd, click.Group):
            out += _commands(cmd, (*prefix, name))
        else:
            out.append((*prefix, name))
    return out


@pytest.mark.parametrize("path", _commands(cli.main), ids=lambda p: " ".join(p) or "fragscope")
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli.main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    cmd: click.Command = cli.main
    for name in path:
        assert isinstance(cmd, click.Group)
        found = cmd.get_command(click.Context(cmd), name)
        assert found is not None, name
        cmd = found
    assert (cmd.help or "").strip(), f"{' '.join(path)} has no help text"


def test_every_command_is_listed() -> None:
    """The lazy top-level group names every command, and each single-probe command too."""
    paths = {" ".join(p) for p in _commands(cli.main)}
    for top in ("db", "demo", "explore", "indicators", "lab", "naming", "run", "runs"):
        assert top in paths
    assert {"summarize", "probe list", "probe dns", "probe transport", "probe name"} <= paths


def test_run_does_not_import_the_analysis_or_reports() -> None:
    """A cron ``fragscope run`` loads only what running needs."""
    code = (
        "import sys; from fragscope import cli; "
        "cli.main.get_command(None, 'run'); "
        "print(sorted(m for m in sys.modules if m.startswith(('fragscope.analysis', "
        "'fragscope.reports'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]", out


def test_version() -> None:
    result = CliRunner().invoke(cli.main, ["--version"])
    assert result.exit_code == 0 and "fragscope" in result.output


@pytest.fixture
def finished_db(tmp_path: Path) -> Path:
    path = null_campaign(tmp_path, targets=30, fail_every=4)
    # A hostile target name: the HTML summary must escape it.
    with (tmp_path / "targets.csv").open("a") as fh:
        fh.write("31,<script>alert(1)</script>.test\n")
    db = tmp_path / "db.sqlite"
    result = CliRunner().invoke(
        cli.main, ["run", "--campaign", str(path), "--db", str(db), "--auto-migrate"]
    )
    assert result.exit_code == 0, result.output
    return db


def test_probe_list_shows_versions_and_config_help() -> None:
    result = CliRunner().invoke(cli.main, ["probe", "list"])
    assert result.exit_code == 0
    assert "engine.null  v1" in result.output
    assert "follow_ups" in result.output and "follow-up tasks" in result.output
    data = json.loads(CliRunner().invoke(cli.main, ["probe", "list", "--json"]).output)
    null = next(p for p in data if p["name"] == "engine.null")
    assert null["table"] == "null_observations"
    assert {f["name"] for f in null["config"]} >= {"delay_s", "fail_every", "follow_ups"}


def test_runs_list_show_prune(finished_db: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(cli.main, ["runs", "list", "--db", str(finished_db)])
    assert listed.exit_code == 0 and "finished" in listed.output
    shown = json.loads(runner.invoke(cli.main, ["runs", "show", "--db", str(finished_db)]).output)
    assert shown["status"] == "finished" and shown["tasks_done"]["engine.null"]["tasks"] > 0
    assert shown["config"]["name"] == "engine-test"
    assert runner.invoke(cli.main, ["runs", "prune", "--db", str(finished_db)]).exit_code == 2
    dry = runner.invoke(
        cli.main, ["runs", "prune", "--db", str(finished_db), "--status", "finished"]
    )
    assert "would delete" in dry.output
    assert query(finished_db, "SELECT COUNT(*) FROM runs")[0][0] == 1
    gone = runner.invoke(
        cli.main, ["runs", "prune", "--db", str(finished_db), "--status", "finished", "--yes"]
    )
    assert gone.exit_code == 0 and "deleting" in gone.output
    for table in ("runs", "tasks_done", "null_observations", "targets", "task_followups"):
        assert query(finished_db, f"SELECT COUNT(*) FROM {table}")[0][0] == 0, table


class _Tty:
    """A terminal-like stream (isatty) that keeps what is written."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        return None


def test_reporter_on_a_terminal_draws_progress_and_human_lines() -> None:
    from fragscope.probes.engine.console import Reporter

    tty = _Tty()
    rep = Reporter(stream=tty)  # type: ignore[arg-type]
    assert rep.human and rep.show_progress
    rep.start_progress(100, "null-lab")
    rep.update_progress(50, 1234.0)
    rep.event("run_finished", "run x: finished, 100 tasks", tasks=100)
    rep.stop_progress()
    out = "".join(tty.parts)
    assert "null-lab" in out and "run x: finished" in out
    quiet = Reporter(stream=tty, progress=False)  # type: ignore[arg-type]
    assert not quiet.show_progress
