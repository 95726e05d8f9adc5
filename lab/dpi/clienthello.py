"""Read a TLS ClientHello the way a DPI box does: its SNI and its extension types. No I/O.

The parser is lenient where a censor is (it never validates what it does not need) and
strict about lengths, so a truncated or lying message raises :class:`ClientHelloError`
instead of reading past its end. :class:`TlsStream` reassembles the ClientHello from the
bytes of a TCP stream however the client splits them into records and segments (RFC 8446
section 5.1: a handshake message may span several records).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

HANDSHAKE_RECORD = 22  # RFC 8446 section 5.1, ContentType handshake
CLIENT_HELLO = 1  # RFC 8446 section 4, HandshakeType client_hello
EXT_SERVER_NAME = 0  # RFC 6066 section 3
EXT_ECH = 0xFE0D  # RFC 9849: encrypted_client_hello
HOST_NAME = 0  # RFC 6066 section 3, NameType host_name
RECORD_HEADER = 5
MAX_CLIENT_HELLO = 1 << 16  # larger ones are not worth buffering; the flow is let through


class ClientHelloError(ValueError):
    """Not a ClientHello, or a malformed one; the message names the field."""


@dataclass(frozen=True, slots=True)
class ClientHello:
    """What a censor reads: the SNI host name (lower case, no trailing dot) and the
    extension types in order."""

    sni: str | None
    extensions: tuple[int, ...]

    @property
    def has_ech(self) -> bool:
        return EXT_ECH in self.extensions


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int, field: str) -> bytes:
        if self.pos + n > len(self.data):
            raise ClientHelloError(
                f"{field}: {n} bytes announced, {len(self.data) - self.pos} left"
            )
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint(self, size: int, field: str) -> int:
        return int.from_bytes(self.take(size, field), "big")

    def vector(self, size: int, field: str) -> bytes:
        return self.take(self.uint(size, f"{field} length"), field)


def message_length(handshake: bytes) -> int | None:
    """The full length (4-byte header included) of the ClientHello at the start of
    ``handshake``, or None while its header is incomplete."""
    if len(handshake) < 4:
        return None
    if handshake[0] != CLIENT_HELLO:
        raise ClientHelloError(f"handshake type: {handshake[0]}, not client_hello (1)")
    return 4 + int.from_bytes(handshake[1:4], "big")


def parse(handshake: bytes) -> ClientHello:
    """Parse a complete ClientHello handshake message (RFC 8446 section 4.1.2), header
    included; bytes after it are ignored."""
    length = message_length(handshake)
    if length is None or len(handshake) < length:
        raise ClientHelloError("client_hello: message truncated")
    r = _Reader(handshake[4:length])
    r.take(2 + 32, "legacy_version and random")
    r.vector(1, "legacy_session_id")
    r.vector(2, "cipher_suites")
    r.vector(1, "legacy_compression_methods")
    if r.pos == len(r.data):
        return ClientHello(sni=None, extensions=())  # RFC 5246 section 7.4.1.2: optional
    exts = _Reader(r.vector(2, "extensions"))
    types: list[int] = []
    sni: str | None = None
    while exts.pos < len(exts.data):
        ext_type = exts.uint(2, "extension type")
        body = exts.vector(2, f"extension {ext_type:#06x}")
        types.append(ext_type)
        if ext_type == EXT_SERVER_NAME and sni is None:
            sni = _server_name(body)
    return ClientHello(sni=sni, extensions=tuple(types))


def _server_name(body: bytes) -> str | None:
    names = _Reader(_Reader(body).vector(2, "server_name_list"))
    while names.pos < len(names.data):
        name_type = names.uint(1, "server_name type")
        name = names.vector(2, "host_name")
        if name_type == HOST_NAME:
            return normalise(name.decode("ascii", errors="replace"))
    return None


def normalise(host: str) -> str:
    """Host names compare case-insensitively and without a trailing dot (RFC 6066 section
    3: the SNI carries no trailing dot)."""
    return host.rstrip(".").lower()


class TlsStream:
    """The client-to-server bytes of one TCP connection, in order, until its first
    ClientHello is complete. ``feed`` returns the ClientHello once it is, None while more
    bytes are needed; it raises :class:`ClientHelloError` when the stream is not TLS or the
    message is not a ClientHello (the censor then lets the flow be)."""

    def __init__(self) -> None:
        self._stream = bytearray()
        self._handshake = bytearray()
        self._records_done = 0  # bytes of _stream already moved into _handshake

    def feed(self, data: bytes) -> ClientHello | None:
        self._stream += data
        while len(self._stream) - self._records_done >= RECORD_HEADER:
            start = self._records_done
            content_type, _version, length = struct.unpack_from("!BHH", self._stream, start)
            if content_type != HANDSHAKE_RECORD:
                raise ClientHelloError(f"record content type: {content_type}, not handshake")
            if len(self._stream) - start - RECORD_HEADER < length:
                break
            self._handshake += self._stream[start + RECORD_HEADER : start + RECORD_HEADER + length]
            self._records_done = start + RECORD_HEADER + length
        wanted = message_length(bytes(self._handshake[:4]))
        if wanted is None:
            return None
        if wanted > MAX_CLIENT_HELLO:
            raise ClientHelloError(f"client_hello: {wanted} bytes is more than a censor buffers")
        if len(self._handshake) < wanted:
            return None
        return parse(bytes(self._handshake))
