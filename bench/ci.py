"""``python -m bench ci``: coverage of the indicators' 95% intervals on synthetic clustered
data whose truth is known. No I/O beyond printing.

Each cell draws 1,000 seeded replications of a round: k clusters (targets) of m trials each,
cluster i succeeding with probability p_i ~ Beta(p (1 - rho) / rho, (1 - p) (1 - rho) / rho),
so the trials of one cluster share an intra-cluster correlation rho = 0.3 around the true
share p (the beta-binomial model). The grid: p in {0.02, 0.1, 0.5}; k in {6, 25}, the
lab's numbers of targets (6 web hosts for T4/T5, 25 names for N1/C1), and 10 times them
(60, 250); m = 1 (one trial per target, T2/T5-like) and m = 5 (a name asked of five
resolver endpoints, N1-like).

Each replication gets the interval of every method analysis uses (docs/indicators.md,
Method step 8): the one analysis.result.from_ratio stores for this share (Wilson's score
interval for binary unit clusters below WILSON_MAX_N, else stats.cluster_wilson), and the
cluster bootstrap with the expanded percentile interval (B = 1000), which analysis uses for
statistics that are not ratios and is measured here on the share, whose truth is known.
Coverage = share of replications whose interval holds p; the target is 93-97 %.

The replications of a cell share one matrix of bootstrap draws (each interval is still a
bootstrap of its own data; sharing only correlates the replications), so a cell costs one
matrix product. Prints one JSON object per (cell, method) and a line per method; exit 1
when a cell whose band is attainable misses it. A band is unattainable when the count's
discreteness leaves every interval rule outside it (k = 6, p = 0.02: the count is 0 in 89 %
of rounds and at most 1 in 99.4 %, so a rule covers 89 % or >= 99 %); those cells print
``attainable: false`` and are reported, not failed.

usage: python -m bench.ci [--replications R] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass

import numpy as np

from fragscope.analysis import stats
from fragscope.analysis.result import WILSON_MAX_N

PS = (0.02, 0.1, 0.5)
CLUSTERS = (6, 25, 60, 250)
TRIALS = (1, 5)
ICC = 0.3
REPLICATIONS = 1000
BAND = (0.93, 0.97)
SEED = 20261207
BOOTSTRAP = "cluster bootstrap, expanded percentile"


@dataclass(frozen=True)
class Cell:
    p: float
    k: int
    m: int

    @property
    def ratio_method(self) -> str:
        """The interval analysis.result.from_ratio stores for this share."""
        return "wilson" if self.m == 1 and self.k < WILSON_MAX_N else "cluster-adjusted wilson"


def draw(cell: Cell, replications: int, rng: np.random.Generator) -> np.ndarray:
    """Successes per cluster, (replications, k): beta-binomial with ICC ``ICC``."""
    a = cell.p * (1 - ICC) / ICC
    b = (1 - cell.p) * (1 - ICC) / ICC
    p_i = rng.beta(a, b, size=(replications, cell.k))
    return rng.binomial(cell.m, p_i).astype(np.float64)


def ratio_intervals(cell: Cell, successes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    total = successes.sum(axis=1)
    if cell.ratio_method == "wilson":
        return stats.wilson_arrays(total, np.full_like(total, float(cell.k)))
    return stats.cluster_wilson(successes, np.full_like(successes, float(cell.m)))


def bootstrap_intervals(
    cell: Cell, successes: np.ndarray, seed: int, b: int = stats.B_DEFAULT
) -> tuple[np.ndarray, np.ndarray]:
    trials = float(cell.k * cell.m)
    reps = np.empty((b, successes.shape[0]))
    done = 0
    for counts in stats.resample_counts(np.random.default_rng(seed), cell.k, b):
        # Every cluster has m trials, so each replicate's denominator is k m.
        reps[done : done + len(counts)] = (counts @ successes.T) / trials
        done += len(counts)
    return stats.percentile_intervals(reps, successes.sum(axis=1) / trials, cell.k)


def attainable(totals: np.ndarray, band: tuple[float, float]) -> bool:
    """Whether any rule mapping a round's count to an interval could land in the band: its
    coverage is the mass of the counts whose interval holds p, so some set of counts must
    have a mass in the band (the replications' own distribution of counts; the twelve
    heaviest counts are combined exactly, the rest may go either way)."""
    mass = np.sort(np.bincount(totals.astype(np.int64)) / len(totals))[::-1]
    reachable = np.zeros(1)
    for m in mass[:12]:
        reachable = np.unique(np.concatenate([reachable, reachable + m]))
    rest = float(mass[12:].sum())
    return bool(np.any((reachable <= band[1]) & (reachable + rest >= band[0])))


GRID = tuple(Cell(p, k, m) for p in PS for k in CLUSTERS for m in TRIALS)


def run(replications: int, seed: int, cells: tuple[Cell, ...] = GRID) -> list[dict[str, object]]:
    """One row per (cell, method): coverage, zero-width intervals, mean width."""
    out: list[dict[str, object]] = []
    for n, cell in enumerate(cells):
        successes = draw(cell, replications, np.random.default_rng([seed, n]))
        reachable = attainable(successes.sum(axis=1), BAND)
        for method, (low, high) in (
            (cell.ratio_method, ratio_intervals(cell, successes)),
            (BOOTSTRAP, bootstrap_intervals(cell, successes, seed=seed + n)),
        ):
            out.append(
                {
                    "p": cell.p,
                    "clusters": cell.k,
                    "trials_per_cluster": cell.m,
                    "method": method,
                    "coverage": round(float(np.mean((low <= cell.p) & (cell.p <= high))), 4),
                    "zero_width": int(np.sum(high - low <= 0)),
                    "mean_width": round(float(np.mean(high - low)), 4),
                    "attainable": reachable,
                }
            )
    return out


def missed(rows: list[dict[str, object]], band: tuple[float, float]) -> list[dict[str, object]]:
    """Rows whose band is attainable and whose coverage lies outside it."""
    return [r for r in rows if r["attainable"] and not band[0] <= number(r["coverage"]) <= band[1]]


def number(x: object) -> float:
    """A numeric field of a row (rows are JSON-ready dicts)."""
    assert isinstance(x, float | int)
    return float(x)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ci")
    parser.add_argument("--replications", type=int, default=REPLICATIONS)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(sys.argv[1:])
    t0 = time.perf_counter()
    rows = run(args.replications, args.seed)
    for r in rows:
        print(json.dumps(r))
    misses = missed(rows, BAND)
    for method in sorted({str(r["method"]) for r in rows}):
        mine = [r for r in rows if r["method"] == method]
        cov = [number(r["coverage"]) for r in mine]
        n_miss = sum(1 for r in misses if r["method"] == method)
        print(
            f"{method}: {len(mine)} cells, coverage {min(cov):.3f}-{max(cov):.3f}, "
            f"{n_miss} attainable cells outside {BAND[0]:.0%}-{BAND[1]:.0%}"
        )
    print(f"{args.replications} replications per cell, {time.perf_counter() - t0:.1f} s")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
