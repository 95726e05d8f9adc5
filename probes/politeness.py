"""Who measures, on the wire: the campaign's User-Agent and contact as HTTP headers. No I/O.

Every HTTP request fragscope sends -- DoH (RFC 8484), Ethereum JSON-RPC, EIP-3668
CCIP-read, HTTP gateways, a Namecoin node -- says who sends it and how to reach them
(docs/ethics.md, "Identifying the measurement"): ``User-Agent`` (RFC 9110 section
10.1.5) carries the campaign's ``[politeness] user_agent``, and ``From`` (RFC 9110
section 10.1.2, "the human user who controls the requesting user agent") its
``contact``. The campaign loader hands both to every probe whose config has the fields.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

DEFAULT_USER_AGENT = "fragscope/0.1 (Internet measurement; docs/ethics.md)"
"""Sent when a probe runs without a campaign (``fragscope probe ...``)."""


def identity_headers(user_agent: str | None, contact: str | None) -> dict[str, str]:
    """The ``User-Agent`` and ``From`` headers of a request (From only with a contact)."""
    headers = {"User-Agent": user_agent or DEFAULT_USER_AGENT}
    if contact:
        headers["From"] = contact
    return headers


def user_agent_field() -> Any:
    """A probe config's ``user_agent`` field (the campaign's [politeness] fills it)."""
    return field(
        default=DEFAULT_USER_AGENT,
        metadata={"help": "User-Agent of every HTTP request ([politeness] user_agent)"},
    )


def contact_field() -> Any:
    """A probe config's ``contact`` field, sent as ``From`` ([politeness] contact)."""
    return field(
        default=None,
        metadata={"help": "sent as the From header of every HTTP request ([politeness] contact)"},
    )
