"""``pip install .`` into a fresh venv, then the installed fragscope runs from elsewhere.

Proves the package is complete: the console script, every package and the Alembic
migrations (package data) are installed, and nothing is read from the source tree. Proves
it is one import name: the wheel holds ``fragscope/`` and its dist-info only, and a folder
with its own db.py, analysis.py, reports.py and lab.py does not shadow fragscope's modules.
It builds the wheel with pip (an isolated build from the package index mirror), so it
takes about fifteen seconds.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from fragscope.db import migrate

REPO = Path(__file__).resolve().parent.parent
# Build from a copy: an in-tree build would leave build/ and *.egg-info in the worktree.
IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".make",
    "build",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    "node_modules",
    "lab-run",
    "*.sqlite*",
)


def _run(argv: list[str], *, cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert proc.returncode == 0, f"{argv} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_pip_install_then_run_outside_the_repository(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=IGNORE)
    venv_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    bin_dir = venv_dir / "bin"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    outside = tmp_path / "elsewhere"
    outside.mkdir()

    wheels = tmp_path / "wheels"
    _run(
        [str(bin_dir / "pip"), "wheel", "-q", "--no-deps", "-w", str(wheels), str(src)],
        cwd=outside,
        env=env,
    )
    (wheel,) = wheels.glob("fragscope-*.whl")
    assert _top_level_names(wheel) == {"fragscope", f"{wheel.name.split('-py')[0]}.dist-info"}
    # fragscope itself from the wheel; its dependencies from this test run's own venv,
    # appended to the new venv's path (a .pth line adds a folder, not that folder's .pth
    # files, so the checkout's editable fragscope stays invisible). Installing the
    # dependencies again cost ~35 s of CPU; `make venv` resolves them from the metadata.
    _run([str(bin_dir / "pip"), "install", "-q", "--no-deps", str(wheel)], cwd=outside, env=env)
    (site_packages,) = venv_dir.glob("lib/python*/site-packages")
    (site_packages / "dependencies.pth").write_text(_dependencies_dir() + "\n")
    shutil.rmtree(src)  # nothing may come from the source tree from here on

    help_text = _run([str(bin_dir / "fragscope"), "--help"], cwd=outside, env=env)
    assert "Usage: fragscope" in help_text and "db" in help_text
    db_path = outside / "x.sqlite"
    _run([str(bin_dir / "fragscope"), "db", "upgrade", "--db", str(db_path)], cwd=outside, env=env)
    con = sqlite3.connect(db_path)
    try:
        (revision,) = con.execute("SELECT version_num FROM alembic_version").fetchone()
    finally:
        con.close()
    assert revision in migrate.heads()
    # The modules come from the venv, not from this repository.
    where = _run(
        [
            str(bin_dir / "python"),
            "-c",
            "import fragscope.db as d, fragscope.cli as c; print(d.__file__, c.__file__)",
        ],
        cwd=outside,
        env=env,
    )
    assert str(REPO) not in where and str(venv_dir) in where, where
    assert sys.prefix not in where

    # A researcher's folder with modules named like fragscope's old top-level packages:
    # each one fails loudly if imported, so any shadowing shows as an error.
    notebook = tmp_path / "notebook"
    notebook.mkdir()
    for name in SHADOWS:
        (notebook / f"{name}.py").write_text(f"raise SystemExit('shadowed by {name}.py')\n")
    version = _run([str(bin_dir / "fragscope"), "--version"], cwd=notebook, env=env)
    assert version.startswith("fragscope, version "), version
    listed = _run([str(bin_dir / "fragscope"), "indicators", "list"], cwd=notebook, env=env)
    assert "N1" in listed and "T2" in listed, listed
    loaded = _run(
        [
            str(bin_dir / "python"),
            "-c",
            "import fragscope.analysis, fragscope.reports, fragscope.lab, fragscope.db; "
            "print(fragscope.analysis.__file__)",
        ],
        cwd=notebook,
        env=env,
    )
    assert str(venv_dir) in loaded and str(notebook) not in loaded, loaded
    for name in SHADOWS:  # none of the old names is installed
        proc = subprocess.run(
            [str(bin_dir / "python"), "-c", f"import {name}"],
            cwd=outside,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr, (name, proc.stderr)


SHADOWS = ("db", "analysis", "reports", "lab", "probes", "campaigns", "cli")


def _top_level_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return {name.split("/", 1)[0] for name in archive.namelist()}


def _dependencies_dir() -> str:
    """The site-packages folder that holds fragscope's dependencies in this test run."""
    import click

    return str(Path(click.__file__).resolve().parent.parent)
