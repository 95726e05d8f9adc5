"""``http-gateway``: a name through an HTTP gateway such as ``NAME.eth.limo``. Does I/O.

The endpoint is a URL template with ``{name}`` (``https://{name}.limo/`` for eth.limo),
or any URL plus a ``url_template`` option (a campaign's endpoint URL must be a plain URL
the engine can check, e.g. ``https://eth.limo/``), or a plain URL plus a
``host_template`` option (the lab's gateway on an IP address, asked
with ``Host: alice.eth.lab``). Recorded: the status, the headers that identify content
(``X-Ipfs-Path``, ``X-Content-Path``, ``ETag``, ``Location``, ``Content-Type``, ``Server``)
verbatim, and the body's SHA-256. An ``X-Ipfs-Path: /ipfs/CID`` header also yields a
``contenthash`` value, so bridge fidelity can compare it with the on-chain contenthash.

Statuses: 404 is the gateway saying the name has no content (outcome ``not_found``);
any other 4xx or 5xx (403 refused, 421 misdirected, 502 the chain or CCIP-read failed
behind it, RFC 9110 section 15.5-15.6) is an ``http_error`` failure naming the status:
the gateway did not resolve the name, so the row must not read as resolved.
"""

from __future__ import annotations

import hashlib

from fragscope.db.vocab import Failure, Operation
from fragscope.probes.errors import MeasurementError
from fragscope.probes.naming import http
from fragscope.probes.naming.methods.base import NOT_FOUND, RESOLVED, MethodResult, Request, Value

KEPT_HEADERS = ("x-ipfs-path", "x-content-path", "etag", "location", "content-type", "server")


async def resolve_gateway(req: Request) -> MethodResult:
    template = str(req.options.get("url_template") or req.endpoint)
    url = template.replace("{name}", req.name)
    headers = dict(req.headers)
    host_template = req.options.get("host_template")
    if host_template:
        headers["Host"] = str(host_template).replace("{name}", req.name)
    resp = await http.request("GET", url, policy=req.policy, headers=headers, timeout=req.timeout)
    if resp.status >= 400 and resp.status != 404:
        raise MeasurementError(
            Failure.HTTP_ERROR,
            Operation.HTTP_REQUEST,
            f"gateway answered HTTP {resp.status} {resp.reason}".rstrip() + f" for {url}",
        )
    values = [Value("http_status", None, str(resp.status))]
    for name, value in resp.headers:
        if name.lower() in KEPT_HEADERS:
            values.append(Value("http_header", name.lower(), value))
            if name.lower() in ("x-ipfs-path", "x-content-path"):
                parts = value.strip("/").split("/")
                if len(parts) >= 2 and parts[0] in ("ipfs", "ipns"):
                    values.append(Value("contenthash", parts[0], f"{parts[0]}://{parts[1]}"))
    values.append(Value("content_sha256", None, hashlib.sha256(resp.body).hexdigest()))
    outcome = NOT_FOUND if resp.status == 404 else RESOLVED
    return MethodResult(
        outcome=outcome,
        values=values,
        detail={"url": url, "address": resp.address, "bytes": len(resp.body)},
    )
