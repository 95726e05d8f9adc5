"""The lab's Ethereum chain: ganache with ENS, an ENSIP-10 wildcard resolver, an EIP-3668
(CCIP-read) resolver and its gateway, and Unstoppable Domains' UNS registry. Importing this
package does no I/O; the functions below start processes, listen and send JSON-RPC.

How the lab runs it (every address below is the caller's choice: 127.0.0.1 in the chain's
own tests, a 10.99.x address inside the lab namespace later):

1. ``chain_service_argv(host, port, run_dir)``: the ganache command (deterministic wallet,
   chain id 1337, shanghai hardfork, eager instamine, quiet). Start it as a service, or call
   ``start_chain(host, port, run_dir)`` which starts it, waits until JSON-RPC answers and
   returns a ``ChainProcess`` to ``.stop()`` by PID.
2. The CCIP-read gateway: ``start_gateway(host, port)`` runs it in a thread of this process
   (``.url``, ``.fail_for(name)``, ``.stop()``); ``gateway_service_argv(host, port)`` is the
   command to run it as its own process (``python -m fragscope.lab.chain.gateway``).
3. ``deploy_all(rpc_url, run_dir, gateway_url) -> ChainFacts``: compiles contracts/*.sol with
   solcjs (cached in node_modules/.cache, redone when the sources change), deploys the ten
   contracts at the addresses truth.toml records (deterministic; checked), registers every
   name of truth.toml and writes ``run_dir/chain.json``. Needs a fresh chain (the
   deployer's nonce must be 0).

The planted facts are in ``truth.toml`` (names -> records, addresses, gateway behaviour per
name); ``load_plan()`` reads it. npm packages (ganache, solc, the ENS and UNS artifacts) are
installed by ``make npm`` (npm ci in this directory) and never fetched at run time.
"""

from fragscope.lab.chain.deploy import ChainFacts, DeployError, deploy_all
from fragscope.lab.chain.gateway import CcipGateway, gateway_service_argv, start_gateway
from fragscope.lab.chain.schema import ChainPlan, load_plan
from fragscope.lab.chain.service import ChainProcess, chain_service_argv, rpc_url, start_chain

__all__ = [
    "CcipGateway",
    "ChainFacts",
    "ChainPlan",
    "ChainProcess",
    "DeployError",
    "chain_service_argv",
    "deploy_all",
    "gateway_service_argv",
    "load_plan",
    "rpc_url",
    "start_chain",
    "start_gateway",
]
