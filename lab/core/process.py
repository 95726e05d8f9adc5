"""Start daemons inside the lab namespace and stop them by recorded PID. Does process I/O.

Daemons run in the foreground under `ip netns exec` (which execs, so the PID we get is the
daemon's). Each PID is recorded with its kernel start time (field 22 of /proc/PID/stat): a
recorded PID is signalled only while that pair still matches, so a reused PID is never
hit. Stopping is SIGTERM, then SIGKILL after a grace period. Nothing is found by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from fragscope.lab.core.topology import namespace_pids

GRACE_S = 6.0  # NSD and Hypercorn take seconds to exit on SIGTERM


@dataclass(frozen=True)
class Running:
    service: str
    pid: int
    starttime: int


def starttime(pid: int) -> int | None:
    """Kernel start time of ``pid`` (clock ticks since boot), None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie has exited; only its parent's wait() remains
        return None
    return int(fields[19])


def alive(r: Running) -> bool:
    return starttime(r.pid) == r.starttime


def adopt(service: str, pid: int | None) -> Running | None:
    """A process started elsewhere (a daemon that wrote its pid file) as a Running, its
    start time read now; None when there is no such process."""
    started = starttime(pid) if pid is not None else None
    return None if pid is None or started is None else Running(service, pid, started)


def pid_from_file(path: Path) -> int | None:
    """The pid a daemon wrote to ``path``, None before it has."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text else None


# Popen objects of daemons this process started, so it can reap them (no zombies).
_children: dict[int, subprocess.Popen[bytes]] = {}


def start(
    service: str,
    argv: list[str],
    *,
    namespace: str,
    log: Path,
    cwd: Path,
    env: dict[str, str] | None = None,
) -> Running:
    """Start ``argv`` inside ``namespace`` with stdout and stderr appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", namespace, *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,  # a Ctrl-C on `lab up` must not kill the daemons
        )
    _children[proc.pid] = proc
    st = None
    for _ in range(100):
        st = starttime(proc.pid)
        if st is not None or proc.poll() is not None:
            break
        time.sleep(0.005)
    return Running(service=service, pid=proc.pid, starttime=st or -1)


def exited_early(r: Running) -> int | None:
    """The exit code when a daemon we started has already died, else None."""
    proc = _children.get(r.pid)
    if proc is not None:
        return proc.poll()
    return None if alive(r) else -1


def _reap(pid: int) -> None:
    proc = _children.get(pid)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.5)
            del _children[pid]


def stop_all(running: list[Running], *, grace: float = GRACE_S) -> list[str]:
    """SIGTERM every live recorded process, SIGKILL those left after ``grace`` seconds.

    Returns a line per process that needed SIGKILL (for the log).
    """
    live = [r for r in running if alive(r)]
    for r in live:
        with contextlib.suppress(ProcessLookupError):
            os.kill(r.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        for r in live:
            proc = _children.get(r.pid)
            if proc is not None and proc.poll() is not None:
                _reap(r.pid)
        live = [r for r in live if alive(r)]
        if not live:
            break
        time.sleep(0.05)
    killed = []
    for r in live:
        with contextlib.suppress(ProcessLookupError):
            os.kill(r.pid, signal.SIGKILL)
        killed.append(f"{r.service} (pid {r.pid}) ignored SIGTERM for {grace:.1f} s: killed")
    for r in running:
        _reap(r.pid)
    # SIGKILL is delivered asynchronously: wait (briefly) until the processes are gone.
    deadline = time.monotonic() + 2.0
    while any(alive(r) for r in live) and time.monotonic() < deadline:
        time.sleep(0.02)
    return killed


def kill_namespace_leftovers(namespace: str, *, grace: float = 2.0) -> list[int]:
    """Stop processes still inside ``namespace`` (e.g. children of a SIGKILLed daemon).

    The namespace's member list comes from the kernel (`ip netns pids`), so only lab
    processes can be hit. Returns the PIDs that were signalled.
    """
    pids = namespace_pids(namespace)
    snapshot = [Running("leftover", p, st) for p in pids if (st := starttime(p)) is not None]
    stop_all(snapshot, grace=grace)
    return [r.pid for r in snapshot]


def save(path: Path, running: list[Running]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps([asdict(r) for r in running], indent=1))
    tmp.replace(path)


def load(path: Path) -> list[Running]:
    try:
        return [Running(**r) for r in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError):
        return []
