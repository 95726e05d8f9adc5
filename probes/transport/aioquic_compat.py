"""Every use of aioquic's private internals, behind small named functions. No I/O.

``transport.quic`` records what aioquic's public events do not carry: the negotiated
version, whether a Retry happened, the cipher suite, the peer's certificate chain, the
server's transport parameters in wire order and the ServerHello's key-share group. Each
function below says why the public API is not enough. aioquic makes no promise about
these internals, so the module accepts only the aioquic versions fragscope is tested
with (``SUPPORTED``, the same range as pyproject.toml's pin) and, on first use, checks
that every internal it touches is still there with the shape it expects: a newer aioquic
fails loudly with :class:`AioquicUnsupported`, naming the installed version, instead of
quietly recording less.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import aioquic

# aioquic.buffer re-exports these without __all__, which strict mypy refuses; they are
# defined in the C extension aioquic._buffer (the class every Buffer in aioquic is).
from aioquic._buffer import Buffer, BufferReadError
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import ConnectionTerminated
from aioquic.tls import Alert, Group, pull_server_hello
from cryptography.hazmat.primitives.serialization import Encoding

# The tested range, lowest version included, upper bound excluded; pyproject.toml pins
# aioquic to the same range (tests/transport/test_aioquic_compat.py checks they agree).
SUPPORTED = ((1, 6), (1, 8))
QUIC_TRANSPORT_PARAMETERS_EXT = 0x39  # RFC 9001 section 8.2
# What aioquic puts in the ConnectionTerminated it raises itself when a Version
# Negotiation packet lists none of the offered versions (RFC 9000 section 6.2).
NO_COMMON_VERSION = "Could not find a common protocol version"
# The ServerHello handler transport.quic wraps, and the parameters it must take.
HELLO_HANDLER = "_client_handle_hello"
HELLO_PARAMETERS = ("input_buf", "output_buf")


class AioquicUnsupported(RuntimeError):
    """The installed aioquic is outside the tested range or its internals changed."""


def supported_range() -> str:
    """The tested range as a requirement specifier, e.g. ``>=1.6, <1.8``."""
    (lo_major, lo_minor), (hi_major, hi_minor) = SUPPORTED
    return f">={lo_major}.{lo_minor}, <{hi_major}.{hi_minor}"


def _release(version: str) -> tuple[int, int]:
    parts = version.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        raise AioquicUnsupported(
            f"aioquic {version!r}: not a version fragscope understands "
            f"(tested: aioquic {supported_range()})"
        ) from None


def check_version(version: str | None = None) -> None:
    """Raise AioquicUnsupported unless ``version`` (default: the installed aioquic's)
    is in the tested range."""
    installed = aioquic.__version__ if version is None else version
    low, below = SUPPORTED
    if not low <= _release(installed) < below:
        raise AioquicUnsupported(
            f"aioquic {installed} is not supported: transport.quic reads aioquic internals "
            f"and is tested with aioquic {supported_range()} (pyproject.toml pins that range)"
        )


def _missing(what: str) -> AioquicUnsupported:
    return AioquicUnsupported(
        f"aioquic {aioquic.__version__}: {what}; transport.quic needs it "
        f"(tested: aioquic {supported_range()})"
    )


def check_hello_handler(tls: Any) -> Callable[[Buffer, Buffer], None]:
    """The TLS context's ServerHello handler, checked: it exists and takes
    (input_buf, output_buf). Raises AioquicUnsupported otherwise."""
    handler = getattr(tls, HELLO_HANDLER, None)
    if not callable(handler):
        raise _missing(f"tls.Context.{HELLO_HANDLER} is gone")
    names = tuple(inspect.signature(handler).parameters)
    if names != HELLO_PARAMETERS:
        raise _missing(f"tls.Context.{HELLO_HANDLER} takes {names}, not {HELLO_PARAMETERS}")
    return handler  # type: ignore[no-any-return]


def check_internals() -> None:
    """Check every internal this module reads on a client connection that has sent its
    first Initial (built in memory, nothing is sent). Raises AioquicUnsupported."""
    quic = QuicConnection(configuration=QuicConfiguration(is_client=True))
    quic.connect(("127.0.0.1", 443), now=0.0)  # builds the Initial; no socket involved
    for name in ("_version", "_retry_count", "tls"):
        if not hasattr(quic, name):
            raise _missing(f"QuicConnection.{name} is gone")
    tls = quic.tls
    for name in (
        "_peer_certificate",
        "_peer_certificate_chain",
        "key_schedule",
        "received_extensions",
    ):
        if not hasattr(tls, name):
            raise _missing(f"tls.Context.{name} is gone")
    check_hello_handler(tls)


@functools.cache
def _checked_once(version: str) -> None:
    check_version(version)
    check_internals()


def require_supported() -> None:
    """Fail loudly, before any traffic, when the installed aioquic cannot be used.

    Both checks run once per installed aioquic version (the internals' check builds
    one Initial in memory).
    """
    _checked_once(aioquic.__version__)


def negotiated_version(quic: QuicConnection) -> int | None:
    """The QUIC version in use, after compatible negotiation (RFC 9368 section 2.3).

    Private ``_version``: HandshakeCompleted carries no version and QuicConnection has no
    public accessor, yet the server may switch v1 to v2 (RFC 9369) during the handshake.
    """
    version: int | None = quic._version
    return version


def retried(quic: QuicConnection) -> bool:
    """Whether the server answered with a Retry (RFC 9000 section 8.1.2, 17.2.5).

    Private ``_retry_count``: aioquic handles the Retry itself and emits no event for it.
    """
    return int(quic._retry_count) > 0


def cipher_suite_name(quic: QuicConnection) -> str | None:
    """The negotiated TLS cipher suite (RFC 9001 section 5.3: it is QUIC's AEAD).

    Undocumented ``tls.key_schedule``: HandshakeCompleted carries ALPN and session
    resumption, not the cipher.
    """
    schedule = quic.tls.key_schedule
    return None if schedule is None else str(schedule.cipher_suite.name)


def peer_chain_der(quic: QuicConnection) -> list[bytes]:
    """The server's certificate chain, leaf first, DER (RFC 9001 section 4.4).

    Private ``tls._peer_certificate`` and ``_peer_certificate_chain``: the probe does not
    let aioquic verify (a bad certificate is a verdict, not a stop), and aioquic exposes
    the chain nowhere else.
    """
    tls = quic.tls
    leaf = tls._peer_certificate
    if leaf is None:
        return []
    return [c.public_bytes(Encoding.DER) for c in (leaf, *tls._peer_certificate_chain)]


def transport_parameters_blob(quic: QuicConnection) -> bytes | None:
    """The server's quic_transport_parameters extension as sent (RFC 9001 section 8.2).

    Undocumented ``tls.received_extensions``: aioquic decodes the parameters into its
    own state, dropping their order and any id it does not know (RFC 9000 section 18.1);
    the probe records both, so it parses the raw extension itself.
    """
    for ext_type, value in quic.tls.received_extensions or []:
        if ext_type == QUIC_TRANSPORT_PARAMETERS_EXT:
            return bytes(value)
    return None


def is_no_common_version(close: ConnectionTerminated) -> bool:
    """Whether aioquic gave up because a Version Negotiation packet listed none of the
    offered versions (RFC 9000 section 6.2).

    aioquic reports that as a generic INTERNAL_ERROR close; only the reason phrase
    tells it apart.
    """
    return close.reason_phrase == NO_COMMON_VERSION


def group_name(group: int) -> str:
    """A TLS named group's name (RFC 8446 section 4.2.7), or its code point in hex."""
    try:
        return Group(group).name
    except ValueError:
        return f"0x{group:04x}"


def watch_server_hello(quic: QuicConnection, record: Callable[[str], None]) -> None:
    """Call ``record`` with the ServerHello's key-share group (RFC 8446 section 4.2.8)
    before aioquic handles the message, on this one connection.

    aioquic keeps no trace of the group, so this wraps the TLS context's private
    ServerHello handler on this connection (not the class). The connection must have
    sent its Initial (``tls`` exists from then on). Raises AioquicUnsupported when the
    handler is missing or takes other parameters.
    """
    tls = getattr(quic, "tls", None)
    if tls is None:
        raise _missing("QuicConnection.tls is missing after connect()")
    original = check_hello_handler(tls)

    def handle_hello(input_buf: Buffer, output_buf: Buffer) -> None:
        hello_bytes = input_buf.data_slice(0, input_buf.capacity)
        try:
            hello = pull_server_hello(Buffer(data=hello_bytes))
        except (BufferReadError, Alert):
            hello = None  # malformed: aioquic's own handler fails on it and closes
        if hello is not None and hello.key_share is not None:
            record(group_name(hello.key_share[0]))
        original(input_buf, output_buf)

    setattr(tls, HELLO_HANDLER, handle_hello)
