"""The chain component: ganache, the CCIP-read gateway and the ENS-to-HTTP gateway bridges
on the addresses of truth.toml's ``[chain]``, then every contract and name of the chain's
plan (lab/chain/truth.toml).

No I/O except :meth:`ChainComponent.after_start`: JSON-RPC to the lab's ganache to deploy,
and chain.json into the run directory.
"""

from __future__ import annotations

import shutil
import sys

from fragscope.lab.chain.artifacts import NODE_MODULES, ArtifactError
from fragscope.lab.chain.bridge import bridge_service_argv
from fragscope.lab.chain.deploy import DeployError
from fragscope.lab.chain.health import GatewayCheck, RpcCheck
from fragscope.lab.chain.rpc import RpcError
from fragscope.lab.chain.service import CHAIN_ID, GANACHE_CLI, chain_service_argv
from fragscope.lab.core.component import Component, LabError, Site
from fragscope.lab.core.services import PYTHONPATH, Listener, Service
from fragscope.lab.truth import Truth


def chain_missing() -> str | None:
    """Why the chain cannot start here (None when it can)."""
    if shutil.which("node") is None:
        return "node is not installed (package nodejs, deps/apt.txt)"
    if not GANACHE_CLI.exists():
        return f"{NODE_MODULES} is missing or incomplete (no ganache): run `make npm`"
    return None


class ChainComponent(Component):
    name = "chain"

    def missing(self, truth: Truth, groups: set[str]) -> list[str]:
        if truth.chain is not None and truth.chain.group in groups and (why := chain_missing()):
            return [f"the chain cannot start: {why}"]
        return []

    def addresses(self, truth: Truth) -> list[str]:
        c = truth.chain
        if c is None:
            return []
        return [c.rpc_address, c.gateway_address, *(b.address for b in c.bridges)]

    def services(self, site: Site) -> list[Service]:
        c, paths = site.truth.chain, site.paths
        if c is None:
            return []
        ganache = chain_service_argv(c.rpc_address, c.rpc_port, paths.root)
        gateway = (
            sys.executable,
            "-m",
            "fragscope.lab.chain.gateway",
            "--host",
            c.gateway_address,
            "--port",
            str(c.gateway_port),
            "--truth",
            str(c.facts_path),
        )
        return [
            Service(
                name="ganache",
                group=c.group,
                software="ganache",
                argv=tuple(ganache),
                listeners=(Listener(c.rpc_address, c.rpc_port, "http", RpcCheck(CHAIN_ID)),),
                log=paths.log("ganache"),
            ),
            Service(
                name="ccip-gateway",
                group=c.group,
                software="fragscope-ccip",
                argv=gateway,
                listeners=(Listener(c.gateway_address, c.gateway_port, "http", GatewayCheck()),),
                log=paths.log("ccip-gateway"),
                env=PYTHONPATH,
            ),
            *(
                Service(
                    name=b.name,
                    group=c.group,
                    software="fragscope-bridge",
                    argv=bridge_service_argv(
                        sys.executable,
                        b.address,
                        b.port,
                        c.rpc_url,
                        c.plan.addresses["ens_registry"],
                        b.stale,
                    ),
                    listeners=(Listener(b.address, b.port, "http", GatewayCheck()),),
                    log=paths.log(b.name),
                    env=PYTHONPATH,
                )
                for b in c.bridges
            ),
        ]

    def after_start(self, site: Site, groups: set[str]) -> None:
        """Deploy every contract and name on the lab's fresh ganache (writes chain.json)."""
        from fragscope.lab.chain.deploy import deploy_all

        c = site.truth.chain
        if c is None or c.group not in groups:
            return
        try:
            deploy_all(c.rpc_url, site.paths.root, c.gateway_url, truth=c.plan)
        except (ArtifactError, DeployError, RpcError, OSError) as exc:
            raise LabError(f"deploying the chain's contracts and names: {exc}") from exc
