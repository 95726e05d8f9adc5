"""The campaign files fragscope ships (TOML), found by name when installed. Reads the package dir.

``fragscope run --campaign null-lab`` finds ``campaigns/null-lab.toml`` here when no file
of that name exists in the working directory.
"""

from __future__ import annotations

from pathlib import Path

CAMPAIGN_DIR = Path(__file__).resolve().parent


def shipped() -> list[str]:
    """Names of the shipped campaigns."""
    return sorted(p.stem for p in CAMPAIGN_DIR.glob("*.toml"))


def find(name_or_path: str | Path) -> Path:
    """A campaign path: the path itself if it exists, else a shipped campaign of that name."""
    path = Path(name_or_path)
    if path.exists():
        return path
    for candidate in (CAMPAIGN_DIR / path.name, CAMPAIGN_DIR / f"{path.name}.toml"):
        if candidate.is_file() and path.parent == Path("."):
            return candidate
    return path
