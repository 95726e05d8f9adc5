"""``pip install .`` into a fresh venv, then the installed fragscope runs from elsewhere.

Proves the package is complete: the console script, every package and the Alembic
migrations (package data) are installed, and nothing is read from the source tree.
Installs the real dependencies from the package index mirror, so it takes about a minute.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from db import migrate

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

    _run([str(bin_dir / "pip"), "install", "-q", str(src)], cwd=outside, env=env)
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
        [str(bin_dir / "python"), "-c", "import db, cli; print(db.__file__, cli.__file__)"],
        cwd=outside,
        env=env,
    )
    assert str(REPO) not in where and str(venv_dir) in where, where
    assert sys.prefix not in where
