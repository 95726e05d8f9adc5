"""EIP-1577 / ENSIP-7 contenthash decoding to ipfs://, ipns://, bzz://, onion... No I/O.

A contenthash is ``<protoCode uvarint><value>`` (EIP-1577 "Specification"). For IPFS
(0xe3), IPNS (0xe5) and Swarm (0xe4) the value is a binary CIDv1 without a multibase
prefix. The text forms follow the ENS libraries (@ensdomains/content-hash): IPFS dag-pb
sha2-256 CIDs are shown as CIDv0 base58btc (``Qm...``, the EIP's own example), other IPFS
CIDs as base32 ``b...``, IPNS as base36 ``k...`` (libp2p-key), Swarm as the bare hex
hash. Anything else is reported with its codec and hex, never dropped.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

# multicodec table entries (github.com/multiformats/multicodec, table.csv) used by ENS.
IPFS_NS = 0xE3
SWARM_NS = 0xE4
IPNS_NS = 0xE5
ONION = 0x01BC
ONION3 = 0x01BD
SKYNET_NS = 0xB19910
ARWEAVE_NS = 0xB29910

DAG_PB = 0x70
LIBP2P_KEY = 0x72
SHA2_256 = 0x12

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B32 = "abcdefghijklmnopqrstuvwxyz234567"
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


class ContenthashError(ValueError):
    """The bytes are not a valid EIP-1577 contenthash."""


@dataclass(frozen=True, slots=True)
class Contenthash:
    """A decoded contenthash: protocol name, text form (``ipfs://...``) and raw hex."""

    protocol: str
    text: str
    raw_hex: str


def read_uvarint(data: bytes, pos: int = 0) -> tuple[int, int]:
    """An unsigned LEB128 varint (multiformats unsigned-varint) -> (value, next position)."""
    value = 0
    shift = 0
    for i in range(pos, min(len(data), pos + 9)):  # the spec caps varints at 9 bytes
        byte = data[i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i + 1
        shift += 7
    raise ContenthashError(f"truncated or overlong varint at byte {pos}")


def write_uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _base_n(data: bytes, alphabet: str) -> str:
    # Leading zero bytes map to the alphabet's zero digit (base58btc rule, also base36).
    n = int.from_bytes(data, "big")
    digits = []
    base = len(alphabet)
    while n:
        n, r = divmod(n, base)
        digits.append(alphabet[r])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return alphabet[0] * zeros + "".join(reversed(digits))


def base58btc(data: bytes) -> str:
    return _base_n(data, _B58)


def base36(data: bytes) -> str:
    return _base_n(data, _B36)


def base32_lower(data: bytes) -> str:
    """RFC 4648 base32, lower case, no padding (multibase 'b')."""
    bits = 0
    acc = 0
    out = []
    for byte in data:
        acc = (acc << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append(_B32[(acc >> bits) & 31])
    if bits:
        out.append(_B32[(acc << (5 - bits)) & 31])
    return "".join(out)


def _parse_cid(value: bytes) -> tuple[int, int, bytes]:
    """(version, content codec, multihash bytes) of a binary CIDv1; checks the multihash."""
    version, pos = read_uvarint(value)
    if version != 1:
        raise ContenthashError(f"CID version {version}, EIP-1577 requires CIDv1")
    codec, pos = read_uvarint(value, pos)
    multihash = value[pos:]
    _fn, hpos = read_uvarint(multihash)
    length, hpos = read_uvarint(multihash, hpos)
    if len(multihash) - hpos != length:
        raise ContenthashError(
            f"multihash digest is {len(multihash) - hpos} bytes, its header says {length}"
        )
    return version, codec, multihash


def decode(raw: bytes) -> Contenthash:
    """Decode a contenthash; raises :class:`ContenthashError` on malformed input."""
    if not raw:
        raise ContenthashError("empty contenthash")
    proto, pos = read_uvarint(raw)
    value = raw[pos:]
    raw_hex = "0x" + raw.hex()
    if proto == IPFS_NS:
        _v, codec, multihash = _parse_cid(value)
        if codec == DAG_PB and multihash[:2] == bytes([SHA2_256, 32]):
            # CIDv0 is the bare multihash in base58btc (the EIP-1577 example's form).
            return Contenthash("ipfs", "ipfs://" + base58btc(multihash), raw_hex)
        return Contenthash("ipfs", "ipfs://b" + base32_lower(value), raw_hex)
    if proto == IPNS_NS:
        _v, codec, _mh = _parse_cid(value)
        if codec == LIBP2P_KEY:
            return Contenthash("ipns", "ipns://k" + base36(value), raw_hex)
        return Contenthash("ipns", "ipns://b" + base32_lower(value), raw_hex)
    if proto == SWARM_NS:
        _v, _codec, multihash = _parse_cid(value)
        _fn, hpos = read_uvarint(multihash)
        _len, hpos = read_uvarint(multihash, hpos)
        return Contenthash("swarm", "bzz://" + multihash[hpos:].hex(), raw_hex)
    if proto in (ONION, ONION3):
        try:
            host = value.decode("ascii")
        except UnicodeDecodeError as exc:
            raise ContenthashError("onion address is not ASCII") from exc
        return Contenthash("onion" if proto == ONION else "onion3", f"onion://{host}", raw_hex)
    if proto == SKYNET_NS:
        return Contenthash("skynet", "sia://" + value.hex(), raw_hex)
    if proto == ARWEAVE_NS:
        # Arweave transaction ids are written in unpadded base64url.
        text = base64.urlsafe_b64encode(value).rstrip(b"=").decode()
        return Contenthash("arweave", "ar://" + text, raw_hex)
    return Contenthash(f"multicodec-0x{proto:x}", f"0x{proto:x}:" + value.hex(), raw_hex)
