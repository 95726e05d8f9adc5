"""The lab chain's planted facts, proven with raw eth_call over JSON-RPC against a real
ganache (and real HTTP against the CCIP-read gateway). Calldata is built here from the
published selectors (EIP-137, ENSIP-5/9/10, EIP-1577, EIP-3668), not with the deploy code."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import unicodedata
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from eth_abi import decode, encode
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from fragscope.lab.chain import (
    DeployError,
    chain_service_argv,
    deploy_all,
    gateway_service_argv,
    start_chain,
)
from fragscope.lab.chain.abi import create_address, dns_decode, dns_encode, namehash, selector
from fragscope.lab.chain.artifacts import BUILD_CACHE, ArtifactError, compile_contracts
from fragscope.lab.chain.gateway import Answerer, GatewayError
from fragscope.lab.chain.rpc import CallReverted, JsonRpc, RpcError
from fragscope.lab.chain.schema import load_plan
from fragscope.lab.truth import TruthError
from tests.fixtures.chain import ChainLab, free_port

# Selectors as EIP-137, ENSIP-10 and EIP-3668 define them (sources [S3]-[S7], docs/sources.md).
RESOLVER = bytes.fromhex("0178b8bf")
OWNER = bytes.fromhex("02571be3")
SUPPORTS_INTERFACE = bytes.fromhex("01ffc9a7")
ADDR = bytes.fromhex("3b3b57de")
ADDR_COIN = bytes.fromhex("f1cb7e06")
TEXT = bytes.fromhex("59d1d43c")
CONTENTHASH = bytes.fromhex("bc1c58d1")
RESOLVE = bytes.fromhex("9061b923")
OFFCHAIN_LOOKUP = bytes.fromhex("556f1830")
ZERO = "0x" + "00" * 20
BTC, ETH = 0, 60

TRUTH = load_plan()
ENS_WITH_RECORDS = [n for n in TRUTH.ens_names if n.resolver == "public_resolver"]


def addr_of(word: bytes) -> str:
    return "0x" + word[-20:].hex()


def same(a: str, b: str) -> bool:
    return a.lower() == b.lower()


def call(lab: ChainLab, to: str, data: bytes) -> bytes:
    return lab.rpc.eth_call(to, data)


def registry_resolver(lab: ChainLab, name: str) -> str:
    return addr_of(call(lab, lab.facts.addresses["ens_registry"], RESOLVER + namehash(name)))


def http_json(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data, {"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def offchain_lookup(
    lab: ChainLab, name: str, inner: bytes
) -> tuple[str, list[str], bytes, bytes, bytes]:
    """Call resolve() on the offchain resolver; return the decoded OffchainLookup revert."""
    resolver = registry_resolver(lab, lab.truth.offchain_parent)
    with pytest.raises(CallReverted) as err:
        call(lab, resolver, RESOLVE + encode(["bytes", "bytes"], [dns_encode(name), inner]))
    data = err.value.data
    assert data[:4] == OFFCHAIN_LOOKUP
    sender, urls, call_data, callback, extra = decode(
        ["address", "string[]", "bytes", "bytes4", "bytes"], data[4:]
    )
    assert same(sender, resolver)  # EIP-3668: the sender must be the contract called
    return sender, list(urls), call_data, callback, extra


def ccip_resolve(lab: ChainLab, name: str, inner: bytes, *, post: bool = False) -> bytes:
    """Full EIP-3668 client flow; returns resolveWithProof's bytes result."""
    sender, urls, call_data, callback, extra = offchain_lookup(lab, name, inner)
    url = urls[0].replace("{sender}", sender.lower()).replace("{data}", "0x" + call_data.hex())
    if post:
        status, body = http_json(
            urls[0].split("/{sender}")[0] + "/",
            {"sender": sender.lower(), "data": "0x" + call_data.hex()},
        )
    else:
        status, body = http_json(url)
    assert status == 200, body
    response = bytes.fromhex(body["data"][2:])
    out = call(lab, sender, callback + encode(["bytes", "bytes"], [response, extra]))
    return bytes(decode(["bytes"], out)[0])


# --- the deployment itself ---------------------------------------------------------------


def test_contracts_sit_at_the_truth_addresses(chain_lab: ChainLab) -> None:
    assert chain_lab.facts.addresses == TRUTH.addresses
    for nonce, (key, address) in enumerate(TRUTH.addresses.items()):
        assert create_address(TRUTH.deployer, nonce) == address, key
        code = chain_lab.rpc.call("eth_getCode", address, "latest")
        assert len(code) > 2, f"{key} has no code"
    assert int(chain_lab.rpc.call("eth_chainId"), 16) == 1337


def test_chain_json_holds_the_facts(chain_lab: ChainLab) -> None:
    facts = json.loads((chain_lab.run_dir / "chain.json").read_text())
    assert facts["rpc_url"] == chain_lab.chain.url
    assert facts["gateway_url"] == chain_lab.gateway.url
    assert facts["offchain_urls"] == [chain_lab.gateway.url + "/{sender}/{data}.json"]
    assert facts["addresses"]["ens_registry"] == "0xe78A0F7E598Cc8b0Bb87894B0F60dD2a88d6a8Ab"
    assert facts["block_number"] == int(chain_lab.rpc.call("eth_blockNumber"), 16)
    alice = facts["ens"]["names"]["alice.eth"]
    assert alice["text"]["description"] == '<script>alert("ens")</script>'
    assert alice["node"] == "0x" + namehash("alice.eth").hex()
    assert facts["uns"]["names"]["alice.crypto"]["records"]["dweb.ipfs.hash"].startswith("Qm")
    assert set(facts["ens"]["offchain"]["names"]) == {n.name for n in TRUTH.offchain_names}


def test_deploy_refuses_a_used_chain(chain_lab: ChainLab, tmp_path: Path) -> None:
    with pytest.raises(DeployError, match="fresh chain"):
        deploy_all(chain_lab.chain.url, tmp_path, chain_lab.gateway.url)


def test_ganache_command_is_deterministic() -> None:
    argv = chain_service_argv("10.99.8.1", 8545, Path("/tmp/x"))
    assert argv[argv.index("--server.host") + 1] == "10.99.8.1"
    assert "--wallet.deterministic" in argv
    assert argv[argv.index("--chain.chainId") + 1] == "1337"


# --- ENS on the PublicResolver ---------------------------------------------------------------


@pytest.mark.parametrize("entry", ENS_WITH_RECORDS, ids=lambda e: e.name)
def test_ens_addr(chain_lab: ChainLab, entry: Any) -> None:
    resolver = registry_resolver(chain_lab, entry.name)
    assert same(resolver, TRUTH.addresses["public_resolver"])
    assert same(addr_of(call(chain_lab, resolver, ADDR + namehash(entry.name))), entry.records.addr)


@pytest.mark.parametrize("entry", ENS_WITH_RECORDS, ids=lambda e: e.name)
def test_ens_multicoin_addr(chain_lab: ChainLab, entry: Any) -> None:
    resolver = TRUTH.addresses["public_resolver"]
    node = namehash(entry.name)
    eth = decode(
        ["bytes"],
        call(chain_lab, resolver, ADDR_COIN + encode(["bytes32", "uint256"], [node, ETH])),
    )[0]
    assert "0x" + eth.hex() == entry.records.addr.lower()  # ENSIP-9: setAddr also sets coin 60
    btc = decode(
        ["bytes"],
        call(chain_lab, resolver, ADDR_COIN + encode(["bytes32", "uint256"], [node, BTC])),
    )[0]
    assert btc == entry.records.coins.get(BTC, b"")


def test_ens_btc_is_the_ensip9_example(chain_lab: ChainLab) -> None:
    node = namehash("alice.eth")
    out = call(
        chain_lab,
        TRUTH.addresses["public_resolver"],
        ADDR_COIN + encode(["bytes32", "uint256"], [node, BTC]),
    )
    # P2PKH scriptPubKey of 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa (ENSIP-9 example).
    assert decode(["bytes"], out)[0].hex() == "76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac"


@pytest.mark.parametrize("entry", ENS_WITH_RECORDS, ids=lambda e: e.name)
def test_ens_contenthash(chain_lab: ChainLab, entry: Any) -> None:
    out = call(chain_lab, TRUTH.addresses["public_resolver"], CONTENTHASH + namehash(entry.name))
    value = decode(["bytes"], out)[0]
    assert value == (entry.records.contenthash or b"")
    if value:
        assert value[:1] in (b"\xe3", b"\xe4")  # EIP-1577 ipfs-ns / swarm-ns multicodecs


@pytest.mark.parametrize("entry", ENS_WITH_RECORDS, ids=lambda e: e.name)
def test_ens_text_records(chain_lab: ChainLab, entry: Any) -> None:
    node = namehash(entry.name)
    for key, value in {**entry.records.text, "never.set": ""}.items():
        out = call(
            chain_lab,
            TRUTH.addresses["public_resolver"],
            TEXT + encode(["bytes32", "string"], [node, key]),
        )
        assert decode(["string"], out)[0] == value, key


def test_ens_hostile_text_record_is_planted_verbatim(chain_lab: ChainLab) -> None:
    node = namehash("alice.eth")
    out = call(
        chain_lab,
        TRUTH.addresses["public_resolver"],
        TEXT + encode(["bytes32", "string"], [node, "description"]),
    )
    assert decode(["string"], out)[0] == '<script>alert("ens")</script>'


def test_ens_name_without_resolver(chain_lab: ChainLab) -> None:
    registry = TRUTH.addresses["ens_registry"]
    node = namehash("noresolver.eth")
    assert same(addr_of(call(chain_lab, registry, OWNER + node)), TRUTH.deployer)
    assert addr_of(call(chain_lab, registry, RESOLVER + node)) == ZERO


@pytest.mark.parametrize("name", TRUTH.unregistered)
def test_ens_unregistered_name(chain_lab: ChainLab, name: str) -> None:
    registry = TRUTH.addresses["ens_registry"]
    assert addr_of(call(chain_lab, registry, OWNER + namehash(name))) == ZERO
    assert addr_of(call(chain_lab, registry, RESOLVER + namehash(name))) == ZERO


# --- ENSIP-10 wildcard -----------------------------------------------------------------------


def find_resolver(lab: ChainLab, name: str) -> tuple[str, str]:
    """ENSIP-10: walk up from name until a resolver is set; return (resolver, matched name)."""
    current = name
    while current:
        resolver = registry_resolver(lab, current)
        if resolver != ZERO:
            return resolver, current
        current = current.partition(".")[2]
    return ZERO, ""


def supports(lab: ChainLab, address: str, interface: bytes) -> bool:
    out = call(lab, address, SUPPORTS_INTERFACE + encode(["bytes4"], [interface]))
    return bool(decode(["bool"], out)[0])


@pytest.mark.parametrize("sample", TRUTH.wildcard_samples, ids=lambda s: s.name)
def test_wildcard_resolves_any_label(chain_lab: ChainLab, sample: Any) -> None:
    resolver, matched = find_resolver(chain_lab, sample.name)
    assert matched == "wild.eth" and same(resolver, TRUTH.addresses["wildcard_resolver"])
    assert supports(chain_lab, resolver, RESOLVE)
    node = namehash(sample.name)
    wire = dns_encode(sample.name)

    def resolve(inner: bytes) -> bytes:
        out = call(chain_lab, resolver, RESOLVE + encode(["bytes", "bytes"], [wire, inner]))
        return bytes(decode(["bytes"], out)[0])

    assert same(addr_of(resolve(ADDR + node)), sample.records.addr)
    first = sample.name.split(".")[0]
    assert same(sample.records.addr, "0x" + keccak(first.encode())[-20:].hex())  # the rule
    eth = decode(["bytes"], resolve(ADDR_COIN + encode(["bytes32", "uint256"], [node, ETH])))[0]
    assert same("0x" + eth.hex(), sample.records.addr)
    btc = decode(["bytes"], resolve(ADDR_COIN + encode(["bytes32", "uint256"], [node, BTC])))[0]
    assert btc == b""
    for key, value in sample.records.text.items():
        assert (
            decode(["string"], resolve(TEXT + encode(["bytes32", "string"], [node, key])))[0]
            == value
        )


def test_wildcard_rejects_bad_requests(chain_lab: ChainLab) -> None:
    resolver = TRUTH.addresses["wildcard_resolver"]
    wire = dns_encode("x.wild.eth")
    # The inner node must be the namehash of the name passed (ENSIP-10).
    with pytest.raises(CallReverted) as err:
        call(
            chain_lab,
            resolver,
            RESOLVE + encode(["bytes", "bytes"], [wire, ADDR + namehash("y.wild.eth")]),
        )
    assert err.value.data[:4] == selector("NodeMismatch(bytes32,bytes32)")
    with pytest.raises(CallReverted) as err:
        call(
            chain_lab,
            resolver,
            RESOLVE + encode(["bytes", "bytes"], [wire, CONTENTHASH + namehash("x.wild.eth")]),
        )
    assert err.value.data[:4] == selector("UnsupportedResolverProfile(bytes4)")
    assert decode(["bytes4"], err.value.data[4:])[0] == CONTENTHASH


def test_public_resolver_is_not_extended(chain_lab: ChainLab) -> None:
    # So a client must call alice.eth's records directly and must not use the wildcard path.
    assert not supports(chain_lab, TRUTH.addresses["public_resolver"], RESOLVE)
    assert supports(chain_lab, TRUTH.addresses["public_resolver"], ADDR)


# --- EIP-3668 OffchainLookup + gateway ------------------------------------------------------


def test_offchain_lookup_revert_data(chain_lab: ChainLab) -> None:
    name = "alice.offchain.eth"
    inner = ADDR + namehash(name)
    assert supports(chain_lab, TRUTH.addresses["offchain_resolver"], RESOLVE)
    _, urls, call_data, callback, extra = offchain_lookup(chain_lab, name, inner)
    assert urls == [chain_lab.gateway.url + "/{sender}/{data}.json"]
    assert call_data == RESOLVE + encode(["bytes", "bytes"], [dns_encode(name), inner])
    assert callback == selector("resolveWithProof(bytes,bytes)")
    assert extra == call_data


@pytest.mark.parametrize(
    "entry", [n for n in TRUTH.offchain_names if n.gateway == "ok"], ids=lambda e: e.name
)
def test_offchain_records_through_gateway(chain_lab: ChainLab, entry: Any) -> None:
    node = namehash(entry.name)
    assert same(addr_of(ccip_resolve(chain_lab, entry.name, ADDR + node)), entry.records.addr)
    assert same(
        addr_of(ccip_resolve(chain_lab, entry.name, ADDR + node, post=True)), entry.records.addr
    )
    for key, value in entry.records.text.items():
        out = ccip_resolve(chain_lab, entry.name, TEXT + encode(["bytes32", "string"], [node, key]))
        assert decode(["string"], out)[0] == value
    for coin, value in entry.records.coins.items():
        out = ccip_resolve(
            chain_lab, entry.name, ADDR_COIN + encode(["bytes32", "uint256"], [node, coin])
        )
        assert decode(["bytes"], out)[0] == value
    out = ccip_resolve(chain_lab, entry.name, CONTENTHASH + node)
    assert decode(["bytes"], out)[0] == (entry.records.contenthash or b"")


def test_offchain_gateway_failure_is_an_http_error(chain_lab: ChainLab) -> None:
    name = "broken.offchain.eth"
    sender, urls, call_data, _, _ = offchain_lookup(chain_lab, name, ADDR + namehash(name))
    url = urls[0].replace("{sender}", sender).replace("{data}", "0x" + call_data.hex())
    status, body = http_json(url)
    assert status == 500 and "fail" in body["message"]


def test_offchain_forged_answer_is_rejected_by_the_callback(chain_lab: ChainLab) -> None:
    name = "forged.offchain.eth"
    sender, urls, call_data, callback, extra = offchain_lookup(
        chain_lab, name, ADDR + namehash(name)
    )
    status, body = http_json(
        urls[0].replace("{sender}", sender).replace("{data}", "0x" + call_data.hex())
    )
    assert status == 200
    with pytest.raises(CallReverted) as err:
        call(
            chain_lab,
            sender,
            callback + encode(["bytes", "bytes"], [bytes.fromhex(body["data"][2:]), extra]),
        )
    assert err.value.data[:4] == selector("InvalidGatewayResponse(bytes32,bytes32)")


def test_offchain_answer_for_another_sender_or_request_is_rejected(chain_lab: ChainLab) -> None:
    name = "alice.offchain.eth"
    sender, urls, call_data, callback, extra = offchain_lookup(
        chain_lab, name, ADDR + namehash(name)
    )
    other = TRUTH.addresses["wildcard_resolver"]
    _, body = http_json(
        urls[0].replace("{sender}", other).replace("{data}", "0x" + call_data.hex())
    )
    with pytest.raises(CallReverted):
        call(
            chain_lab,
            sender,
            callback + encode(["bytes", "bytes"], [bytes.fromhex(body["data"][2:]), extra]),
        )
    # A genuine answer replayed for a different request (another record) is rejected too.
    _, good = http_json(
        urls[0].replace("{sender}", sender).replace("{data}", "0x" + call_data.hex())
    )
    _, _, _, _, other_extra = offchain_lookup(
        chain_lab, name, TEXT + encode(["bytes32", "string"], [namehash(name), "url"])
    )
    with pytest.raises(CallReverted):
        call(
            chain_lab,
            sender,
            callback + encode(["bytes", "bytes"], [bytes.fromhex(good["data"][2:]), other_extra]),
        )


def test_gateway_can_be_told_to_fail_for_a_name(chain_lab: ChainLab) -> None:
    name = "alice.offchain.eth"
    sender, urls, call_data, _, _ = offchain_lookup(chain_lab, name, ADDR + namehash(name))
    url = urls[0].replace("{sender}", sender).replace("{data}", "0x" + call_data.hex())
    chain_lab.gateway.fail_for(name)
    try:
        assert http_json(url)[0] == 500
    finally:
        chain_lab.gateway.fail_for(name, "ok")
    assert http_json(url)[0] == 200


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/", 404),
        ("/0x1234/0x00.json", 404),
        ("/0x" + "11" * 20 + "/0x.json", 400),
        ("/0x" + "11" * 20 + "/0xdeadbeef.json", 400),
        ("/0x" + "11" * 20 + "/0x9061b923ff.json", 400),
    ],
)
def test_gateway_answers_garbage_with_json_errors(
    chain_lab: ChainLab, path: str, status: int
) -> None:
    got, body = http_json(chain_lab.gateway.url + path)
    assert got == status and "message" in body


def test_gateway_unknown_name_is_404(chain_lab: ChainLab) -> None:
    name = "nobody.offchain.eth"
    sender, urls, call_data, _, _ = offchain_lookup(chain_lab, name, ADDR + namehash(name))
    status, body = http_json(
        urls[0].replace("{sender}", sender).replace("{data}", "0x" + call_data.hex())
    )
    assert status == 404 and name in body["message"]


def test_gateway_bad_post_bodies(chain_lab: ChainLab) -> None:
    req = urllib.request.Request(
        chain_lab.gateway.url + "/", b"not json", {"content-type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=5)
    assert err.value.code == 400
    assert http_json(chain_lab.gateway.url + "/", {"sender": 5, "data": None})[0] == 400


def test_gateway_runs_as_its_own_process(tmp_path: Path) -> None:
    port = free_port()
    argv = gateway_service_argv("127.0.0.1", port, python=sys.executable)
    argv += ["--fail", "alice.offchain.eth"]
    proc = subprocess.Popen(argv, cwd=Path(__file__).resolve().parents[1], stderr=subprocess.PIPE)
    try:
        name = "alice.offchain.eth"
        data = RESOLVE + encode(["bytes", "bytes"], [dns_encode(name), ADDR + namehash(name)])
        url = f"http://127.0.0.1:{port}/0x{'22' * 20}/0x{data.hex()}.json"
        deadline = time.monotonic() + 20
        while True:
            try:
                status, body = http_json(url)
                break
            except urllib.error.URLError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "gateway process did not start listening"
                time.sleep(0.1)
        assert status == 500  # --fail took effect
        name = "offchain.eth"
        data = RESOLVE + encode(["bytes", "bytes"], [dns_encode(name), ADDR + namehash(name)])
        status, body = http_json(f"http://127.0.0.1:{port}/0x{'22' * 20}/0x{data.hex()}.json")
        assert status == 200 and body["data"].startswith("0x")
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


# --- Unstoppable Domains --------------------------------------------------------------------


def token_id(name: str) -> int:
    return int.from_bytes(namehash(name), "big")


def test_uns_token_ids_follow_the_ud_vectors() -> None:
    assert hex(token_id("crypto")).startswith("0xf4a10a4") and hex(token_id("crypto")).endswith(
        "7a6f"
    )
    assert hex(token_id("example.crypto")).startswith("0xd584c550")


@pytest.mark.parametrize("contract", ["uns_registry", "proxy_reader"])
@pytest.mark.parametrize("entry", TRUTH.uns_names, ids=lambda e: e.name)
def test_uns_records_read_back(chain_lab: ChainLab, entry: Any, contract: str) -> None:
    address = TRUTH.addresses[contract]
    keys = list(entry.records)
    get_many = selector("getMany(string[],uint256)")
    out = call(
        chain_lab, address, get_many + encode(["string[]", "uint256"], [keys, token_id(entry.name)])
    )
    assert list(decode(["string[]"], out)[0]) == [entry.records[k] for k in keys]
    get = selector("get(string,uint256)")
    for key, value in entry.records.items():
        out = call(
            chain_lab, address, get + encode(["string", "uint256"], [key, token_id(entry.name)])
        )
        assert decode(["string"], out)[0] == value
    owner = call(
        chain_lab,
        address,
        selector("ownerOf(uint256)") + encode(["uint256"], [token_id(entry.name)]),
    )
    assert same(addr_of(owner), TRUTH.deployer)


def test_uns_get_data_through_the_proxy_reader(chain_lab: ChainLab) -> None:
    entry = TRUTH.uns_names[0]
    keys = list(entry.records)
    out = call(
        chain_lab,
        TRUTH.addresses["proxy_reader"],
        selector("getData(string[],uint256)")
        + encode(["string[]", "uint256"], [keys, token_id(entry.name)]),
    )
    resolver, owner, values = decode(["address", "address", "string[]"], out)
    assert same(resolver, TRUTH.addresses["uns_registry"])  # UNS: the registry is the resolver
    assert same(owner, TRUTH.deployer)
    assert list(values) == [entry.records[k] for k in keys]


@pytest.mark.parametrize("name", TRUTH.uns_unminted)
def test_uns_unminted_name(chain_lab: ChainLab, name: str) -> None:
    reader = TRUTH.addresses["proxy_reader"]
    out = call(
        chain_lab, reader, selector("exists(uint256)") + encode(["uint256"], [token_id(name)])
    )
    assert decode(["bool"], out)[0] is False
    out = call(
        chain_lab,
        reader,
        selector("getMany(string[],uint256)")
        + encode(["string[]", "uint256"], [["crypto.ETH.address"], token_id(name)]),
    )
    assert list(decode(["string[]"], out)[0]) == [""]


@pytest.mark.parametrize("tld", TRUTH.uns_tlds)
def test_uns_tlds_minted(chain_lab: ChainLab, tld: str) -> None:
    out = call(
        chain_lab,
        TRUTH.addresses["uns_registry"],
        selector("exists(uint256)") + encode(["uint256"], [token_id(tld)]),
    )
    assert decode(["bool"], out)[0] is True


# --- helpers and inputs (pure) --------------------------------------------------------------


def test_namehash_eip137_vectors() -> None:
    assert namehash("").hex() == "00" * 32
    assert (
        namehash("eth").hex() == "93cdeb708b7545dc668eb9280176169d1c33cfd8ed6f04690a0bcc88a93fc4ae"
    )
    assert (
        namehash("foo.eth").hex()
        == "de9b09fd7c5f901e23a3f19fecc54828e9c848539801e86591bd9801b019f84f"
    )


def test_selectors_match_the_published_table() -> None:
    assert selector("resolver(bytes32)") == RESOLVER
    assert selector("addr(bytes32,uint256)") == ADDR_COIN
    assert selector("text(bytes32,string)") == TEXT
    assert selector("contenthash(bytes32)") == CONTENTHASH
    assert selector("resolve(bytes,bytes)") == RESOLVE
    assert selector("OffchainLookup(address,string[],bytes,bytes4,bytes)") == OFFCHAIN_LOOKUP


LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=63)


@given(st.lists(LABEL, min_size=1, max_size=6))
def test_dns_encoding_round_trips(labels: list[str]) -> None:
    name = ".".join(labels)
    wire = dns_encode(name)
    assert wire[0] == len(labels[0]) and wire[-1] == 0
    assert dns_decode(wire) == name


@pytest.mark.parametrize(
    "wire", [b"", b"\x05abc", b"\x03abc", b"\x00\x00", b"\x40" + b"a" * 64 + b"\x00"]
)
def test_dns_decode_rejects_malformed_names(wire: bytes) -> None:
    with pytest.raises(ValueError):
        dns_decode(wire)


def test_truth_errors_name_the_key(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[1] / "lab/chain/truth.toml").read_text()
    bad = tmp_path / "truth.toml"
    bad.write_text(text.replace('gateway = "http-500"', 'gateway = "sometimes"'))
    with pytest.raises(TruthError, match=r"ens\.offchain\.names\[2\]\.gateway"):
        load_plan(bad)
    bad.write_text(text.replace("chain_id = 1337", 'chain_id = "1337"'))
    with pytest.raises(TruthError, match=r"chain\.chain_id"):
        load_plan(bad)


def test_rpc_errors_are_raised_not_crashes(chain_lab: ChainLab) -> None:
    with pytest.raises(RpcError, match="eth_noSuchMethod"):
        chain_lab.rpc.call("eth_noSuchMethod")
    with pytest.raises(RpcError):
        JsonRpc(f"http://127.0.0.1:{free_port()}", timeout=2).call("eth_chainId")
    with pytest.raises(RpcError):  # an HTTP server that is not a JSON-RPC node
        JsonRpc(chain_lab.gateway.url + "/", timeout=2).call("eth_chainId")


def test_compiler_errors_are_reported_with_the_source_line(tmp_path: Path) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the lab chain needs nodejs (deps/apt.txt)")
    src = tmp_path / "src"
    src.mkdir()
    (src / "Broken.sol").write_text(
        "// SPDX-License-Identifier: Apache-2.0\npragma solidity 0.8.26;\n"
        "contract Broken { function f() public { undefinedThing(); } }\n"
    )
    pattern = r"(?s)Undeclared identifier.*Broken\.sol:3:41.*undefinedThing"
    with pytest.raises(ArtifactError, match=pattern):
        compile_contracts(tmp_path / "build", source_dir=src)
    assert not (tmp_path / "build" / "sources.sha256").exists()


def test_compiled_contracts_are_cached_by_source_digest(chain_lab: ChainLab) -> None:
    # The session fixture compiled (or reused) the shared build; a second call must not
    # recompile and must give the same bytecode.
    first = compile_contracts()
    stamp = BUILD_CACHE / "sources.sha256"
    mtime = stamp.stat().st_mtime_ns
    second = compile_contracts()
    assert stamp.stat().st_mtime_ns == mtime
    assert first["WildcardResolver"].bytecode == second["WildcardResolver"].bytecode
    code = chain_lab.rpc.call("eth_getCode", TRUTH.addresses["wildcard_resolver"], "latest")
    assert len(code) > 2


def test_deploy_checks_chain_id_before_sending(chain_lab: ChainLab, tmp_path: Path) -> None:
    wrong = dataclasses.replace(TRUTH, chain_id=1)
    with pytest.raises(DeployError, match="chain id is 1337"):
        deploy_all(chain_lab.chain.url, tmp_path, chain_lab.gateway.url, truth=wrong)


def test_deploy_fails_when_an_address_is_not_the_recorded_one(tmp_path: Path) -> None:
    # A fresh chain, but truth.toml (here: a copy) records another PublicResolver address.
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the lab chain needs nodejs (deps/apt.txt)")
    moved = dataclasses.replace(
        TRUTH, addresses=dict(TRUTH.addresses, public_resolver="0x" + "12" * 20)
    )
    chain = start_chain("127.0.0.1", free_port(), tmp_path)
    try:
        with pytest.raises(DeployError, match="public_resolver deployed at 0x5b1869"):
            deploy_all(chain.url, tmp_path, "http://127.0.0.1:9", truth=moved)
    finally:
        chain.stop()
    assert chain.proc.poll() is not None


@settings(max_examples=200, deadline=None)
@given(
    sender=st.one_of(st.text(max_size=50), st.just("0x" + "ab" * 20)),
    payload=st.one_of(
        st.binary(max_size=300).map(lambda b: "0x" + b.hex()),
        st.binary(max_size=300).map(lambda b: "0x9061b923" + b.hex()),
        st.text(max_size=50),
    ),
)
def test_gateway_logic_never_crashes_on_hostile_requests(sender: str, payload: str) -> None:
    answerer = Answerer(TRUTH)
    try:
        body = answerer.answer(sender, payload)
    except GatewayError as err:
        assert 400 <= err.status < 600
    else:
        assert body["data"].startswith("0x")


def test_non_ascii_name_is_planted_in_nfc_under_its_utf8_labelhash(chain_lab: ChainLab) -> None:
    name = "bücher.eth"
    assert unicodedata.normalize("NFC", name) == name and len("bücher".encode()) == 7
    assert any(n.name == name for n in TRUTH.ens_names)
    nfd = unicodedata.normalize("NFD", name)
    assert registry_resolver(chain_lab, nfd) == ZERO  # un-normalized input finds nothing
    assert same(registry_resolver(chain_lab, name), TRUTH.addresses["public_resolver"])
