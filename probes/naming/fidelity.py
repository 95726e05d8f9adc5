"""Bridge and gateway fidelity: do they give what the chain says, in the same run?

A truth row is an on-chain answer (method ``eth-rpc``, ``eth-rpc-registry`` or ``uns``:
ENS through its Universal Resolver or the registry walk, UNS) for a name; a bridge row
is a ``dns`` or ``http-gateway`` answer for the same normalised name, namespace and run.
Compared are the content pointers both can express: contenthash values (``ipfs://``,
``ipns://``, ``bzz://``), DNSLink TXT records (``dnslink=/ipfs/...``, how DoH bridges such
as dns.eth.limo publish contenthash) and X-Ipfs-Path headers, with IPFS CIDv0/CIDv1 forms
reduced to their multihash. :func:`judge` is pure; :func:`update_run` and
:func:`update_runs` do the database I/O. ``fragscope naming fidelity`` judges one run;
``fragscope indicators compute`` and ``fragscope summarize`` judge the runs they compute
(N4's AGF reads the verdicts, docs/indicators.md).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, text

from fragscope.probes.naming.contenthash import ContenthashError, read_uvarint

TRUTH_METHODS = ("eth-rpc", "eth-rpc-registry", "uns")
BRIDGE_METHODS = ("dns", "http-gateway")
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B32 = "abcdefghijklmnopqrstuvwxyz234567"


def _b58decode(s: str) -> bytes:
    n = 0
    for ch in s:
        n = n * 58 + _B58.index(ch)
    zeros = len(s) - len(s.lstrip("1"))
    return b"\0" * zeros + (n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b"")


def _b32decode(s: str) -> bytes:
    acc = bits = 0
    out = bytearray()
    for ch in s:
        acc = (acc << 5) | _B32.index(ch)
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    return bytes(out)


def pointer_key(value: str) -> str:
    """A canonical form of a content pointer: ``ipfs:<multihash hex>`` when decodable."""
    value = value.strip()
    if value.startswith("dnslink="):
        value = value[len("dnslink=") :]
    if value.startswith("/ipfs/") or value.startswith("/ipns/"):
        value = value[1:5] + "://" + value[6:].split("/", 1)[0]
    scheme, sep, rest = value.partition("://")
    if not sep:
        return value
    rest = rest.split("/", 1)[0]
    try:
        if scheme == "ipfs" and rest.startswith("Qm"):
            return "ipfs:" + _b58decode(rest).hex()
        if scheme in ("ipfs", "ipns") and rest.startswith("b"):
            cid = _b32decode(rest[1:])
            _version, pos = read_uvarint(cid)
            _codec, pos = read_uvarint(cid, pos)
            return f"{scheme}:" + cid[pos:].hex()
    except (ValueError, ContenthashError):
        pass
    return f"{scheme}:{rest}"


def pointers(values: Iterable[dict[str, Any]]) -> set[str]:
    """The comparable content pointers among a row's values."""
    out = set()
    for v in values:
        kind, val = v.get("kind"), str(v.get("value", ""))
        if kind == "contenthash":
            out.add(pointer_key(val))
        elif kind == "txt":
            stripped = val.strip('"')
            if stripped.startswith("dnslink="):
                out.add(pointer_key(stripped))
        elif kind == "uns" and v.get("key") in ("dweb.ipfs.hash", "ipfs.html.value"):
            out.add(pointer_key(val if "://" in val else "ipfs://" + val))
    return out


def judge(
    truth_outcome: str | None,
    truth_values: set[str],
    bridge_outcome: str | None,
    bridge_values: set[str],
) -> str:
    """match or mismatch of one bridge row against the on-chain row."""
    if truth_outcome == "not_found" or not truth_values:
        return "match" if not bridge_values else "mismatch"
    return "match" if bridge_values == truth_values else "mismatch"


def update_run(engine: Engine, run_id: str) -> dict[str, int]:
    """Set fidelity on every bridge row of ``run_id``; returns counts per verdict."""
    with engine.begin() as conn:
        rows = conn.execute(
            text(
                "SELECT id, namespace, name_normalized, method, outcome FROM naming_observations"
                " WHERE run_id = :run AND failure IS NULL AND name_normalized IS NOT NULL"
            ),
            {"run": run_id},
        ).all()
        vals: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for oid, kind, key, value in conn.execute(
            text(
                "SELECT v.observation_id, v.kind, v.key, v.value FROM naming_values v"
                " JOIN naming_observations o ON o.id = v.observation_id WHERE o.run_id = :run"
            ),
            {"run": run_id},
        ):
            vals[oid].append({"kind": kind, "key": key, "value": value})
        truth: dict[tuple[str, str], tuple[int, str | None, set[str]]] = {}
        # A name read through both ENS entry points is judged against the Universal
        # Resolver's answer, the one ENS's clients use (docs/naming.md, "ENS entry points").
        for oid, ns, name, _method, outcome in sorted(
            (r for r in rows if r[3] in TRUTH_METHODS),
            key=lambda r: TRUTH_METHODS.index(r[3]),
            reverse=True,
        ):
            truth[(ns, name)] = (oid, outcome, pointers(vals[oid]))
        counts: dict[str, int] = defaultdict(int)
        for oid, ns, name, method, outcome in rows:
            if method not in BRIDGE_METHODS:
                continue
            bridge = pointers(vals[oid])
            detail: dict[str, Any]
            if (ns, name) not in truth:
                verdict, detail = "no_truth", {"bridge": sorted(bridge)}
            else:
                tid, toutcome, tvalues = truth[(ns, name)]
                verdict = judge(toutcome, tvalues, outcome, bridge)
                detail = {"truth_id": tid, "truth": sorted(tvalues), "bridge": sorted(bridge)}
            conn.execute(
                text(
                    "UPDATE naming_observations SET fidelity = :f, fidelity_detail = :d"
                    " WHERE id = :id"
                ),
                {"f": verdict, "d": json.dumps(detail), "id": oid},
            )
            counts[verdict] += 1
    return dict(counts)


def update_runs(engine: Engine, run_ids: Iterable[str]) -> dict[str, int]:
    """:func:`update_run` for each of ``run_ids``; the counts per verdict summed."""
    total: dict[str, int] = defaultdict(int)
    for run_id in dict.fromkeys(run_ids):
        for verdict, count in update_run(engine, run_id).items():
            total[verdict] += count
    return dict(total)
