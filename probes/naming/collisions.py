"""TLD collision analysis between namespaces, the ICANN root and special-use names. No I/O.

For every namespace: how many of its TLDs are also ICANN TLDs or special-use names
(counts and shares of its own list), and for every pair of namespaces the intersection,
the Jaccard index |A & B| / |A | B| and the colliding labels. Pure set arithmetic over a
:class:`~probes.naming.namespaces.Registry`, so a fixture registry gives hand-checkable
numbers.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

from fragscope.probes.naming.namespaces import Registry

ICANN = "icann"
SPECIAL_USE = "special-use"


@dataclass(frozen=True, slots=True)
class NamespaceCollisions:
    namespace: str
    n_tlds: int
    list_date: str
    coverage: str
    with_icann: int
    share_icann: float | None
    icann_labels: list[str]
    with_special_use: int
    share_special_use: float | None
    special_use_labels: list[str]


@dataclass(frozen=True, slots=True)
class PairCollision:
    a: str
    b: str
    n_a: int
    n_b: int
    intersection: int
    union: int
    jaccard: float | None
    labels: list[str]


@dataclass(frozen=True, slots=True)
class CollisionReport:
    namespaces: list[NamespaceCollisions]
    pairs: list[PairCollision]

    def to_json(self) -> dict[str, Any]:
        return {
            "namespaces": [asdict(n) for n in self.namespaces],
            "pairs": [asdict(p) for p in self.pairs],
        }


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def analyse(registry: Registry) -> CollisionReport:
    """Collision counts, shares and pairwise Jaccard for every namespace in ``registry``."""
    sets = {name: ns.tlds.labels for name, ns in registry.namespaces.items()}
    icann = sets.get(ICANN, frozenset())
    special = sets.get(SPECIAL_USE, frozenset())
    per_ns = []
    for name, ns in registry.namespaces.items():
        labels = sets[name]
        with_icann = sorted(labels & icann) if name != ICANN else []
        with_special = sorted(labels & special) if name != SPECIAL_USE else []
        per_ns.append(
            NamespaceCollisions(
                namespace=name,
                n_tlds=len(labels),
                list_date=ns.tlds.date,
                coverage=ns.tlds.coverage,
                with_icann=len(with_icann),
                share_icann=_share(len(with_icann), len(labels)) if name != ICANN else None,
                icann_labels=with_icann,
                with_special_use=len(with_special),
                share_special_use=(
                    _share(len(with_special), len(labels)) if name != SPECIAL_USE else None
                ),
                special_use_labels=with_special,
            )
        )
    pairs = []
    for a, b in combinations(sets, 2):
        inter = sets[a] & sets[b]
        union = sets[a] | sets[b]
        pairs.append(
            PairCollision(
                a=a,
                b=b,
                n_a=len(sets[a]),
                n_b=len(sets[b]),
                intersection=len(inter),
                union=len(union),
                jaccard=_share(len(inter), len(union)),
                labels=sorted(inter),
            )
        )
    return CollisionReport(per_ns, pairs)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def render_text(report: CollisionReport, *, max_labels: int = 20) -> str:
    lines = ["TLD collisions per namespace (shares are of the namespace's own list)", ""]
    lines.append(
        f"{'namespace':<14}{'tlds':>7}  {'date':<11}{'coverage':<10}"
        f"{'icann':>6}{'share':>8}{'special':>8}{'share':>8}"
    )
    for n in report.namespaces:
        lines.append(
            f"{n.namespace:<14}{n.n_tlds:>7}  {n.list_date:<11}{n.coverage:<10}"
            f"{n.with_icann:>6}{_fmt(n.share_icann):>8}"
            f"{n.with_special_use:>8}{_fmt(n.share_special_use):>8}"
        )
    lines += ["", "Pairwise collisions (pairs with at least one common label)", ""]
    lines.append(f"{'a':<14}{'b':<14}{'common':>7}{'union':>7}{'jaccard':>9}  labels")
    for p in report.pairs:
        if not p.intersection:
            continue
        shown = ", ".join(p.labels[:max_labels])
        if len(p.labels) > max_labels:
            shown += f", ... (+{len(p.labels) - max_labels})"
        lines.append(
            f"{p.a:<14}{p.b:<14}{p.intersection:>7}{p.union:>7}{_fmt(p.jaccard):>9}  {shown}"
        )
    return "\n".join(lines) + "\n"


def render_json(report: CollisionReport) -> str:
    return json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n"


def render_csv(report: CollisionReport) -> str:
    """One row per namespace pair (the tidy form for spreadsheets and pandas)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["a", "b", "n_a", "n_b", "intersection", "union", "jaccard", "labels"])
    for p in report.pairs:
        writer.writerow(
            [p.a, p.b, p.n_a, p.n_b, p.intersection, p.union, _fmt(p.jaccard), " ".join(p.labels)]
        )
    return buf.getvalue()
