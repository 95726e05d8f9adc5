"""The campaign's User-Agent and contact go on every HTTP request: DoH, JSON-RPC, gateways.

``fragscope run`` of a campaign whose endpoints are local servers on 127.0.0.1 that
record each request's headers: dns.query over DoH (HTTPS, a test CA), naming.resolve
over Ethereum JSON-RPC, an HTTP gateway and DoH. Every request must carry the
campaign's ``[politeness] user_agent`` as User-Agent and its ``contact`` as From
(probes/politeness.py, RFC 9110 section 10.1).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fragscope.cli import main
from fragscope.lab.core.pki import make_pki

UA = "fragscope-test/1.0 (politeness test; +https://fragscope.invalid/ethics)"
CONTACT = "Test Operator <ops@fragscope.invalid>"


def test_every_http_request_carries_the_campaigns_user_agent_and_contact(
    tmp_path: Path, http_server: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAGSCOPE_ALLOWED_NETS", "127.0.0.0/8")
    seen: list[tuple[str, str, dict[str, str]]] = []
    lock = threading.Lock()

    def record(kind: str) -> Callable[[str, str, bytes, dict[str, str]], Any]:
        def handler(method: str, path: str, body: bytes, headers: dict[str, str]) -> Any:
            with lock:
                seen.append((kind, path, headers))
            if kind == "rpc":
                req = json.loads(body)
                # Not mainnet: the ENS method stops after eth_chainId (a failure row).
                answer = {"jsonrpc": "2.0", "id": req["id"], "result": "0x7a69"}
                return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()
            return 503, {}, b"busy"

        return handler

    pki = make_pki(tmp_path / "pki")
    doh = http_server(record("doh"), tls=pki)
    rpc = http_server(record("rpc"))
    gateway = http_server(record("gateway"))
    names = tmp_path / "names.txt"
    names.write_text("alice.eth\n", encoding="utf-8")
    campaign = tmp_path / "polite.toml"
    campaign.write_text(
        f"""
name = "polite"
[[targets]]
list = "names"
file = "{names}"
format = "lines"
namespace = "mixed"

[[endpoints]]
label = "doh"
url = "{doh.url}/dns-query"

[[endpoints]]
label = "naming-doh"
url = "{doh.url}/dns-query"
namespace = "ens"
options = {{ method = "dns", qtypes = ["TXT"], ca_file = "{pki.ca}" }}

[[endpoints]]
label = "rpc"
url = "eth+{rpc.url}/"
namespace = "ens"
options = {{ method = "eth-rpc" }}

[[endpoints]]
label = "gateway"
url = "{gateway.url}/"
namespace = "ens"
options = {{ method = "http-gateway", url_template = "{gateway.url}/{{name}}" }}

[probes."dns.query"]
endpoints = ["doh"]
qtypes = ["A"]
ca_file = "{pki.ca}"
timeout_s = 5.0

[probes."naming.resolve"]
endpoints = ["naming-doh", "rpc", "gateway"]
timeout_s = 5.0

[safety]
allowed = ["127.0.0.0/8"]

[politeness]
contact = "{CONTACT}"
user_agent = "{UA}"
""",
        encoding="utf-8",
    )
    db = tmp_path / "polite.sqlite"
    result = CliRunner().invoke(
        main, ["run", "--campaign", str(campaign), "--db", str(db), "--auto-migrate"]
    )
    kinds = {kind for kind, _, _ in seen}
    assert kinds == {"doh", "rpc", "gateway"}, seen
    assert {path for kind, path, _ in seen if kind == "gateway"} == {"/alice.eth"}
    assert len([1 for kind, _, _ in seen if kind == "doh"]) >= 2  # dns.query and naming
    for kind, path, headers in seen:
        assert headers.get("user-agent") == UA, (kind, path, headers)
        assert headers.get("from") == CONTACT, (kind, path, headers)
    # Every error status became a typed failure row: none is unknown_failure (exit 1).
    assert result.exit_code == 0, result.output
