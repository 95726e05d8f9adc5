"""ECHConfigList codec (RFC 9849 section 4, the HTTPS RR ``ech`` SvcParam). No I/O.

An ECHConfigList is a 2-octet length and a run of ECHConfig structures::

    struct { uint16 version; uint16 length; opaque contents[length]; } ECHConfig;

For version 0xfe0d the contents are ECHConfigContents::

    HpkeKeyConfig key_config;      /* config_id(1) kem_id(2) public_key<1..2^16-1>
                                      cipher_suites<4..2^16-4> of (kdf_id(2), aead_id(2)) */
    uint8 maximum_name_length;
    opaque public_name<1..255>;
    ECHConfigExtension extensions<0..2^16-1>;   /* (type(2), data<0..2^16-1>) */

A client skips configs of other versions (section 4: "Clients MUST ignore any ECHConfig
structure with a version they do not support"); they are kept as :class:`EchConfig` with
``version`` set and no contents, so a stored list shows what was published. Every error
names the field it found wrong (:class:`EchConfigError`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

ECH_VERSION = 0xFE0D
# RFC 9180 section 7: the KEM, KDF and AEAD ids the probe can name.
KEM_NAMES = {
    0x0010: "P-256",
    0x0011: "P-384",
    0x0012: "P-521",
    0x0020: "X25519",
    0x0021: "X448",
}
KDF_NAMES = {0x0001: "HKDF-SHA256", 0x0002: "HKDF-SHA384", 0x0003: "HKDF-SHA512"}
AEAD_NAMES = {0x0001: "AES-128-GCM", 0x0002: "AES-256-GCM", 0x0003: "ChaCha20Poly1305"}


class EchConfigError(ValueError):
    """A malformed ECHConfigList; the message names the field."""


@dataclass(frozen=True, slots=True)
class EchConfig:
    """One ECHConfig. ``raw`` is the whole structure (version and length included): the
    HPKE ``info`` of RFC 9849 section 6.1 is built from it."""

    version: int
    raw: bytes
    config_id: int | None = None
    kem_id: int | None = None
    public_key: bytes = b""
    cipher_suites: tuple[tuple[int, int], ...] = ()
    maximum_name_length: int | None = None
    public_name: str | None = None
    extensions: tuple[tuple[int, bytes], ...] = ()

    @property
    def supported(self) -> bool:
        return self.version == ECH_VERSION

    def columns(self) -> dict[str, object]:
        """The config as row values (db.models.transport.EchConfigRow)."""
        return {
            "version": self.version,
            "config_id": self.config_id,
            "kem_id": self.kem_id,
            "kem": KEM_NAMES.get(self.kem_id) if self.kem_id is not None else None,
            "public_key_len": len(self.public_key) if self.supported else None,
            "cipher_suites": ",".join(suite_name(k, a) for k, a in self.cipher_suites) or None,
            "maximum_name_length": self.maximum_name_length,
            "public_name": self.public_name,
            "extension_types": ",".join(str(t) for t, _ in self.extensions) or None,
        }


def suite_name(kdf: int, aead: int) -> str:
    return f"{KDF_NAMES.get(kdf, f'kdf{kdf}')}/{AEAD_NAMES.get(aead, f'aead{aead}')}"


class _Reader:
    def __init__(self, data: bytes, where: str) -> None:
        self.data, self.off, self.where = data, 0, where

    def take(self, n: int, field: str) -> bytes:
        if self.off + n > len(self.data):
            raise EchConfigError(f"{self.where}.{field}: runs past the end ({n} octets wanted)")
        out = self.data[self.off : self.off + n]
        self.off += n
        return out

    def u8(self, field: str) -> int:
        return self.take(1, field)[0]

    def u16(self, field: str) -> int:
        return int(struct.unpack("!H", self.take(2, field))[0])

    def vector(self, length_octets: int, field: str) -> bytes:
        n = self.u8(field) if length_octets == 1 else self.u16(field)
        return self.take(n, field)

    @property
    def left(self) -> int:
        return len(self.data) - self.off


def parse_ech_config_list(data: bytes) -> list[EchConfig]:
    """Parse an ECHConfigList (the ``ech`` SvcParam value, RFC 9849 section 4)."""
    r = _Reader(bytes(data), "ECHConfigList")
    body = r.vector(2, "length")
    if r.left:
        raise EchConfigError(f"ECHConfigList.length: {r.left} octets after the list")
    if len(body) < 4:
        raise EchConfigError("ECHConfigList.length: shorter than one ECHConfig header (4)")
    out: list[EchConfig] = []
    lr = _Reader(body, "ECHConfigList")
    while lr.left:
        start = lr.off
        i = len(out)
        version = lr.u16(f"configs[{i}].version")
        contents = lr.vector(2, f"configs[{i}].length")
        raw = body[start : lr.off]
        out.append(_contents(version, contents, raw, f"configs[{i}]"))
    return out


def _contents(version: int, contents: bytes, raw: bytes, where: str) -> EchConfig:
    if version != ECH_VERSION:
        return EchConfig(version=version, raw=raw)
    r = _Reader(contents, where)
    config_id = r.u8("config_id")
    kem_id = r.u16("kem_id")
    public_key = r.vector(2, "public_key")
    if not public_key:
        raise EchConfigError(f"{where}.public_key: empty")
    suites_raw = r.vector(2, "cipher_suites")
    if len(suites_raw) < 4 or len(suites_raw) % 4:
        raise EchConfigError(
            f"{where}.cipher_suites: {len(suites_raw)} octets is not a non-empty run of 4"
        )
    suites = tuple(
        (int.from_bytes(suites_raw[i : i + 2], "big"), int.from_bytes(suites_raw[i + 2 : i + 4]))
        for i in range(0, len(suites_raw), 4)
    )
    maximum_name_length = r.u8("maximum_name_length")
    name_raw = r.vector(1, "public_name")
    if not name_raw:
        raise EchConfigError(f"{where}.public_name: empty")
    try:
        public_name = name_raw.decode("ascii")
    except UnicodeDecodeError:
        raise EchConfigError(f"{where}.public_name: not ASCII") from None
    if not public_name.isprintable():
        raise EchConfigError(f"{where}.public_name: {public_name!r} has control characters")
    ext_raw = r.vector(2, "extensions")
    if r.left:
        raise EchConfigError(f"{where}.length: {r.left} octets after the extensions")
    er = _Reader(ext_raw, f"{where}.extensions")
    extensions = []
    while er.left:
        ext_type = er.u16("type")
        extensions.append((ext_type, er.vector(2, "data")))
    return EchConfig(
        version=version,
        raw=raw,
        config_id=config_id,
        kem_id=kem_id,
        public_key=public_key,
        cipher_suites=suites,
        maximum_name_length=maximum_name_length,
        public_name=public_name,
        extensions=tuple(extensions),
    )


def encode_ech_config(
    *,
    config_id: int,
    kem_id: int,
    public_key: bytes,
    cipher_suites: tuple[tuple[int, int], ...],
    maximum_name_length: int,
    public_name: str,
    extensions: tuple[tuple[int, bytes], ...] = (),
) -> bytes:
    """One version 0xfe0d ECHConfig (what Caddy stores as ech/configs/<id>/config.bin)."""
    name = public_name.encode("ascii")
    if not 1 <= len(name) <= 255:
        raise EchConfigError(f"public_name: {len(name)} octets is not 1..255")
    if not cipher_suites:
        raise EchConfigError("cipher_suites: empty")
    suites = b"".join(struct.pack("!HH", k, a) for k, a in cipher_suites)
    exts = b"".join(struct.pack("!HH", t, len(d)) + d for t, d in extensions)
    contents = (
        struct.pack("!BHH", config_id, kem_id, len(public_key))
        + public_key
        + struct.pack("!H", len(suites))
        + suites
        + struct.pack("!BB", maximum_name_length, len(name))
        + name
        + struct.pack("!H", len(exts))
        + exts
    )
    return struct.pack("!HH", ECH_VERSION, len(contents)) + contents


def encode_ech_config_list(configs: list[bytes]) -> bytes:
    """An ECHConfigList of encoded ECHConfigs (the ``ech`` SvcParam value)."""
    body = b"".join(configs)
    return struct.pack("!H", len(body)) + body
