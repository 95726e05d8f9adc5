"""The client half of a TLS 1.3 handshake, hand-built, up to the server's Certificate. No I/O.

transport.ech needs what no TLS library here exposes: a ClientHello whose bytes it chooses
(an ECH outer and inner, RFC 9849), the ServerHello's random to check ECH acceptance, and
the server's EncryptedExtensions (ECH retry_configs) and Certificate. So this module builds
ClientHellos (RFC 8446 section 4.1.2), runs the key schedule (section 7.1) for
TLS_AES_128_GCM_SHA256 over X25519, and decrypts the server's handshake records (section
5.2) until the Certificate. It never sends Finished: the measurement ends there.

:class:`ServerFlight` is fed the server's bytes as they arrive and says when it has what
it needs; every malformed input raises :class:`TlsError` naming the field.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

TLS_AES_128_GCM_SHA256 = 0x1301
X25519_GROUP = 0x001D
TLS13 = 0x0304
# Extension code points (RFC 8446 section 4.2; RFC 9849 section 5).
EXT_SERVER_NAME, EXT_SUPPORTED_GROUPS, EXT_SIGNATURE_ALGORITHMS = 0x0000, 0x000A, 0x000D
EXT_ALPN, EXT_SUPPORTED_VERSIONS, EXT_KEY_SHARE, EXT_ECH = 0x0010, 0x002B, 0x0033, 0xFE0D
# Handshake message types (RFC 8446 section 4).
CLIENT_HELLO, SERVER_HELLO, ENCRYPTED_EXTENSIONS, CERTIFICATE = 1, 2, 8, 11
# Record content types (RFC 8446 section 5.1).
CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA = 20, 21, 22, 23
# ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256/384, ed25519, rsa_pkcs1_sha256.
SIGNATURE_ALGORITHMS = (0x0403, 0x0804, 0x0805, 0x0807, 0x0401)
# RFC 8446 section 4.1.3: the random of a HelloRetryRequest.
HRR_RANDOM = hashlib.sha256(b"HelloRetryRequest").digest()
HASH_LEN = 32


class TlsError(ValueError):
    """The server's bytes are not the TLS 1.3 this client expects; names the field."""


class TlsAlert(Exception):
    """The server sent an alert (RFC 8446 section 6)."""

    def __init__(self, level: int, description: int) -> None:
        super().__init__(f"TLS alert {description} (level {level})")
        self.description = description


def u16(n: int) -> bytes:
    return struct.pack("!H", n)


def vec(data: bytes, length_octets: int) -> bytes:
    """``data`` with its length prefix of 1, 2 or 3 octets (RFC 8446 section 3.4)."""
    return len(data).to_bytes(length_octets, "big") + data


def extension(ext_type: int, body: bytes) -> bytes:
    return u16(ext_type) + vec(body, 2)


def handshake_message(msg_type: int, body: bytes) -> bytes:
    return bytes([msg_type]) + vec(body, 3)


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt or bytes(HASH_LEN), ikm, hashlib.sha256).digest()


def hkdf_expand_label(secret: bytes, label: str, context: bytes, length: int) -> bytes:
    """RFC 8446 section 7.1: HKDF-Expand-Label over SHA-256."""
    full = b"tls13 " + label.encode("ascii")
    info = u16(length) + vec(full, 1) + vec(context, 1)
    return HKDFExpand(hashes.SHA256(), length, info).derive(secret)


def transcript_hash(*messages: bytes) -> bytes:
    return hashlib.sha256(b"".join(messages)).digest()


@dataclass(frozen=True, slots=True)
class KeyShare:
    """The client's X25519 key share, used by both ClientHellos of an ECH handshake."""

    private: X25519PrivateKey

    @classmethod
    def generate(cls) -> KeyShare:
        return cls(X25519PrivateKey.generate())

    @property
    def public(self) -> bytes:
        return self.private.public_key().public_bytes_raw()

    def shared(self, server_public: bytes) -> bytes:
        if len(server_public) != 32:
            raise TlsError(f"ServerHello.key_share: {len(server_public)} octets, not 32 (X25519)")
        return self.private.exchange(X25519PublicKey.from_public_bytes(server_public))


def client_hello_body(
    *,
    random: bytes,
    session_id: bytes,
    server_name: str,
    key_share: bytes,
    alpn: tuple[str, ...] = (),
    extra: tuple[bytes, ...] = (),
) -> bytes:
    """A TLS 1.3-only ClientHello body (RFC 8446 section 4.1.2): one suite, X25519, and the
    encoded ``extra`` extensions last (ECH's goes there)."""
    host = server_name.encode("ascii")
    sni = vec(b"\x00" + vec(host, 2), 2)  # one HostName entry (RFC 6066 section 3)
    exts = [
        extension(EXT_SERVER_NAME, sni),
        extension(EXT_SUPPORTED_GROUPS, vec(u16(X25519_GROUP), 2)),
        extension(EXT_SIGNATURE_ALGORITHMS, vec(b"".join(map(u16, SIGNATURE_ALGORITHMS)), 2)),
    ]
    if alpn:
        ids = b"".join(vec(a.encode("ascii"), 1) for a in alpn)
        exts.append(extension(EXT_ALPN, vec(ids, 2)))
    exts += [
        extension(EXT_SUPPORTED_VERSIONS, vec(u16(TLS13), 1)),
        extension(EXT_KEY_SHARE, vec(u16(X25519_GROUP) + vec(key_share, 2), 2)),
        *extra,
    ]
    return (
        u16(0x0303)  # legacy_version
        + random
        + vec(session_id, 1)
        + vec(u16(TLS_AES_128_GCM_SHA256), 2)
        + b"\x01\x00"  # legacy_compression_methods: null only
        + vec(b"".join(exts), 2)
    )


def record(content_type: int, payload: bytes) -> bytes:
    return bytes([content_type]) + u16(0x0301) + vec(payload, 2)


class _Reader:
    def __init__(self, data: bytes, where: str) -> None:
        self.data, self.off, self.where = data, 0, where

    def take(self, n: int, name: str) -> bytes:
        if self.off + n > len(self.data):
            raise TlsError(f"{self.where}.{name}: runs past the end")
        out = self.data[self.off : self.off + n]
        self.off += n
        return out

    def number(self, n: int, name: str) -> int:
        return int.from_bytes(self.take(n, name), "big")

    def vector(self, n: int, name: str) -> bytes:
        return self.take(self.number(n, name), name)

    @property
    def left(self) -> int:
        return len(self.data) - self.off


def parse_extensions(data: bytes, where: str) -> dict[int, bytes]:
    r = _Reader(data, where)
    out: dict[int, bytes] = {}
    while r.left:
        ext_type = r.number(2, "extension_type")
        out[ext_type] = r.vector(2, f"extension[{ext_type}]")
    return out


@dataclass(frozen=True, slots=True)
class ServerHello:
    message: bytes  # the whole handshake message, header included (for the transcript)
    random: bytes
    cipher_suite: int
    key_share: bytes
    extensions: dict[int, bytes]

    @property
    def is_retry_request(self) -> bool:
        return self.random == HRR_RANDOM


# Called with the ServerHello; returns the transcript hash the key schedule uses.
ChooseTranscript = Callable[[ServerHello], bytes]


def parse_server_hello(message: bytes) -> ServerHello:
    r = _Reader(message[4:], "ServerHello")
    r.take(2, "legacy_version")
    random = r.take(32, "random")
    r.vector(1, "legacy_session_id_echo")
    suite = r.number(2, "cipher_suite")
    r.take(1, "legacy_compression_method")
    exts = parse_extensions(r.vector(2, "extensions"), "ServerHello.extensions")
    versions = exts.get(EXT_SUPPORTED_VERSIONS)
    if versions != u16(TLS13):
        raise TlsError(f"ServerHello.supported_versions: {versions!r} is not TLS 1.3")
    if random == HRR_RANDOM:
        return ServerHello(message, random, suite, b"", exts)
    if suite != TLS_AES_128_GCM_SHA256:
        raise TlsError(f"ServerHello.cipher_suite: 0x{suite:04x} was not offered")
    ks = _Reader(exts.get(EXT_KEY_SHARE, b""), "ServerHello.key_share")
    if ks.number(2, "group") != X25519_GROUP:
        raise TlsError("ServerHello.key_share.group: not X25519")
    return ServerHello(message, random, suite, ks.vector(2, "key_exchange"), exts)


def parse_certificate(message: bytes) -> list[bytes]:
    """The DER certificates of a TLS 1.3 Certificate message (RFC 8446 section 4.4.2)."""
    r = _Reader(message[4:], "Certificate")
    r.vector(1, "certificate_request_context")
    entries = _Reader(r.vector(3, "certificate_list"), "Certificate.certificate_list")
    chain = []
    while entries.left:
        chain.append(entries.vector(3, "cert_data"))
        entries.vector(2, "extensions")
    return chain


@dataclass(slots=True)
class HandshakeKeys:
    """The server's handshake traffic key and IV (RFC 8446 section 7.3)."""

    key: bytes
    iv: bytes
    seq: int = 0

    @classmethod
    def derive(cls, shared: bytes, transcript: bytes) -> HandshakeKeys:
        early = hkdf_extract(b"", bytes(HASH_LEN))
        derived = hkdf_expand_label(early, "derived", transcript_hash(), HASH_LEN)
        handshake_secret = hkdf_extract(derived, shared)
        secret = hkdf_expand_label(handshake_secret, "s hs traffic", transcript, HASH_LEN)
        return cls(
            hkdf_expand_label(secret, "key", b"", 16), hkdf_expand_label(secret, "iv", b"", 12)
        )

    def open(self, header: bytes, payload: bytes) -> tuple[int, bytes]:
        nonce = bytes(a ^ b for a, b in zip(self.iv, self.seq.to_bytes(12, "big"), strict=True))
        self.seq += 1
        try:
            plain = AESGCM(self.key).decrypt(nonce, payload, header)
        except Exception:  # cryptography's InvalidTag: a wrong key or tampered bytes
            raise TlsError("record: does not decrypt with the handshake keys") from None
        inner = plain.rstrip(b"\x00")  # TLSInnerPlaintext: content, type, zero padding
        if not inner:
            raise TlsError("record: TLSInnerPlaintext has no content type")
        return inner[-1], inner[:-1]


@dataclass(slots=True)
class ServerFlight:
    """The server's first flight, read record by record until its Certificate.

    ``confirm`` picks the transcript once the ServerHello is known (RFC 9849 section 7.2:
    the inner ClientHello when ECH was accepted, else the outer); ``feed`` takes bytes as
    they arrive and returns True once the Certificate (or an alert) is in.
    """

    key_share: KeyShare
    buffer: bytearray = field(default_factory=bytearray)
    server_hello: ServerHello | None = None
    keys: HandshakeKeys | None = None
    handshake: bytearray = field(default_factory=bytearray)
    messages: list[bytes] = field(default_factory=list)

    def feed(self, data: bytes, choose_transcript: ChooseTranscript) -> bool:
        self.buffer += data
        while len(self.buffer) >= 5:
            length = int.from_bytes(self.buffer[3:5], "big")
            if len(self.buffer) < 5 + length:
                return False
            header, payload = bytes(self.buffer[:5]), bytes(self.buffer[5 : 5 + length])
            del self.buffer[: 5 + length]
            if self._record(header, payload, choose_transcript):
                return True
        return False

    def _record(self, header: bytes, payload: bytes, choose: ChooseTranscript) -> bool:
        content_type = header[0]
        if content_type == ALERT:
            raise TlsAlert(payload[0] if payload else 0, payload[1] if len(payload) > 1 else 0)
        if content_type == CHANGE_CIPHER_SPEC:
            return False  # middlebox compatibility (RFC 8446 appendix D.4): ignored
        if self.keys is None:
            if content_type != HANDSHAKE:
                raise TlsError(f"record: type {content_type} before the ServerHello")
            self.handshake += payload
            message = self._next_message()
            if message is None:
                return False
            if message[0] != SERVER_HELLO:
                raise TlsError(f"handshake: message type {message[0]}, not ServerHello")
            sh = parse_server_hello(message)
            self.server_hello = sh
            if sh.is_retry_request:
                return True
            transcript = choose(sh)
            self.keys = HandshakeKeys.derive(self.key_share.shared(sh.key_share), transcript)
            return False
        if content_type != APPLICATION_DATA:
            raise TlsError(f"record: type {content_type} after the ServerHello")
        inner_type, plain = self.keys.open(header, payload)
        if inner_type == ALERT:
            raise TlsAlert(plain[0] if plain else 0, plain[1] if len(plain) > 1 else 0)
        if inner_type != HANDSHAKE:
            raise TlsError(f"record: inner type {inner_type} during the handshake")
        self.handshake += plain
        while (message := self._next_message()) is not None:
            self.messages.append(message)
            if message[0] == CERTIFICATE:
                return True
        return False

    def _next_message(self) -> bytes | None:
        if len(self.handshake) < 4:
            return None
        length = int.from_bytes(self.handshake[1:4], "big")
        if len(self.handshake) < 4 + length:
            return None
        message = bytes(self.handshake[: 4 + length])
        del self.handshake[: 4 + length]
        return message

    def message(self, msg_type: int) -> bytes | None:
        return next((m for m in self.messages if m[0] == msg_type), None)
