"""Helpers for the transport tests: build tasks, run probes, store observations."""

from __future__ import annotations

import asyncio
from typing import Any

from probes.base import Observation, Task
from probes.safety import NetworkPolicy


def task(probe: str, target: str, *, deadline_s: float = 5.0, **params: Any) -> Task:
    return Task(
        key=f"{probe}:{target}:{params}",
        probe=probe,
        target=target,
        params=params,
        deadline_s=deadline_s,
    )


def measure(probe: Any, t: Task) -> Observation:
    return asyncio.run(probe.measure(t))


def policy() -> NetworkPolicy:
    return NetworkPolicy.from_env()
