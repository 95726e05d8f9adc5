"""The component protocol: what the lab asks of each of its parts (dns, web, chain, vantages).

No I/O here. lab.world keeps one list of components and brings them up, reports and takes
them down by iterating over it; a component is one subpackage with a ``component`` module
and one entry in that list. Each component reads its own section of the truth and turns it
into Service records (daemons that lab.world starts in the lab namespace and health-checks
by real queries) plus hooks for what is not a daemon: files to write before the start,
work between start phases (the DNS root is signed once Knot's keys exist), work after every
daemon answers (deploy the chain, build the vantages), extra ``lab status`` rows and extra
teardown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from fragscope.lab.core.paths import RunPaths
from fragscope.lab.core.services import Service
from fragscope.lab.truth import Truth


class LabError(RuntimeError):
    """The lab could not be brought up; the message says which service and shows its log."""


@dataclass(frozen=True)
class StatusRow:
    """One line of ``lab status``: a listener of a service (or a vantage's path)."""

    group: str
    service: str
    software: str
    address: str
    port: int
    protocol: str
    running: bool
    health: str  # "ok", or why the check failed, or "down"


@dataclass(frozen=True)
class Site:
    """What a component works on: the truth and the run directory's layout."""

    truth: Truth
    paths: RunPaths


class Component:
    """A part of the lab. Subclasses override what they need; the defaults do nothing.

    ``name`` is the component's truth section. ``groups`` is the set of groups being
    started (``lab up --only`` and what those need); a component acts only on what
    belongs to those groups.
    """

    name: ClassVar[str] = ""

    def missing(self, truth: Truth, groups: set[str]) -> list[str]:
        """What keeps this component's wanted groups from starting here (programs, npm)."""
        return []

    def addresses(self, truth: Truth) -> list[str]:
        """Addresses its services listen on: put on the lab namespace's loopback."""
        return []

    def unreachable(self, truth: Truth) -> list[str]:
        """Addresses that must answer host-unreachable inside the lab (a server that is down)."""
        return []

    def services(self, site: Site) -> list[Service]:
        """Its daemons (all groups; lab.world starts those of the wanted groups)."""
        return []

    def prepare(self, site: Site, groups: set[str]) -> None:
        """Write configuration, zones and keys into the run directory before anything runs."""

    def after_phase(self, site: Site, phase: int, groups: set[str]) -> None:
        """Called once the services of start phase ``phase`` all answer."""

    def after_start(self, site: Site, groups: set[str]) -> None:
        """Called once every wanted service answers (deploy, build what is not a daemon)."""

    def status(self, site: Site, *, network_up: bool) -> list[StatusRow]:
        """``lab status`` rows besides its services' listeners."""
        return []

    def down(self, site: Site) -> list[str]:
        """Undo what is not a daemon (before lab.world stops the daemons); notes to print."""
        return []
