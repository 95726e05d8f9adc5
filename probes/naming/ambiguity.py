"""Name ambiguity across resolvers: one name, different answers from different views.

RFC 2826's warning made measurable: in one run, the same name asked of several DNS
endpoints (an ICANN-view resolver, an alternative root's resolver) is *conflicting* when
two endpoints both resolve it to different record sets, *partial* when some resolve it
and others say it does not exist, and *consistent* otherwise. Database reads only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Engine, text

COMPARED_KINDS = ("a", "aaaa", "cname", "txt")


@dataclass(frozen=True, slots=True)
class NameAmbiguity:
    namespace: str
    name: str
    verdict: str
    """consistent, partial or conflicting"""
    answers: dict[str, list[str]] = field(default_factory=dict)
    """endpoint -> sorted "kind value" strings, or ["<not_found>"]"""


def classify(answers: dict[str, frozenset[str] | None]) -> str:
    """Verdict for endpoint -> record set (None = the endpoint said not found)."""
    found = {a for a in answers.values() if a is not None}
    if len(found) > 1:
        return "conflicting"
    if found and any(a is None for a in answers.values()):
        return "partial"
    return "consistent"


def ambiguity(engine: Engine, run_id: str) -> list[NameAmbiguity]:
    """Every name of ``run_id`` answered by at least two DNS endpoints, with its verdict."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, namespace, name_normalized, endpoint, outcome"
                " FROM naming_observations WHERE run_id = :run AND method = 'dns'"
                " AND failure IS NULL AND name_normalized IS NOT NULL"
            ),
            {"run": run_id},
        ).all()
        values: dict[int, set[str]] = defaultdict(set)
        kinds = ", ".join(f"'{k}'" for k in COMPARED_KINDS)
        for oid, kind, value in conn.execute(
            text(
                "SELECT v.observation_id, v.kind, v.value FROM naming_values v"
                " JOIN naming_observations o ON o.id = v.observation_id"
                f" WHERE o.run_id = :run AND o.method = 'dns' AND v.kind IN ({kinds})"
            ),
            {"run": run_id},
        ):
            values[oid].add(f"{kind} {value}")
    by_name: dict[tuple[str, str], dict[str, frozenset[str] | None]] = defaultdict(dict)
    for oid, ns, name, endpoint, outcome in rows:
        by_name[(ns, name)][endpoint] = None if outcome == "not_found" else frozenset(values[oid])
    out = []
    for (ns, name), answers in sorted(by_name.items()):
        if len(answers) < 2:
            continue
        out.append(
            NameAmbiguity(
                namespace=ns,
                name=name,
                verdict=classify(answers),
                answers={
                    ep: sorted(a) if a is not None else ["<not_found>"]
                    for ep, a in sorted(answers.items())
                },
            )
        )
    return out
