"""An HTTP/3-only server (aioquic's own server) for the QUIC plants Hypercorn cannot make.

Does I/O (serves until SIGTERM). Two plants (docs/lab.md, lab/truth.toml [web.*]):
- ``--retry``: every first Initial gets a Retry, so probes can test their Retry column
  (RFC 9000 section 8.1.2); Hypercorn has no Retry option;
- ``--version HEX`` (repeatable): the only versions it speaks. aioquic's server answers an
  Initial of any other version with a Version Negotiation listing exactly these (RFC 9000
  section 6.1), so a server offering only a draft version (0xff00001d) is neither v1 nor
  v2 to a client: what T3 (docs/indicators.md) counts.
Run as ``python -m fragscope.lab.web.quic_only --bind ADDR --port N --cert C --key K
[--retry] [--version 0xff00001d ...]``.
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

SERVER_RETRY = b"aioquic-retry"
SERVER_PLAIN = b"aioquic"


class _H3(QuicConnectionProtocol):
    server = SERVER_PLAIN

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
                body = b"hello from aioquic\n"
                self._h3.send_headers(
                    h3_event.stream_id,
                    [
                        (b":status", b"200"),
                        (b"server", self.server),
                        (b"content-length", str(len(body)).encode()),
                    ],
                )
                self._h3.send_data(h3_event.stream_id, body, end_stream=True)
                self.transmit()


async def _main(args: argparse.Namespace) -> None:
    cfg = QuicConfiguration(is_client=False, alpn_protocols=H3_ALPN)
    if args.version:
        cfg.supported_versions = list(args.version)
    cfg.load_cert_chain(args.cert, args.key)
    protocol = type("_H3Retry", (_H3,), {"server": SERVER_RETRY}) if args.retry else _H3
    server = await serve(
        args.bind, args.port, configuration=cfg, create_protocol=protocol, retry=args.retry
    )
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
    parser.add_argument("--retry", action="store_true", help="send a Retry first")
    parser.add_argument(
        "--version",
        action="append",
        type=lambda v: int(v, 0),
        help="a QUIC version it speaks (repeatable; default aioquic's v1 and v2)",
    )
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
