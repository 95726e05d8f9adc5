"""The indicator catalogue rendered as text, Markdown (docs/indicators.md) or JSON. No I/O."""

from __future__ import annotations

import json

from fragscope.analysis.registry import PILLAR_MIN_COVERAGE, PILLARS, REGISTRY


def markdown() -> str:
    out = [
        "# Indicators",
        "",
        "Generated from the indicator registry (the `@indicator` entries of "
        "`analysis/naming.py`, `analysis/transport.py` and `analysis/comparison.py`) by "
        "`fragscope indicators list --format markdown` (`make indicators-doc`); a test fails "
        "when this file is out of sync.",
        "",
        "Every value is oriented so that higher = more fragmented, concentrated or impaired, "
        "lies in [0, 1], and is stored in `indicator_values` with its sample size `n` (the "
        "number of clusters: targets, names or resolvers), a 95% interval and the formula "
        "version. Intervals come from a cluster bootstrap over targets (B = 1000, percentile,"
        " seeded from the run id), or Wilson's score interval for binary shares with n < 30. "
        "An indicator without enough data is stored as NULL with the reason.",
        "",
        "| code | title | unit | pillar | inputs | min n |",
        "|---|---|---|---|---|---|",
    ]
    for i in REGISTRY.values():
        out.append(
            f"| {i.code} | {i.title} | {i.unit} | {i.pillar} | "
            f"{', '.join(i.inputs) or '(other indicators)'} | {i.min_n} |"
        )
    out += ["", "## Composite (C2) pillars", ""]
    for pillar, members in PILLARS.items():
        out.append(f"- **{pillar}**: {', '.join(members)}")
    out += [
        "",
        f"A pillar counts when at least {PILLAR_MIN_COVERAGE:.0%} of its members are present; "
        "`X.param` names a member taken from indicator X's params.",
        "",
    ]
    for i in REGISTRY.values():
        out += [
            f"## {i.code}: {i.title} (version {i.version})",
            "",
            f"*Question.* {i.question}",
            "",
            f"*Formula.* {i.formula}",
            "",
            f"*Why this formula.* {i.reasoning}",
            "",
            f"*Unit / direction.* {i.unit}; {i.direction}.",
            "",
            f"*Inputs.* {', '.join(f'`{t}`' for t in i.inputs) or 'other indicators'}; "
            f"minimum n = {i.min_n}"
            + ("; needs the control vantage" if i.needs_control else "")
            + ("; needs an IP-to-ASN mapping" if i.needs_asn else "")
            + ".",
            "",
        ]
    return "\n".join(out)


def text() -> str:
    lines = []
    for i in REGISTRY.values():
        lines.append(f"{i.code:<3} v{i.version}  {i.title}  [{i.pillar}; {i.unit}]")
        lines.append(f"     {i.formula}")
    return "\n".join(lines)


def as_json() -> str:
    return json.dumps([i.catalogue() for i in REGISTRY.values()], indent=2, ensure_ascii=False)
