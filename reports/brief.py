"""The "Council brief": the Summary's findings mapped to the Topic 3 questions
(opportunities, challenges, fragmentation risk, stability, security). Pure: every statement
quotes indicator values of the Summary and names the command that explains them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fragscope.analysis import registry
from fragscope.reports.view import Doc, View, ci, num

TOPICS = ("Fragmentation risk", "Security", "Stability", "Opportunities", "Challenges")


@dataclass
class Evidence:
    code: str
    vantage: str
    value: str
    interval: str
    explain: str


@dataclass
class Statement:
    topic: str
    text: str
    evidence: list[Evidence] = field(default_factory=list)


def _ev(row: Doc) -> Evidence:
    return Evidence(row["code"], row["vantage"], num(row["value"]), ci(row), row["explain"])


def _quote(row: Doc) -> str:
    interval = ci(row)
    return f"{row['code']} = {num(row['value'])}" + (f" (95% CI {interval})" if interval else "")


def _present(view: View, codes: tuple[str, ...]) -> list[tuple[Doc, list[Doc]]]:
    out = []
    for run in view.latest:
        rows = [view.value(run["run_id"], c) for c in codes]
        found = [r for r in rows if r is not None and r["value"] is not None]
        out.append((run, found))
    return out


def _by_vantage(view: View, topic: str, what: str, kind: str) -> list[Statement]:
    """Per vantage, the topic's indicators (the registry's ``brief`` entries) quoted."""
    codes = registry.brief_codes(topic)
    missing = f"no {kind} indicator ({', '.join(codes)}) could be computed."
    out = []
    for run, found in _present(view, codes):
        if found:
            text = f"{run['vantage']}: {what} " + "; ".join(_quote(r) for r in found) + "."
            out.append(Statement(topic, text, [_ev(r) for r in found]))
        else:
            out.append(Statement(topic, f"{run['vantage']}: {missing}"))
    return out


def _pillars(view: View, row: Doc) -> str:
    """What the composite rests on: its highest pillar when several count, else the one
    pillar (a highest of one is no ranking) and the pillars left out."""
    pillars: dict[str, float] = row["params"].get("pillars") or {}
    if not pillars:
        return ""
    if len(pillars) > 1:
        top = max(sorted(pillars), key=lambda p: pillars[p])
        return f"; its highest of {len(pillars)} pillars is {top} at {num(pillars[top])}"
    (only,) = pillars
    left_out = sorted(set(view.doc["method"]["composite"]["pillars"]) - {only})
    members = ", ".join((row["params"].get("members_present") or {}).get(only, []))
    tail = f"; it rests on one pillar only, {only} = {num(pillars[only])} ({members})"
    if left_out:
        tail += f", since {' and '.join(left_out)} had too few members to count"
    return tail


def statements(view: View) -> list[Statement]:
    """Every statement of the brief, topic by topic."""
    out: list[Statement] = []
    # Fragmentation risk: the composite and what it rests on, then the spread of vantages.
    afi = []
    for run in view.latest:
        row = view.value(run["run_id"], "C2")
        if row is None or row["value"] is None:
            reason = row["reason"] if row else "not computed"
            out.append(
                Statement(
                    TOPICS[0], f"{run['vantage']}: the composite index is withheld ({reason})."
                )
            )
            continue
        afi.append(row)
        tail = _pillars(view, row)
        out.append(
            Statement(
                TOPICS[0],
                f"{run['vantage']}: the Architectural Fragmentation Index is {_quote(row)}{tail}.",
                [_ev(row)],
            )
        )
    if len(afi) >= 2:
        hi = max(afi, key=lambda r: (r["value"], r["vantage"]))
        lo = min(afi, key=lambda r: (r["value"], r["vantage"]))
        out.append(
            Statement(
                TOPICS[0],
                f"Across vantages the index ranges from {num(lo['value'])} ({lo['vantage']}) "
                f"to {num(hi['value'])} ({hi['vantage']}).",
                [_ev(lo), _ev(hi)],
            )
        )
    out += _by_vantage(
        view,
        TOPICS[1],
        "resolver answer divergence, DNSSEC non-validation and NXDOMAIN integrity:",
        "resolver-integrity",
    )
    # Stability: distance to the control, flagged changes, path interference.
    for c in view.comparisons("control"):
        if c["run_a"] == c["run_b"]:
            continue  # the control run itself
        flag = "interval excludes 0" if c["flagged"] else "interval includes 0"
        row = view.value(c["run_a"], "C1")
        out.append(
            Statement(
                TOPICS[2],
                f"{c['vantage_a']}: outcome divergence to the control {c['vantage_b']} is "
                f"C1 = {num(c['value'])} bits ({flag}).",
                [_ev(row)] if row else [],
            )
        )
    for c in view.comparisons("trend"):
        if c["flagged"]:
            row = view.value(c["run_a"], c["code"])
            out.append(
                Statement(
                    TOPICS[2],
                    f"{c['vantage_a']}: {c['code']} changed by {num(c['value'])} since the "
                    "previous run, with non-overlapping 95% intervals.",
                    [_ev(row)] if row else [],
                )
            )
    out += _by_vantage(
        view,
        TOPICS[2],
        "UDP/443 blocking, censorship asymmetry and path ossification:",
        "path-interference",
    )
    out += _by_vantage(
        view,
        TOPICS[3],
        "modern transport and alternative-namespace reach (lower is better):",
        "adoption",
    )
    out += _by_vantage(
        view,
        TOPICS[4],
        "IPv6 gaps, QUIC version hygiene and namespace collisions:",
        "deployment-challenge",
    )
    withheld = view.doc["withheld"]
    if withheld:
        codes = sorted({w["code"] for w in withheld})
        out.append(
            Statement(
                TOPICS[4],
                f"{len(withheld)} indicator values are withheld for lack of data "
                f"({', '.join(codes)}); see Data quality.",
            )
        )
    undefined = view.doc["not_applicable"]
    if undefined:
        codes = sorted({w["code"] for w in undefined})
        out.append(
            Statement(
                TOPICS[4],
                f"{len(undefined)} indicator value{'s are' if len(undefined) != 1 else ' is'} "
                "not applicable, the formula being undefined on the data measured "
                f"({', '.join(codes)}); see Data quality.",
            )
        )
    return out


def by_topic(view: View) -> list[tuple[str, list[Statement]]]:
    found = statements(view)
    return [(t, [s for s in found if s.topic == t]) for t in TOPICS]
