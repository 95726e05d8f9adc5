"""ECH ClientHellos (RFC 9849): a real outer/inner pair sealed with HPKE, and GREASE. No I/O.

A real ECH (section 6.1): the inner ClientHello carries the true name and an ``ech``
extension of type inner; it is encoded with an empty legacy_session_id and zero padding
(section 6.1.3), sealed with HPKE (RFC 9180, through pyhpke) to the config's public key
with ``info = "tls ech" || 0x00 || ECHConfig`` and, as AAD, the outer ClientHello whose
payload is zeros of the same length; the outer carries the config's public_name. GREASE
(section 6.2): an outer ``ech`` extension of random bytes shaped like a real one, with no
inner. Acceptance (section 7.2) is :func:`accept_confirmation`.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from pyhpke import AEADId, CipherSuite, KDFId, KEMId

from fragscope.probes.transport.ech_config import EchConfig
from fragscope.probes.transport.tls13 import (
    CLIENT_HELLO,
    EXT_ECH,
    HASH_LEN,
    KeyShare,
    client_hello_body,
    extension,
    handshake_message,
    hkdf_expand_label,
    hkdf_extract,
    transcript_hash,
    vec,
)

ECH_OUTER, ECH_INNER = 0, 1
X25519_KEM = 0x0020
HKDF_SHA256 = 0x0001
# The AEADs pyhpke seals with, in the client's preference order.
AEADS = {0x0001: AEADId.AES128_GCM, 0x0002: AEADId.AES256_GCM, 0x0003: AEADId.CHACHA20_POLY1305}
AEAD_TAG = 16


class EchUnusable(ValueError):
    """The published config offers nothing this client can seal with."""


@dataclass(frozen=True, slots=True)
class EchHello:
    """What was sent and what acceptance is checked against."""

    outer: bytes  # the outer ClientHello handshake message (what goes on the wire)
    inner: bytes | None  # the inner ClientHello handshake message (None for GREASE)
    inner_random: bytes | None
    outer_name: str
    inner_name: str | None
    config_id: int


def suite_for(config: EchConfig) -> tuple[int, int]:
    """The (KDF, AEAD) this client seals with for ``config``; raises :class:`EchUnusable`."""
    if config.kem_id != X25519_KEM:
        raise EchUnusable(f"kem_id: 0x{config.kem_id or 0:04x} is not X25519 (0x0020)")
    for kdf, aead in config.cipher_suites:
        if kdf == HKDF_SHA256 and aead in AEADS:
            return kdf, aead
    raise EchUnusable(f"cipher_suites: none of {config.cipher_suites} is HKDF-SHA256 + AEAD")


def _ech_outer(kdf: int, aead: int, config_id: int, enc: bytes, payload: bytes) -> bytes:
    body = bytes([ECH_OUTER]) + struct.pack("!HHB", kdf, aead, config_id)
    return extension(EXT_ECH, body + vec(enc, 2) + vec(payload, 2))


def _padding(inner_len: int, name: str, maximum_name_length: int) -> int:
    # Section 6.1.3: pad the name to the config's maximum_name_length, then the whole
    # EncodedClientHelloInner to a multiple of 32, so its length leaks little.
    pad = max(0, maximum_name_length - len(name)) if maximum_name_length else 0
    total = inner_len + pad
    return pad + (31 - (total - 1) % 32)


def real_ech(
    config: EchConfig,
    inner_name: str,
    key_share: KeyShare,
    alpn: tuple[str, ...] = (),
) -> EchHello:
    """An outer ClientHello to ``config.public_name`` that carries ``inner_name`` sealed."""
    kdf, aead = suite_for(config)
    assert config.public_name is not None and config.config_id is not None
    session_id = os.urandom(32)
    inner_random = os.urandom(32)
    inner_ext = extension(EXT_ECH, bytes([ECH_INNER]))

    def inner_body(session: bytes) -> bytes:
        return client_hello_body(
            random=inner_random,
            session_id=session,
            server_name=inner_name,
            key_share=key_share.public,
            alpn=alpn,
            extra=(inner_ext,),
        )

    # Section 6.1.3: the EncodedClientHelloInner has an empty legacy_session_id (the
    # server copies the outer's back in) and zero padding.
    encoded = inner_body(b"")
    encoded += bytes(_padding(len(encoded), inner_name, config.maximum_name_length or 0))
    suite = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADS[aead])
    info = b"tls ech\x00" + config.raw
    enc, sender = suite.create_sender_context(
        suite.kem.deserialize_public_key(config.public_key), info
    )
    outer_random = os.urandom(32)

    def outer_body(payload: bytes) -> bytes:
        ech = _ech_outer(kdf, aead, config.config_id or 0, enc, payload)
        return client_hello_body(
            random=outer_random,
            session_id=session_id,
            server_name=config.public_name or "",
            key_share=key_share.public,
            alpn=alpn,
            extra=(ech,),
        )

    aad = outer_body(bytes(len(encoded) + AEAD_TAG))
    payload = sender.seal(encoded, aad)
    return EchHello(
        outer=handshake_message(CLIENT_HELLO, outer_body(payload)),
        inner=handshake_message(CLIENT_HELLO, inner_body(session_id)),
        inner_random=inner_random,
        outer_name=config.public_name,
        inner_name=inner_name,
        config_id=config.config_id,
    )


def grease_ech(server_name: str, key_share: KeyShare, alpn: tuple[str, ...] = ()) -> EchHello:
    """A ClientHello to ``server_name`` with a GREASE ``ech`` extension (section 6.2): a
    random config_id, a random X25519-sized enc and a random payload of a real one's size."""
    config_id = os.urandom(1)[0]
    payload = os.urandom(32 * 8 + AEAD_TAG)  # an inner of a few hundred octets
    ech = _ech_outer(HKDF_SHA256, 0x0001, config_id, os.urandom(32), payload)
    body = client_hello_body(
        random=os.urandom(32),
        session_id=os.urandom(32),
        server_name=server_name,
        key_share=key_share.public,
        alpn=alpn,
        extra=(ech,),
    )
    return EchHello(
        outer=handshake_message(CLIENT_HELLO, body),
        inner=None,
        inner_random=None,
        outer_name=server_name,
        inner_name=None,
        config_id=config_id,
    )


def plain_hello(server_name: str, key_share: KeyShare, alpn: tuple[str, ...] = ()) -> EchHello:
    """The same ClientHello without ECH: the control of the A/B comparison."""
    body = client_hello_body(
        random=os.urandom(32),
        session_id=os.urandom(32),
        server_name=server_name,
        key_share=key_share.public,
        alpn=alpn,
    )
    return EchHello(handshake_message(CLIENT_HELLO, body), None, None, server_name, None, 0)


def accept_confirmation(inner_random: bytes, inner_hello: bytes, server_hello: bytes) -> bytes:
    """RFC 9849 section 7.2: the 8 octets a server that accepted ECH puts at the end of
    ServerHello.random, computed over the inner ClientHello and the ServerHello with those
    8 octets zeroed."""
    # ServerHello: type(1) length(3) legacy_version(2) random(32): random ends at offset 38.
    zeroed = server_hello[:30] + bytes(8) + server_hello[38:]
    secret = hkdf_extract(bytes(HASH_LEN), inner_random)
    return hkdf_expand_label(
        secret, "ech accept confirmation", transcript_hash(inner_hello, zeroed), 8
    )
