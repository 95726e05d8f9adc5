"""probes.transport.aioquic_compat: the version gate, the check of aioquic's internals,
and the pin in pyproject.toml. No network: connections are built in memory."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import aioquic
import aioquic.tls
import pytest
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import ConnectionTerminated

from fragscope.probes.transport import aioquic_compat as compat
from fragscope.probes.transport.quic import QuicProbe

ROOT = Path(__file__).resolve().parents[2]


def client() -> QuicConnection:
    """A client connection that has built its first Initial (nothing is sent)."""
    quic = QuicConnection(configuration=QuicConfiguration(is_client=True))
    quic.connect(("127.0.0.1", 443), now=0.0)
    return quic


def test_installed_aioquic_is_supported() -> None:
    compat.check_version()
    compat.check_internals()
    compat.require_supported()


@pytest.mark.parametrize("version", ["1.1.0", "1.5.9", "1.8.0", "2.0.0", "0.9.25"])
def test_versions_outside_the_range_are_refused_by_name(version: str) -> None:
    with pytest.raises(compat.AioquicUnsupported) as err:
        compat.check_version(version)
    assert f"aioquic {version} is not supported" in str(err.value)
    assert compat.supported_range() in str(err.value)


def test_a_version_it_cannot_read_is_refused() -> None:
    with pytest.raises(compat.AioquicUnsupported, match="'dev'"):
        compat.check_version("dev")


def test_an_unsupported_installed_aioquic_stops_the_probe_before_traffic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(aioquic, "__version__", "1.99.0")
    with pytest.raises(compat.AioquicUnsupported, match=r"aioquic 1\.99\.0 is not supported"):
        compat.require_supported()
    with pytest.raises(compat.AioquicUnsupported, match=r">=1\.6, <1\.8"):
        QuicProbe()


def test_a_missing_hello_handler_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(aioquic.tls.Context, "_client_handle_hello")
    with pytest.raises(compat.AioquicUnsupported, match="_client_handle_hello is gone") as err:
        compat.check_internals()
    assert aioquic.__version__ in str(err.value)
    with pytest.raises(compat.AioquicUnsupported, match="_client_handle_hello is gone"):
        compat.watch_server_hello(client(), lambda group: None)


def test_a_changed_hello_handler_signature_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    def handler(self: Any, input_buf: Any, output_bufs: Any, extra: Any) -> None:
        raise AssertionError("never called")

    monkeypatch.setattr(aioquic.tls.Context, "_client_handle_hello", handler)
    with pytest.raises(compat.AioquicUnsupported, match="takes") as err:
        compat.watch_server_hello(client(), lambda group: None)
    assert "'output_bufs', 'extra'" in str(err.value)


def test_missing_connection_internals_fail_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    original = QuicConnection.__init__

    def without_retry_count(self: QuicConnection, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        del self._retry_count

    monkeypatch.setattr(QuicConnection, "__init__", without_retry_count)
    with pytest.raises(compat.AioquicUnsupported, match=r"QuicConnection\._retry_count is gone"):
        compat.check_internals()


def test_watching_needs_a_connection_that_has_sent_its_initial() -> None:
    quic = QuicConnection(configuration=QuicConfiguration(is_client=True))
    with pytest.raises(compat.AioquicUnsupported, match="tls is missing"):
        compat.watch_server_hello(quic, lambda group: None)


def test_watching_wraps_only_this_connection() -> None:
    watched, other = client(), client()
    compat.watch_server_hello(watched, lambda group: None)
    assert "_client_handle_hello" in vars(watched.tls)
    assert "_client_handle_hello" not in vars(other.tls)


def test_before_the_handshake_nothing_is_known() -> None:
    quic = client()
    assert compat.negotiated_version(quic) == 0x00000001  # the first Initial's, v1
    assert compat.retried(quic) is False
    assert compat.cipher_suite_name(quic) is None
    assert compat.peer_chain_der(quic) == []
    assert compat.transport_parameters_blob(quic) is None


def test_group_names() -> None:
    assert compat.group_name(0x001D) == "X25519"
    assert compat.group_name(0x1234) == "0x1234"


def test_no_common_version_is_told_by_aioquic_s_reason_phrase() -> None:
    close = ConnectionTerminated(error_code=1, frame_type=0, reason_phrase=compat.NO_COMMON_VERSION)
    assert compat.is_no_common_version(close)
    assert not compat.is_no_common_version(
        ConnectionTerminated(error_code=1, frame_type=0, reason_phrase="")
    )


def test_pyproject_pins_aioquic_to_the_tested_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = [d for d in project["dependencies"] if d.startswith("aioquic")]
    spec = compat.supported_range().replace(" ", "")
    assert pins == [f"aioquic{spec}"]
