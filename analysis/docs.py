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
        "version. Intervals are chosen per statistic (Method step 8). A value that is not "
        "computed is stored as NULL with its reason and a `status`: `withheld` when the "
        "data are not enough (n below the minimum, an input table, mapping or control run "
        "missing), `not_applicable` when the data are complete but the formula is "
        "undefined on them (0/0): T1 when no target advertises HTTP/3, T6 when no target "
        "is in any discovery channel, T9 when neither TCP nor QUIC failed, N3 when the "
        "alternative namespaces answered and found no name. Reports list the two apart.",
        "",
        "No definition keeps an indicator off the open interval (0, 1): the lab plants a "
        "value strictly between the bounds for each (docs/lab.md, 'Plants that move the "
        "indicators off their bounds'). Some take only the bounds on a small panel: N6 is"
        " 0 or 1 when a run tests one resolver endpoint (n = 1); N7 is 1 when every "
        "whoami answer maps to one AS and 0 when the ASes hold equal shares (one answer "
        "through each of two resolvers with different egress ASes gives 0); N8 is 0 or 1 "
        "when the test resolvers all violate or all keep the same canaries; any share "
        "over one cluster is 0 or 1.",
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
        "## Method",
        "",
        "The steps the code cites as *docs/indicators.md, Method step N*:",
        "",
        "1. **Pillars.** Each member of a pillar is an indicator oriented to [0, 1].",
        "2. **Normalisation.** None is needed: every indicator is a share or an index in "
        "[0, 1], so values compare across runs without sample-dependent rescaling.",
        "3. **Aggregation.** A pillar is the mean of its present members; C2 is the mean of "
        "the pillars that count, and its params keep the geometric mean as a robustness "
        "check.",
        "4. **Clusters.** Targets are the clusters. SQL reduces rows to per-target sums; one "
        "multinomial resample of the targets per bootstrap replicate serves every indicator "
        "of the run, so targets are resampled jointly, which the composite's interval needs.",
        "5. **Weight sensitivity.** C2's params give the 2.5-97.5 % range of the index under "
        "pillar weights drawn from Dirichlet(1, ..., 1), 1,000 draws seeded from the run id.",
        "6. **Comparisons.** Cross-vantage pair tests use the targets every run of the round "
        "measured, with Holm-adjusted p-values; a - b is the difference on those targets, "
        "which is why it can differ from the difference of the headline values (all targets "
        "of each run); the reports print both sides on the common targets.",
        "7. **Trends.** A value moved between two runs when their 95 % intervals do not "
        "overlap. Values of different formula versions are never joined silently: the trend "
        "table and chart mark a change of version, and no change is computed across it.",
        "8. **Intervals.** Binary shares over fewer than 30 targets: Wilson's score interval. "
        "Other ratios of sums (the shares, and T9's share of the failures that are TCP's): "
        "Wilson's interval at the cluster-robust effective sample size, with t on k - 1 "
        "degrees of freedom below 25 clusters (Korn and Graubard 1998; from 25 on z, "
        "which t_24 is within 5 % of), k the clusters with a non-zero "
        "denominator; the design effect is at least 0.5 and, with few successes (or "
        "failures) to estimate it from, pulled towards the trials per cluster, the t "
        "correction applying only to its estimated part (one trial per cluster: Wilson's "
        "interval, deff = 1); a ratio of 0 or 1 counts "
        "each of its k clusters as one trial, so all-zero clusters give a score interval, "
        "never [0, 0]. Pair differences a - b (step 6): the MOVER for dependent "
        "proportions (Newcombe 1998, method 10) on the two sides' intervals above, with "
        "their correlation from the targets' residuals; where every common target has the "
        "same counts at both runs, its bounds are at least +-u, u the score upper limit of "
        "the share of trials that differ (none seen; |a - b| is at most that share). With "
        "one trial per target at both runs the outcomes are paired binary trials and "
        "the interval is Tango's score interval (Tango 1998) instead. The "
        "p-value belongs to the same family of intervals (the level at which a bound "
        "reaches 0), so p < 0.05 exactly when 0 is outside the 95 % interval. Other "
        "statistics (JSD, HHI, Jaccard): the cluster bootstrap (B = 1000, seeded from the "
        "run id) with the expanded percentile interval (Hesterberg 2015), whose quantiles "
        "widen for few clusters. C1's plug-in JSD is biased upwards (a difference the "
        "sample shows by chance counts as divergence), so its interval is the expanded "
        "percentile moved down by twice the bootstrap bias (Efron and Tibshirani 1993, "
        "section 10.4), widened to hold the value, which keeps its definition; where few "
        "keys differ its low end is lowered further, towards the JSD of the two "
        "distributions moved towards their midpoint until only the cluster-adjusted "
        "Wilson lower limit of DIS differs (about t^2 times the value, t that limit over "
        "DIS), on the log scale with weight 1 / (d + 1), d the keys that differ (the "
        "bootstrap rests on those d keys: four keys in disjoint categories, a control's "
        "3 losses against a vantage's rewrite, give a value five times the truth). When every "
        "replicate is equal, the interval is made of "
        "bounds instead (param `ci_bound`): C1's JSD is at most the total variation (Lin "
        "1991), itself at most the share DIS of keys whose outcomes differ, so C1's "
        "interval becomes [0, DIS's cluster-adjusted Wilson upper limit]; N7's and T7's "
        "HHI* is at least (1 - 2u)^2 when the largest AS holds at least 1 - u of the "
        "units, so theirs becomes [(1 - 2u)^2, 1], u the cluster-adjusted Wilson upper "
        "limit of the share outside the largest AS; where that share (or DIS) is 0 the "
        "statistic sits at the end of its range, the other end of the interval, so the "
        "limit is one-sided (z = 1.645). The "
        "composite: the expanded percentile interval of its members' joint replicates "
        "(step 4) at the fewest clusters of a resampled member, united with the "
        "normal form of the same expansion, value +- sqrt(n / (n - 1)) t_{n-1} times the "
        "replicates' standard deviation, n - 1 the members' Welch-Satterthwaite degrees "
        "of freedom (with few targets the percentile's ends are the 2nd-3rd most extreme "
        "replicates and fall short of that width). A "
        "zero-width interval is kept but marked `ci_degenerate` and flagged in the reports. "
        "Choosing an interval method is not a change of definition: values and versions "
        "stay, only the intervals move. "
        "`python -m bench ci` measures the coverage of each method on the kind of statistic "
        "it serves, on synthetic rounds with a known truth (intra-cluster correlation 0.3), "
        "and prints where it misses 93-97 % or where no interval can reach it: the intervals "
        "considered are those whose ends are non-decreasing functions of the estimate "
        "(given its sample size where that varies, as T9's failures): every method above "
        "is one, and a rule that lowered a bound when the estimate grew would be "
        "incoherent. Such an interval holds the truth exactly when the estimate falls in "
        "one range, so its coverage is the mass of a run of estimate values; a cell where "
        "no run's mass lies in 93-97 % (six targets at p = 0.02: the estimate is 0 in 88 % "
        "of rounds) is unattainable, and the bench prints those masses. A method that "
        "covers more than 97 % of an attainable cell is printed as conservative at that "
        "cell: valid, wider than need be (rare events and few targets, where a valid "
        "interval must cover the few possible estimates); one that covers less than 93 % "
        "fails the bench.",
        "9. **Loss is not censorship.** A task counts as failed only when all its attempts "
        "failed (campaigns retry timeouts; the naming dns method retransmits each UDP query). "
        "Each vantage also probes an always-allowed control host on the same path (a target "
        "of role control); a transport failure within 10 s of a failure of that control on "
        "the same channel is left out of T2 and T9 and counted in their "
        "params.path_control_discarded (analysis/pathcontrol.py).",
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
