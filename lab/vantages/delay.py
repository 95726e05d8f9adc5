"""The ``distant`` vantage's delay relay: holds every packet read from a TUN device for a
fixed time, then writes it back. Does I/O (a TUN device); run it as a process inside the
middlebox namespace::

    ip netns exec fs-m-distant python -m fragscope.lab.vantages.delay --dev dly0 --delay-ms 150

Why: the kernel here lacks netem (CONFIG_NET_SCH_NETEM), so delay is added in userspace.
The middlebox's policy routing sends forwarded packets into the TUN (see plan.py); the
kernel forwards what the relay writes back. UDP, TCP and ICMP are delayed alike because
the relay sees IP packets, not sockets. Memory is bounded: past ``--max-queue`` held
packets, new ones are dropped and counted. Prints ``ready ...`` once attached, and one
JSON line of counters when stopped by SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import select
import signal
import struct
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

# linux/if_tun.h
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
READ_BATCH = 64  # packets read per wake-up before releasing due ones
MAX_PACKET = 65535


@dataclass
class DelayLine:
    """Sans-I/O core: packets in with their arrival time, out once ``delay`` has passed.

    The delay is constant, so due times are non-decreasing in arrival order and a FIFO is
    the priority queue (no heap needed); packet order is kept, as on a real long link.
    """

    delay: float
    max_queue: int
    accepted: int = 0
    released: int = 0
    dropped_full: int = 0
    _queue: deque[tuple[float, bytes]] = field(default_factory=deque)

    def push(self, packet: bytes, now: float) -> bool:
        """Hold ``packet``; False (and counted) when the queue is full."""
        if len(self._queue) >= self.max_queue:
            self.dropped_full += 1
            return False
        self._queue.append((now + self.delay, packet))
        self.accepted += 1
        return True

    def pop_due(self, now: float) -> list[bytes]:
        """Every packet whose time has come, oldest first."""
        out = []
        while self._queue and self._queue[0][0] <= now:
            out.append(self._queue.popleft()[1])
        self.released += len(out)
        return out

    def next_due(self) -> float | None:
        return self._queue[0][0] if self._queue else None

    def __len__(self) -> int:
        return len(self._queue)


def open_tun(name: str) -> int:
    """Attach to TUN device ``name`` (created persistent by ``ip tuntap``, or new)."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    try:
        ifr = struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI)
        fcntl.ioctl(fd, TUNSETIFF, ifr)
    except OSError:
        os.close(fd)
        raise
    return fd


class _Stop(Exception):
    pass


class DeviceGone(Exception):
    """The TUN device vanished (its namespace was deleted under the relay)."""


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop


def run(
    fd: int,
    line: DelayLine,
    *,
    clock: Callable[[], float] = time.monotonic,
    counters: dict[str, int],
) -> None:
    """Relay until a signal raises :class:`_Stop` or the device goes away
    (:class:`DeviceGone`); the caller catches both."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while True:
        due = line.next_due()
        timeout_ms = None if due is None else max(0, (due - clock()) * 1000.0)
        # poll() granularity is 1 ms: round up so a packet never leaves early.
        events = poller.poll(None if timeout_ms is None else int(timeout_ms) + 1)
        if any(ev & (select.POLLERR | select.POLLHUP | select.POLLNVAL) for _, ev in events):
            raise DeviceGone
        if events:
            now = clock()
            for _ in range(READ_BATCH):
                try:
                    packet = os.read(fd, MAX_PACKET)
                except BlockingIOError:
                    break
                except OSError as exc:  # EBADFD/EIO once the interface is destroyed
                    raise DeviceGone from exc
                line.push(packet, now)
        for packet in line.pop_due(clock()):
            try:
                os.write(fd, packet)
            except OSError:
                # The kernel refused it (e.g. no route any more): a loss, counted.
                counters["write_errors"] += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fragscope.lab.vantages.delay", description=__doc__
    )
    parser.add_argument("--dev", required=True, help="TUN device to attach to")
    parser.add_argument("--delay-ms", type=float, required=True, help="one-way delay in ms")
    parser.add_argument(
        "--max-queue", type=int, default=20_000, help="packets held at most (then dropped)"
    )
    args = parser.parse_args(argv)
    if not 0 <= args.delay_ms <= 10_000:
        parser.error("--delay-ms must be in 0..10000")
    if args.max_queue < 1:
        parser.error("--max-queue must be at least 1")
    try:
        fd = open_tun(args.dev)
    except OSError as exc:
        print(f"delay relay: cannot attach to TUN {args.dev!r}: {exc}", file=sys.stderr)
        return 2
    line = DelayLine(delay=args.delay_ms / 1000.0, max_queue=args.max_queue)
    counters = {"write_errors": 0}
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    print(f"ready dev={args.dev} delay_ms={args.delay_ms:g} pid={os.getpid()}", flush=True)
    code = 0
    try:
        run(fd, line, counters=counters)
    except _Stop:
        pass
    except DeviceGone:
        print(f"delay relay: TUN {args.dev!r} is gone; stopping", file=sys.stderr)
        code = 1
    finally:
        os.close(fd)
    stats = {
        "accepted": line.accepted,
        "released": line.released,
        "dropped_full": line.dropped_full,
        "held_at_exit": len(line),
        **counters,
    }
    with contextlib.suppress(OSError):  # nobody may be reading any more
        print(json.dumps(stats), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
