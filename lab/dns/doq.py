"""A small DNS-over-QUIC (RFC 9250) server that forwards to a lab resolver. Network I/O.

Run inside the lab namespace as
``python -m fragscope.lab.dns.doq --listen ADDR --port 853 --cert F --key F --upstream ADDR:PORT``.
There is no default upstream: it must be a lab address (unlike aioquic's
example server, which defaults to a public resolver). Each query arrives on its
own bidirectional stream with a 2-octet length prefix (RFC 9250 section 4.2) and message
ID 0 (section 4.2.1); it is forwarded over UDP, retried over TCP when truncated, and the
answer goes back on the same stream, which is then closed (FIN).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import struct
import sys

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import serve
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import QuicEvent, StreamDataReceived

from fragscope.lab.core.guard import require_lab_address

LOG = logging.getLogger("fragscope.lab.dns.doq")
DOQ_PROTOCOL_ERROR = 0x2  # RFC 9250 section 4.3
UPSTREAM_TIMEOUT_S = 5.0


class _UdpExchange(asyncio.DatagramProtocol):
    def __init__(self, query_id: bytes) -> None:
        self.query_id = query_id
        self.answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: object) -> None:
        # Only an answer carrying our random ID counts (RFC 5452 section 9.1).
        if len(data) >= 12 and data[:2] == self.query_id and not self.answer.done():
            self.answer.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)


async def forward(query: bytes, host: str, port: int) -> bytes:
    """Send ``query`` to the upstream over UDP (TCP if truncated) with a fresh random ID."""
    qid = os.urandom(2)
    wire = qid + query[2:]
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        lambda: _UdpExchange(qid), remote_addr=(host, port)
    )
    try:
        transport.sendto(wire)
        answer = await asyncio.wait_for(proto.answer, UPSTREAM_TIMEOUT_S)
    finally:
        transport.close()
    if answer[2] & 0x02:  # TC bit (RFC 1035 section 4.1.1): retry over TCP (RFC 7766)
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), UPSTREAM_TIMEOUT_S
        )
        try:
            writer.write(struct.pack("!H", len(wire)) + wire)
            await writer.drain()
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            answer = await asyncio.wait_for(reader.readexactly(length), UPSTREAM_TIMEOUT_S)
        finally:
            writer.close()
    return query[:2] + answer[2:]  # restore the client's ID (0 on DoQ)


class DoqProtocol(QuicConnectionProtocol):
    upstream: tuple[str, int] = ("", 0)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._buffers: dict[int, bytearray] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # keep answering tasks referenced

    def quic_event_received(self, event: QuicEvent) -> None:
        if not isinstance(event, StreamDataReceived):
            return
        buf = self._buffers.setdefault(event.stream_id, bytearray())
        buf += event.data
        if event.end_stream:
            data = bytes(self._buffers.pop(event.stream_id))
            task = asyncio.ensure_future(self._answer(event.stream_id, data))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _answer(self, stream_id: int, data: bytes) -> None:
        if len(data) < 2 + 12 or struct.unpack("!H", data[:2])[0] != len(data) - 2:
            # A malformed frame is a protocol error for the stream (RFC 9250 section 4.3.3).
            self._quic.reset_stream(stream_id, DOQ_PROTOCOL_ERROR)
            self.transmit()
            return
        try:
            answer = await forward(data[2:], *self.upstream)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            LOG.warning("upstream %s:%d failed: %r", *self.upstream, exc)
            self._quic.reset_stream(stream_id, 0x1)  # DOQ_INTERNAL_ERROR
            self.transmit()
            return
        self._quic.send_stream_data(stream_id, struct.pack("!H", len(answer)) + answer, True)
        self.transmit()


def parse_upstream(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    try:
        require_lab_address(host, "forward to")
    except ValueError as exc:
        raise SystemExit(f"--upstream {text}: {exc}") from None
    return host, int(port)


async def main_async(args: argparse.Namespace) -> None:
    config = QuicConfiguration(is_client=False, alpn_protocols=["doq"])
    config.load_cert_chain(args.cert, args.key)
    DoqProtocol.upstream = parse_upstream(args.upstream)
    await serve(args.listen, args.port, configuration=config, create_protocol=DoqProtocol)
    LOG.info("DoQ on %s:%d -> %s", args.listen, args.port, args.upstream)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fragscope.lab.dns.doq", description=__doc__)
    p.add_argument("--listen", required=True, help="address to bind (UDP)")
    p.add_argument("--port", type=int, default=853, help="UDP port (RFC 9250: 853)")
    p.add_argument("--cert", required=True, help="certificate chain (PEM)")
    p.add_argument("--key", required=True, help="private key (PEM)")
    p.add_argument("--upstream", required=True, help="resolver ADDR:PORT inside the lab")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
