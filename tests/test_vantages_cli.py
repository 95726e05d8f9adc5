"""``lab exec`` (lab.vantages.commands) through click's CliRunner."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from fragscope.lab.vantages.commands import exec_command


def test_exec_clean_runs_the_command_on_the_host(tmp_path: Path) -> None:
    out = tmp_path / "ran"
    result = CliRunner().invoke(exec_command, ["clean", "--", "touch", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists()


def test_exec_passes_the_commands_exit_code() -> None:
    assert CliRunner().invoke(exec_command, ["clean", "--", "false"]).exit_code == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["moon", "--", "true"],
            "'moon': unknown; known: clean, altroot, censored, lossy, distant",
        ),
        (["clean"], "no COMMAND given"),
        (["clean", "--", "/nonexistent/fragscope-cmd"], "command not found"),
    ],
)
def test_exec_bad_usage_exits_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(exec_command, args)
    assert result.exit_code == 2
    assert message in result.output


def test_exec_at_a_vantage_that_is_not_up_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    # Whether the session's lab is up must not matter: the command sees no namespaces.
    monkeypatch.setattr("fragscope.lab.vantages.commands.existing_namespaces", lambda: set())
    result = CliRunner().invoke(exec_command, ["distant", "--", "true"])
    assert result.exit_code == 2
    assert "not up (no namespace fs-v-distant)" in result.output


def test_exec_has_help() -> None:
    result = CliRunner().invoke(exec_command, ["--help"])
    assert result.exit_code == 0
    assert "client namespace" in result.output


def test_status_names_what_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from fragscope.lab.vantages import model, runner

    monkeypatch.setattr(runner, "existing_namespaces", lambda: {"fs-v-distant", "fs-m-distant"})
    vantages = {"clean": model.clean(), "distant": model.distant(), "lossy": model.lossy()}
    rows = runner.status_lab(vantages, run_dir=tmp_path, upstream_ns="fs-net")
    assert [(r.name, r.running, r.health) for r in rows] == [
        ("distant", False, "missing delay relay"),  # namespaces there, no relay PID
        ("lossy", False, "missing fs-v-lossy, fs-m-lossy"),
    ]
