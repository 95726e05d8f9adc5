"""The vantages section of the lab's truth: lab/vantages/truth.toml, typed. No I/O beyond
reading that file (lab.truth loads it with the rest; :func:`load` reads it alone)."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from fragscope.lab.vantages import HOST_VANTAGES, LAB_SUBNETS
from fragscope.lab.vantages.model import Kind, Vantage, VantageError, vantage_from_mapping


def default_path() -> Path:
    return Path(str(resources.files("fragscope.lab.vantages").joinpath("truth.toml")))


def load(path: Path | str | None = None) -> dict[str, Vantage]:
    """Every vantage in the file, by name; raises VantageError (a TruthError) naming the
    bad entry."""
    path = Path(path) if path is not None else default_path()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise VantageError(f"{path}: {exc}") from None
    tables = raw.get("vantages")
    if not isinstance(tables, dict):
        raise VantageError(f"{path}: no [vantages.NAME] tables")
    out = {}
    for name, data in tables.items():
        if not isinstance(data, dict):
            raise VantageError(f"{path}: vantages.{name} must be a table")
        vantage = vantage_from_mapping(name, data)
        if vantage.kind is not Kind.CLEAN and name not in LAB_SUBNETS:
            raise VantageError(
                f"{path}: vantage {name!r} has no lab subnet (lab.vantages.LAB_SUBNETS: "
                f"{', '.join(LAB_SUBNETS)})"
            )
        if vantage.kind is Kind.CLEAN and name not in HOST_VANTAGES:
            raise VantageError(
                f"{path}: vantage {name!r} of kind clean is not a host vantage "
                f"(lab.vantages.HOST_VANTAGES: {', '.join(HOST_VANTAGES)})"
            )
        out[name] = vantage
    return out
