"""ABI and naming helpers for the lab chain: selectors, call encoding, EIP-137 namehash,
DNS wire encoding of names (pure, no I/O).

The lab keeps its own small copies so the lab stays independent of the naming probe it is
used to test (the probe's tests compare the two).
"""

from __future__ import annotations

from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_hash.auto import keccak as _keccak


def keccak(data: bytes) -> bytes:
    """Keccak-256 as Ethereum uses it (not NIST SHA3-256)."""
    return bytes(_keccak(data))


def selector(signature: str) -> bytes:
    """The 4-byte function selector of e.g. ``addr(bytes32)``."""
    return keccak(signature.encode())[:4]


def arg_types(signature: str) -> list[str]:
    """Argument types of a flat signature such as ``setText(bytes32,string,string)``."""
    inner = signature[signature.index("(") + 1 : signature.rindex(")")]
    return [t for t in inner.split(",") if t]


def encode_call(signature: str, *args: Any) -> bytes:
    return selector(signature) + abi_encode(arg_types(signature), list(args))


def decode(types: list[str], data: bytes) -> tuple[Any, ...]:
    return tuple(abi_decode(types, data))


def encode(types: list[str], values: list[Any]) -> bytes:
    return bytes(abi_encode(types, values))


def labelhash(label: str) -> bytes:
    return keccak(label.encode())


def namehash(name: str) -> bytes:
    """EIP-137: namehash('') = 0^32, namehash(l.rest) = keccak(namehash(rest) || keccak(l))."""
    node = b"\x00" * 32
    if name:
        for label in reversed(name.split(".")):
            node = keccak(node + labelhash(label))
    return node


def dns_encode(name: str) -> bytes:
    """RFC 1035 section 3.1 wire format, as ENSIP-10 resolve(bytes,bytes) takes it."""
    out = bytearray()
    for label in name.split(".") if name else []:
        raw = label.encode()
        if not 0 < len(raw) < 64:
            raise ValueError(f"label {label!r} of {name!r} must be 1-63 bytes")
        out += bytes([len(raw)]) + raw
    return bytes(out + b"\x00")


def dns_decode(wire: bytes) -> str:
    """Inverse of dns_encode; raises ValueError on a malformed name."""
    labels: list[str] = []
    offset = 0
    while True:
        if offset >= len(wire):
            raise ValueError("DNS name runs past its end")
        length = wire[offset]
        if length == 0:
            if offset + 1 != len(wire):
                raise ValueError("bytes after the root label")
            return ".".join(labels)
        if length > 63 or offset + 1 + length > len(wire):
            raise ValueError(f"bad label length {length} at offset {offset}")
        labels.append(wire[offset + 1 : offset + 1 + length].decode())
        offset += 1 + length


def checksum_address(address: str) -> str:
    """EIP-55 mixed-case checksum form of a 20-byte hex address."""
    hex_addr = address.lower().removeprefix("0x")
    if len(hex_addr) != 40:
        raise ValueError(f"not a 20-byte address: {address!r}")
    digest = keccak(hex_addr.encode()).hex()
    return "0x" + "".join(
        c.upper() if c.isalpha() and int(digest[i], 16) >= 8 else c for i, c in enumerate(hex_addr)
    )


def create_address(sender: str, nonce: int) -> str:
    """Address of a contract created by ``sender`` with ``nonce`` (Yellow Paper eq. 86:
    keccak(rlp([sender, nonce]))[12:]); small nonces only, which is all the lab needs."""
    if not 0 <= nonce < 0x80:
        raise ValueError("create_address handles nonces 0..127")
    nonce_rlp = b"\x80" if nonce == 0 else bytes([nonce])
    sender_bytes = bytes.fromhex(sender.removeprefix("0x"))
    payload = b"\x94" + sender_bytes + nonce_rlp
    return checksum_address("0x" + keccak(bytes([0xC0 + len(payload)]) + payload)[12:].hex())
