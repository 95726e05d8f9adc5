"""``python -m bench [NAME ...]``: run every benchmark module (or the named ones). Does I/O.

A benchmark is a module of this package with a ``main() -> int``; it prints its own figures
and returns non-zero when it misses its target. The exit code is 1 if any missed, 2 for an
unknown name.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import bench


def available() -> list[str]:
    """Names of the benchmark modules, sorted."""
    return sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_")
    )


def run(names: list[str]) -> int:
    known = available()
    unknown = [n for n in names if n not in known]
    if unknown:
        print(f"bench: unknown benchmark(s) {unknown}; available: {known}", file=sys.stderr)
        return 2
    results: list[tuple[str, int, float]] = []
    for name in names or known:
        module = importlib.import_module(f"bench.{name}")
        entry = getattr(module, "main", None)
        if entry is None:
            continue
        print(f"== bench {name}", flush=True)
        t0 = time.perf_counter()
        # Modules that take their own arguments (bench.dns N WORKERS ROUNDS) read sys.argv:
        # under the runner they get none, so the names given here are not read as numbers.
        sys.argv = [f"bench.{name}"]
        code = int(entry() or 0)
        results.append((name, code, time.perf_counter() - t0))
    print("== summary")
    for name, code, wall in results:
        print(f"{name:20s} {'ok' if code == 0 else 'MISSED'} ({wall:.1f} s)")
    return 1 if any(code for _, code, _ in results) else 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
