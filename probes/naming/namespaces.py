"""The namespace registry: namespaces, their dated TLD lists and access methods, as data.

Reads TOML and text files shipped in ``probes/naming/data`` (or any directory with the
same layout, e.g. a test fixture); the special-use namespace's labels come from
db/special_use.py. File I/O only, at load time.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from fragscope.db import special_use

DATA_DIR = Path(__file__).resolve().parent / "data"


class RegistryError(ValueError):
    """A registry file is malformed; the message names the file and the field or line."""


@dataclass(frozen=True, slots=True)
class TldList:
    """A dated TLD list: labels plus where and when they came from."""

    labels: frozenset[str]
    source: str
    date: str
    coverage: str = "complete"


@dataclass(frozen=True, slots=True)
class Namespace:
    name: str
    title: str
    kind: str
    tlds: TldList
    methods: tuple[str, ...]
    normalization: str
    reachable_via: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    special_use: bool = False


@dataclass(frozen=True)
class Registry:
    namespaces: dict[str, Namespace] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Namespace:
        try:
            return self.namespaces[name]
        except KeyError:
            known = ", ".join(sorted(self.namespaces))
            raise KeyError(f"unknown namespace {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        return list(self.namespaces)

    def for_name(self, name: str) -> Namespace | None:
        """The namespace a name belongs to by its TLD; alternative ones win over icann.

        A TLD in several namespaces (a collision) resolves to the first non-ICANN, non
        special-use namespace in registry order; callers can always force one.
        """
        tld = name.rstrip(".").rsplit(".", 1)[-1].lower()
        fallback: Namespace | None = None
        for ns in self.namespaces.values():
            if tld in ns.tlds.labels:
                if ns.name == "icann" or ns.special_use:
                    fallback = fallback or ns
                else:
                    return ns
        return fallback


def read_tld_list(path: Path) -> TldList:
    """Parse a TLD list file: ``# source:``/``# date:``/``# coverage:`` headers, then labels."""
    meta: dict[str, str] = {}
    labels: set[str] = set()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read TLD list: {exc}") from exc
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            if sep and key.strip() in ("source", "date", "coverage"):
                meta[key.strip()] = value.strip()
            continue
        label = line.lower().rstrip(".")
        if "." in label or " " in label or len(label) > 63:
            raise RegistryError(f"{path}:{lineno}: {line!r} is not a single DNS label")
        labels.add(label)
    for required in ("source", "date"):
        if required not in meta:
            raise RegistryError(f"{path}: missing '# {required}:' header")
    return TldList(
        frozenset(labels), meta["source"], meta["date"], meta.get("coverage", "complete")
    )


def _str_list(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RegistryError(f"{where}: expected a list of strings")
    return tuple(value)


def _tlds(data_dir: Path, table: dict[str, object], where: str) -> TldList:
    """A namespace's TLD list: its ``tld_list`` file, or with ``tlds = "special-use"`` the
    special-use labels every package reads (db/special_use.py)."""
    builtin, path = table.get("tlds"), table.get("tld_list")
    if builtin == "special-use" and path is None:
        return TldList(special_use.LABELS, special_use.SOURCE, special_use.DATE)
    if builtin is not None:
        raise RegistryError(f'{where}.tlds: only "special-use" (without tld_list) is known')
    if not isinstance(path, str):
        raise RegistryError(f"{where}.tld_list: missing or not a string")
    return read_tld_list(data_dir / path)


def load_registry(data_dir: Path | None = None) -> Registry:
    """Load ``namespaces.toml`` and its TLD lists from ``data_dir`` (the shipped data)."""
    data_dir = data_dir or DATA_DIR
    path = data_dir / "namespaces.toml"
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RegistryError(f"{path}: {exc}") from exc
    tables = doc.get("namespace")
    if not isinstance(tables, dict) or not tables:
        raise RegistryError(f"{path}: no [namespace.*] tables")
    namespaces: dict[str, Namespace] = {}
    for name, table in tables.items():
        where = f"{path}: namespace.{name}"
        for key in ("title", "normalization"):
            if not isinstance(table.get(key), str):
                raise RegistryError(f"{where}.{key}: missing or not a string")
        namespaces[name] = Namespace(
            name=name,
            title=table["title"],
            kind=str(table.get("kind", "")),
            tlds=_tlds(data_dir, table, where),
            methods=_str_list(table.get("methods", []), f"{where}.methods"),
            normalization=table["normalization"],
            reachable_via=_str_list(table.get("reachable_via", []), f"{where}.reachable_via"),
            sources=_str_list(table.get("sources", []), f"{where}.sources"),
            special_use=bool(table.get("special_use", False)),
        )
    return Registry(namespaces)


@cache
def shipped_registry() -> Registry:
    return load_registry(DATA_DIR)
