"""Pure codecs: EIP-137 namehash vectors, EIP-1577 contenthash examples, ENSIP-15 cases,
DNS encoding, varints and base encodings (hypothesis round trips)."""

from __future__ import annotations

import contextlib
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fragscope.probes.naming import contenthash, ens
from fragscope.probes.naming.normalize import InvalidName, normalize


def test_namehash_eip137_vectors() -> None:
    assert ens.namehash("") == b"\0" * 32
    assert ens.namehash("eth").hex() == (
        "93cdeb708b7545dc668eb9280176169d1c33cfd8ed6f04690a0bcc88a93fc4ae"
    )
    assert ens.namehash("foo.eth").hex() == (
        "de9b09fd7c5f901e23a3f19fecc54828e9c848539801e86591bd9801b019f84f"
    )


def test_keccak_is_not_nist_sha3() -> None:
    # EIP-137 uses Keccak-256; hashlib's sha3_256 (FIPS 202) differs in padding.
    assert ens.labelhash("eth") != hashlib.sha3_256(b"eth").digest()
    assert ens.labelhash("eth").hex() == (
        "4f5b812789fc606be1b3b16908db13fc7a9adf7ca72641f84d75b47069d3d7f0"
    )


def test_selectors_match_the_research_table() -> None:
    table = {
        "resolver(bytes32)": "0178b8bf",
        "supportsInterface(bytes4)": "01ffc9a7",
        "addr(bytes32)": "3b3b57de",
        "addr(bytes32,uint256)": "f1cb7e06",
        "text(bytes32,string)": "59d1d43c",
        "contenthash(bytes32)": "bc1c58d1",
        "resolve(bytes,bytes)": "9061b923",
        "OffchainLookup(address,string[],bytes,bytes4,bytes)": "556f1830",
    }
    for sig, sel in table.items():
        assert ens.selector(sig).hex() == sel, sig


def test_contenthash_eip1577_examples() -> None:
    ipfs = contenthash.decode(
        bytes.fromhex(
            "e3010170122029f2d17be6139079dc48696d1f582a8530eb9805b561eda517e22a892c7e3f1f"
        )
    )
    assert (ipfs.protocol, ipfs.text) == (
        "ipfs",
        "ipfs://QmRAQB6YaCyidP37UdDnjFY5vQuiBrcqdyoW1CuDgwxkD4",
    )
    swarm = contenthash.decode(
        bytes.fromhex(
            "e40101fa011b20d1de9994b4d039f6548d191eb26786769f580809256b4685ef316805265ea162"
        )
    )
    assert (swarm.protocol, swarm.text) == (
        "swarm",
        "bzz://d1de9994b4d039f6548d191eb26786769f580809256b4685ef316805265ea162",
    )


def test_contenthash_other_codecs_and_errors() -> None:
    # @ensdomains/content-hash README: encode("onion", "zqktlwi4fecvo6ri")
    onion = contenthash.decode(bytes.fromhex("bc037a716b746c776934666563766f367269"))
    assert onion.text == "onion://zqktlwi4fecvo6ri"
    # IPNS libp2p-key CID (identity multihash of a key) -> base36 'k' form
    ipns = contenthash.decode(bytes.fromhex("e501017200" + "06" + "0102030405ff"))
    assert ipns.protocol == "ipns" and ipns.text.startswith("ipns://k")
    with pytest.raises(contenthash.ContenthashError):
        contenthash.decode(b"")
    with pytest.raises(contenthash.ContenthashError, match="digest"):
        contenthash.decode(bytes.fromhex("e30101701220abcd"))
    with pytest.raises(contenthash.ContenthashError, match="varint"):
        contenthash.decode(b"\xff\xff")
    unknown = contenthash.decode(bytes.fromhex("0f00ff"))
    assert unknown.protocol == "multicodec-0xf"


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_uvarint_round_trip(n: int) -> None:
    data = contenthash.write_uvarint(n)
    assert contenthash.read_uvarint(data) == (n, len(data))


@given(st.binary(max_size=64))
def test_base58_and_base32_inverse(data: bytes) -> None:
    b58 = contenthash.base58btc(data)
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    n = 0
    for ch in b58:
        n = n * 58 + alphabet.index(ch)
    zeros = len(b58) - len(b58.lstrip("1"))
    assert b"\0" * zeros + (n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b"") == data
    import base64

    assert contenthash.base32_lower(data) == base64.b32encode(data).decode().lower().rstrip("=")


@given(st.binary(min_size=0, max_size=40))
def test_contenthash_never_raises_anything_else(data: bytes) -> None:
    with contextlib.suppress(contenthash.ContenthashError):
        contenthash.decode(data)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Nick.ETH", "nick.eth"),  # case folding
        ("al\u200bice.eth", "alice.eth"),  # ENSIP-15 ignores ZERO WIDTH SPACE
        ("💩.eth", "💩.eth"),
        ("_underscore.eth", "_underscore.eth"),  # leading underscore is allowed
        ("ｆｏｏ.eth", "foo.eth"),  # fullwidth letters are mapped
    ],
)
def test_ensip15_valid(name: str, expected: str) -> None:
    assert ens.normalize(name) == expected


@pytest.mark.parametrize(
    "name", ["", "a..eth", "al_ice.eth", "ab--cd.eth", " alice.eth", "a\u0000.eth", "xn--abc.eth"]
)
def test_ensip15_invalid(name: str) -> None:
    with pytest.raises(InvalidName):
        ens.normalize(name)


def test_dns_encode_and_labels() -> None:
    assert ens.dns_encode("foo.eth") == b"\x03foo\x03eth\x00"
    assert ens.dns_encode("") == b"\x00"
    with pytest.raises(InvalidName):
        ens.dns_encode("foo..eth")


# ENS's DNS encoding as its clients do it (ensjs packetToBytes, ens-contracts NameCoder):
# labels of 64..255 octets go as they are (ENS has no 63-octet limit), a longer one as its
# ENSIP-1 encoded labelhash "[<keccak-256 hex>]" (66 octets). The vector is what
# @ensdomains/ensjs 4.3.1 packetToBytes("a" * 256 + ".eth") returns (computed with node).
A256_ETH_WIRE = bytes.fromhex(
    "425b316461613730333461646162363664396563396530336532633839323031623833613734393765"
    "383564633562393731616139646165326363626237613230385d0365746800"
)


@pytest.mark.parametrize("size", [63, 64, 255])
def test_dns_encode_keeps_labels_up_to_255_octets(size: int) -> None:
    assert ens.dns_encode("a" * size + ".eth") == bytes([size]) + b"a" * size + b"\x03eth\x00"


def test_dns_encode_hashes_a_label_over_255_octets() -> None:
    assert ens.dns_encode("a" * 256 + ".eth") == A256_ETH_WIRE
    assert ens.encoded_labelhash("a" * 256) == "[" + ens.labelhash("a" * 256).hex() + "]"


def test_ensip21_and_ensip23_selectors() -> None:
    # The selectors ENSIP-21 and ENSIP-23 list, recomputed from the signatures.
    assert ens.selector("query((address,string[],bytes)[])") == ens.BATCH_QUERY_SELECTOR
    assert ens.BATCH_QUERY_SELECTOR.hex() == "a780bab6"
    for signature, constant in [
        ("ResolverNotFound(bytes)", ens.UR_RESOLVER_NOT_FOUND),
        ("ResolverNotContract(bytes,address)", ens.UR_RESOLVER_NOT_CONTRACT),
        ("UnsupportedResolverProfile(bytes4)", ens.UR_UNSUPPORTED_PROFILE),
        ("ResolverError(bytes)", ens.UR_RESOLVER_ERROR),
        ("HttpError(uint16,string)", ens.HTTP_ERROR),
    ]:
        assert ens.selector(signature) == constant, signature
    assert ens.revert_reason(ens.encode_http_error(503, "down")) == "HttpError: HTTP 503 down"


def test_namespace_rules() -> None:
    assert normalize("Example.TEST.", "idna") == "example.test"
    assert normalize("bücher.example", "idna") == "xn--bcher-kva.example"
    assert normalize("d-name.bit", "namecoin") == "d-name.bit"
    with pytest.raises(InvalidName):
        normalize("a.b.bit", "namecoin")
    with pytest.raises(InvalidName):
        normalize("x.com", "namecoin")
    onion = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion"
    assert normalize(onion.upper(), "onion") == onion
    with pytest.raises(InvalidName):
        normalize("short.onion", "onion")
    with pytest.raises(InvalidName):
        normalize("bad name.example", "idna")
