"""One special-use label list (db/special_use.py): its contents follow the RFCs, and the
canary probe, the naming registry and the naming indicators all read it."""

from __future__ import annotations

from pathlib import Path

from fragscope.analysis import naming
from fragscope.db import special_use
from fragscope.probes.dns import canaries
from fragscope.probes.naming.namespaces import shipped_registry

ROOT = Path(__file__).resolve().parents[1]


def test_the_labels_are_the_iana_registrys_single_labels() -> None:
    # RFC 6761 section 6, RFC 6762 section 3, RFC 7686, RFC 9476 (home.arpa is under arpa).
    assert {
        "test",
        "localhost",
        "invalid",
        "example",
        "local",
        "onion",
        "alt",
    } == special_use.LABELS
    # The canary generator draws in this order: another order gives other canary names.
    assert special_use.CANARY_LABELS == ("onion", "invalid", "test", "alt")
    assert special_use.NEVER_RESOLVING == ("onion", "invalid", "alt")


def test_every_user_reads_the_one_list() -> None:
    assert canaries.SPECIAL_USE_TLDS is special_use.CANARY_LABELS
    tlds = shipped_registry()["special-use"].tlds
    assert tlds.labels is special_use.LABELS and tlds.date == special_use.DATE
    assert naming.is_canary("x.onion", set()) and naming.is_canary("x.alt", set())
    assert not naming.is_canary("x.test", set())  # .test names count only as canaries
    assert naming.is_canary("x.test", {"x.test"})


def test_no_package_defines_special_use_labels_again() -> None:
    own = ROOT / "db" / "special_use.py"
    for folder in ("analysis", "probes", "reports", "db", "campaigns", "lab"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if path != own and '"onion"' in text and '"invalid"' in text:
                raise AssertionError(f"{path.relative_to(ROOT)} lists special-use labels")
    assert not (ROOT / "probes" / "naming" / "data" / "tlds" / "special-use.txt").exists()
