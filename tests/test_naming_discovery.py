"""naming.resolve's ``discovery`` method: OpenNIC's GeoIP API stood in for on loopback.

The stand-in API answers in the JSON format wiki.opennic.org/api/geoip documents; the
servers it lists are the real NSD views of tests/fixtures/naming.py (the alternative
root answers www.libre). Nothing leaves loopback: FRAGSCOPE_ALLOWED_NETS holds the test
suite there, and a listed server outside it is refused by the policy, not asked.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fragscope.probes.base import Endpoint, Observation, Task
from fragscope.probes.naming.methods import discovery
from fragscope.probes.naming.probe import NamingConfig, NamingProbe
from fragscope.probes.safety import NetworkPolicy
from tests.fixtures.naming import DnsViews


@pytest.fixture(autouse=True)
def _fresh_lists() -> Iterator[None]:
    discovery.forget_lists()
    yield
    discovery.forget_lists()


def api_entry(ip: str, short: str) -> dict[str, Any]:
    """One server as the GeoIP API's ``json`` result lists it (wiki.opennic.org/api/geoip)."""
    return {
        "host": f"{short}.dns.opennic.glue",
        "short": short,
        "ip": ip,
        "loc": "ZZ",
        "miles": 0,
        "kilometers": 0,
        "stat": "99.00",
        "manager": "lab",
    }


def stand_in(http_server: Callable[..., Any], status: int, body: bytes, seen: list[str]) -> str:
    def handler(
        command: str, path: str, _body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        seen.append(f"{command} {path} {headers.get('user-agent', '')}")
        return status, {"Content-Type": "application/json"}, body

    return str(http_server(handler).url) + "/geoip/?json&res=3&ipv=4"


def resolve(name: str, api: str, port: int, **options: Any) -> Observation:
    probe = NamingProbe(NamingConfig(timeout_s=1.0, text_keys=()), policy=NetworkPolicy.from_env())
    opts = {"method": "discovery", "dns_port": port, "qtypes": ["A"], **options}
    ep = Endpoint(
        url=api,
        operator="OpenNIC (stand-in)",
        namespace="opennic",
        options={"namespaces": ["*", "namecoin"], **opts},
    )
    task = Task(key=f"{name}|{api}", probe=probe.name, target=name, endpoint=ep, params={})
    return asyncio.run(probe.measure(task))


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_the_name_is_asked_of_the_servers_the_api_lists(
    dns_views: DnsViews, http_server: Callable[..., Any]
) -> None:
    seen: list[str] = []
    # The first listed server does not answer (nothing on 127.0.0.2 at that port): the
    # next one, the alternative root, answers.
    body = json.dumps([api_entry("127.0.0.2", "ns1.dead"), api_entry("127.0.0.1", "ns2.alt")])
    api = stand_in(http_server, 200, body.encode(), seen)
    obs = resolve("www.libre", api, port_of(dns_views.alt))
    assert obs.failure is None, obs.failure_detail
    assert obs.fields["method"] == "discovery" and obs.fields["outcome"] == "resolved"
    assert {v["value"] for _t, v in obs.children if v["kind"] == "a"} == {"127.81.0.70"}
    detail = obs.fields["detail"]
    assert detail["listed"] == ["127.0.0.2", "127.0.0.1"] and detail["server"] == "127.0.0.1"
    assert set(detail["failed"]) == {"127.0.0.2"} and detail["list_reused"] is False
    # The campaign's User-Agent goes on the API request too (docs/ethics.md).
    assert len(seen) == 1 and seen[0].startswith("GET /geoip/?json&res=3&ipv=4 fragscope/")
    # A second name reuses the list: the volunteer API is asked once per campaign.
    again = resolve("www.shop", api, port_of(dns_views.alt))
    assert again.failure is None and again.fields["detail"]["list_reused"] is True
    assert {v["value"] for _t, v in again.children if v["kind"] == "a"} == {"127.81.0.66"}
    assert len(seen) == 1


def test_an_nxdomain_from_the_listed_server_is_not_found(
    dns_views: DnsViews, http_server: Callable[..., Any]
) -> None:
    body = json.dumps([api_entry("127.0.0.1", "ns2.icann")]).encode()
    api = stand_in(http_server, 200, body, [])
    obs = resolve("www.libre", api, port_of(dns_views.icann))
    assert obs.failure is None and obs.fields["outcome"] == "not_found"


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (500, b"oops", "discovery API answered HTTP 500"),
        (200, b"<html>maintenance</html>", "discovery API: not JSON"),
        (200, b'{"ip": "127.0.0.1"}', "expected a JSON list of servers, got dict"),
        (200, b"[]", "the list is empty"),
        (200, b'[{"ip": "ns1.example.test"}]', "server #1: 'ns1.example.test' is not an IP"),
        (200, b'[{"host": "ns1"}]', 'server #1: no "ip" string'),
    ],
)
def test_a_broken_or_hostile_api_is_a_failure_row(
    http_server: Callable[..., Any], status: int, body: bytes, expected: str
) -> None:
    api = stand_in(http_server, status, body, [])
    obs = resolve("www.libre", api, 53)
    assert str(obs.failure) == "http_error", (obs.failure, obs.failure_detail)
    assert expected in (obs.failure_detail or "")


def test_a_listed_server_outside_the_allowed_networks_is_refused_not_asked(
    http_server: Callable[..., Any],
) -> None:
    # 192.0.2.53 (TEST-NET-1, RFC 5737) is outside the suite's loopback allowlist.
    body = json.dumps([api_entry("192.0.2.53", "ns1.far")]).encode()
    api = stand_in(http_server, 200, body, [])
    obs = resolve("www.libre", api, 53)
    assert str(obs.failure) == "blocked_by_policy", (obs.failure, obs.failure_detail)
    assert "none of the 1 listed servers answered: 192.0.2.53 blocked_by_policy" in (
        obs.failure_detail or ""
    )


def test_no_listed_server_answering_is_a_failure_naming_each(
    dns_views: DnsViews, http_server: Callable[..., Any]
) -> None:
    body = json.dumps([api_entry("127.0.0.2", "a"), api_entry("127.0.0.3", "b")]).encode()
    api = stand_in(http_server, 200, body, [])
    obs = resolve("www.libre", api, port_of(dns_views.alt), servers=2)
    assert obs.failure is not None
    detail = obs.failure_detail or ""
    assert "none of the 2 listed servers answered" in detail
    assert "127.0.0.2" in detail and "127.0.0.3" in detail


def test_the_opennic_tier1_list_is_data_with_addresses() -> None:
    from fragscope.probes.naming.public_endpoints import load_opennic_tier1

    servers = load_opennic_tier1()
    assert len(servers) == 10 and len({s.ipv4 for s in servers}) == 10
    assert servers[0].name == "ns2.opennic.glue" and servers[0].ipv4 == "161.97.219.84"
