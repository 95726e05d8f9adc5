"""Hostile and broken servers give failure rows with detail, never a crash: a JSON-RPC
node returning errors, reverts, a wrong chain id, garbage, wrong ids, bad HTTP; a
Namecoin stub (no real Namecoin peer can run here, see docs/naming.md); and the policy."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fragscope.db.vocab import Failure
from fragscope.probes.base import Endpoint, Observation, Task
from fragscope.probes.naming import ens
from fragscope.probes.naming.probe import NamingConfig, NamingProbe
from fragscope.probes.safety import NetworkPolicy

Reply = tuple[int, dict[str, str], bytes]


def run(
    name: str,
    url: str,
    *,
    namespace: str = "ens",
    method: str = "eth-rpc",
    policy: NetworkPolicy | None = None,
    **options: Any,
) -> Observation:
    probe = NamingProbe(
        NamingConfig(timeout_s=2.0, text_keys=("url",)), policy=policy or NetworkPolicy.from_env()
    )
    ep = Endpoint(url=url, namespace=namespace, options={"method": method, **options})
    task = Task(
        key="k",
        probe=probe.name,
        target=name,
        endpoint=ep,
        params={"namespace": namespace},
        deadline_s=5.0,
    )
    return asyncio.run(probe.measure(task))


def jsonrpc_node(answer: Callable[[dict[str, Any]], Any]) -> Callable[..., Reply]:
    """A handler answering each JSON-RPC request with answer(request) (a dict or bytes)."""

    def handler(method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        req = json.loads(body)
        out = answer(req)
        if isinstance(out, bytes):
            return 200, {"Content-Type": "application/json"}, out
        if isinstance(out, tuple):
            return out
        return (
            200,
            {"Content-Type": "application/json"},
            json.dumps({"jsonrpc": "2.0", "id": req["id"], **out}).encode(),
        )

    return handler


def chain_then(eth_call: Callable[[dict[str, Any]], Any], chain: str = "0x1") -> Callable[..., Any]:
    def answer(req: dict[str, Any]) -> Any:
        if req["method"] == "eth_chainId":
            return {"result": chain}
        if req["method"] == "eth_blockNumber":
            return {"result": "0x10"}
        return eth_call(req)

    return answer


ERROR_STRING = "0x08c379a0" + ens.Call("x(string)", ()).encode("nope")[4:].hex()


@pytest.mark.parametrize(
    ("case", "answer", "expect"),
    [
        (
            "json-rpc error",
            chain_then(lambda r: {"error": {"code": -32000, "message": "boom"}}),
            "JSON-RPC error -32000: boom",
        ),
        (
            "revert with reason",
            chain_then(
                lambda r: {
                    "error": {"code": 3, "message": "execution reverted", "data": ERROR_STRING}
                }
            ),
            # The Universal Resolver (method eth-rpc) reverting every call with no ENSIP-23
            # error: a failure naming the reason, not a silent not_found.
            "reverted every call: revert: nope",
        ),
        ("garbage body", chain_then(lambda r: b"<html>not json</html>"), "not JSON"),
        ("non-hex result", chain_then(lambda r: {"result": "0xZZ"}), "not 0x-hex"),
        ("short result", chain_then(lambda r: {"result": "0x01"}), "garbage"),
        (
            "wrong id",
            chain_then(lambda r: b'{"jsonrpc":"2.0","id":999,"result":"0x"}'),
            "response id 999",
        ),
        ("no result", chain_then(lambda r: {"foo": 1}), "neither result nor error"),
        ("bad chain id", lambda r: {"result": "chain-one"}, "not a 0x-hex quantity"),
        ("array body", chain_then(lambda r: b"[1,2,3]"), "not a JSON object"),
        ("http 500", chain_then(lambda r: (500, {}, b"oops")), "HTTP 500"),
        (
            "bad content-length",
            chain_then(lambda r: (200, {"Content-Length": "99999999999"}, b"")),
            "Content-Length",
        ),
    ],
)
def test_hostile_json_rpc_gives_eth_rpc_error(
    http_server: Callable[..., Any], case: str, answer: Callable[..., Any], expect: str
) -> None:
    server = http_server(jsonrpc_node(answer))
    obs = run("alice.eth", server.url, registry="0x" + "11" * 20)
    assert obs.failure == Failure.ETH_RPC_ERROR, (case, obs.failure, obs.failure_detail)
    assert expect in (obs.failure_detail or ""), (case, obs.failure_detail)
    assert obs.fields["name_normalized"] == "alice.eth"


def test_wrong_chain_id(http_server: Callable[..., Any]) -> None:
    server = http_server(jsonrpc_node(chain_then(lambda r: {"result": "0x"}, chain="0x2a")))
    obs = run("alice.eth", server.url, chain_id=1)
    assert obs.failure == Failure.ETH_RPC_ERROR
    assert "wrong chain id: endpoint says 42" in (obs.failure_detail or "")


def test_hostile_offchain_lookup_sender_mismatch(http_server: Callable[..., Any]) -> None:
    registry = "0x" + "11" * 20
    resolver = "0x" + "22" * 20
    other = "0x" + "33" * 20
    lookup = ens.OFFCHAIN_LOOKUP + ens.abi_encode(
        ["address", "string[]", "bytes", "bytes4", "bytes"],
        [other, ["http://127.0.0.1:9/{data}"], b"\x01", b"\xaa\xbb\xcc\xdd", b""],
    )

    def eth_call(req: dict[str, Any]) -> Any:
        to = req["params"][0]["to"].lower()
        if to == registry:
            return {"result": "0x" + ens.abi_encode(["address"], [resolver]).hex()}
        return {"error": {"code": 3, "message": "execution reverted", "data": "0x" + lookup.hex()}}

    server = http_server(jsonrpc_node(chain_then(eth_call)))
    obs = run("alice.eth", server.url, registry=registry)
    assert obs.failure == Failure.ETH_OFFCHAIN_LOOKUP_ERROR
    assert "is not the called contract" in (obs.failure_detail or "")


def test_slow_node_times_out(http_server: Callable[..., Any]) -> None:
    def slow(method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        time.sleep(3)
        return 200, {}, b"{}"

    server = http_server(slow)
    obs = run("alice.eth", server.url)
    assert obs.failure == Failure.GENERIC_TIMEOUT_ERROR and obs.retryable


def test_policy_blocks_before_sending() -> None:
    policy = NetworkPolicy.from_env()
    assert not policy.allows("192.0.2.1")
    obs = run("alice.eth", "http://192.0.2.1:8545/", policy=policy)
    assert obs.failure == Failure.BLOCKED_BY_POLICY


def test_refused_connection() -> None:
    obs = run("alice.eth", "http://127.0.0.1:9/")
    assert obs.failure == Failure.CONNECTION_REFUSED


def namecoin_stub(names: dict[str, Any]) -> Callable[..., Reply]:
    """A tiny Namecoin Core name_show JSON-RPC stub (JSON-RPC 1.0 shapes of namecoind)."""

    def handler(method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        req = json.loads(body)
        assert headers.get("authorization", "").startswith("Basic ")
        key = req["params"][0]
        if req["method"] != "name_show":
            out = {"result": None, "error": {"code": -32601, "message": "Method not found"}}
        elif key in names:
            out = {"result": names[key], "error": None}
        else:
            out = {"result": None, "error": {"code": -4, "message": "name not found"}}
        return 200, {}, json.dumps({"id": req["id"], **out}).encode()

    return handler


def test_namecoin_rpc_against_stub(http_server: Callable[..., Any]) -> None:
    value = json.dumps({"ip": ["10.99.7.7"], "ip6": "fd99::7", "map": {"www": {"ip": "10.99.7.8"}}})
    server = http_server(
        namecoin_stub(
            {
                "d/example": {
                    "name": "d/example",
                    "value": value,
                    "txid": "ab" * 32,
                    "height": 500000,
                    "expires_in": 1000,
                    "expired": False,
                },
                "d/garbage": {"name": "d/garbage"},
            }
        )
    )
    obs = run(
        "example.bit",
        server.url,
        namespace="namecoin",
        method="namecoin-rpc",
        rpc_user="u",
        rpc_password="p",
    )
    assert obs.failure is None, obs.failure_detail
    got = {(v["kind"], v["key"]): v["value"] for _t, v in obs.children}
    assert got[("namecoin_value", "d/example")] == value
    assert got[("a", None)] == "10.99.7.7" and got[("aaaa", None)] == "fd99::7"
    assert obs.fields["block_number"] == 500000
    missing = run(
        "nothere.bit", server.url, namespace="namecoin", method="namecoin-rpc", rpc_user="u"
    )
    assert missing.failure is None and missing.fields["outcome"] == "not_found"
    garbage = run(
        "garbage.bit", server.url, namespace="namecoin", method="namecoin-rpc", rpc_user="u"
    )
    assert garbage.failure == Failure.ETH_RPC_ERROR and "without a value" in garbage.failure_detail
    bad = run("a.b.bit", server.url, namespace="namecoin", method="namecoin-rpc")
    assert bad.failure == Failure.INVALID_INPUT


def test_gateway_records_status_headers_and_content(http_server: Callable[..., Any]) -> None:
    seen: list[str] = []

    def gateway(method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        seen.append(headers["host"])
        if headers["host"].startswith("ghost."):
            return 404, {}, b"no such name"
        return (
            200,
            {
                "X-Ipfs-Path": "/ipfs/QmRAQB6YaCyidP37UdDnjFY5vQuiBrcqdyoW1CuDgwxkD4/",
                "Server": "<b>evil</b>\u00e9".encode("latin-1").decode("latin-1"),
                "Content-Type": "text/html",
            },
            b"<h1>alice</h1>",
        )

    server = http_server(gateway)
    obs = run("alice.eth", server.url + "/", method="http-gateway", host_template="{name}.limo")
    assert obs.failure is None, obs.failure_detail
    got = {(v["kind"], v["key"]): v["value"] for _t, v in obs.children}
    assert seen == ["alice.eth.limo"]
    assert got[("http_status", None)] == "200"
    assert got[("contenthash", "ipfs")] == "ipfs://QmRAQB6YaCyidP37UdDnjFY5vQuiBrcqdyoW1CuDgwxkD4"
    assert got[("http_header", "server")] == "<b>evil</b>\u00e9"
    import hashlib

    assert got[("content_sha256", None)] == hashlib.sha256(b"<h1>alice</h1>").hexdigest()
    ghost = run("ghost.eth", server.url + "/", method="http-gateway", host_template="{name}.limo")
    assert ghost.failure is None and ghost.fields["outcome"] == "not_found"


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (403, "Forbidden"),
        (421, "Misdirected Request"),
        (500, "Internal Server Error"),
        (502, "Bad Gateway"),
    ],
)
def test_a_gateway_error_status_is_a_typed_failure_not_a_resolution(
    http_server: Callable[..., Any], status: int, reason: str
) -> None:
    # eth.limo answers 421 for a host it does not serve and 502 when the chain or
    # CCIP-read behind it fails: the name was not resolved (RFC 9110 section 15.5-15.6).
    server = http_server(lambda *_: (status, {}, b"no"))
    template = server.url + "/{name}"
    obs = run("alice.eth", server.url + "/", method="http-gateway", url_template=template)
    assert obs.failure == Failure.HTTP_ERROR
    assert obs.failure_detail == (
        f"gateway answered HTTP {status} {reason} for {server.url}/alice.eth"
    )
    assert "outcome" not in obs.fields and obs.children == []


def test_the_default_campaign_reaches_gateways_by_subdomain_url_templates() -> None:
    from pathlib import Path

    from fragscope.probes.engine.campaign import load_campaign

    path = Path(__file__).resolve().parent.parent / "campaigns" / "default.toml"
    gateways = {
        e.label: e.options
        for e in load_campaign(path).endpoints
        if e.options.get("method") == "http-gateway"
    }
    assert {k: v.get("url_template") for k, v in gateways.items()} == {
        "ethlimo-gateway": "https://{name}.limo/",
        "hnsto-gateway": "https://{name}.hns.to/",
    }
    assert not any("host_template" in v for v in gateways.values())


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(max_size=80),
    namespace=st.sampled_from(
        ["ens", "unstoppable", "icann", "opennic", "namecoin", "onion", "gns", "nope"]
    ),
)
def test_any_name_gives_a_row_never_a_crash(name: str, namespace: str) -> None:
    # Port 9 on loopback refuses: every valid name fails at connect, every invalid one
    # before sending; nothing may become unknown_failure (a bug) or raise.
    obs = run(
        name,
        "udp://127.0.0.1:9" if namespace in ("icann", "opennic") else "http://127.0.0.1:9/",
        namespace=namespace,
        method="",
    )
    assert obs.failure in {
        Failure.INVALID_INPUT,
        Failure.CONNECTION_REFUSED,
        Failure.GENERIC_TIMEOUT_ERROR,
    }, (name, namespace, obs.failure, obs.failure_detail)
    assert obs.fields["name"] == name.replace("\x00", "\ufffd")
