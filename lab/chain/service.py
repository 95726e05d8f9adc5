"""Run ganache, the lab's Ethereum node (starts and stops a process by PID; does network I/O
only to poll its own JSON-RPC port until it answers)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from fragscope.lab.chain.artifacts import NODE_MODULES
from fragscope.lab.chain.rpc import JsonRpc, RpcError

GANACHE_CLI = NODE_MODULES / "ganache" / "dist" / "node" / "cli.js"
CHAIN_ID = 1337
HARDFORK = "shanghai"  # what compile.js targets (solc's cancun default emits MCOPY)


def chain_service_argv(host: str, port: int, run_dir: Path) -> list[str]:
    """The ganache command line: deterministic wallet (so contract addresses are fixed),
    chain id 1337, in-memory state, quiet. run_dir is where the lab keeps the service's
    files; ganache itself writes nothing there (its state lives in memory)."""
    node = shutil.which("node") or "node"
    return [
        node,
        str(GANACHE_CLI),
        "--server.host",
        host,
        "--server.port",
        str(port),
        "--wallet.deterministic",
        "--chain.chainId",
        str(CHAIN_ID),
        "--chain.hardfork",
        HARDFORK,
        # Eager instamine: eth_sendTransaction returns after its block is mined.
        "--miner.instamine",
        "eager",
        "--logging.quiet",
    ]


def rpc_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def wait_until_ready(
    url: str, *, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None
) -> str:
    """Poll web3_clientVersion until the node answers; return the client version."""
    rpc = JsonRpc(url, timeout=2.0)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return str(rpc.call("web3_clientVersion"))
        except RpcError:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"ganache exited with status {proc.returncode}") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"ganache at {url} did not answer within {timeout} s") from None
            time.sleep(0.1)


@dataclass
class ChainProcess:
    """A running ganache; stop() ends it by PID."""

    proc: subprocess.Popen[bytes]
    url: str
    client_version: str
    start_seconds: float

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, *, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=timeout)


def start_chain(host: str, port: int, run_dir: Path, *, timeout: float = 30.0) -> ChainProcess:
    """Start ganache on host:port, logging to run_dir/ganache.log, and wait until it answers."""
    if not GANACHE_CLI.exists():
        raise FileNotFoundError(f"{GANACHE_CLI} is missing: run `make npm`")
    run_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with (run_dir / "ganache.log").open("ab") as log:
        proc = subprocess.Popen(
            chain_service_argv(host, port, run_dir),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = rpc_url(host, port)
    try:
        version = wait_until_ready(url, timeout=timeout, proc=proc)
    except BaseException:
        chain = ChainProcess(proc, url, "", 0.0)
        chain.stop()
        raise
    return ChainProcess(proc, url, version, time.perf_counter() - t0)
