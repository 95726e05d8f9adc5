"""The lab's ENS-to-HTTP gateway bridges, in the manner of eth.limo: ``GET /{name}`` answers
with the name's ENS contenthash as an ``X-Ipfs-Path: /ipfs/CID`` header (does network I/O:
it listens, asks the lab's chain over JSON-RPC and follows EIP-3668 to the CCIP-read
gateway).

A bridge reads the chain at every request: the ENSIP-10 resolver of the name (the registry's
resolver of the name itself, else of its closest ancestor), then ``contenthash(node)``
(EIP-1577), through ``resolve(bytes,bytes)`` when the resolver supports it. A *stale* bridge
is the same except for the names lab/truth.toml's ``[[chain.bridges]]`` ``stale`` table
lists: those get the older path planted there, as a gateway serving an outdated cache
would. Bridge fidelity (docs/indicators.md, N4's AGF) judges both against the chain.

Answers: 200 with X-Ipfs-Path for an ``ipfs-ns``/``ipns-ns`` contenthash; 501 for another
protocol (swarm: an IPFS HTTP gateway cannot serve it, so the pointer is lost); 404 when the
name has no resolver or no contenthash; 502 when the chain or the CCIP-read gateway fails.

Runnable as a process: python -m fragscope.lab.chain.bridge --host H --port P --rpc URL
--registry ADDRESS [--stale NAME=/ipfs/CID ...].
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import signal
import threading
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from fragscope.lab.chain.abi import decode, dns_encode, encode, namehash, selector
from fragscope.lab.chain.gateway import CONTENTHASH, RESOLVE
from fragscope.lab.chain.rpc import CallReverted, JsonRpc, RpcError

REGISTRY_RESOLVER = selector("resolver(bytes32)")
OFFCHAIN_LOOKUP = selector("OffchainLookup(address,string[],bytes,bytes4,bytes)")
UNSUPPORTED_PROFILE = selector("UnsupportedResolverProfile(bytes4)")
SUPPORTS_INTERFACE = selector("supportsInterface(bytes4)")  # ERC-165
EXTENDED = RESOLVE  # ENSIP-10: the interface id is resolve(bytes,bytes)'s selector
ZERO_ADDRESS = b"\x00" * 20
# EIP-1577 namespace codes as multiformats unsigned varints: ipfs-ns 0xe3, ipns-ns 0xe5.
SERVED_NAMESPACES = {b"\xe3\x01": "ipfs", b"\xe5\x01": "ipns"}
CIDV1_DAG_PB = b"\x01\x70"  # CIDv1, dag-pb: what a CIDv0 (a bare sha2-256 multihash) means


class BridgeError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def content_path(contenthash: bytes) -> str:
    """``/ipfs/<CIDv1 base32>`` or ``/ipns/...`` of an EIP-1577 contenthash (pure); a
    BridgeError 501 for a protocol an IPFS gateway does not serve."""
    namespace = SERVED_NAMESPACES.get(contenthash[:2])
    if namespace is None:
        raise BridgeError(501, f"contenthash 0x{contenthash[:2].hex()}... is not IPFS or IPNS")
    cid = contenthash[2:]
    if cid[:2] == b"\x12\x20":  # a CIDv0 multihash: write it as the equivalent CIDv1
        cid = CIDV1_DAG_PB + cid
    text = base64.b32encode(cid).decode().lower().rstrip("=")
    return f"/{namespace}/b{text}"  # "b": the multibase prefix of base32 lower case


@dataclass
class ChainReader:
    """The ENS side of a bridge: a name's contenthash from the chain (None when it has none)."""

    rpc: JsonRpc
    registry: str

    def contenthash(self, name: str) -> bytes | None:
        labels = name.split(".")
        node = namehash(name)
        inner = CONTENTHASH + node
        for i in range(len(labels)):
            resolver = self._resolver(".".join(labels[i:]))
            if resolver is None:
                continue
            if not self._extended(resolver):
                # ENSIP-10: a resolver without resolve() answers for its own name only.
                return _bytes_result(self.rpc.eth_call(resolver, inner)) if i == 0 else None
            request = RESOLVE + encode(["bytes", "bytes"], [dns_encode(name), inner])
            try:
                out = self.rpc.eth_call(resolver, request)
            except CallReverted as rev:
                if rev.data[:4] == UNSUPPORTED_PROFILE:
                    return None  # the wildcard resolver has no contenthash profile
                if rev.data[:4] != OFFCHAIN_LOOKUP:
                    raise BridgeError(502, f"resolve() reverted: 0x{rev.data[:4].hex()}") from None
                out = self._offchain(resolver, rev.data)
            return _bytes_result(bytes(decode(["bytes"], out)[0]))
        return None

    def _resolver(self, name: str) -> str | None:
        word = self.rpc.eth_call(self.registry, REGISTRY_RESOLVER + namehash(name))
        return None if word[-20:] == ZERO_ADDRESS else "0x" + word[-20:].hex()

    def _extended(self, resolver: str) -> bool:
        """supportsInterface(ENSIP-10's resolve(bytes,bytes)), false when it reverts."""
        try:
            word = self.rpc.eth_call(resolver, SUPPORTS_INTERFACE + encode(["bytes4"], [EXTENDED]))
        except CallReverted:
            return False
        return word[-1:] == b"\x01"

    def _offchain(self, resolver: str, revert: bytes) -> bytes:
        """EIP-3668 "Client Lookup Protocol": the gateway's answer, checked by the callback."""
        sender, urls, call_data, callback, extra = decode(
            ["address", "string[]", "bytes", "bytes4", "bytes"], revert[4:]
        )
        if str(sender).lower() != resolver.lower() or not urls:
            raise BridgeError(502, "OffchainLookup from another contract, or without URLs")
        url = urls[0].replace("{sender}", str(sender).lower())
        url = url.replace("{data}", "0x" + call_data.hex())
        try:
            with urllib.request.urlopen(url, timeout=self.rpc.timeout) as resp:
                response = bytes.fromhex(json.loads(resp.read())["data"][2:])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BridgeError(502, f"CCIP-read gateway: {type(exc).__name__}: {exc}") from None
        try:
            answer = callback + encode(["bytes", "bytes"], [response, extra])
            return self.rpc.eth_call(str(sender), answer)
        except CallReverted as rev:
            raise BridgeError(502, f"callback reverted: 0x{rev.data[:4].hex()}") from None


def _bytes_result(out: bytes) -> bytes | None:
    """The contenthash of an ABI ``bytes`` return value; None when empty."""
    (value,) = decode(["bytes"], out)
    return bytes(value) or None


@dataclass
class Bridge:
    """One bridge's answers (pure apart from the chain reads): name -> (status, path)."""

    reader: ChainReader
    stale: dict[str, str] = field(default_factory=dict)  # name -> the cached path it serves

    def answer(self, name: str) -> str:
        """The X-Ipfs-Path of ``name``; BridgeError with the HTTP status otherwise."""
        try:
            current = self.reader.contenthash(name)
        except RpcError as exc:
            raise BridgeError(502, f"chain: {exc}") from None
        if current is None:
            raise BridgeError(404, f"{name} has no contenthash")
        path = content_path(current)
        return self.stale.get(name, path)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        name = unquote(self.path.split("?", 1)[0].strip("/"))  # %-escapes: UTF-8 (RFC 3986)
        try:
            if not name or "/" in name:
                raise BridgeError(404, "expected /{name}")
            path = self.server.bridge.answer(name.lower())
        except BridgeError as exc:
            self._reply(exc.status, {"message": str(exc)}, [])
            return
        self._reply(200, {"name": name, "path": path}, [("X-Ipfs-Path", path)])

    def _reply(self, status: int, body: dict[str, Any], headers: list[tuple[str, str]]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        for key, value in [("content-type", "application/json"), *headers]:
            self.send_header(key, value)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request helps nobody in the lab's logs


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    bridge: Bridge


def bridge_service_argv(
    python: str, host: str, port: int, rpc_url: str, registry: str, stale: dict[str, str]
) -> tuple[str, ...]:
    """Command line that runs one bridge as its own process (the lab's service table)."""
    argv = [python, "-m", "fragscope.lab.chain.bridge", "--host", host, "--port", str(port)]
    argv += ["--rpc", rpc_url, "--registry", registry]
    for name, path in sorted(stale.items()):
        argv += ["--stale", f"{name}={path}"]
    return tuple(argv)


def start_bridge(bridge: Bridge, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Serve ``bridge`` on host:port (0: a free port) in a daemon thread; ``.shutdown()`` and
    ``.server_close()`` end it."""
    server = _Server((host, port), _Handler)
    server.bridge = bridge
    threading.Thread(target=server.serve_forever, name="bridge", daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="fragscope lab ENS-to-HTTP gateway bridge")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rpc", required=True, help="the chain's JSON-RPC URL")
    parser.add_argument("--registry", required=True, help="the ENS registry's address")
    parser.add_argument(
        "--stale", action="append", default=[], metavar="NAME=PATH", help="serve PATH for NAME"
    )
    args = parser.parse_args(argv)
    stale = dict(item.split("=", 1) for item in args.stale)
    reader = ChainReader(JsonRpc(args.rpc, timeout=5.0), args.registry)
    server = start_bridge(Bridge(reader, stale), args.host, args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
