"""Open a client's QUIC Initial packets as an on-path censor can, and rebuild the
ClientHello from their CRYPTO frames. No I/O.

Initial packets are protected with keys every observer can derive from the client's
Destination Connection ID (RFC 9001 section 5.2; QUIC v2 changes the salt and the labels,
RFC 9369 section 3.3). The key schedule and the packet (header) protection are aioquic's
(``CryptoPair.setup_initial``), not reimplemented here; the long header is read with the
project's own codec (fragscope.probes.transport.quic_wire). A ClientHello may span several
Initials; :class:`CryptoStream` puts CRYPTO frames back in order by offset (RFC 9000
section 19.6).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from aioquic._crypto import CryptoError  # aioquic.quic.crypto uses it, not re-exported
from aioquic.quic.crypto import CryptoPair

from fragscope.lab.dpi.clienthello import MAX_CLIENT_HELLO, ClientHello, message_length, parse
from fragscope.lab.dpi.reassembly import Reassembler
from fragscope.probes.transport.quic_wire import (
    VERSION_1,
    VERSION_2,
    LongPacketType,
    QuicWireError,
    decode_varint,
    parse_long_header,
)

SUPPORTED_VERSIONS = (VERSION_1, VERSION_2)

# RFC 9000 section 19: frame types a client may put in an Initial (section 17.2.2 allows
# PADDING, PING, ACK, CRYPTO and CONNECTION_CLOSE).
PADDING, PING, ACK, ACK_ECN, CRYPTO, CONNECTION_CLOSE = 0x00, 0x01, 0x02, 0x03, 0x06, 0x1C


class InitialError(ValueError):
    """Not a decryptable client Initial; the message says why."""


@dataclass(frozen=True, slots=True)
class Initial:
    """One opened client Initial: its version, DCID and CRYPTO frames (offset, data)."""

    version: int
    dcid: bytes
    packet_number: int
    crypto: tuple[tuple[int, bytes], ...]


def open_initials(datagram: bytes) -> Iterator[Initial]:
    """Every client Initial of ``datagram`` (coalesced packets, RFC 9000 section 12.2),
    decrypted; stops at the first packet that is not a v1/v2 Initial. Raises
    :class:`InitialError` if the first packet is not one."""
    offset, first = 0, True
    while offset < len(datagram):
        packet = datagram[offset:]
        try:
            header = parse_long_header(packet)
        except QuicWireError as exc:
            if first:
                raise InitialError(f"long header: {exc}") from None
            return
        if header.version not in SUPPORTED_VERSIONS or header.packet_type is not (
            LongPacketType.INITIAL
        ):
            if first:
                raise InitialError(f"not a v1/v2 Initial (version {header.version:#010x})")
            return
        assert header.length is not None  # an Initial always has its Length field
        end = header.header_length + header.length
        if end > len(packet):
            raise InitialError(f"length: {header.length} announced, {len(packet)} present")
        pair = CryptoPair()
        # As the server would: the receive keys are the client's (RFC 9001 section 5.2).
        pair.setup_initial(cid=header.dcid, is_client=False, version=header.version)
        try:
            _plain, payload, pn = pair.decrypt_packet(packet[:end], header.header_length, 0)
        except CryptoError as exc:
            raise InitialError(f"decryption failed: {exc}") from None
        yield Initial(header.version, header.dcid, pn, tuple(crypto_frames(payload)))
        offset += end
        first = False


def crypto_frames(payload: bytes) -> Iterator[tuple[int, bytes]]:
    """The CRYPTO frames (offset, data) of a decrypted Initial payload."""
    pos = 0
    try:
        while pos < len(payload):
            frame_type, pos = decode_varint(payload, pos)
            if frame_type in (PADDING, PING):
                continue
            if frame_type == CRYPTO:
                offset, pos = decode_varint(payload, pos)
                length, pos = decode_varint(payload, pos)
                if pos + length > len(payload):
                    raise InitialError(f"CRYPTO frame: {length} bytes announced")
                yield offset, payload[pos : pos + length]
                pos += length
            elif frame_type in (ACK, ACK_ECN):
                pos = _skip_ack(payload, pos, ecn=frame_type == ACK_ECN)
            else:  # CONNECTION_CLOSE or a frame an Initial may not carry: nothing to read
                return
    except QuicWireError as exc:
        raise InitialError(f"frames: {exc}") from None


def _skip_ack(payload: bytes, pos: int, *, ecn: bool) -> int:
    # RFC 9000 section 19.3: largest, delay, range count, first range, then ranges.
    for _ in range(2):
        _, pos = decode_varint(payload, pos)
    count, pos = decode_varint(payload, pos)
    _, pos = decode_varint(payload, pos)
    for _ in range(2 * count + (3 if ecn else 0)):
        _, pos = decode_varint(payload, pos)
    return pos


class CryptoStream:
    """The Initial-level CRYPTO stream of one connection, reassembled by offset. ``add``
    returns the ClientHello once its bytes from offset 0 are complete, else None;
    duplicates and overlaps (retransmissions) are harmless."""

    def __init__(self) -> None:
        self._bytes = Reassembler(MAX_CLIENT_HELLO)

    def add(self, offset: int, data: bytes) -> ClientHello | None:
        try:
            self._bytes.add(offset, data)
        except ValueError as exc:
            raise InitialError(f"CRYPTO frame: {exc}") from None
        prefix = self._bytes.prefix
        wanted = message_length(prefix[:4])
        if wanted is None or len(prefix) < wanted:
            return None
        return parse(prefix)


def client_hello_of(datagram: bytes) -> ClientHello | None:
    """The ClientHello if this one datagram carries all of it (what an observer that sees
    only a flow's first packet can read), else None."""
    stream = CryptoStream()
    hello = None
    for initial in open_initials(datagram):
        for offset, data in initial.crypto:
            hello = stream.add(offset, data) or hello
    return hello
