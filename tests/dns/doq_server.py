"""A minimal DNS-over-QUIC server (RFC 9250) for tests: forwards each query to a Do53
upstream over UDP and returns the answer on the same stream. Does I/O.

Run as ``python -m tests.dns.doq_server --host H --port P --cert C --key K --upstream U``;
it prints "listening" once bound. The upstream is always given (never a public default).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import socket
import struct

from aioquic.asyncio import QuicConnectionProtocol, serve
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import QuicEvent, StreamDataReceived


async def _forward(query: bytes, upstream: str) -> bytes:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        sock.connect((upstream, 53))
        qid = secrets.randbelow(65536)
        await loop.sock_sendall(sock, struct.pack("!H", qid) + query[2:])
        async with asyncio.timeout(5):
            while True:
                data = await loop.sock_recv(sock, 65535)
                if data[:2] == struct.pack("!H", qid):
                    # RFC 9250 section 4.2.1: the message ID on the stream is 0.
                    return b"\x00\x00" + data[2:]
    finally:
        sock.close()


class DoQProtocol(QuicConnectionProtocol):
    upstream = "127.0.0.1"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._buffers: dict[int, bytes] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, StreamDataReceived):
            data = self._buffers.pop(event.stream_id, b"") + event.data
            if not event.end_stream:
                self._buffers[event.stream_id] = data
                return
            task = asyncio.ensure_future(self._answer(event.stream_id, data))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _answer(self, stream_id: int, data: bytes) -> None:
        (length,) = struct.unpack_from("!H", data)
        answer = await _forward(data[2 : 2 + length], self.upstream)
        self._quic.send_stream_data(stream_id, struct.pack("!H", len(answer)) + answer, True)
        self.transmit()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, default=853)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    DoQProtocol.upstream = args.upstream
    config = QuicConfiguration(alpn_protocols=["doq"], is_client=False)
    config.load_cert_chain(args.cert, args.key)
    await serve(args.host, args.port, configuration=config, create_protocol=DoQProtocol)
    print("listening", flush=True)
    await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
