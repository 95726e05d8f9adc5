"""transport.quic_vn against Hypercorn (aioquic) and Caddy (quic-go) on loopback."""

from __future__ import annotations

import pytest

from fragscope.db.vocab import Failure
from fragscope.probes.base import Observation
from fragscope.probes.transport.quic_wire import (
    VERSION_1,
    VERSION_2,
    VERSION_2_DRAFT,
    is_reserved_version,
)
from fragscope.probes.transport.vn import VnConfig, VnProbe
from tests.fixtures.web_hosts import WebLab
from tests.transport.helpers import NAME, measure, measure_host, policy, task


def versions(obs: Observation) -> list[int]:
    return [row["version"] for table, row in obs.children if table == "quic_vn_versions"]


def test_hypercorn_lists_v1_and_v2(web_lab: WebLab) -> None:
    obs = measure_host(VnProbe(policy=policy()), web_lab, "h3")
    assert obs.ok, obs.failure_detail
    f = obs.fields
    assert f["reply"] == "vn" and f["cid_echo_ok"] is True
    assert versions(obs) == [VERSION_1, VERSION_2]
    assert f["has_v1"] and f["has_v2"] and not f["has_grease"]
    assert is_reserved_version(f["sent_version"]) and f["datagram_size"] == 1200
    assert f["raw_reply"][1:5] == b"\0\0\0\0" and f["lists_sent_version"] is False


def test_caddy_lists_drafts_and_grease(web_lab: WebLab) -> None:
    obs = measure_host(VnProbe(policy=policy()), web_lab, "caddy")
    assert obs.ok, obs.failure_detail
    listed = versions(obs)
    kinds = {row["kind"] for table, row in obs.children}
    assert VERSION_1 in listed and VERSION_2_DRAFT in listed and 0xFF00001D in listed
    assert {"v1", "grease", "v2_draft", "draft"} <= kinds
    assert obs.fields["has_grease"] is True and obs.fields["has_v2"] is False
    labels = [row["label"] for table, row in obs.children]
    assert "draft-29" in labels


def test_ipv6(web_lab: WebLab) -> None:
    obs = measure_host(VnProbe(policy=policy()), web_lab, "h3", 6)
    assert obs.ok and obs.fields["ip_version"] == 6


def test_no_udp_listener_is_icmp_rejected(web_lab: WebLab) -> None:
    obs = measure_host(VnProbe(policy=policy()), web_lab, "advertised")
    assert obs.failure == Failure.CONNECTION_REFUSED
    assert obs.fields["reply"] == "icmp"


def test_same_task_sends_same_version() -> None:
    t = task("transport.quic_vn", NAME, address="127.0.0.1", port=9)
    a = measure(VnProbe(policy=policy()), t).fields["sent_version"]
    b = measure(VnProbe(policy=policy()), t).fields["sent_version"]
    assert a == b and is_reserved_version(a)


def test_config_rejects_unreserved_version() -> None:
    with pytest.raises(ValueError, match="version"):
        VnConfig(version=1)
