"""``namecoin-rpc``: ``name_show d/<label>`` on a Namecoin Core JSON-RPC. Does I/O.

No Namecoin node can run on this machine (no namecoind, Electrum-NMC or ncdns package in
Debian, PyPI or npm), so the tests use a small JSON-RPC stub; see docs/naming.md. The
name value is a JSON document (IFA-0001 "Domain Names"): ``ip``, ``ip6``, ``ns``, ``map``...
It is stored verbatim as ``namecoin_value`` and its address items are also split out.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from fragscope.db.vocab import Failure, Operation
from fragscope.probes.errors import MeasurementError
from fragscope.probes.naming import http
from fragscope.probes.naming.methods.base import NOT_FOUND, RESOLVED, MethodResult, Request, Value

NAME_NOT_FOUND = -4  # Namecoin Core's RPC_WALLET_ERROR code for "name not found"


def _rpc_error(detail: str) -> MeasurementError:
    return MeasurementError(Failure.ETH_RPC_ERROR, Operation.RESOLVE, detail)


async def resolve_namecoin(req: Request) -> MethodResult:
    label = req.name.removesuffix(".bit")
    key = f"d/{label}"
    headers = {**req.headers, "Content-Type": "application/json"}
    user, password = req.options.get("rpc_user"), req.options.get("rpc_password")
    if user is not None:
        token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    body = json.dumps(
        {"jsonrpc": "1.0", "id": "fragscope", "method": "name_show", "params": [key]}
    ).encode()
    resp = await http.request(
        "POST", req.endpoint, policy=req.policy, body=body, headers=headers, timeout=req.timeout
    )
    try:
        doc = json.loads(resp.body)
        if not isinstance(doc, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError) as exc:
        raise _rpc_error(f"HTTP {resp.status}, not JSON-RPC: {resp.body[:200]!r}") from exc
    error = doc.get("error")
    if error:
        code = error.get("code") if isinstance(error, dict) else None
        if code == NAME_NOT_FOUND:
            return MethodResult(outcome=NOT_FOUND, detail={"key": key})
        raise _rpc_error(f"name_show error: {str(error)[:300]}")
    result = doc.get("result")
    if not isinstance(result, dict) or not isinstance(result.get("value"), str):
        raise _rpc_error(f"name_show result without a value: {str(result)[:300]}")
    raw_value: str = result["value"]
    values = [Value("namecoin_value", key, raw_value)]
    try:
        parsed: Any = json.loads(raw_value)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        for field, kind in (("ip", "a"), ("ip6", "aaaa"), ("ns", "ns")):
            items = parsed.get(field)
            for item in items if isinstance(items, list) else [items] if items else []:
                values.append(Value(kind, None, str(item)))
    detail = {"key": key}
    for k in ("height", "expires_in", "expired", "txid"):
        if k in result:
            detail[k] = result[k]
    return MethodResult(
        outcome=RESOLVED, values=values, block_number=_int(result.get("height")), detail=detail
    )


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
