"""``fragscope demo``: start the lab, measure it from every vantage, report, stop it. Does I/O.

One round: the lab's plan (lab/plan.py, the one the lab indicator tests run) rendered for
each vantage, `clean` and `altroot` (the host) and `censored`, `lossy`, `distant`,
`dpi-inline` and `dpi-residual` (network namespaces behind their middleboxes), each run
into one SQLite database through the real CLI (`fragscope lab exec VANTAGE -- fragscope
run ...`); then the round's indicators are computed, the text summary printed and
demo-report.html written. The campaigns and target lists are written to the work
directory's plan/. The lab is stopped on success, on failure and on Ctrl-C/SIGTERM.
Installs nothing (``make demo`` does).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from fragscope.lab import plan
from fragscope.lab.core.lock import LAB_LOCK, LockTimeout, lab_lock

if TYPE_CHECKING:
    from fragscope.lab.world import Lab

ROOT = Path(__file__).resolve().parent.parent


class DemoError(Exception):
    """The demo cannot go on; the message says which step and why."""


@dataclass
class Demo:
    """Paths and knobs of one demo; :meth:`run` does everything."""

    workdir: Path
    report: Path
    markdown: Path | None = None
    """Also write the round's report as markdown here (docs/examples)."""
    vantages: tuple[str, ...] = plan.VANTAGES
    lock_wait_s: float = 600.0
    echo: Callable[[str], None] = field(default=lambda line: print(line, flush=True))
    round_label: str = field(
        default_factory=lambda: "demo-" + dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    )

    @property
    def db(self) -> Path:
        return self.workdir / "demo.sqlite"

    @property
    def lab_dir(self) -> Path:
        return self.workdir / "lab-run"

    @property
    def plan_dir(self) -> Path:
        """The round's campaigns and target lists (lab/plan.py)."""
        return self.workdir / "plan"

    def _step(self, text: str) -> float:
        self.echo(f"==> {text}")
        return time.monotonic()

    def _done(self, t0: float, text: str = "") -> None:
        self.echo(f"    done in {time.monotonic() - t0:.1f} s{': ' + text if text else ''}")

    def fragscope(self) -> list[str]:
        """The fragscope command line of this installation."""
        script = Path(sys.executable).parent / "fragscope"
        if script.exists():
            return [str(script)]
        return [sys.executable, "-m", "cli"]

    def _cli(self, *args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        root = str(ROOT)
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        return subprocess.run(
            [*self.fragscope(), *args],
            cwd=self.workdir,
            env=env,
            text=True,
            capture_output=capture,
            check=False,
        )

    def run(self) -> int:
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        with _lab_lock(self.lock_wait_s, self.echo), _terminate_as_interrupt():
            from fragscope.lab.world import Lab

            lab = Lab(self.lab_dir)
            try:
                t0 = self._step("starting the lab (DNS world, web hosts, vantages)")
                groups = self._groups(lab)
                seconds = lab.up(groups)
                self._done(t0, f"lab up in {seconds:.1f} s, run directory {lab.run_dir}")
                self._measure(lab)
                self._report()
            finally:
                t0 = self._step("stopping the lab")
                for note in lab.down():
                    self.echo(f"    {note}")
                self._done(t0)
        self.echo(f"demo finished in {time.monotonic() - started:.0f} s")
        return 0

    def _groups(self, lab: object) -> list[str] | None:
        from fragscope.lab.chain.component import chain_missing

        truth = lab.truth  # type: ignore[attr-defined]
        if truth.chain is not None and (why := chain_missing()):
            self.echo(f"    (the chain is not started: {why})")
            return [g for g in truth.groups if g != truth.chain.group]
        return None

    def _measure(self, lab: Lab) -> None:
        if self.db.exists():
            self.db.unlink()
        t0 = self._step(f"creating {self.db}")
        done = self._cli("db", "upgrade", "--db", str(self.db))
        if done.returncode != 0:
            raise DemoError("db upgrade failed")
        self._done(t0)
        self.plan_dir.mkdir(parents=True, exist_ok=True)
        plan.write_targets(plan.make_plan(lab.truth), self.plan_dir)
        for vantage in self.vantages:
            campaign = self.plan_dir / f"{vantage}.toml"
            campaign.write_text(
                plan.campaign_text(lab, vantage, self.plan_dir, self.round_label), encoding="utf-8"
            )
            t0 = self._step(f"measuring from vantage {vantage} ({campaign})")
            run = [*self.fragscope(), "run", "--campaign", str(campaign), "--db", str(self.db)]
            done = self._cli("lab", "exec", vantage, "--", *run)
            # 0: finished; 1: finished with unknown_failure rows or partial (still data).
            if done.returncode not in (0, 1):
                raise DemoError(f"fragscope run at {vantage} exited {done.returncode}")
            self._done(t0, f"exit {done.returncode}")

    def _report(self) -> None:
        # The lab's own IP-to-ASN mapping (analysis/data) lets N7/T7 compute too.
        scope = ["--db", str(self.db), "--round", self.round_label, "--asn-map", "lab"]
        t0 = self._step(f"computing the indicators of round {self.round_label}")
        done = self._cli("indicators", "compute", *scope)
        if done.returncode != 0:
            raise DemoError("indicators compute failed")
        self._done(t0)
        t0 = self._step(f"writing {self.report}")
        html = self._cli("summarize", *scope, "--format", "html", "--output", str(self.report))
        if html.returncode != 0:
            raise DemoError("summarize --format html failed")
        if self.markdown is not None:
            md = self._cli(
                "summarize", *scope, "--format", "markdown", "--output", str(self.markdown)
            )
            if md.returncode != 0:
                raise DemoError("summarize --format markdown failed")
        self._done(t0)
        self.echo("")
        self._cli("summarize", *scope, "--format", "text")


@contextlib.contextmanager
def _lab_lock(wait_s: float, echo: Callable[[str], None]) -> Iterator[None]:
    # The lab is machine-wide (lab.core.lock): a demo and a test session never tear down each
    # other's lab.
    def told() -> None:
        echo(f"==> waiting for the lab lock {LAB_LOCK} (a test session or demo)")

    try:
        with lab_lock(wait_s, on_wait=told):
            yield
    except LockTimeout as exc:
        raise DemoError(str(exc)) from None


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so the lab is stopped either way."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def prerequisites() -> list[str]:
    """What keeps the demo from running here (empty when it can)."""
    problems = []
    if os.geteuid() != 0:
        problems.append("must run as root (the lab uses network namespaces)")
    for binary in ("ip", "nft", "nsd", "knotd", "unbound"):
        if shutil.which(binary) is None:
            problems.append(f"{binary} is missing (make demo installs deps/apt.txt)")
    return problems
