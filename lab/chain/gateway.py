"""The lab's EIP-3668 CCIP-read gateway: an HTTP server (stdlib http.server in a thread) that
answers OffchainResolver lookups from truth.toml (does network I/O: it listens).

URL template (EIP-3668 section "Gateway interface"): GET {url}/{sender}/{data}.json, or POST
with a JSON body {"sender": ..., "data": ...}. ``data`` is the OffchainLookup callData, i.e.
resolve(bytes name, bytes inner) calldata; the answer is {"data": abi.encode(bytes result,
bytes32 binding)} as OffchainResolver.sol documents. Errors are JSON {"message": ...} with
4xx/5xx status, as the EIP specifies. Per-name behaviour (ok, http-500, bad-binding) comes
from truth.toml and can be changed at run time with fail_for().

Also runnable as a process: python -m fragscope.lab.chain.gateway --host H --port P [--fail NAME].
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import signal
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fragscope.lab.chain.abi import decode, dns_decode, encode, keccak, namehash, selector
from fragscope.lab.chain.schema import GATEWAY_MODES, TRUTH_PATH, ChainPlan, Records, load_plan

RESOLVE = selector("resolve(bytes,bytes)")
ADDR = selector("addr(bytes32)")
ADDR_COIN = selector("addr(bytes32,uint256)")
TEXT = selector("text(bytes32,string)")
CONTENTHASH = selector("contenthash(bytes32)")
COIN_ETH = 60  # SLIP-44 (ENSIP-9)
MAX_BODY = 64 * 1024
_PATH = re.compile(r"^/(0x[0-9a-fA-F]{40})/(0x[0-9a-fA-F]*)\.json$")


class GatewayError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Answerer:
    """The gateway's logic without the HTTP server (pure apart from the request log)."""

    truth: ChainPlan
    modes: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, str, int]] = field(default_factory=list)  # (sender, name, status)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.modes = {n.name: n.gateway for n in self.truth.offchain_names} | self.modes

    def fail_for(self, name: str, mode: str = "http-500") -> None:
        if mode not in GATEWAY_MODES:
            raise ValueError(f"mode must be one of {GATEWAY_MODES}, not {mode!r}")
        with self._lock:
            self.modes[name] = mode

    def answer(self, sender: str, data_hex: str) -> dict[str, str]:
        name = "?"
        try:
            sender_bytes = _address(sender)
            request = _hex(data_hex)
            if request[:4] != RESOLVE:
                raise GatewayError(400, "request is not resolve(bytes,bytes) calldata")
            try:
                wire, inner = decode(["bytes", "bytes"], request[4:])
                name = dns_decode(wire)
            except Exception as exc:  # eth-abi raises several types on garbage
                raise GatewayError(400, f"undecodable request: {exc}") from None
            with self._lock:
                mode = self.modes.get(name)
            entry = self.truth.offchain(name)
            if mode is None or entry is None:
                raise GatewayError(404, f"no off-chain records for {name}")
            if mode == "http-500":
                raise GatewayError(500, f"gateway told to fail for {name}")
            result = _inner_result(name, inner, entry.records)
            binding = keccak(sender_bytes + keccak(request) + keccak(result))
            if mode == "bad-binding":
                binding = bytes([binding[0] ^ 0xFF]) + binding[1:]
            self._log(sender, name, 200)
            return {"data": "0x" + encode(["bytes", "bytes32"], [result, binding]).hex()}
        except GatewayError as exc:
            self._log(sender, name, exc.status)
            raise

    def _log(self, sender: str, name: str, status: int) -> None:
        with self._lock:
            self.requests.append((sender.lower(), name, status))


def _inner_result(name: str, inner: bytes, records: Records) -> bytes:
    """The ABI return value of the inner resolver call, per EIP-137/ENSIP-9/ENSIP-5/EIP-1577."""
    if len(inner) < 36:
        raise GatewayError(400, "inner call shorter than selector + node")
    if inner[4:36] != namehash(name):
        raise GatewayError(400, f"inner call's node is not namehash({name})")
    sel = inner[:4]
    try:
        if sel == ADDR:
            return encode(["address"], [records.addr or "0x" + "00" * 20])
        if sel == ADDR_COIN:
            (_, coin) = decode(["bytes32", "uint256"], inner[4:])
            if coin == COIN_ETH and records.addr:
                value = bytes.fromhex(records.addr[2:])
            else:
                value = records.coins.get(coin, b"")
            return encode(["bytes"], [value])
        if sel == TEXT:
            (_, key) = decode(["bytes32", "string"], inner[4:])
            return encode(["string"], [records.text.get(key, "")])
        if sel == CONTENTHASH:
            return encode(["bytes"], [records.contenthash or b""])
    except GatewayError:
        raise
    except Exception as exc:
        raise GatewayError(400, f"undecodable inner call: {exc}") from None
    raise GatewayError(400, f"unsupported resolver profile 0x{sel.hex()}")


def _address(text: str) -> bytes:
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", text):
        raise GatewayError(400, f"sender is not a 20-byte hex address: {text[:60]!r}")
    return bytes.fromhex(text[2:])


def _hex(text: str) -> bytes:
    if not isinstance(text, str) or not text.startswith("0x"):
        raise GatewayError(400, "data is not 0x-prefixed hex")
    try:
        return bytes.fromhex(text[2:])
    except ValueError:
        raise GatewayError(400, "data is not valid hex") from None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        match = _PATH.match(self.path.split("?", 1)[0])
        if match is None:
            self._reply(404, {"message": "expected /{sender}/{data}.json"})
            return
        self._answer(match.group(1), match.group(2))

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            self._reply(413, {"message": "request body too large"})
            return
        try:
            body = json.loads(self.rfile.read(length))
            sender, data = body["sender"], body["data"]
        except (ValueError, KeyError, TypeError):
            self._reply(400, {"message": "body must be JSON {sender, data}"})
            return
        self._answer(str(sender), str(data))

    def _answer(self, sender: str, data: str) -> None:
        try:
            self._reply(200, self.server.answerer.answer(sender, data))
        except GatewayError as exc:
            self._reply(exc.status, {"message": str(exc)})

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        # EIP-3668 asks gateways to allow any origin, so browser clients can use them.
        self.send_header("access-control-allow-origin", "*")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the Answerer keeps a request log; stderr chatter helps nobody in tests


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    answerer: Answerer


class CcipGateway:
    """The gateway serving on host:port in a background thread; ``port=0`` picks a free port."""

    def __init__(self, truth: ChainPlan, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.answerer = Answerer(truth)
        self._server = _Server((host, port), _Handler)
        self._server.answerer = self.answerer
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else str(host)
        host_text = f"[{host}]" if ":" in host else host
        return f"http://{host_text}:{port}"

    def fail_for(self, name: str, mode: str = "http-500") -> None:
        self.answerer.fail_for(name, mode)

    def start(self) -> CcipGateway:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ccip-gateway", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()


def start_gateway(
    host: str = "127.0.0.1", port: int = 0, *, truth: ChainPlan | None = None
) -> CcipGateway:
    """Start the gateway in this process; call .stop() to end it."""
    return CcipGateway(truth or load_plan(), host=host, port=port).start()


def gateway_service_argv(host: str, port: int, *, python: str = sys.executable) -> list[str]:
    """Command line that runs the gateway as its own process (for the lab's service table)."""
    return [python, "-m", "fragscope.lab.chain.gateway", "--host", host, "--port", str(port)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="fragscope lab CCIP-read (EIP-3668) gateway")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--truth", type=Path, default=TRUTH_PATH)
    parser.add_argument(
        "--fail",
        action="append",
        default=[],
        metavar="NAME",
        help="answer HTTP 500 for NAME (repeatable)",
    )
    args = parser.parse_args(argv)
    gateway = CcipGateway(load_plan(args.truth), host=args.host, port=args.port)
    for name in args.fail:
        gateway.fail_for(name)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    gateway.start()
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    gateway.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
