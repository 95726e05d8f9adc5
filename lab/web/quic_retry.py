"""An HTTP/3 server that always sends a QUIC Retry first (aioquic's server, retry=True).

Does I/O (serves until SIGTERM). Hypercorn has no Retry option, and probes need a host
that validates addresses with Retry (RFC 9000 section 8.1.2) to test their Retry column.
Run as ``python -m fragscope.lab.web.quic_retry --bind ADDR --port N --cert C --key K``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import serve
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ProtocolNegotiated, QuicEvent

SERVER = b"aioquic-retry"


class _H3(QuicConnectionProtocol):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._h3: H3Connection | None = None

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ProtocolNegotiated) and event.alpn_protocol in H3_ALPN:
            self._h3 = H3Connection(self._quic)
        if self._h3 is None:
            return
        for h3_event in self._h3.handle_event(event):
            if isinstance(h3_event, HeadersReceived):
                body = b"hello after a Retry\n"
                self._h3.send_headers(
                    h3_event.stream_id,
                    [
                        (b":status", b"200"),
                        (b"server", SERVER),
                        (b"content-length", str(len(body)).encode()),
                    ],
                )
                self._h3.send_data(h3_event.stream_id, body, end_stream=True)
                self.transmit()


async def _main(args: argparse.Namespace) -> None:
    cfg = QuicConfiguration(is_client=False, alpn_protocols=H3_ALPN)
    cfg.load_cert_chain(args.cert, args.key)
    server = await serve(args.bind, args.port, configuration=cfg, create_protocol=_H3, retry=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bind", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
