"""Bring one vantage up or down: runs the plan's commands, the delay relay and the DPI
censor. Does I/O (subprocess, /etc/netns, signals to the processes it started, by PID).

The relay's PID goes to ``<run_dir>/<name>-delay.pid`` and the censor's to
``<run_dir>/<name>-dpi.pid`` so ``lab down`` in another process can stop them; before
signalling a PID read from a file, its command line is checked, so a reused PID is never
killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fragscope.lab.vantages import LAB_SUBNETS, lab_layout
from fragscope.lab.vantages.layout import Layout
from fragscope.lab.vantages.model import Vantage
from fragscope.lab.vantages.plan import (
    DEFAULT_MAX_QUEUE,
    DPI_MODULE,
    RELAY_MODULE,
    Command,
    build_commands,
    dpi_argv,
    relay_argv,
    teardown_commands,
)

NETNS_ETC = Path("/etc/netns")  # `ip netns exec` bind-mounts /etc/netns/<ns>/* over /etc/*
READY_TIMEOUT_S = 10.0


class VantageBuildError(RuntimeError):
    """A command failed; the message carries its argv and stderr."""


@dataclass(frozen=True)
class Running:
    """A vantage that is up."""

    vantage: Vantage
    layout: Layout
    relay_pid: int | None
    pid_file: Path | None
    dpi_pid: int | None = None


def run_commands(commands: Iterable[Command]) -> None:
    for cmd in commands:
        proc = subprocess.run(
            cmd.argv, input=cmd.input, capture_output=True, text=True, check=False
        )
        if cmd.check and proc.returncode != 0:
            raise VantageBuildError(
                f"{' '.join(cmd.argv)} exited {proc.returncode}: {proc.stderr.strip()}"
            )


def existing_namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def _namespace_pids(ns: str) -> list[int]:
    out = subprocess.run(
        ["ip", "netns", "pids", ns], capture_output=True, text=True, check=False
    ).stdout
    return [int(p) for p in out.split() if p.isdigit()]


def resolv_conf_path(layout: Layout) -> Path:
    return NETNS_ETC / layout.client_ns / "resolv.conf"


def _write_resolv_conf(vantage: Vantage, layout: Layout) -> None:
    # Commands run with `ip netns exec <client>` then resolve through the vantage's own
    # resolver (for censored: the manipulating one), as a host configured that way would.
    path = resolv_conf_path(layout)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"# fragscope lab vantage {vantage.name}\nnameserver {vantage.resolver}\n",
        encoding="utf-8",
    )


def _remove_resolv_conf(layout: Layout) -> None:
    path = resolv_conf_path(layout)
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # absent, or holds files someone else put there
        path.parent.rmdir()


def up(
    vantage: Vantage,
    layout: Layout,
    *,
    run_dir: Path,
    python: str | None = None,
    max_queue: int = DEFAULT_MAX_QUEUE,
) -> Running:
    """Build the vantage (clearing a stale copy first) and start its relay if it has a
    delay. On any failure everything built so far is removed before the error propagates."""
    down(layout, run_dir=run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    relay_pid: int | None = None
    dpi_pid: int | None = None
    pid_file: Path | None = None
    try:
        run_commands(build_commands(vantage, layout))
        if vantage.resolver is not None:
            _write_resolv_conf(vantage, layout)
        if vantage.delay_ms:
            pid_file = pid_file_path(run_dir, layout)
            argv = relay_argv(
                layout, vantage.delay_ms, python=python or sys.executable, max_queue=max_queue
            )
            relay_pid = _start_helper(argv, run_dir / f"{vantage.name}-delay.log", "delay relay")
            pid_file.write_text(f"{relay_pid}\n", encoding="utf-8")
        if vantage.dpi is not None:
            dpi_pid = _start_dpi(vantage, layout, run_dir, python)
    except BaseException:
        for pid in (relay_pid, dpi_pid):
            if pid is not None:
                stop_pid(pid)
        down(layout, run_dir=run_dir)
        raise
    return Running(
        vantage=vantage, layout=layout, relay_pid=relay_pid, pid_file=pid_file, dpi_pid=dpi_pid
    )


def restart_dpi(vantage: Vantage, *, run_dir: Path, python: str | None = None) -> int:
    """Replace the running censor of ``vantage`` with one enforcing ``vantage.dpi`` (a
    perturbation of the planted policy, or its restoration); the new censor's PID. Its
    NFQUEUE rules are the vantage's own and stay: while no process listens, the queue
    drops what it holds, so the switch loses packets only for the restart itself."""
    layout = lab_layout(vantage.name)
    pid_file = dpi_pid_file_path(run_dir, layout)
    if pid_file.exists():
        stop_pid(int(pid_file.read_text(encoding="utf-8").strip()))
    return _start_dpi(vantage, layout, run_dir, python)


def _start_dpi(vantage: Vantage, layout: Layout, run_dir: Path, python: str | None) -> int:
    """Start ``vantage``'s censor in its middlebox and record its PID for ``lab down``."""
    argv = dpi_argv(layout, vantage, python=python or sys.executable)
    pid = _start_helper(argv, run_dir / f"{vantage.name}-dpi.log", "DPI censor")
    dpi_pid_file_path(run_dir, layout).write_text(f"{pid}\n", encoding="utf-8")
    return pid


def _start_helper(argv: list[str], log: Path, what: str) -> int:
    """Start a middlebox process (the delay relay or the DPI censor) and wait for the
    ``ready`` line it prints once attached; its PID."""
    with log.open("wb") as out:
        # `ip netns exec` execs the command in place, so this PID is the relay's own.
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, cwd=Path(__file__).resolve().parents[2],
        )  # fmt: skip
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if log.read_text(encoding="utf-8", errors="replace").startswith("ready "):
            return proc.pid
        if proc.poll() is not None:
            raise VantageBuildError(
                f"{what} exited {proc.returncode}: {log.read_text(errors='replace')}"
            )
        time.sleep(0.02)
    stop_pid(proc.pid)
    raise VantageBuildError(f"{what} not ready after {READY_TIMEOUT_S} s (log: {log})")


def _is_relay(pid: int) -> bool:
    """Is ``pid`` one of the middlebox processes this module starts (relay or censor)?"""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return RELAY_MODULE.encode() in cmdline or DPI_MODULE.encode() in cmdline


def stop_pid(pid: int, *, timeout_s: float = 5.0) -> None:
    """SIGTERM the relay or censor ``pid``, wait for it (reaping it if it is our child),
    SIGKILL if it lingers. A PID that is neither is left alone."""
    if not _is_relay(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    sig_sent = signal.SIGTERM
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return
        except ChildProcessError:
            if not Path(f"/proc/{pid}").exists():
                return
        if time.monotonic() > deadline and sig_sent is signal.SIGTERM:
            os.kill(pid, signal.SIGKILL)
            sig_sent = signal.SIGKILL
        time.sleep(0.02)


def pid_file_path(run_dir: Path, layout: Layout) -> Path:
    return run_dir / f"{layout.name}-delay.pid"


def dpi_pid_file_path(run_dir: Path, layout: Layout) -> Path:
    return run_dir / f"{layout.name}-dpi.pid"


def _alive(pid_file: Path) -> bool:
    text = pid_file.read_text().strip() if pid_file.exists() else ""
    return text.isdigit() and _is_relay(int(text))


def down(layout: Layout, *, run_dir: Path | None = None) -> None:
    """Stop the vantage's relay (PID from its pid file, or found in its middlebox
    namespace after a crash lost the file) and delete its namespaces. Idempotent: safe on
    a vantage that is half built or already gone."""
    if run_dir is not None:
        for pid_file in (pid_file_path(run_dir, layout), dpi_pid_file_path(run_dir, layout)):
            if pid_file.exists():
                text = pid_file.read_text(encoding="utf-8").strip()
                if text.isdigit():
                    stop_pid(int(text))
                pid_file.unlink()
    present = existing_namespaces()
    if layout.mbox_ns in present:
        for pid in _namespace_pids(layout.mbox_ns):
            stop_pid(pid)  # only ours: stop_pid leaves any other process alone
    if any(ns in present for ns in layout.namespaces):
        run_commands(teardown_commands(layout))
    _remove_resolv_conf(layout)


@dataclass(frozen=True)
class VantageStatus:
    """One lab vantage as ``lab status`` shows it."""

    name: str
    kind: str
    client: str  # the client's IPv4 address: what servers see from this vantage
    mechanism: str  # what shapes its path
    running: bool
    health: str  # "ok", or what is missing


def status_lab(
    vantages: Mapping[str, Vantage], *, run_dir: Path, upstream_ns: str
) -> list[VantageStatus]:
    """Is each non-clean vantage built (both namespaces) and, for a delay, its relay alive?"""
    present = existing_namespaces()
    rows = []
    for name, vantage in vantages.items():
        if not vantage.needs_middlebox:
            continue
        layout = lab_layout(name, upstream_ns=upstream_ns)
        missing = [ns for ns in layout.namespaces if ns not in present]
        if vantage.delay_ms and not _alive(pid_file_path(run_dir, layout)):
            missing.append("delay relay")
        if vantage.dpi is not None and not _alive(dpi_pid_file_path(run_dir, layout)):
            missing.append("DPI censor")
        mechanism = "nftables + delay relay" if vantage.delay_ms else "nftables"
        if vantage.dpi is not None:
            mechanism = f"nftables + NFQUEUE censor ({vantage.dpi.mode.value})"
        rows.append(
            VantageStatus(
                name=name,
                kind=vantage.kind.value,
                client=str(layout.v4.client),
                mechanism=mechanism,
                running=not missing,
                health="ok" if not missing else "missing " + ", ".join(missing),
            )
        )
    return rows


def up_lab(vantages: Mapping[str, Vantage], *, run_dir: Path, upstream_ns: str) -> list[Running]:
    """Build every non-clean vantage of the lab (lab.vantages.facts) on its
    :data:`LAB_SUBNETS` layout; on failure, what was built is removed again."""
    built: list[Running] = []
    try:
        for name, vantage in vantages.items():
            if vantage.needs_middlebox:
                layout = lab_layout(name, upstream_ns=upstream_ns)
                built.append(up(vantage, layout, run_dir=run_dir))
    except BaseException:
        down_lab(run_dir=run_dir, upstream_ns=upstream_ns)
        raise
    return built


def down_lab(*, run_dir: Path, upstream_ns: str) -> None:
    """Remove every lab vantage (idempotent; cheap when none is up)."""
    for name in LAB_SUBNETS:
        down(lab_layout(name, upstream_ns=upstream_ns), run_dir=run_dir)
