"""The ECHConfigList codec (probes/transport/ech_config.py, RFC 9849 section 4): vectors,
round trips and bad input. No network."""

from __future__ import annotations

import base64
import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fragscope.lab.truth import load
from fragscope.probes.transport.ech_config import (
    ECH_VERSION,
    EchConfigError,
    encode_ech_config,
    encode_ech_config_list,
    parse_ech_config_list,
)

# An ECHConfig Caddy 2.11.7 generated for itself (storage ech/configs/248/config.bin, public
# name public.test): an independent encoder. Its maximum_name_length is len(name) + 16.
CADDY_CONFIG = bytes.fromhex(
    "fe0d0042f800200020a4d1fbef4b0b9893259f68e96a15350b6782ca40ccd43dfc0cacf72e5c9cbb38"
    "000c000100010001000200010003"
    "1b0b7075626c69632e746573740000"
)


def test_caddy_generated_config() -> None:
    [c] = parse_ech_config_list(encode_ech_config_list([CADDY_CONFIG]))
    assert c.version == ECH_VERSION and c.supported
    assert c.config_id == 248 and c.kem_id == 0x0020 and len(c.public_key) == 32
    assert c.cipher_suites == ((1, 1), (1, 2), (1, 3))
    assert c.maximum_name_length == 27 and c.public_name == "public.test"
    assert c.extensions == () and c.raw == CADDY_CONFIG
    assert c.columns() == {
        "version": 0xFE0D,
        "config_id": 248,
        "kem_id": 0x20,
        "kem": "X25519",
        "public_key_len": 32,
        "cipher_suites": "HKDF-SHA256/AES-128-GCM,HKDF-SHA256/AES-256-GCM,"
        "HKDF-SHA256/ChaCha20Poly1305",
        "maximum_name_length": 27,
        "public_name": "public.test",
        "extension_types": None,
    }


def test_lab_https_record_carries_the_truth_config() -> None:
    host = load().web["ech"]
    rdata = host.https_rdata()
    b64 = rdata.split('ech="', 1)[1].rstrip('"')
    [c] = parse_ech_config_list(base64.b64decode(b64))
    assert c.public_name == "public.example.test" and c.config_id == host.ech_config_id
    assert c.raw == host.ech_config()


def test_unknown_version_is_kept_but_not_supported() -> None:
    other = b"\xfe\x0a\x00\x03abc"
    configs = parse_ech_config_list(encode_ech_config_list([other, CADDY_CONFIG]))
    assert [c.supported for c in configs] == [False, True]
    assert configs[0].version == 0xFE0A and configs[0].public_name is None


names = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=60)


@given(
    config_id=st.integers(0, 255),
    kem_id=st.integers(0, 0xFFFF),
    public_key=st.binary(min_size=1, max_size=133),
    suites=st.lists(st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)), min_size=1),
    maximum_name_length=st.integers(0, 255),
    public_name=names,
    extensions=st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=20)), max_size=3),
)
def test_round_trip(
    config_id: int,
    kem_id: int,
    public_key: bytes,
    suites: list[tuple[int, int]],
    maximum_name_length: int,
    public_name: str,
    extensions: list[tuple[int, bytes]],
) -> None:
    raw = encode_ech_config(
        config_id=config_id,
        kem_id=kem_id,
        public_key=public_key,
        cipher_suites=tuple(suites),
        maximum_name_length=maximum_name_length,
        public_name=public_name,
        extensions=tuple(extensions),
    )
    [c] = parse_ech_config_list(encode_ech_config_list([raw]))
    assert (c.config_id, c.kem_id, c.public_key) == (config_id, kem_id, public_key)
    assert c.cipher_suites == tuple(suites) and c.public_name == public_name
    assert c.maximum_name_length == maximum_name_length
    assert c.extensions == tuple(extensions) and c.raw == raw


@given(st.binary(max_size=200))
def test_arbitrary_bytes_parse_or_raise_the_codec_error(data: bytes) -> None:
    with contextlib.suppress(EchConfigError):
        parse_ech_config_list(data)


def _with(offset: int, value: bytes) -> bytes:
    raw = bytearray(CADDY_CONFIG)
    raw[offset : offset + len(value)] = value
    return bytes(raw)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"", "ECHConfigList.length"),
        (b"\x00\x02\xfe\x0d", "ECHConfigList.length: shorter"),
        (encode_ech_config_list([CADDY_CONFIG]) + b"\x00", "ECHConfigList.length: 1 octets"),
        (encode_ech_config_list([CADDY_CONFIG[:-3]]), "configs[0].length"),
        (encode_ech_config_list([_with(0x29, b"\x00\x0d")]), "configs[0].cipher_suites"),
        (encode_ech_config_list([_with(0x38, b"\x00")]), "configs[0].public_name: empty"),
        (encode_ech_config_list([_with(0x39, b"\x80")]), "configs[0].public_name: not ASCII"),
        (encode_ech_config_list([_with(0x39, b"\x07")]), "control characters"),
        (encode_ech_config_list([_with(7, b"\x00\x00")]), "configs[0].public_key: empty"),
    ],
)
def test_bad_input_names_the_field(data: bytes, field: str) -> None:
    with pytest.raises(EchConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_ech_config_list(data)
