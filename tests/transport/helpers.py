"""Helpers for the transport tests: build tasks, run probes, store observations."""

from __future__ import annotations

import asyncio
from typing import Any

from fragscope.probes.base import Observation, Task
from fragscope.probes.safety import NetworkPolicy
from tests.fixtures.web_hosts import WebLab

NAME = "www.example.test"


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


def lab_probe(probe_class: Any, lab: WebLab, **config: Any) -> Any:
    """A ``probe_class`` probe trusting the web lab's CA, its config otherwise ``config``."""
    config = probe_class.config_class(ca_file=str(lab.pki.ca), **config)
    return probe_class(config, policy=policy())


def measure_host(
    probe: Any, lab: WebLab, host: str, family: int = 4, *, target: str = NAME
) -> Observation:
    """One measurement of ``target`` by ``probe`` at the web lab's ``host`` (IPv``family``)."""
    address, port = lab.addr(host, family)
    return measure(probe, task(probe.name, target, address=address, port=port))
