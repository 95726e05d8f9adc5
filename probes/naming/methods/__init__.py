"""Access methods: one module per way of reaching a namespace, all returning MethodResult.

No I/O at import. ``METHODS`` maps a method name (as in data/namespaces.toml) to the
coroutine that measures it.
"""

from __future__ import annotations

from probes.naming.methods.base import MethodFn
from probes.naming.methods.dns import resolve_dns
from probes.naming.methods.ens import resolve_ens
from probes.naming.methods.gateway import resolve_gateway
from probes.naming.methods.namecoin import resolve_namecoin
from probes.naming.methods.uns import resolve_uns

METHODS: dict[str, MethodFn] = {
    "dns": resolve_dns,
    "eth-rpc": resolve_ens,
    "uns": resolve_uns,
    "http-gateway": resolve_gateway,
    "namecoin-rpc": resolve_namecoin,
}
