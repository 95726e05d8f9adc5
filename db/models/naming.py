"""Tables of the alternative-naming probe (issue 7): naming_observations, naming_values. No I/O.

Imported at the end of db.models so Base.metadata (and thus Alembic and the writer) sees
them; migration 0300_naming creates them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fragscope.db.models.core import Base, ObservationMixin, child_of, defaults_to, envelope_args


class NamingObservation(ObservationMixin, Base):
    """One name resolved once through one access method at one endpoint."""

    __tablename__ = "naming_observations"
    __table_args__ = envelope_args(
        "Alternative naming systems (probe naming.resolve): one row per name, access "
        "method and endpoint; the resolved values are rows of naming_values.",
        Index("ix_naming_observations_ns_name", "namespace", "name_normalized"),
    )

    namespace: Mapped[str | None] = mapped_column(
        String(32), doc="the naming system (icann, opennic, handshake, ens, unstoppable, ...)"
    )
    name: Mapped[str | None] = mapped_column(
        Text, doc="the name exactly as given (verbatim, hostile too)"
    )
    name_normalized: Mapped[str | None] = mapped_column(
        Text,
        doc="the name after the namespace's normalisation (ENSIP-15, IDNA); NULL "
        "when it is invalid. Text: normalising can lengthen a name past 255 characters "
        "(ENSIP-15 maps one character to several; ENS names have no DNS length bound)",
    )
    method: Mapped[str | None] = mapped_column(
        String(32),
        doc="access method: dns, eth-rpc (ENS Universal Resolver), eth-rpc-registry (ENS "
        "registry walk), uns, http-gateway, namecoin-rpc, discovery (OpenNIC GeoIP API)",
    )
    endpoint_namespace: Mapped[str | None] = mapped_column(
        String(32),
        doc="the naming system the endpoint serves (the campaign endpoint's namespace: "
        "icann, opennic, handshake, ens, ...): whose root or chain answered, which may "
        "differ from `namespace` (a colliding TLD asked of an alternative root); N3, N4",
    )
    endpoint_operator: Mapped[str | None] = mapped_column(
        String(128), doc="who runs the endpoint (from the campaign), e.g. eth.limo, lab"
    )
    depends_on_icann_dns: Mapped[bool | None] = mapped_column(
        Boolean, doc="true when reaching the endpoint needs an ICANN-DNS host name lookup"
    )
    outcome: Mapped[str | None] = mapped_column(
        String(16),
        doc="resolved, no_records or not_found when the endpoint answered; NULL on failure",
    )
    n_values: Mapped[int] = mapped_column(Integer, **defaults_to(0), doc="rows in naming_values")
    values_summary: Mapped[dict[str, Any] | None] = mapped_column(
        doc="JSON: kind -> values (or key -> value), a compact copy of naming_values"
    )
    chain_id: Mapped[int | None] = mapped_column(
        BigInteger, doc="EIP-155 chain id the JSON-RPC endpoint reported"
    )
    block_number: Mapped[int | None] = mapped_column(
        BigInteger,
        doc="the block every eth_call was pinned to (on-chain answers), or the "
        "Namecoin name's height",
    )
    resolver_address: Mapped[str | None] = mapped_column(
        String(42), doc="ENS resolver (or UNS ProxyReader) contract that answered"
    )
    wildcard: Mapped[bool | None] = mapped_column(
        Boolean, doc="ENSIP-10: the resolver was found on a parent name"
    )
    offchain: Mapped[bool | None] = mapped_column(
        Boolean, doc="an EIP-3668 OffchainLookup was followed through a gateway"
    )
    registry_walk_agrees: Mapped[bool | None] = mapped_column(
        Boolean,
        doc="ENS eth-rpc rows (Universal Resolver, ENSIP-23): whether the client-side "
        "registry walk (method eth-rpc-registry) at the same block gave the same outcome "
        "and values; its answer is in detail.registry_walk; NULL when not compared",
    )
    latency_ms: Mapped[float | None] = mapped_column(
        Float, doc="time from the first request to the last answer of the resolution"
    )
    fidelity: Mapped[str | None] = mapped_column(
        String(16),
        doc="bridge or gateway rows: match, mismatch or no_truth against the "
        "on-chain (eth-rpc/uns) row for the same name in the same run; NULL for on-chain rows",
    )
    fidelity_detail: Mapped[dict[str, Any] | None] = mapped_column(
        doc="JSON: the compared values and the truth row's id"
    )
    detail: Mapped[dict[str, Any] | None] = mapped_column(
        doc="JSON extras: rcodes, registry, gateways asked, RPC call count, ..."
    )


class NamingValue(Base):
    """One resolved value of a naming observation (an address, a text record, a header)."""

    __tablename__ = "naming_values"
    __table_args__ = {
        "comment": "The values a naming observation resolved, one per row, "
        "stored verbatim (they are attacker-controlled)."
    }

    id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False, doc="64-bit hash of parent and index"
    )
    observation_id: Mapped[int] = child_of("naming_observations")
    kind: Mapped[str] = mapped_column(
        String(32),
        doc="addr, contenthash, text, uns, a, aaaa, txt, cname, ns, http_status, "
        "http_header, content_sha256, namecoin_value",
    )
    key: Mapped[str | None] = mapped_column(
        Text, doc="coin type (addr), text key, UNS key, header name, owner name (DNS)"
    )
    value: Mapped[str] = mapped_column(Text, doc="the value as text (ipfs://..., 0x..., rdata)")
    raw: Mapped[str | None] = mapped_column(Text, doc="raw bytes as 0x-hex when decoded")
