"""ENS name handling: ENSIP-15 normalisation, EIP-137 namehash, DNS encoding, ABI calls.

No I/O. Keccak-256 comes from eth-hash (Ethereum's Keccak, which is NOT NIST SHA3-256:
``hashlib.sha3_256`` pads differently and gives other digests). ABI encoding is eth-abi's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_hash.auto import keccak

REGISTRY_MAINNET = "0x00000000000C2E074eC69A0dFb2997BA6C7d2e1e"
"""The ENS registry on Ethereum mainnet (and its testnets) since February 2020."""

UNIVERSAL_RESOLVER_MAINNET = "0xeEeEEEeE14D718C2B47D9923Deab1335E144EeEe"
"""ENSIP-23 Universal Resolver: ENS's canonical entry point on mainnet, a DAO-owned proxy
that follows ENSv2 (docs/naming.md, "ENS entry points")."""

LOCAL_BATCH_GATEWAY = "x-batch-gateway:true"
"""ENSIP-21: this URL in an OffchainLookup means "run the batch gateway locally"; when
present the client uses its own and ignores the other URLs."""

ZERO_ADDRESS = "0x" + "00" * 20
ZERO_NODE = b"\0" * 32

# ERC-165 interface ids (ENSIP-10 section "Specification"; EIP-1577).
IFACE_EXTENDED_RESOLVER = bytes.fromhex("9061b923")
IFACE_CONTENTHASH = bytes.fromhex("bc1c58d1")

# EIP-3668 OffchainLookup(address,string[],bytes,bytes4,bytes) error selector.
OFFCHAIN_LOOKUP = bytes.fromhex("556f1830")

# ENSIP-23 Universal Resolver errors (selectors as ENSIP-23 lists them; tests recompute).
UR_RESOLVER_NOT_FOUND = bytes.fromhex("77209fe8")  # ResolverNotFound(bytes)
UR_RESOLVER_NOT_CONTRACT = bytes.fromhex("1e9535f2")  # ResolverNotContract(bytes,address)
UR_UNSUPPORTED_PROFILE = bytes.fromhex("7b1c461b")  # UnsupportedResolverProfile(bytes4)
UR_RESOLVER_ERROR = bytes.fromhex("95c0c752")  # ResolverError(bytes)
HTTP_ERROR = bytes.fromhex("01800152")  # HttpError(uint16,string), ENSIP-21 and ENSIP-23

# Solidity Error(string) and Panic(uint256) revert payloads.
ERROR_STRING = bytes.fromhex("08c379a0")
PANIC_UINT = bytes.fromhex("4e487b71")


class InvalidName(ValueError):
    """A name that is not valid under the namespace's normalisation rules."""


def normalize(name: str) -> str:
    """ENSIP-15 normalisation (the ens-normalize package); raises InvalidName if invalid."""
    from ens_normalize import DisallowedSequence, ens_normalize

    if not name or name != name.strip():
        raise InvalidName(f"name {name!r}: empty or surrounded by whitespace")
    try:
        normalized: str = ens_normalize(name)
    except DisallowedSequence as exc:
        raise InvalidName(f"name {name!r}: {exc}") from exc
    if not normalized or any(label == "" for label in normalized.split(".")):
        raise InvalidName(f"name {name!r}: empty label")
    return normalized


def labelhash(label: str) -> bytes:
    return keccak(label.encode("utf-8"))


def namehash(name: str) -> bytes:
    """EIP-137 namehash of an already normalised name (``''`` -> 32 zero bytes)."""
    node = ZERO_NODE
    if name:
        for label in reversed(name.split(".")):
            node = keccak(node + labelhash(label))
    return node


def parent(name: str) -> str:
    return name.split(".", 1)[1] if "." in name else ""


MAX_WIRE_LABEL = 255
"""The longest label a length byte can carry; ENS's DNS encoding has no 63-octet limit."""


def encoded_labelhash(label: str) -> str:
    """ENSIP-1 "[labelhash]" form: the label's keccak-256 as 64 hex digits in brackets."""
    return "[" + labelhash(label).hex() + "]"


def dns_encode(name: str) -> bytes:
    """The DNS wire form ENSIP-10 resolvers and the ENSIP-23 Universal Resolver take.

    As ENS's clients encode it (ensjs ``packetToBytes``, ens-contracts ``NameCoder``): RFC
    1035 section 3.1 length-prefixed labels of 1-255 octets (ENS keeps no 63-octet or
    255-octet name limit), and a label longer than 255 octets, which no length byte can
    carry, as its ENSIP-1 encoded labelhash ``[keccak256(label)]``; the namehash of the
    name is unchanged because the bracketed form stands for that same labelhash.
    """
    out = bytearray()
    for label in name.split(".") if name else []:
        raw = label.encode("utf-8")
        if not raw:
            raise InvalidName(f"name {name!r} has an empty label")
        if len(raw) > MAX_WIRE_LABEL:
            raw = encoded_labelhash(label).encode("ascii")
        out.append(len(raw))
        out += raw
    out.append(0)
    return bytes(out)


def selector(signature: str) -> bytes:
    """The 4-byte function selector: the first bytes of keccak256 of the signature."""
    return keccak(signature.encode())[:4]


@dataclass(frozen=True, slots=True)
class Call:
    """One contract function: its signature, argument types and return types."""

    signature: str
    returns: tuple[str, ...]

    @property
    def arg_types(self) -> list[str]:
        inner = self.signature[self.signature.index("(") + 1 : -1]
        return [t for t in inner.split(",") if t]

    def encode(self, *args: Any) -> bytes:
        return selector(self.signature) + abi_encode(self.arg_types, list(args))

    def decode(self, data: bytes) -> tuple[Any, ...]:
        return tuple(abi_decode(list(self.returns), data))


RESOLVER = Call("resolver(bytes32)", ("address",))
SUPPORTS_INTERFACE = Call("supportsInterface(bytes4)", ("bool",))
ADDR = Call("addr(bytes32)", ("address",))
ADDR_COIN = Call("addr(bytes32,uint256)", ("bytes",))
CONTENTHASH = Call("contenthash(bytes32)", ("bytes",))
TEXT = Call("text(bytes32,string)", ("string",))
RESOLVE = Call("resolve(bytes,bytes)", ("bytes",))
UR_RESOLVE = Call("resolve(bytes,bytes)", ("bytes", "address"))

BATCH_QUERY_SELECTOR = selector("query((address,string[],bytes)[])")
"""ENSIP-21 IBatchGateway.query(Request[]) where Request = (sender, urls, data)."""
BATCH_REQUEST_TYPE = "(address,string[],bytes)[]"
BATCH_RESPONSE_TYPES = ["bool[]", "bytes[]"]

# UNS ProxyReader / registry (UD docs "Resolve Domains Using Smart Contracts").
UNS_GET_MANY = Call("getMany(string[],uint256)", ("string[]",))


@dataclass(frozen=True, slots=True)
class OffchainLookup:
    """The decoded EIP-3668 revert: who asks, where to ask, and how to call back."""

    sender: str
    urls: tuple[str, ...]
    call_data: bytes
    callback: bytes
    extra_data: bytes


def decode_offchain_lookup(revert: bytes) -> OffchainLookup:
    """Decode an OffchainLookup revert payload (selector included)."""
    if revert[:4] != OFFCHAIN_LOOKUP:
        raise ValueError("not an OffchainLookup revert")
    sender, urls, call_data, callback, extra = abi_decode(
        ["address", "string[]", "bytes", "bytes4", "bytes"], revert[4:]
    )
    return OffchainLookup(str(sender), tuple(urls), call_data, callback, extra)


def encode_http_error(status: int, message: str) -> bytes:
    """ENSIP-21 HttpError(uint16,string): a batch gateway's answer for a failed request."""
    return HTTP_ERROR + abi_encode(["uint16", "string"], [status, message])


def encode_error_string(message: str) -> bytes:
    """Solidity Error(string): ENSIP-21's encoding of a non-HTTP batch request failure."""
    return ERROR_STRING + abi_encode(["string"], [message])


def revert_reason(revert: bytes) -> str:
    """A readable reason for a revert payload: Error(string), Panic(code) or hex."""
    try:
        if revert[:4] == ERROR_STRING:
            return "revert: " + str(abi_decode(["string"], revert[4:])[0])
        if revert[:4] == PANIC_UINT:
            return f"panic: 0x{abi_decode(['uint256'], revert[4:])[0]:x}"
        if revert[:4] == HTTP_ERROR:
            status, message = abi_decode(["uint16", "string"], revert[4:])
            return f"HttpError: HTTP {status} {message}"
        if revert[:4] == UR_RESOLVER_ERROR:
            (inner,) = abi_decode(["bytes"], revert[4:])
            return "ResolverError: " + revert_reason(inner)
    except Exception:  # a hostile payload that only looks like Error(string)
        pass
    return "revert: 0x" + revert.hex() if revert else "revert without data"


def checksum(address: str) -> str:
    """EIP-55 mixed-case checksum form of a 20-byte hex address."""
    hex_addr = address.lower().removeprefix("0x")
    digest = keccak(hex_addr.encode()).hex()
    return "0x" + "".join(
        c.upper() if c.isalpha() and int(digest[i], 16) >= 8 else c for i, c in enumerate(hex_addr)
    )
