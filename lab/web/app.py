"""The ASGI apps the lab's Hypercorn hosts serve. No I/O beyond answering requests.

``app`` answers every request with a short text naming the HTTP version (so a test can
see HTTP/3 was used) and ``hostile_app`` puts a script tag in its page and the planted hostile
Server header (script tag, ESC and C1 control sequences) in its responses, for the escaping
tests. Alt-Svc is never set here: Hypercorn adds the one header the host
config asks for (``alt_svc_headers``), so each response carries exactly one.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

HOSTILE_STRING = "<script>alert(1)</script>"
"""Planted in the hostile host's page (and its Server header unless the truth plants another
one); stored verbatim, escaped on render."""
SERVER_HEADER_ENV = "FRAGSCOPE_LAB_SERVER_HEADER"
"""The Server header the hostile host sends: lab/truth.toml's ``server_header``, which may
hold control characters (ESC, C1 CSI) that HTTP/1.1 and h2 carry as header bytes."""


async def _drain(receive: Receive) -> None:
    # Read the request body to its end so HTTP/1.1 keep-alive stays consistent.
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _respond(send: Send, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _http_request(scope: Scope, receive: Receive, send: Send) -> bool:
    """Serve lifespan, ignore other non-HTTP scopes; True for an HTTP request (body read)."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return False
    if scope["type"] != "http":
        return False
    await _drain(receive)
    return True


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if await _http_request(scope, receive, send):
        body = f"hello via HTTP/{scope['http_version']}\n".encode()
        await _respond(send, body if scope["method"] != "HEAD" else b"", [])


async def hostile_app(scope: Scope, receive: Receive, send: Send) -> None:
    if await _http_request(scope, receive, send):
        body = f"<html><body>{HOSTILE_STRING}</body></html>\n".encode()
        server = os.environ.get(SERVER_HEADER_ENV, HOSTILE_STRING)
        await _respond(send, body, [(b"server", server.encode())])
