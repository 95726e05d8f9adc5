"""Loopback addresses of one DNS world, claimed per test session. Does I/O (locks, binds).

The world's servers listen on port 53 (delegations cannot carry ports), so two test
sessions at once (two engineers, CI and a developer) must not share addresses. Each world
claims a block 127.N.0.0/16 (N in :data:`BLOCKS`, first tried derived from the pid): an
flock on /run/lock/fragscope-dns-127.N.lock held while the world runs (the kernel drops
it when the session dies, even by kill -9), then a test bind of every listener, so a
block someone else uses without the lock is skipped too. The blocks stay clear of the
lab's 10.99/16, the recipes' 127.53.x, the web hosts' 127.77.x and the bench's 127.66.x.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from dataclasses import dataclass
from pathlib import Path

BLOCKS = range(160, 224)
LOCK_DIR = Path("/run/lock")


# Where each server of a world listens inside its block 127.N.0.0/16.
HOSTS = {"root": "0.1", "tld": "1.1", "sld": "2.1", "resolver": "53.53", "doq": "53.54"}


@dataclass(frozen=True)
class Block:
    """The addresses of one world: 127.N.x, one per server (:data:`HOSTS`)."""

    net: int

    def address(self, server: str) -> str:
        return f"127.{self.net}.{HOSTS[server]}"

    def listeners(self) -> list[tuple[str, int, int]]:
        """(address, socket type, port) of every socket the world's servers bind."""
        udp, tcp = socket.SOCK_DGRAM, socket.SOCK_STREAM
        auth = [self.address(s) for s in ("root", "tld", "sld", "resolver")]
        out = [(a, kind, 53) for a in auth for kind in (udp, tcp)]
        resolver, doq = self.address("resolver"), self.address("doq")
        return [*out, (resolver, tcp, 853), (resolver, tcp, 443), (doq, udp, 853)]


def lock_path(net: int) -> Path:
    return LOCK_DIR / f"fragscope-dns-127.{net}.lock"


def _free(block: Block) -> bool:
    for address, kind, port in block.listeners():
        with socket.socket(socket.AF_INET, kind) as sock:
            # The servers set SO_REUSEADDR too: a TIME_WAIT left by an earlier world is no
            # obstacle, a socket bound or listening there is.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((address, port))
            except OSError:
                return False
    return True


class Claim:
    """A block held by this process until :meth:`release`."""

    def __init__(self, block: Block, fd: int) -> None:
        self.block = block
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None


def claim(first: int | None = None) -> Claim:
    """Claim a free block, trying ``first`` (default: one derived from the pid) onwards."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    start = BLOCKS.index(first) if first is not None else os.getpid() % len(BLOCKS)
    for i in range(len(BLOCKS)):
        net = BLOCKS[(start + i) % len(BLOCKS)]
        fd = os.open(lock_path(net), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        if not _free(Block(net)):
            os.close(fd)
            continue
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        return Claim(Block(net), fd)
    raise RuntimeError(
        f"no free DNS world addresses: every block 127.{BLOCKS[0]}-{BLOCKS[-1]}.0.0/16 is "
        f"claimed by another session ({LOCK_DIR}/fragscope-dns-127.N.lock) or in use"
    )
