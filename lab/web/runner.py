"""Start and stop the lab's web hosts as processes, and wait until they answer. Does I/O.

Each host runs in its own session (process group) so stopping it by its PID also stops
Hypercorn's worker; nothing is ever killed by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass

from fragscope.lab.web.hosts import WebServer

# A 1200-byte long header with the reserved version 0x1a2a3a4a (RFC 9000 section 15):
# any QUIC server answers it with Version Negotiation, which proves the UDP listener is up.
_VN_PROBE = bytes([0xC0]) + bytes.fromhex("1a2a3a4a") + b"\x08" + b"R" * 8 + b"\x08" + b"L" * 8
_VN_PROBE += b"\x00" * (1200 - len(_VN_PROBE))


class HostStartError(RuntimeError):
    pass


@dataclass
class RunningHost:
    host: WebServer
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid


def start(host: WebServer) -> RunningHost:
    """Write the host's files and start it (not waiting for readiness)."""
    host.write_files()
    argv, extra_env = host.argv, dict(host.env)
    log = open(host.run_dir / "stdout.log", "wb")  # noqa: SIM115 - owned by the child
    env = {**os.environ, **extra_env}
    proc = subprocess.Popen(
        list(argv),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=host.run_dir,
        start_new_session=True,
    )
    log.close()
    return RunningHost(host, proc)


def _tcp_ready(address: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        try:
            s.connect((address, port))
        except OSError:
            return False
        return True


def _udp_ready(address: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        try:
            s.connect((address, port))
            s.send(_VN_PROBE)
            return s.recv(2048)[1:5] == b"\x00\x00\x00\x00"
        except OSError:
            return False


def wait_ready(hosts: Iterable[RunningHost], *, timeout: float = 20.0) -> None:
    """Wait until every TCP and UDP listener of every host answers; raise if one died."""
    hosts = list(hosts)
    pending = [(rh, "tcp", a, p) for rh in hosts for a, p in rh.host.tcp]
    pending += [(rh, "udp", a, p) for rh in hosts for a, p in rh.host.udp]
    deadline = time.monotonic() + timeout
    while pending:
        rh, kind, address, port = pending[0]
        if rh.process.poll() is not None:
            log = (rh.host.run_dir / "stdout.log").read_text(errors="replace")[-2000:]
            raise HostStartError(f"{rh.host.name} exited with {rh.process.returncode}: {log}")
        if (_tcp_ready if kind == "tcp" else _udp_ready)(address, port):
            pending.pop(0)
            continue
        if time.monotonic() > deadline:
            raise HostStartError(f"{rh.host.name}: {kind} {address}:{port} not ready in {timeout}s")
        time.sleep(0.05)


def stop(running: RunningHost, *, grace: float = 1.0) -> None:
    """SIGTERM the host's process group, then SIGKILL it after ``grace`` seconds."""
    proc = running.process
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    # Hypercorn's worker may outlive its master for a few seconds: end the whole group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.wait(timeout=5)
