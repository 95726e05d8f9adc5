"""The naming HTTP client against raw local TCP servers: chunked, close-delimited and
oversized bodies, bad status lines, and the policy check before connecting."""

from __future__ import annotations

import asyncio

import pytest

from fragscope.db.vocab import Failure
from fragscope.probes.errors import MeasurementError
from fragscope.probes.naming import http
from fragscope.probes.safety import NetworkPolicy


async def _serve_once(reply: bytes) -> tuple[asyncio.AbstractServer, str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(reply)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/x"


def fetch(reply: bytes) -> http.Response:
    async def go() -> http.Response:
        server, url = await _serve_once(reply)
        async with server:
            return await http.request("GET", url, policy=NetworkPolicy.from_env(), timeout=3)

    return asyncio.run(go())


def test_chunked_and_close_delimited_bodies() -> None:
    chunked = fetch(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"
    )
    assert chunked.status == 200 and chunked.body == b"hello world"
    big = b"x" * 200_000
    eof = fetch(b"HTTP/1.0 200 OK\r\nX-A: 1\r\n\r\n" + big)
    assert eof.body == big and eof.header("x-a") == "1"


@pytest.mark.parametrize(
    "reply",
    [
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    ],
)
def test_malformed_responses_are_http_errors(reply: bytes) -> None:
    with pytest.raises(MeasurementError) as info:
        fetch(reply)
    assert info.value.failure == Failure.HTTP_ERROR


def test_oversized_body_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "MAX_BODY", 1000)
    with pytest.raises(MeasurementError, match="larger than 1000"):
        fetch(b"HTTP/1.0 200 OK\r\n\r\n" + b"y" * 5000)


def test_policy_and_url_checks() -> None:
    async def go(url: str) -> None:
        await http.request("GET", url, policy=NetworkPolicy.from_env(), timeout=1)

    with pytest.raises(MeasurementError) as info:
        asyncio.run(go("http://198.51.100.7/"))
    assert info.value.failure == Failure.BLOCKED_BY_POLICY
    with pytest.raises(MeasurementError) as info:
        asyncio.run(go("ftp://127.0.0.1/"))
    assert info.value.failure == Failure.INVALID_INPUT
    assert http.depends_on_icann_dns("https://dns.eth.limo/dns-query")
    assert not http.depends_on_icann_dns("http://127.0.0.1:8545")
    assert not http.depends_on_icann_dns("http://[::1]:8545/")
