"""Do53 over UDP, the lean path: shared connected sockets, ID demultiplexing. Does I/O.

One connected, non-blocking UDP socket per (server, port) carries many queries at once;
responses are matched by query ID and by the echoed question (RFC 5452 section 9.1). The
rules the issue asks for:

- an ID is never reused while a query with it is outstanding, nor during a grace period
  after it timed out; when a socket runs short of IDs another socket is opened;
- a response that arrives after its query timed out is reported to ``on_late`` as late,
  never matched to a newer query; a second response to an answered query is reported as a
  duplicate (OONI's dnsping records these as an injection signal);
- a datagram that matches no query (wrong ID, a question that is not the one asked, no
  QR bit, too short or malformed to tell) is reported to ``on_stray`` and nothing else:
  it never changes the outcome of a query in flight, whose genuine answer may still
  come, and never becomes its wire (issue 18: one off-path datagram used to turn every
  concurrent timeout into ``dns_server_misbehaving`` carrying that datagram).

The socket is read by ``loop.add_reader`` and drained in one callback (one epoll wake-up
for many datagrams), which is what makes the stdlib loop fast enough (calibration 3).
"""

from __future__ import annotations

import array
import asyncio
import collections
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fragscope.db.vocab import Failure, Operation
from fragscope.probes.dns import mmsg
from fragscope.probes.dns.codec import QueryTemplate, question_matches
from fragscope.probes.errors import MeasurementError

MAX_DATAGRAM = 65535
_IDS_PER_SOCKET = 60000  # leave head room below 65536 so allocation stays O(1)


@dataclass(slots=True)
class UdpResult:
    """What came back for one query: the wire (or None) and timing."""

    qid: int
    sent_at: float
    wire: bytes | None = None
    received_at: float | None = None
    failure: Failure | None = None
    detail: str = ""


class Pending:
    """One query in flight; ``callback(result)`` is called exactly once."""

    __slots__ = ("callback", "context", "deadline", "qid", "result", "template")

    def __init__(
        self,
        template: QueryTemplate,
        qid: int,
        deadline: float,
        callback: Callable[[UdpResult], None],
        context: Any,
        sent_at: float,
    ) -> None:
        self.template = template
        self.qid = qid
        self.deadline = deadline
        self.callback = callback
        self.context = context
        self.result = UdpResult(qid, sent_at)


def _spent(_result: UdpResult) -> None:
    """The callback of an answered query (called once already)."""


LateHandler = Callable[[Pending, bytes, float, str], None]
"""on_late(pending, wire, received_at, kind) with kind "late" or "duplicate"."""
StrayHandler = Callable[[bytes, float, str], None]
"""on_stray(wire, received_at, why): a datagram from the server that matches no query."""


class _IdSource:
    """Unpredictable 16-bit IDs (RFC 5452 section 9.2) from the OS CSPRNG, 4096 at a time
    (one urandom call per 4096 queries instead of one per query)."""

    __slots__ = ("buf", "pos")

    def __init__(self) -> None:
        self.buf = array.array("H", os.urandom(8192))
        self.pos = 0

    def next(self) -> int:
        pos = self.pos
        if pos == 4096:
            self.buf = array.array("H", os.urandom(8192))
            pos = 0
        self.pos = pos + 1
        return self.buf[pos]


class _Socket:
    def __init__(self, client: UdpClient) -> None:
        self.client = client
        family = socket.AF_INET6 if ":" in client.address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
            sock.setblocking(False)
            sock.connect((client.address, client.port))
        except OSError:
            sock.close()
            raise
        self.sock = sock
        self.batcher = mmsg.Batcher(sock.fileno()) if mmsg.AVAILABLE else None
        self.outstanding: dict[int, Pending] = {}
        self.expired: dict[int, tuple[Pending, float]] = {}
        self.answered: dict[int, Pending] = {}
        self.order: collections.deque[Pending] = collections.deque()
        self.expiry_order: collections.deque[tuple[int, float]] = collections.deque()
        self.ids = _IdSource()
        client.loop.add_reader(sock.fileno(), self.on_readable)

    @property
    def load(self) -> int:
        return len(self.outstanding) + len(self.expired)

    def allocate(self) -> int:
        """A random ID not outstanding and not in its late-answer grace period."""
        ids, outstanding, expired = self.ids, self.outstanding, self.expired
        while True:
            qid = ids.next()
            if qid not in outstanding and qid not in expired:
                self.answered.pop(qid, None)
                return qid

    def close(self) -> None:
        self.client.loop.remove_reader(self.sock.fileno())
        self.sock.close()

    def on_readable(self) -> None:
        now = time.monotonic
        batcher = self.batcher
        if batcher is not None:
            for _ in range(8):
                try:
                    batch = batcher.recv()
                except OSError as exc:
                    self.fail_all(exc)
                    return
                received = now()
                for data in batch:
                    self.on_datagram(data, received)
                if len(batch) < mmsg.BATCH:
                    return
            return
        recv = self.sock.recv
        for _ in range(512):
            try:
                data = recv(MAX_DATAGRAM)
            except BlockingIOError:
                return
            except OSError as exc:
                # ICMP errors surface on the next recv of a connected socket (e.g. port
                # unreachable -> ECONNREFUSED); they concern this server, so every query
                # in flight to it fails with them.
                self.fail_all(exc)
                return
            self.on_datagram(data, now())

    def on_datagram(self, data: bytes, received: float) -> None:
        stray = self.client.stray
        if len(data) < 12:
            stray(data, received, f"datagram of {len(data)} octets (no header)")
            return
        qid = (data[0] << 8) | data[1]
        pending = self.outstanding.get(qid)
        if pending is not None:
            if not data[2] & 0x80:
                stray(data, received, f"datagram with query ID {qid} but no QR bit")
            elif question_matches(data, pending.template):
                del self.outstanding[qid]
                self.answered[qid] = pending
                result = pending.result
                result.wire = data
                result.received_at = received
                pending.callback(result)
                # Kept in ``answered`` until the ID is reused (duplicates): drop what
                # the caller's callback would otherwise pin (its whole batch).
                pending.callback = _spent
            else:
                # RFC 5452 section 9.1: accept only a response that echoes the question.
                # The query keeps waiting for its genuine answer.
                stray(data, received, f"response to query ID {qid} that does not echo the question")
            return
        entry = self.expired.get(qid)
        if entry is not None and question_matches(data, entry[0].template):
            self.client.report(entry[0], data, received, "late")
            return
        answered = self.answered.get(qid)
        if answered is not None and question_matches(data, answered.template):
            self.client.report(answered, data, received, "duplicate")
            return
        stray(data, received, f"response with unknown query ID {qid}")

    def sweep(self, now: float) -> None:
        order = self.order
        while order and order[0].deadline <= now:
            pending = order.popleft()
            if self.outstanding.get(pending.qid) is not pending:
                continue
            del self.outstanding[pending.qid]
            result = pending.result
            result.failure = Failure.GENERIC_TIMEOUT_ERROR
            result.detail = "no response before the deadline"
            release = now + self.client.late_grace
            self.expired[pending.qid] = (pending, release)
            self.expiry_order.append((pending.qid, release))
            pending.callback(result)
        expiry = self.expiry_order
        while expiry and expiry[0][1] <= now:
            qid, release = expiry.popleft()
            entry = self.expired.get(qid)
            if entry is not None and entry[1] == release:
                del self.expired[qid]

    def fail_all(self, exc: OSError) -> None:
        from fragscope.probes.errors import classify

        failure = classify(exc, Operation.DNS_ROUND_TRIP)
        for qid, pending in list(self.outstanding.items()):
            del self.outstanding[qid]
            pending.result.failure = failure.failure
            pending.result.detail = failure.detail
            pending.callback(pending.result)


class UdpClient:
    """All UDP traffic to one server address and port."""

    def __init__(
        self,
        address: str,
        port: int,
        *,
        late_grace: float = 3.0,
        on_late: LateHandler | None = None,
        on_stray: StrayHandler | None = None,
        sweep_interval: float = 0.02,
    ) -> None:
        self.address = address
        self.port = port
        self.late_grace = late_grace
        self.on_late = on_late
        self.on_stray = on_stray
        self.sweep_interval = sweep_interval
        self.loop = asyncio.get_running_loop()
        self.sockets: list[_Socket] = []
        self._sweeper: asyncio.TimerHandle | None = None
        self.closed = False

    def _socket(self) -> _Socket:
        for sock in self.sockets:
            if sock.load < _IDS_PER_SOCKET:
                return sock
        try:
            sock = _Socket(self)
        except OSError as exc:
            raise MeasurementError(
                Failure.NETWORK_UNREACHABLE
                if getattr(exc, "errno", None) == 101
                else Failure.UNKNOWN_FAILURE,
                Operation.CONNECT,
                f"{type(exc).__name__}: {exc}",
            ) from exc
        self.sockets.append(sock)
        return sock

    def send(
        self,
        template: QueryTemplate,
        *,
        timeout: float,
        callback: Callable[[UdpResult], None],
        context: Any = None,
    ) -> None:
        """Send one query; ``callback`` gets its result (answer, timeout or error)."""
        self.send_many([(template, callback, context)], timeout=timeout)

    def send_many(
        self,
        requests: list[tuple[QueryTemplate, Callable[[UdpResult], None], Any]],
        *,
        timeout: float,
    ) -> None:
        """Send many queries at once (sendmmsg batches where available)."""
        if self.closed:
            raise RuntimeError("UdpClient is closed")
        now = time.monotonic()
        deadline = now + timeout
        groups: dict[int, tuple[_Socket, list[Pending], list[bytes]]] = {}
        # One socket for the whole batch when it has IDs to spare for all of it (the
        # usual case), instead of a search per query.
        roomy = next((s for s in self.sockets if s.load + len(requests) <= _IDS_PER_SOCKET), None)
        for template, callback, context in requests:
            sock = roomy if roomy is not None else self._socket()
            qid = sock.allocate()
            pending = Pending(template, qid, deadline, callback, context, now)
            sock.outstanding[qid] = pending
            sock.order.append(pending)
            group = groups.get(id(sock))
            if group is None:
                group = groups[id(sock)] = (sock, [], [])
            group[1].append(pending)
            group[2].append(template.wire(qid))
        for sock, _pendings, wires in groups.values():
            done = 0
            batcher = sock.batcher
            try:
                while batcher is not None and done < len(wires):
                    sent = batcher.send(wires[done : done + mmsg.BATCH])
                    if sent == 0:
                        break
                    done += sent
                for i in range(done, len(wires)):
                    sock.sock.send(wires[i])
                    done = i + 1
            except OSError as exc:
                # A pending ICMP error (e.g. port unreachable) surfaces on whichever call
                # comes next, here a send, and is then cleared: it concerns the server, so
                # every query in flight on this socket fails with it, sent or not.
                sock.fail_all(exc)
        if self._sweeper is None and requests:
            self._sweeper = self.loop.call_later(self.sweep_interval, self._sweep)

    async def exchange(self, template: QueryTemplate, *, timeout: float) -> UdpResult:
        fut: asyncio.Future[UdpResult] = self.loop.create_future()

        def done(result: UdpResult) -> None:
            if not fut.done():
                fut.set_result(result)

        self.send(template, timeout=timeout, callback=done)
        return await fut

    def report(self, pending: Pending, wire: bytes, received: float, kind: str) -> None:
        if self.on_late is not None:
            self.on_late(pending, wire, received, kind)

    def stray(self, wire: bytes, received: float, why: str) -> None:
        if self.on_stray is not None:
            self.on_stray(wire, received, why)

    def _sweep(self) -> None:
        self._sweeper = None
        now = time.monotonic()
        busy = False
        for sock in self.sockets:
            sock.sweep(now)
            busy = busy or bool(sock.outstanding) or bool(sock.expired)
        if busy and not self.closed:
            self._sweeper = self.loop.call_later(self.sweep_interval, self._sweep)

    @property
    def outstanding(self) -> int:
        return sum(len(s.outstanding) for s in self.sockets)

    def close(self) -> None:
        """Close every socket; queries still in flight get an ``interrupted`` result."""
        self.closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for sock in self.sockets:
            for pending in list(sock.outstanding.values()):
                pending.result.failure = Failure.INTERRUPTED
                pending.result.detail = "client closed while the query was in flight"
                pending.callback(pending.result)
            sock.outstanding.clear()
            sock.close()
        self.sockets.clear()
