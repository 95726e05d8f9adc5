"""The web section of the lab's truth: the web hosts (``[web.*]``), typed. No I/O.

Each host's A/AAAA/HTTPS records are generated into the ICANN-like zone that holds its name
(:func:`with_web_records`), so the zones and the hosts never disagree.
"""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from fragscope.lab.core.schema import (
    TruthError,
    absolute,
    check_asn,
    check_ip,
    get_field,
    is_subdomain,
)
from fragscope.lab.dns.schema import Zone
from fragscope.probes.transport.ech_config import encode_ech_config, encode_ech_config_list

WEB_KINDS = frozenset({"h3", "caddy", "ech", "tcponly", "advertised", "hostile", "retry", "draft"})
# The one ECH config a lab host publishes (RFC 9849 section 4): DHKEM(X25519, HKDF-SHA256)
# with HKDF-SHA256 + AES-128-GCM, what Go's crypto/tls (Caddy) serves.
ECH_KEM_X25519 = 0x0020
ECH_SUITES = ((0x0001, 0x0001),)
# Kinds served by aioquic's own server alone (lab/web/quic_only.py): QUIC, no TCP listener.
QUIC_ONLY_KINDS = frozenset({"retry", "draft"})
# RFC 9000; RFC 9369 section 3.1; draft-ietf-quic-v2-01..04 (0x709a50c4); draft-ietf-quic-
# transport-29 (0xff00001d): old quic-go builds (Debian's Caddy) still list the last two.
QUIC_VERSIONS = {
    "v1": 0x00000001,
    "v2": 0x6B3343CF,
    "v2-draft": 0x709A50C4,
    "draft-29": 0xFF00001D,
}


@dataclass(frozen=True)
class WebHost:
    """A web host of the lab (its planted facts): where it listens, what it speaks and advertises.

    How to run it is lab.web.hosts.WebServer, built from this by lab.web.component.
    """

    key: str
    group: str
    kind: str
    name: str
    port: int
    address: str | None = None
    address6: str | None = None
    quic_versions: tuple[str, ...] = ()
    vn_versions: tuple[str, ...] = ()
    alt_svc: str = ""
    https_alpn: tuple[str, ...] = ()
    server_header: str = ""
    retry: bool = False  # its QUIC server answers every first Initial with a Retry
    # The origin AS of its addresses in the lab's IP-to-ASN mapping (analysis/data/
    # lab-*.ipasn): T7 counts h3 hosts by it. A planted fact; tests check the mapping agrees.
    asn: int | None = None
    # ECH (kind "ech"): the outer ClientHello's public_name, the config_id and the X25519
    # private key (hex; a lab-only key) of the one ECHConfig the host serves and its HTTPS
    # record publishes (ech_config_list).
    ech_public_name: str = ""
    ech_config_id: int | None = None
    ech_key: str = ""

    @property
    def has_ech(self) -> bool:
        return bool(self.ech_key)

    def ech_config(self) -> bytes:
        """The ECHConfig (version 0xfe0d) the host serves, byte for byte."""
        private = X25519PrivateKey.from_private_bytes(bytes.fromhex(self.ech_key))
        return encode_ech_config(
            config_id=self.ech_config_id or 0,
            kem_id=ECH_KEM_X25519,
            public_key=private.public_key().public_bytes_raw(),
            cipher_suites=ECH_SUITES,
            maximum_name_length=0,
            public_name=self.ech_public_name.rstrip("."),
        )

    def ech_config_list(self) -> bytes | None:
        """The ECHConfigList of its HTTPS record's ``ech`` SvcParam (None: no ECH)."""
        return encode_ech_config_list([self.ech_config()]) if self.has_ech else None

    @property
    def has_tcp(self) -> bool:
        """HTTPS over TCP (every kind but the QUIC-only hosts)."""
        return self.kind not in QUIC_ONLY_KINDS

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(a for a in (self.address, self.address6) if a)

    @property
    def has_udp(self) -> bool:
        return bool(self.quic_versions)

    def https_rdata(self) -> str:
        """The HTTPS record (RFC 9460 section 2.3, ServiceMode at the owner name)."""
        out = f'1 . alpn="{",".join(self.https_alpn)}" port={self.port}'
        if self.address:
            out += f" ipv4hint={self.address}"
        if self.address6:
            out += f" ipv6hint={self.address6}"
        ech = self.ech_config_list()
        if ech is not None:
            out += f' ech="{base64.b64encode(ech).decode("ascii")}"'
        return out

    def records(self) -> list[tuple[str, str, str]]:
        """(absolute owner, type, rdata) the zones get for this host."""
        out = [(self.name, "A", self.address)] if self.address else []
        if self.address6:
            out.append((self.name, "AAAA", self.address6))
        return [*out, (self.name, "HTTPS", self.https_rdata())]


def parse_host(key: str, t: dict[str, Any]) -> WebHost:
    where = f"web.{key}"
    known = {f for f in WebHost.__dataclass_fields__ if f != "key"}
    unknown = set(t) - known
    if unknown:
        raise TruthError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    kind = get_field(t, "kind", where)
    if kind not in WEB_KINDS:
        raise TruthError(f"{where}.kind: {kind!r} not in {sorted(WEB_KINDS)}")
    for fam, field_name in ((4, "address"), (6, "address6")):
        if (
            field_name in t
            and ipaddress.ip_address(check_ip(t[field_name], f"{where}.{field_name}")).version
            != fam
        ):
            raise TruthError(f"{where}.{field_name}: {t[field_name]!r} is not IPv{fam}")
    if "address" not in t and "address6" not in t:
        raise TruthError(f"{where}: needs address and/or address6")
    if kind in QUIC_ONLY_KINDS and ("address6" in t or "address" not in t):
        raise TruthError(f"{where}: a {kind} host has exactly one address (IPv4)")
    for f in ("quic_versions", "vn_versions"):
        bad = [v for v in t.get(f, []) if v not in QUIC_VERSIONS]
        if bad:
            raise TruthError(
                f"{where}.{f}: unknown version(s) {bad} (known: {', '.join(QUIC_VERSIONS)})"
            )
    if "asn" in t:
        check_asn(t["asn"], f"{where}.asn")
    _check_ech(t, kind, where)
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in t.items()}
    values["name"] = absolute(get_field(t, "name", where))
    get_field(t, "port", where)
    get_field(t, "group", where)
    return WebHost(key=key, **values)


def _check_ech(t: dict[str, Any], kind: str, where: str) -> None:
    fields = ("ech_public_name", "ech_config_id", "ech_key")
    given = [f for f in fields if f in t]
    if kind != "ech":
        if given:
            raise TruthError(f"{where}.{given[0]}: only an ech host has ECH fields")
        return
    for f in fields:
        get_field(t, f, where)
    config_id = t["ech_config_id"]
    if not isinstance(config_id, int) or isinstance(config_id, bool) or not 0 <= config_id < 256:
        raise TruthError(f"{where}.ech_config_id: {config_id!r} is not 0..255")
    try:
        key = bytes.fromhex(t["ech_key"])
    except (TypeError, ValueError):
        key = b""
    if len(key) != 32:
        raise TruthError(f"{where}.ech_key: not 64 hex digits (an X25519 private key)")
    name = str(t["ech_public_name"]).rstrip(".")
    if not name or len(name) > 255 or not name.isascii():
        raise TruthError(f"{where}.ech_public_name: {name!r} is not an ASCII name of 1..255")


def with_web_records(zones: tuple[Zone, ...], web: dict[str, WebHost]) -> tuple[Zone, ...]:
    """Add each web host's A/AAAA/HTTPS records to the ICANN-like zone holding its name."""
    out = list(zones)
    for host in web.values():
        # A web name belongs in a served zone below the root (the root holds delegations).
        icann = [
            i
            for i, z in enumerate(out)
            if z.view == "icann"
            and z.name != "."
            and z.is_served
            and is_subdomain(host.name, z.name)
        ]
        if not icann:
            raise TruthError(f"web.{host.key}.name: no ICANN-like zone holds {host.name}")
        i = max(icann, key=lambda j: len(out[j].name))
        z = out[i]
        owner = host.name[: -len(z.name) - 1] if z.name != "." else host.name.rstrip(".")
        clash = [
            r for r in z.records if z.fqdn(r[0]) == host.name and r[1] in {"A", "AAAA", "HTTPS"}
        ]
        if clash:
            raise TruthError(f"web.{host.key}: zone {z.name} already has {clash[0]} (generated)")
        extra = tuple((owner or "@", t, r) for _, t, r in host.records())
        out[i] = replace(z, records=z.records + extra)
    return tuple(out)
