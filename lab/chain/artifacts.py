"""Contract artifacts for the lab chain: the npm packages' published bytecode, and the lab's
own Solidity compiled with solcjs (reads node_modules, runs `node compile.js` when the
sources changed since the last build).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fragscope.lab.chain.abi import encode

CHAIN_DIR = Path(__file__).resolve().parent
NODE_MODULES = CHAIN_DIR / "node_modules"
# Compiled lab contracts, shared by every run (git-ignored with node_modules, rebuilt when
# contracts/*.sol, compile.js or the solc package change).
BUILD_CACHE = NODE_MODULES / ".cache" / "fragscope-contracts"

# Published artifacts, pinned by lab/chain/package-lock.json (never downloaded at run time).
NPM_ARTIFACTS = {
    "ENSRegistry": "@ensdomains/ens/build/contracts/ENSRegistry.json",
    "PublicResolver": "@ensdomains/resolver/build/contracts/PublicResolver.json",
    "UNSRegistry": "@unstoppabledomains/uns/artifacts/UNSRegistry.json",
    "ProxyReader": "@unstoppabledomains/uns/artifacts/ProxyReader.json",
    "ERC1967Proxy": "@unstoppabledomains/uns/artifacts/ERC1967Proxy.json",
}


class ArtifactError(RuntimeError):
    """An artifact is missing (npm packages not installed) or the compiler failed."""


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes

    def creation_code(self, *args: Any) -> bytes:
        """Bytecode followed by the ABI-encoded constructor arguments."""
        ctor = next((e for e in self.abi if e.get("type") == "constructor"), None)
        types = [i["type"] for i in ctor["inputs"]] if ctor else []
        if len(types) != len(args):
            raise ArtifactError(f"{self.name} constructor takes {types}, got {len(args)} args")
        return self.bytecode + (encode(types, list(args)) if types else b"")


def _load(path: Path, name: str) -> Artifact:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(
            f"{path} is missing: install the lab chain's npm packages with `make npm`"
        ) from None
    code = data.get("bytecode", "")
    if not isinstance(code, str) or not code.startswith("0x") or len(code) < 4:
        raise ArtifactError(f"{path}: no deployable bytecode")
    if data.get("linkReferences"):
        raise ArtifactError(f"{path}: bytecode needs library linking, which the lab does not do")
    return Artifact(name=name, abi=data["abi"], bytecode=bytes.fromhex(code[2:]))


def npm_artifact(name: str) -> Artifact:
    return _load(NODE_MODULES / NPM_ARTIFACTS[name], name)


def _source_digest(source_dir: Path) -> str:
    digest = hashlib.sha256()
    solc_pkg = NODE_MODULES / "solc" / "package.json"
    paths = [CHAIN_DIR / "compile.js", solc_pkg, *sorted(source_dir.glob("*.sol"))]
    for path in paths:
        if path.exists():
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def compile_contracts(
    build_dir: Path | None = None, *, source_dir: Path | None = None, node: str | None = None
) -> dict[str, Artifact]:
    """Compile source_dir/*.sol (default: contracts/) into build_dir (default BUILD_CACHE);
    skipped when the stamp there matches the sources, so only the first lab-up after a change
    pays for solcjs. Raises ArtifactError with the compiler's messages on a bad source."""
    build_dir = build_dir or BUILD_CACHE
    source_dir = source_dir or CHAIN_DIR / "contracts"
    stamp = build_dir / "sources.sha256"
    digest = _source_digest(source_dir)
    if not (stamp.exists() and stamp.read_text() == digest):
        node = node or shutil.which("node")
        if node is None:
            raise ArtifactError("node is not on PATH: the lab chain needs Node.js (deps/apt.txt)")
        if not (NODE_MODULES / "solc").is_dir():
            raise ArtifactError("solc is not installed: run `make npm`")
        build_dir.mkdir(parents=True, exist_ok=True)
        # Compile into a private directory and move the files in, stamp last, so a
        # concurrent reader never sees a half-written build.
        with tempfile.TemporaryDirectory(dir=build_dir) as tmp:
            done = subprocess.run(
                [node, str(CHAIN_DIR / "compile.js"), tmp, str(source_dir)],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if done.returncode != 0:
                raise ArtifactError(f"solcjs failed:\n{done.stderr.strip()}")
            for path in Path(tmp).glob("*.json"):
                os.replace(path, build_dir / path.name)
            (Path(tmp) / "stamp").write_text(digest)
            os.replace(Path(tmp) / "stamp", stamp)
    return {p.stem: _load(p, p.stem) for p in sorted(build_dir.glob("*.json"))}
