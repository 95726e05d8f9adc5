"""The probe areas stay apart (issue 17), read from the source with ast. No I/O but reading.

- probes/dns, probes/transport and probes/naming never import each other;
- a module that registers a probe neither imports another such module nor names another
  registered probe in its code: follow-up chains live in probes.engine.chains (a probe
  composed of others' measurements, :data:`COMPOSED_OF`, is the listed exception);
- in probes/ and bench/, only probes.transport.aioquic_compat imports aioquic's private
  modules or reads private attributes of aioquic's objects.
"""

from __future__ import annotations

import ast
import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection

from fragscope.probes import registry

ROOT = Path(__file__).resolve().parents[1]
AREAS = ("dns", "transport", "naming")
COMPAT = "fragscope.probes.transport.aioquic_compat"


def modules(folder: Path, package: str) -> Iterator[tuple[str, Path]]:
    """(dotted name, path) of every module under ``folder``, ``package`` its package."""
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(folder).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join((package, *parts)), path


def imported(name: str, path: Path) -> set[str]:
    """Every module ``path`` (the module ``name``) imports, absolute, at any depth."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
    return {m.removeprefix("fragscope.") for m in out}


def area_of(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) >= 2 and parts[0] == "probes" and parts[1] in AREAS:
        return parts[1]
    return None


def code_strings(path: Path) -> list[str]:
    """The string constants of ``path``'s code (docstrings left out: prose may refer)."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def all_area_modules() -> list[tuple[str, Path]]:
    return [
        (name, path)
        for area in AREAS
        for name, path in modules(ROOT / "probes" / area, f"probes.{area}")
    ]


def probe_modules() -> dict[str, str]:
    """Module (``probes.x.y``) -> the name of the probe it registers."""
    registry.load_builtin_probes()
    return {
        cls.__module__.removeprefix("fragscope."): name
        for name, cls in registry.all_probes().items()
    }


def mentions(text: str, probe: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(probe)}(?![\w.])", text) is not None


def test_every_area_module_is_seen() -> None:
    found = {name for name, _ in all_area_modules()}
    assert {"probes.transport.quic", "probes.dns.query", "probes.naming.probe"} <= found


@pytest.mark.parametrize(("name", "path"), all_area_modules(), ids=lambda v: str(v))
def test_probe_areas_never_import_each_other(name: str, path: Path) -> None:
    own = area_of(name)
    foreign = sorted(m for m in imported(name, path) if area_of(m) not in (None, own))
    assert foreign == [], f"{name} imports another probe area"


# Probes built from other probes' measurements, by design: transport.sni (issue 21) runs
# transport.tls's, transport.quic's and transport.quic_vn's handshakes as its A/B steps
# (reuse, not a copy); it is not a follow-up chain, which stays in probes.engine.chains.
COMPOSED_OF = {
    "probes.transport.sni": {"probes.transport.tls", "probes.transport.quic", "probes.transport.vn"}
}


def test_no_probe_module_imports_or_names_another_probe() -> None:
    registered = probe_modules()
    assert {"transport.tls", "transport.quic", "path.udp443"} <= set(registered.values())
    problems = []
    for module, own in registered.items():
        path = ROOT / Path(*module.split(".")).with_suffix(".py")
        allowed = COMPOSED_OF.get(module, set()) | {module}
        others = sorted(m for m in imported(module, path) if m in registered and m not in allowed)
        if others:
            problems.append(f"{module} imports probe modules {others}")
        for text in code_strings(path):
            for probe in registered.values():
                if probe != own and mentions(text, probe):
                    problems.append(f"{module} ({own}) names {probe} in {text!r}")
    assert problems == []


def aioquic_private_names() -> set[str]:
    """The private attributes of an aioquic client connection, its TLS context and an
    asyncio protocol around it, read from live objects (nothing is sent)."""
    quic = QuicConnection(configuration=QuicConfiguration(is_client=True))
    quic.connect(("127.0.0.1", 443), now=0.0)

    async def protocol() -> QuicConnectionProtocol:
        return QuicConnectionProtocol(quic)

    objects: list[object] = [quic, quic.tls, asyncio.run(protocol())]
    names = {n for o in objects for n in [*vars(o), *dir(type(o))]}
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def test_only_the_adapter_reads_aioquic_private_attributes() -> None:
    private = aioquic_private_names()
    assert {"_quic", "_version", "_retry_count", "_peer_certificate"} <= private
    adapter = ROOT / "probes" / "transport" / "aioquic_compat.py"
    reads = []
    for package in ("probes", "bench"):
        for _, path in modules(ROOT / package, package):
            if path == adapter:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                # A subclass's own self._x is its business; anyone else's is not.
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr in private
                    and not (isinstance(node.value, ast.Name) and node.value.id == "self")
                ):
                    reads.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    assert reads == []


def test_only_the_adapter_imports_aioquic_internals() -> None:
    private = re.compile(r"(^|\.)_[a-z]")
    users = sorted(
        name
        for package in ("probes", "bench")
        for name, path in modules(ROOT / package, package)
        if any(m.startswith("aioquic") and private.search(m) for m in imported(name, path))
    )
    assert users == [COMPAT.removeprefix("fragscope.")]
