"""Access methods: one module per way of reaching a namespace, all returning MethodResult.

No I/O at import. ``METHODS`` maps a method name (as in data/namespaces.toml) to the
coroutine that measures it.
"""

from __future__ import annotations

from fragscope.probes.naming.methods.base import MethodFn
from fragscope.probes.naming.methods.discovery import resolve_discovered
from fragscope.probes.naming.methods.dns import resolve_dns
from fragscope.probes.naming.methods.ens import resolve_ens, resolve_ens_registry
from fragscope.probes.naming.methods.gateway import resolve_gateway
from fragscope.probes.naming.methods.namecoin import resolve_namecoin
from fragscope.probes.naming.methods.uns import resolve_uns

METHODS: dict[str, MethodFn] = {
    "dns": resolve_dns,
    "eth-rpc": resolve_ens,
    "eth-rpc-registry": resolve_ens_registry,
    "uns": resolve_uns,
    "http-gateway": resolve_gateway,
    "namecoin-rpc": resolve_namecoin,
    "discovery": resolve_discovered,
}
